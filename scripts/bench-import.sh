#!/usr/bin/env bash
# Benchmark of the import endpoint: seeds 10,000 conversations, imports 10 messages into each,
# measures reads (a conversation's messages, the app's list, a user's list), imports 1,000,000
# more messages into those conversations
# through POST /import/conversations/{id}/messages (100 per request, 4 connections, every item
# with an idempotency key and a readBy), and measures the same reads again, so that both sets
# of figures come from one run. Runs on its own or at the end of scripts/bench.sh.
#
#   scripts/bench-import.sh                        # SQLite (synchronous = "full", the default)
#   BENCH_IMPORT_CONVERSATIONS=1000 scripts/bench-import.sh   # a smaller run (100,000 messages)
#   BENCH_DATABASE_URL=postgres://user@host/db scripts/bench-import.sh
#
# Needs wrk (apt-get install wrk), and psql for PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
DIR=${BENCH_DIR:-target/bench}
DB_URL=${BENCH_DATABASE_URL:-}
N=${BENCH_IMPORT_CONVERSATIONS:-10000}
PER=${BENCH_IMPORT_PER_CONVERSATION:-100}
PORT=18095
KEY=sk_test_bench

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p parley_server -p parley_bench >&2
mkdir -p "$DIR"

if [[ -z "$DB_URL" ]]; then
  URL="sqlite://$PWD/$DIR/import.db"
  rm -f "$DIR"/import.db*
  target/release/parley-seed --db "$DIR/import.db" --conversations "$N" --depth 1 >/dev/null
else
  URL=$(schema_url "$DB_URL" bench_import)
  psql -q "$DB_URL" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS bench_import CASCADE; CREATE SCHEMA bench_import" >&2
  target/release/parley-seed --url "$URL" --conversations "$N" --depth 1 >/dev/null
fi

PARLEY__DATABASE__URL="$URL" PARLEY__SERVER__PORT=$PORT PARLEY__APPS__BENCH__SECRET_KEY=$KEY \
  PARLEY__LOG__LEVEL=warn target/release/parley >/dev/null 2>>"$DIR/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
wait_for "$PORT"

# The seeder creates users u0 ... u(3N-1).
USERS=$((N * 3 < 100000 ? N * 3 : 100000))
reads() {
  local base="http://127.0.0.1:$PORT" out rps p99
  for spec in "messages of a conversation|get_messages.lua|$base" \
              "list first page|get.lua|$base/v1/bench/conversations" \
              "a user's conversations|user_conversations.lua|$base"; do
    IFS='|' read -r name script url <<<"$spec"
    out=$(BENCH_N=$N BENCH_USERS=$USERS BENCH_KEY=$KEY wrk -t2 -c8 -d"${SECONDS_PER_RUN}s" \
      --latency -s "scripts/bench/$script" "$url")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%s|%s|%s\n' "$name" "$rps" "$p99"
  done
}

echo "== import: $N conversations, $PER messages each, 100 per request, 4 connections"
# First 10 messages each, so that the reads before and after the big import serve the same
# page sizes (a page of messages is 10).
target/release/parley-import-load --base "http://127.0.0.1:$PORT" --key "$KEY" \
  --conversations "$N" --per-conversation 10 --batch 10 --connections 4 >/dev/null
BEFORE=$(reads)
# Twice, to show how much the same reads vary from one run to the next on this machine.
BEFORE2=$(reads)
IMPORT=$(target/release/parley-import-load --base "http://127.0.0.1:$PORT" --key "$KEY" \
  --conversations "$N" --per-conversation "$PER" --batch 100 --connections 4 --offset 10)
echo "import: $IMPORT"
AFTER=$(reads)
echo "peak resident memory of the server: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$PID/status)"
paste -d'|' <(echo "$BEFORE") <(echo "$BEFORE2") <(echo "$AFTER") |
  while IFS='|' read -r name rps p99 _ rpsb p99b _ rps2 p992; do
    printf '%-26s 8 conns  before %9s / %9s req/s p99 %7s / %7s   after %9s req/s p99 %7s   (%s of the mean before)\n' \
      "$name" "$rps" "$rpsb" "$p99" "$p99b" "$rps2" "$p992" \
      "$(awk -v a="$rps2" -v b="$rps" -v c="$rpsb" 'BEGIN {printf "%.0f%%", 200 * a / (b + c)}')"
  done
