#!/usr/bin/env bash
# Benchmark of moving whole apps (issue 15), on SQLite (synchronous = "full"):
# - `parley export` of a seeded database (BENCH_TRANSFER_N conversations, default 1,000,000,
#   each with two participants, a last message and their users): records per second, peak RSS;
# - `parley import` of that file into an empty database: records per second, peak RSS;
# - `parley migrate` of BENCH_MIGRATE_MESSAGES messages (default 100,000, in conversations of
#   100) from one local Parley server into an empty database: messages per second.
# The baseline, measured in the same run, is the raw rate of single-row SQLite commits
# (parley-raw-sqlite), as in bench-writes.sh.
#
#   scripts/bench-transfer.sh
#   BENCH_TRANSFER_N=100000 BENCH_MIGRATE_MESSAGES=20000 scripts/bench-transfer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

N=${BENCH_TRANSFER_N:-1000000}
MESSAGES=${BENCH_MIGRATE_MESSAGES:-100000}
DIR=${BENCH_DIR:-target/bench}
PORT=18097
KEY=sk_test_bench

cargo build --release --locked -p parley_server -p parley_bench >&2
mkdir -p "$DIR"
RAW=$(target/release/parley-raw-sqlite --db "$DIR/raw.db" --seconds 5)
RAW_RATE=$(sed -n 's/.*single_row_commits_per_second=\([0-9]*\).*/\1/p' <<<"$RAW")
echo "raw SQLite: $RAW"

tool() { # tool NAME DB ARGS...: runs parley ARGS on DB, prints seconds and peak RSS (KiB)
  local name=$1 db=$2
  shift 2
  env PARLEY__DATABASE__URL="sqlite://$PWD/$db" PARLEY__APPS__BENCH__SECRET_KEY=$KEY \
    PARLEY__FILES__DIR="$PWD/$DIR/files" \
    /usr/bin/time -f "%e %M" -o "$DIR/$name.time" target/release/parley "$@" 2>"$DIR/$name.log"
  read -r SECS RSS <"$DIR/$name.time"
}

rm -f "$DIR"/transfer-*.db* "$DIR/transfer.jsonl"
echo "== seeding $N conversations"
target/release/parley-seed --db "$DIR/transfer-source.db" --conversations "$N" --depth 1 >/dev/null

tool export "$DIR/transfer-source.db" export --app bench --out "$DIR/transfer.jsonl"
RECORDS=$(wc -l <"$DIR/transfer.jsonl")
MIB=$(( $(stat -c %s "$DIR/transfer.jsonl") / 1048576 ))
rate() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n / s}'; }
ratio() { awk -v a="$1" -v b="$RAW_RATE" 'BEGIN {printf "%.2f", a / b}'; }
R=$(rate "$RECORDS" "$SECS")
printf 'export: %s records (%s MiB) in %s s: %s records/s (%s x raw), peak RSS %s MiB\n' \
  "$RECORDS" "$MIB" "$SECS" "$R" "$(ratio "$R")" "$((RSS / 1024))"

tool import "$DIR/transfer-target.db" import "$DIR/transfer.jsonl"
R=$(rate "$RECORDS" "$SECS")
printf 'import: %s records in %s s: %s records/s (%s x raw), peak RSS %s MiB\n' \
  "$RECORDS" "$SECS" "$R" "$(ratio "$R")" "$((RSS / 1024))"

echo "== migrate: $MESSAGES messages from a local Parley"
rm -f "$DIR"/migrate-*.db*
PARLEY__DATABASE__URL="sqlite://$PWD/$DIR/migrate-source.db" PARLEY__SERVER__PORT=$PORT \
  PARLEY__APPS__BENCH__SECRET_KEY=$KEY PARLEY__LOG__LEVEL=warn \
  target/release/parley >/dev/null 2>"$DIR/migrate-source.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
wait_for "$PORT"
BASE="http://127.0.0.1:$PORT/v1/bench"
CONVERSATIONS=$((MESSAGES / 100))
for c in $(seq 1 "$CONVERSATIONS"); do
  curl -fsS -X PUT "$BASE/conversations/c$c" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d '{"participants": ["alice", "bob"]}' >/dev/null
  ITEMS=$(seq 1 100 | awk -v c="$c" 'BEGIN {printf "["} {if (NR > 1) printf ","; printf "{\"sender\":\"alice\",\"text\":\"message %d of %d\",\"timestamp\":%d,\"custom\":{\"k\":\"v\"}}", $1, c, 1600000000000 + c * 1000 + $1} END {printf "]"}')
  curl -fsS -X POST "$BASE/import/conversations/c$c/messages" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d "$ITEMS" >/dev/null
done
tool migrate "$DIR/migrate-target.db" migrate --from "http://127.0.0.1:$PORT" --app bench \
  --key "$KEY" --concurrency 8
R=$(rate "$MESSAGES" "$SECS")
printf 'migrate: %s messages in %s conversations in %s s: %s messages/s (%s x raw), peak RSS %s MiB\n' \
  "$MESSAGES" "$CONVERSATIONS" "$SECS" "$R" "$(ratio "$R")" "$((RSS / 1024))"
kill "$PID"
