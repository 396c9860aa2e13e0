#!/usr/bin/env bash
# What observing every request costs (issue 14): GET one conversation on SQLite through the
# same release binary, with the access log off (log.level = warn: the request ID, span and
# metrics still run), with one text access-log line per request, and with one JSON line per
# request (both to a file, as a service's stderr would go to a pipe or journal), alternating,
# twice each; the ratios are to the run without the access log. Also the time of a /metrics
# scrape.
#
#   scripts/bench-observe.sh
#   BENCH_SECONDS=5 scripts/bench-observe.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

SECONDS_PER_RUN=${BENCH_SECONDS:-8}
DIR=${BENCH_DIR:-target/bench}
N=${BENCH_OBSERVE_N:-10000}
PORT=18095
KEY=sk_test_bench
CONNS=${BENCH_CONNS:-16}

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p parley_server -p parley_bench >&2
mkdir -p "$DIR"
rm -f "$DIR"/observe.db*
target/release/parley-seed --db "$DIR/observe.db" --conversations "$N" --depth 1 >/dev/null

start() {
  PARLEY__DATABASE__URL="sqlite://$PWD/$DIR/observe.db" PARLEY__SERVER__PORT=$PORT \
    PARLEY__APPS__BENCH__SECRET_KEY=$KEY PARLEY__LOG__LEVEL=$1 PARLEY__LOG__FORMAT=$2 \
    env -u RUST_LOG target/release/parley >/dev/null 2>"$DIR/observe.log" &
  PID=$!
  trap 'kill $PID 2>/dev/null || true' EXIT
  wait_for "$PORT"
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

measure() {
  local out
  out=$(BENCH_N=$N BENCH_KEY=$KEY wrk -t2 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency \
    -s scripts/bench/get_conversation.lua "http://127.0.0.1:$PORT")
  RPS=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  P99=$(awk '$1 == "99%" {print $2}' <<<"$out")
}

declare -A SUM
echo "== GET one conversation, $N conversations, $CONNS connections, ${SECONDS_PER_RUN}s a run"
for round in 1 2; do
  for mode in "warn text" "info text" "info json"; do
    # shellcheck disable=SC2086
    start $mode
    measure
    lines=$(wc -l <"$DIR/observe.log")
    stop
    SUM[$mode]=$(awk -v a="${SUM[$mode]:-0}" -v b="$RPS" 'BEGIN {print a + b}')
    printf 'round %s  log.level=%-4s log.format=%-4s  %9s req/s  p99 %8s  %8s log lines\n' \
      "$round" ${mode} "$RPS" "$P99" "$lines"
  done
done
base=${SUM["warn text"]}
for mode in "info text" "info json"; do
  printf 'access log %-4s: %.2f x the throughput without it\n' "${mode#info }" \
    "$(awk -v a="${SUM[$mode]}" -v b="$base" 'BEGIN {print a / b}')"
done

start warn text
for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$PORT/v1/bench/conversations"; done
curl -s -o /dev/null -w 'GET /metrics: %{time_total} s, ' "http://127.0.0.1:$PORT/metrics"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -vc '^#' | sed 's/$/ samples/'
stop
