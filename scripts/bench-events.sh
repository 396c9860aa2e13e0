#!/usr/bin/env bash
# Benchmark of the events capability: the message send rate without webhooks, and with a
# webhook receiver on loopback subscribed to message.sent (the outbox's cost, as a ratio of the
# two, measured in the same run), and the p50/p99 from write to the receiver and to an SSE
# stream reader. Runs on its own or at the end of scripts/bench.sh.
#
#   scripts/bench-events.sh                # SQLite files under target/bench
#   BENCH_SECONDS=20 scripts/bench-events.sh
#   BENCH_DATABASE_URL=postgres://user@host/db scripts/bench-events.sh
#
# Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
DIR=${BENCH_DIR:-target/bench}
DB_URL=${BENCH_DATABASE_URL:-}
N=${BENCH_EVENTS_N:-10000}
PORT=18090
HOOK_PORT=18091
KEY=sk_test_bench

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p parley_server -p parley_bench >&2
mkdir -p "$DIR"

db_url() {
  if [[ -z "$DB_URL" ]]; then
    echo "sqlite://$PWD/$DIR/events-$1.db"
  else
    schema_url "$DB_URL" "bench_events_$1"
  fi
}

seed() {
  if [[ -z "$DB_URL" ]]; then
    rm -f "$DIR/events-$1".db*
    target/release/parley-seed --db "$DIR/events-$1.db" --conversations "$N" --depth 10 >/dev/null
  else
    psql -q "$DB_URL" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS bench_events_$1 CASCADE; CREATE SCHEMA bench_events_$1" >&2
    target/release/parley-seed --url "$(db_url "$1")" --conversations "$N" --depth 10 >/dev/null
  fi
}

# start NAME [webhooks]: a release server over database NAME, with a webhook or without.
start() {
  local config="$DIR/events-$1.toml"
  {
    echo "[database]"; echo "url = \"$(db_url "$1")\""
    echo "[server]"; echo "port = $PORT"
    echo "[log]"; echo "level = \"warn\""
    echo "[apps.bench]"; echo "secret_key = \"$KEY\""
    if [[ "${2:-}" == webhooks ]]; then
      echo "[apps.bench.webhooks]"
      echo "urls = [\"http://127.0.0.1:$HOOK_PORT/hook\"]"
      echo "events = [\"message.sent\"]"
    fi
  } >"$config"
  target/release/parley --config "$config" >/dev/null 2>>"$DIR/server.log" &
  PID=$!
  trap 'kill ${PID:-} ${HOOK_PID:-} ${STREAM_PID:-} 2>/dev/null || true' EXIT
  wait_for "$PORT"
}

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

post_rate() {
  BENCH_N=$N BENCH_KEY=$KEY wrk -t2 -c8 -d"${SECONDS_PER_RUN}s" --latency \
    -s scripts/bench/post_message.lua "http://127.0.0.1:$PORT" >"$DIR/events-wrk.out"
  awk '/Requests\/sec/ {print $2}' "$DIR/events-wrk.out"
}

echo "== events: $N conversations, POST one message, 8 connections, ${SECONDS_PER_RUN}s a run"
seed off
seed on
start off
OFF=$(post_rate)
stop
# With the webhook receiver only, then with an SSE stream reader too (both on this machine's
# two cores with the server and wrk).
start on webhooks
target/release/parley-event-latency receive --listen "127.0.0.1:$HOOK_PORT" \
  --seconds $((SECONDS_PER_RUN + 3)) >"$DIR/events-hook-only.out" &
HOOK_PID=$!
sleep 1
HOOK=$(post_rate)
wait "$HOOK_PID"
target/release/parley-event-latency receive --listen "127.0.0.1:$HOOK_PORT" \
  --seconds $((SECONDS_PER_RUN + 6)) >"$DIR/events-hook.out" &
HOOK_PID=$!
target/release/parley-event-latency stream --url "http://127.0.0.1:$PORT/v1/bench/events/stream" \
  --key "$KEY" --seconds $((SECONDS_PER_RUN + 5)) >"$DIR/events-stream.out" &
STREAM_PID=$!
sleep 1
ON=$(post_rate)
wait "$HOOK_PID" "$STREAM_PID"
stop
# Again without, to see how much the machine drifted meanwhile.
start off
OFF2=$(post_rate)
stop
printf 'POST one message without webhooks         %10s req/s (before), %s req/s (after)\n' "$OFF" "$OFF2"
ratio() { awk -v a="$1" -v b="$OFF" -v c="$OFF2" 'BEGIN {printf "%.1f%%", 200 * a / (b + c)}'; }
printf 'POST one message, webhook on message.sent %10s req/s   (%s of the mean rate without)\n' \
  "$HOOK" "$(ratio "$HOOK")"
printf '  the same, and an SSE stream reader       %10s req/s   (%s of the mean rate without)\n' \
  "$ON" "$(ratio "$ON")"
echo "webhook only: $(cat "$DIR/events-hook-only.out")"
cat "$DIR/events-hook.out" "$DIR/events-stream.out"
