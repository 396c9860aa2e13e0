#!/usr/bin/env bash
# Benchmark of file uploads and downloads: a 10 MiB file uploaded (POST /files, multipart) and
# downloaded (GET of its URL) by 4 concurrent clients (curl), 10 times each, against the
# release server on SQLite with the local file store. Prints MiB/s both ways and the server's
# resident memory when idle and at its peak (files are streamed, never held whole).
#
#   scripts/bench-files.sh
#   BENCH_FILE_MIB=25 BENCH_FILE_ROUNDS=4 scripts/bench-files.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

DIR=${BENCH_DIR:-target/bench}
MIB=${BENCH_FILE_MIB:-10}
ROUNDS=${BENCH_FILE_ROUNDS:-10}
CLIENTS=4
PORT=18099
KEY=sk_test_bench

cargo build --release --locked -p parley_server >&2
mkdir -p "$DIR"
rm -rf "$DIR"/files-bench.db* "$DIR/files-bench"
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$DIR/upload.bin"
PARLEY__DATABASE__URL="sqlite://$PWD/$DIR/files-bench.db" PARLEY__SERVER__PORT=$PORT \
  PARLEY__APPS__BENCH__SECRET_KEY=$KEY PARLEY__LOG__LEVEL=warn \
  PARLEY__FILES__DIR="$DIR/files-bench" PARLEY__LIMITS__FILE_BYTES=$(((MIB + 1) * 1024 * 1024)) \
  target/release/parley >/dev/null 2>>"$DIR/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
wait_for "$PORT"
BASE="http://127.0.0.1:$PORT"
upload() {
  curl -sf -H "Authorization: Bearer $KEY" -F "file=@$DIR/upload.bin;filename=upload.bin" \
    "$BASE/v1/bench/files"
}
TOKEN=$(upload | sed -n 's/.*"fileToken":"\([^"]*\)".*/\1/p')
IDLE=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status)

# run NAME COMMAND...: CLIENTS loops of ROUNDS runs each at once; prints MiB/s.
run() {
  local name=$1; shift
  local start end
  start=$(date +%s.%N)
  for _ in $(seq 1 $CLIENTS); do
    (for _ in $(seq 1 "$ROUNDS"); do "$@" >/dev/null; done) &
  done
  wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
  end=$(date +%s.%N)
  awk -v n=$((CLIENTS * ROUNDS)) -v mib="$MIB" -v s="$start" -v e="$end" -v name="$name" \
    'BEGIN {printf "%-10s %d x %d MiB in %.1f s: %.1f MiB/s\n", name, n, mib, e - s, n * mib / (e - s)}'
}
echo "== files: $MIB MiB, $CLIENTS clients x $ROUNDS rounds, local file store"
run upload upload
run download curl -sf -o /dev/null "$BASE/files/$TOKEN/upload.bin"
# The bytes come back exactly.
curl -sf "$BASE/files/$TOKEN/upload.bin" | cmp - "$DIR/upload.bin" && echo "download equals the upload"
PEAK=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$PID/status)
echo "server resident memory: idle $IDLE MiB, peak $PEAK MiB (+$(awk -v a="$PEAK" -v b="$IDLE" 'BEGIN {printf "%.1f", a - b}') MiB)"
