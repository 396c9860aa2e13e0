#!/usr/bin/env bash
# Benchmark of writes on SQLite (synchronous = "full", the default): the raw rate of the bundled
# SQLite committing one single-row upsert per transaction with the same pragmas
# (parley-raw-sqlite), next to Parley's PUT merge and POST message at 8 and 64 connections,
# with group commit (the default) and without, all in one run, and the ratios to the raw rate.
#
#   scripts/bench-writes.sh
#   BENCH_SECONDS=5 scripts/bench-writes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
DIR=${BENCH_DIR:-target/bench}
N=${BENCH_WRITES_N:-100000}
PORT=18093
KEY=sk_test_bench

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p parley_server -p parley_bench >&2
mkdir -p "$DIR"

RAW=$(target/release/parley-raw-sqlite --db "$DIR/raw.db" --seconds "$SECONDS_PER_RUN")
RAW_RATE=$(sed -n 's/.*single_row_commits_per_second=\([0-9]*\).*/\1/p' <<<"$RAW")
echo "raw SQLite: $RAW"

rm -f "$DIR"/writes.db*
target/release/parley-seed --db "$DIR/writes.db" --conversations "$N" --depth 1 >/dev/null

start() {
  PARLEY__DATABASE__URL="sqlite://$PWD/$DIR/writes.db" PARLEY__SERVER__PORT=$PORT \
    PARLEY__APPS__BENCH__SECRET_KEY=$KEY PARLEY__LOG__LEVEL=warn \
    PARLEY__DATABASE__SQLITE_GROUP_COMMIT=$1 target/release/parley >/dev/null 2>>"$DIR/server.log" &
  PID=$!
  trap 'kill $PID 2>/dev/null || true' EXIT
  wait_for "$PORT"
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

run() {
  local name=$1 conns=$2 script=$3 out rps p50 p99 errors
  out=$(BENCH_N=$N BENCH_KEY=$KEY wrk -t2 -c"$conns" -d"${SECONDS_PER_RUN}s" --latency \
    -s "scripts/bench/$script" "http://127.0.0.1:$PORT")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-34s %3s conns %9s req/s  (%5s x raw)  p50 %8s  p99 %8s  errors %s\n' \
    "$name" "$conns" "$rps" "$(awk -v a="$rps" -v b="$RAW_RATE" 'BEGIN {printf "%.2f", a / b}')" \
    "$p50" "$p99" "${errors:-0}"
}

echo "== writes: $N conversations, SQLite synchronous = full, ${SECONDS_PER_RUN}s a run"
for group in true false; do
  start $group
  for conns in 8 64; do
    run "PUT merge, group commit $group" $conns put_conversation.lua
    run "POST message, group commit $group" $conns post_message.lua
  done
  stop
done
