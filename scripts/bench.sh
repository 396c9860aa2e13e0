#!/usr/bin/env bash
# Benchmark: seeds SQLite databases through the storage layer (1,000,000 and 10,000
# conversations; 100,000 users, each in 30 of the million conversations), starts the release server on each, and measures it with wrk on loopback,
# next to a minimal actix-web baseline. Prints req/s, p50 and p99 per operation, seeding time
# and the server's peak resident memory.
#
#   scripts/bench.sh                 # full run (about 8 minutes on 2 cores)
#   BENCH_N=100000 scripts/bench.sh  # a smaller big database
#   BENCH_SECONDS=5 scripts/bench.sh # shorter load phases
#
# Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

BIG=${BENCH_N:-1000000}
SMALL=${BENCH_SMALL:-10000}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
DIR=${BENCH_DIR:-target/bench}
PORT=18080
BASELINE_PORT=18081
KEY=sk_test_bench

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p parley_server -p parley_bench >&2
mkdir -p "$DIR"
rm -f "$DIR"/big.db* "$DIR"/small.db*

echo "== seeding"
SEED_BIG=$(target/release/parley-seed --db "$DIR/big.db" --conversations "$BIG")
echo "big:   $SEED_BIG"
SEED_SMALL=$(target/release/parley-seed --db "$DIR/small.db" --conversations "$SMALL" --depth 1000)
echo "small: $SEED_SMALL"
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
NOW_MS=$(field now_ms "$SEED_BIG")
MONTH_AGO=$((NOW_MS - 30 * 24 * 3600 * 1000))

wait_for() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2; exit 1
}

# run NAME CONNECTIONS SCRIPT URL: one wrk run, one result line.
run() {
  local name=$1 conns=$2 script=$3 url=$4 out
  out=$(BENCH_N=$CURRENT_N BENCH_KEY=$KEY BENCH_QUERY=${BENCH_QUERY:-} wrk -t2 -c"$conns" -d"${SECONDS_PER_RUN}s" --latency \
    -s "scripts/bench/$script" "$url")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-44s %4s conns %10s req/s   p50 %9s   p99 %9s   errors %s\n' \
    "$name" "$conns" "$rps" "$p50" "$p99" "${errors:-0}"
}

echo "== baseline: minimal actix-web handler, fixed JSON body from memory"
target/release/parley-baseline --listen "127.0.0.1:$BASELINE_PORT" >/dev/null &
BASELINE_PID=$!
trap 'kill $BASELINE_PID 2>/dev/null || true' EXIT
wait_for $BASELINE_PORT
CURRENT_N=1
run "baseline GET" 64 get.lua "http://127.0.0.1:$BASELINE_PORT/baseline"
kill $BASELINE_PID; wait $BASELINE_PID 2>/dev/null || true

start_parley() {
  PARLEY__DATABASE__URL="sqlite://$PWD/$1" PARLEY__SERVER__PORT=$PORT \
    PARLEY__APPS__BENCH__SECRET_KEY=$KEY PARLEY__LOG__LEVEL=warn \
    target/release/parley >/dev/null 2>"$DIR/server.log" &
  PARLEY_PID=$!
  trap 'kill $PARLEY_PID 2>/dev/null || true' EXIT
  wait_for $PORT
}

stop_parley() {
  echo "peak resident memory of the server: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$PARLEY_PID/status)"
  kill $PARLEY_PID; wait $PARLEY_PID 2>/dev/null || true
}

BASE="http://127.0.0.1:$PORT/v1/bench/conversations"
echo "== $SMALL conversations"
CURRENT_N=$SMALL
start_parley "$DIR/small.db"
run "list first page" 8 get.lua "$BASE"
run "list 100 pages deep (startingAfter)" 8 get.lua "$BASE?startingAfter=$(field deep_cursor "$SEED_SMALL")"
run "list lastMessageAfter (30 days)" 8 get.lua "$BASE?lastMessageAfter=$MONTH_AGO"
stop_parley

echo "== $BIG conversations"
CURRENT_N=$BIG
start_parley "$DIR/big.db"
run "GET one conversation" 64 get_conversation.lua "http://127.0.0.1:$PORT"
run "list first page" 8 get.lua "$BASE"
run "list 1,000 pages deep (startingAfter)" 8 get.lua "$BASE?startingAfter=$(field deep_cursor "$SEED_BIG")"
run "list lastMessageAfter (30 days)" 8 get.lua "$BASE?lastMessageAfter=$MONTH_AGO"
run "GET a user's conversations" 8 user_conversations.lua "http://127.0.0.1:$PORT"
BENCH_QUERY="?unreadsOnly=true" run "GET a user's conversations, unreadsOnly" 8 user_conversations.lua "http://127.0.0.1:$PORT"
run "PUT merge (custom key)" 8 put_conversation.lua "http://127.0.0.1:$PORT"
run "POST one message" 8 post_message.lua "http://127.0.0.1:$PORT"
stop_parley
