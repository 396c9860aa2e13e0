#!/usr/bin/env bash
# Benchmark: seeds databases through the storage layer (1,000,000 and 10,000 conversations;
# 100,000 users, each in 30 of the million conversations), starts the release server on each,
# and measures it with wrk on loopback, next to a minimal actix-web baseline. Prints req/s, p50
# and p99 per operation, seeding time and the server's peak resident memory.
#
#   scripts/bench.sh                 # SQLite files under target/bench (about 12 minutes on 2 cores)
#   BENCH_DATABASE_URL=postgres://user@host/db scripts/bench.sh
#                                    # the same workload on PostgreSQL (schemas bench_big and
#                                    # bench_small of that database are dropped and re-created),
#                                    # plus PUT and POST through two server processes
#   BENCH_N=100000 scripts/bench.sh  # a smaller big database
#   BENCH_SECONDS=5 scripts/bench.sh # shorter load phases
#
# Needs wrk (apt-get install wrk), and psql for PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

BIG=${BENCH_N:-1000000}
SMALL=${BENCH_SMALL:-10000}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
DIR=${BENCH_DIR:-target/bench}
DB_URL=${BENCH_DATABASE_URL:-}
PORT=18080
PORT2=18082
BASELINE_PORT=18081
KEY=sk_test_bench

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
if [[ -n "$DB_URL" ]]; then
  command -v psql >/dev/null || { echo "psql is needed for PostgreSQL" >&2; exit 1; }
fi
cargo build --release --locked -p parley_server -p parley_bench >&2
mkdir -p "$DIR"

# db_url NAME: where database NAME (big, small) lives.
db_url() {
  if [[ -z "$DB_URL" ]]; then
    echo "sqlite://$PWD/$DIR/$1.db"
  else
    schema_url "$DB_URL" "bench_$1"
  fi
}

# seed NAME ARGS...: empties database NAME and seeds it.
seed() {
  local name=$1; shift
  if [[ -z "$DB_URL" ]]; then
    rm -f "$DIR/$name".db*
    target/release/parley-seed --db "$DIR/$name.db" "$@"
  else
    psql -q "$DB_URL" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS bench_$name CASCADE; CREATE SCHEMA bench_$name" >&2
    target/release/parley-seed --url "$(db_url "$name")" "$@"
  fi
}

if [[ -n "$DB_URL" ]]; then echo "== backend: PostgreSQL"; else echo "== backend: SQLite"; fi
echo "== seeding"
SEED_BIG=$(seed big --conversations "$BIG")
echo "big:   $SEED_BIG"
SEED_SMALL=$(seed small --conversations "$SMALL" --depth 1000)
echo "small: $SEED_SMALL"
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
NOW_MS=$(field now_ms "$SEED_BIG")
MONTH_AGO=$((NOW_MS - 30 * 24 * 3600 * 1000))

# wrk_raw CONNECTIONS SCRIPT URL: one wrk run's output.
wrk_raw() {
  BENCH_N=$CURRENT_N BENCH_KEY=$KEY BENCH_QUERY=${BENCH_QUERY:-} wrk -t2 -c"$1" -d"${SECONDS_PER_RUN}s" --latency \
    -s "scripts/bench/$2" "$3"
}

# run NAME CONNECTIONS SCRIPT URL: one wrk run, one result line.
run() {
  local name=$1 conns=$2 script=$3 url=$4 out
  out=$(wrk_raw "$conns" "$script" "$url")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-44s %4s conns %10s req/s   p50 %9s   p99 %9s   errors %s\n' \
    "$name" "$conns" "$rps" "$p50" "$p99" "${errors:-0}"
}

# run_pair NAME SCRIPT: the same load split over two servers (4 connections each), at once.
run_pair() {
  local name=$1 script=$2
  wrk_raw 4 "$script" "http://127.0.0.1:$PORT" >"$DIR/pair1.out" &
  local first=$!
  wrk_raw 4 "$script" "http://127.0.0.1:$PORT2" >"$DIR/pair2.out"
  wait $first
  local rps p99a p99b errors
  rps=$(awk '/Requests\/sec/ {sum += $2} END {printf "%.2f", sum}' "$DIR/pair1.out" "$DIR/pair2.out")
  p99a=$(awk '$1 == "99%" {print $2}' "$DIR/pair1.out")
  p99b=$(awk '$1 == "99%" {print $2}' "$DIR/pair2.out")
  errors=$(awk '/Non-2xx/ {sum += $5} END {print sum + 0}' "$DIR/pair1.out" "$DIR/pair2.out")
  printf '%-44s %4s conns %10s req/s   p99 %9s / %s   errors %s\n' \
    "$name" "2x4" "$rps" "$p99a" "$p99b" "$errors"
}

echo "== baseline: minimal actix-web handler, fixed JSON body from memory"
target/release/parley-baseline --listen "127.0.0.1:$BASELINE_PORT" >/dev/null &
BASELINE_PID=$!
trap 'kill $BASELINE_PID 2>/dev/null || true' EXIT
wait_for $BASELINE_PORT
CURRENT_N=1
run "baseline GET" 64 get.lua "http://127.0.0.1:$BASELINE_PORT/baseline"
kill $BASELINE_PID; wait $BASELINE_PID 2>/dev/null || true

# start_parley NAME [PORT]: a server over database NAME; its PID in PARLEY_PID (or PARLEY_PID2).
start_parley() {
  local port=${2:-$PORT}
  PARLEY__DATABASE__URL="$(db_url "$1")" PARLEY__SERVER__PORT=$port \
    PARLEY__APPS__BENCH__SECRET_KEY=$KEY PARLEY__LOG__LEVEL=warn \
    target/release/parley >/dev/null 2>>"$DIR/server.log" &
  if [[ "$port" == "$PORT" ]]; then PARLEY_PID=$!; else PARLEY_PID2=$!; fi
  trap 'kill ${PARLEY_PID:-} ${PARLEY_PID2:-} 2>/dev/null || true' EXIT
  wait_for "$port"
}

stop_parley() {
  echo "peak resident memory of the server: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$PARLEY_PID/status)"
  kill $PARLEY_PID; wait $PARLEY_PID 2>/dev/null || true
}

BASE="http://127.0.0.1:$PORT/v1/bench/conversations"
echo "== $SMALL conversations"
CURRENT_N=$SMALL
start_parley small
run "list first page" 8 get.lua "$BASE"
run "list 100 pages deep (startingAfter)" 8 get.lua "$BASE?startingAfter=$(field deep_cursor "$SEED_SMALL")"
run "list lastMessageAfter (30 days)" 8 get.lua "$BASE?lastMessageAfter=$MONTH_AGO"
stop_parley

echo "== $BIG conversations"
CURRENT_N=$BIG
start_parley big
run "GET one conversation" 64 get_conversation.lua "http://127.0.0.1:$PORT"
run "list first page" 8 get.lua "$BASE"
run "list 1,000 pages deep (startingAfter)" 8 get.lua "$BASE?startingAfter=$(field deep_cursor "$SEED_BIG")"
run "list lastMessageAfter (30 days)" 8 get.lua "$BASE?lastMessageAfter=$MONTH_AGO"
run "GET a user's conversations" 8 user_conversations.lua "http://127.0.0.1:$PORT"
BENCH_QUERY="?unreadsOnly=true" run "GET a user's conversations, unreadsOnly" 8 user_conversations.lua "http://127.0.0.1:$PORT"
run "PUT merge (custom key)" 8 put_conversation.lua "http://127.0.0.1:$PORT"
run "POST one message" 8 post_message.lua "http://127.0.0.1:$PORT"
if [[ -n "$DB_URL" ]]; then
  echo "== two server processes on one PostgreSQL database (4 connections each)"
  start_parley big "$PORT2"
  run_pair "PUT merge (custom key), two servers" put_conversation.lua
  run_pair "POST one message, two servers" post_message.lua
  kill "$PARLEY_PID2"; wait "$PARLEY_PID2" 2>/dev/null || true
fi
stop_parley

if [[ -n "$DB_URL" ]]; then
  echo "== writes through one and two servers (PostgreSQL)"
  BENCH_SECONDS=$SECONDS_PER_RUN BENCH_DIR=$DIR BENCH_DATABASE_URL=$DB_URL scripts/bench-scale-out.sh
fi

echo "== events and webhooks"
BENCH_SECONDS=$SECONDS_PER_RUN BENCH_DIR=$DIR BENCH_DATABASE_URL=$DB_URL scripts/bench-events.sh

echo "== import"
BENCH_SECONDS=$SECONDS_PER_RUN BENCH_DIR=$DIR BENCH_DATABASE_URL=$DB_URL scripts/bench-import.sh

echo "== files"
BENCH_DIR=$DIR scripts/bench-files.sh

echo "== writes (SQLite)"
if [[ -z "$DB_URL" ]]; then BENCH_SECONDS=$SECONDS_PER_RUN BENCH_DIR=$DIR scripts/bench-writes.sh; fi
