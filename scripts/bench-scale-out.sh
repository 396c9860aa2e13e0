#!/usr/bin/env bash
# Benchmark of writes through one and two Parley servers on one PostgreSQL database: PUT merge
# and POST one message with one server (8 and 16 connections) and with two servers splitting
# the same load (2 x 4 and 2 x 8 connections, both wrk processes at once), and the ratios two
# servers / one. Seeds BENCH_SCALE_N conversations (10,000) into schema bench_scale.
#
#   BENCH_DATABASE_URL=postgres://user@host/db scripts/bench-scale-out.sh
#   BENCH_SECONDS=5 ... scripts/bench-scale-out.sh
#   BENCH_WRK_THREADS=1 ...            # one wrk thread per load (less CPU taken from the servers)
#
# For figures worth comparing, use a durable cluster (PG_DURABLE=1 scripts/pg-throwaway.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
DIR=${BENCH_DIR:-target/bench}
N=${BENCH_SCALE_N:-10000}
DB_URL=${BENCH_DATABASE_URL:?set BENCH_DATABASE_URL to a PostgreSQL database}
PORT=18095
PORT2=18096
KEY=sk_test_bench

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
command -v psql >/dev/null || { echo "psql is needed" >&2; exit 1; }
cargo build --release --locked -p parley_server -p parley_bench >&2
mkdir -p "$DIR"
URL=$(schema_url "$DB_URL" bench_scale)
psql -q "$DB_URL" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS bench_scale CASCADE; CREATE SCHEMA bench_scale" >&2
target/release/parley-seed --url "$URL" --conversations "$N" --depth 1 >/dev/null

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
start() {
  PARLEY__DATABASE__URL="$URL" PARLEY__SERVER__PORT=$1 \
    PARLEY__APPS__BENCH__SECRET_KEY=$KEY PARLEY__LOG__LEVEL=warn \
    target/release/parley >/dev/null 2>>"$DIR/server.log" &
  PIDS+=($!)
  wait_for "$1"
}

# load CONNS SCRIPT PORT OUT: one wrk run into OUT.
load() {
  BENCH_N=$N BENCH_KEY=$KEY wrk -t"${BENCH_WRK_THREADS:-2}" -c"$1" -d"${SECONDS_PER_RUN}s" --latency \
    -s "scripts/bench/$2" "http://127.0.0.1:$3" >"$4"
}
rate() { awk '/Requests\/sec/ {sum += $2} END {printf "%.0f", sum}' "$@"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
errors() { awk '/Non-2xx/ {sum += $5} END {print sum + 0}' "$@"; }

declare -A ONE
echo "== writes through one and two servers: $N conversations, ${SECONDS_PER_RUN}s a run"
start $PORT
for script in put_conversation.lua post_message.lua; do
  for conns in 8 16; do
    load "$conns" "$script" $PORT "$DIR/one.out"
    ONE[$script$conns]=$(rate "$DIR/one.out")
    printf '%-22s one server   %2s conns  %6s req/s  p99 %9s  errors %s\n' \
      "$script" "$conns" "${ONE[$script$conns]}" "$(p99 "$DIR/one.out")" "$(errors "$DIR/one.out")"
  done
done
start $PORT2
for script in put_conversation.lua post_message.lua; do
  for conns in 8 16; do
    half=$((conns / 2))
    load "$half" "$script" $PORT "$DIR/pair1.out" &
    first=$!
    load "$half" "$script" $PORT2 "$DIR/pair2.out"
    wait $first
    two=$(rate "$DIR/pair1.out" "$DIR/pair2.out")
    printf '%-22s two servers 2x%-2s conns  %6s req/s  p99 %9s / %s  errors %s  (%s x one server at %s)\n' \
      "$script" "$half" "$two" "$(p99 "$DIR/pair1.out")" "$(p99 "$DIR/pair2.out")" \
      "$(errors "$DIR/pair1.out" "$DIR/pair2.out")" \
      "$(awk -v a="$two" -v b="${ONE[$script$conns]}" 'BEGIN {printf "%.2f", a / b}')" "$conns"
  done
done
