#!/usr/bin/env bash
# Benchmark of reads on PostgreSQL next to SQLite (issue 16), in one sitting: the same seeded
# database (BENCH_N conversations, default 100,000, and their users: parley-seed's)
# on each backend, and the same wrk loads against a release server on each:
# GET one conversation (64 connections), the first page of the app's list, a page 1,000 pages
# deep, and a user's conversations (8 connections), each on SQLite and right after on PostgreSQL,
# BENCH_ROUNDS times (default 2); then on PostgreSQL the list and GET one through two servers at
# once (4 connections each). Prints one line per run and a side-by-side table with PostgreSQL's
# req/s as a share of SQLite's in each round.
#
#   scripts/bench-pg-reads.sh              # a durable throwaway PostgreSQL 15 cluster
#   BENCH_DATABASE_URL=postgres://... scripts/bench-pg-reads.sh
#                                          # that database (schema bench_reads is re-created)
#   BENCH_N=20000 BENCH_SECONDS=5 scripts/bench-pg-reads.sh
#
# Needs wrk (apt-get install wrk) and psql.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

N=${BENCH_N:-100000}
USERS=$(( N * 3 < 100000 ? N * 3 : 100000 ))  # what parley-seed creates
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
DIR=${BENCH_DIR:-target/bench}
PORT=18090
PORT2=18092
KEY=sk_test_bench
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | tail -1)

cargo build --release --locked -p parley_server -p parley_bench >&2
mkdir -p "$DIR"
DB_URL=${BENCH_DATABASE_URL:-}
if [[ -z "$DB_URL" ]]; then
  CLUSTER="$PWD/$DIR/pg-reads"
  scripts/pg-throwaway.sh stop "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$CLUSTER"
  DB_URL=$(PG_DURABLE=1 PG_STAT_STATEMENTS=1 scripts/pg-throwaway.sh start "$CLUSTER" 25433 | sed -n 's/^PARLEY_PG_URL=//p')
  trap 'scripts/pg-throwaway.sh stop "$CLUSTER" >/dev/null 2>&1 || true' EXIT
fi
PG_URL=$(schema_url "$DB_URL" bench_reads)
SQLITE_URL="sqlite://$PWD/$DIR/reads.db"

echo "== seeding $N conversations on each backend"
rm -f "$DIR"/reads.db*
SEED=$(target/release/parley-seed --db "$DIR/reads.db" --conversations "$N")
"$PSQL" -q "$DB_URL" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS bench_reads CASCADE; CREATE SCHEMA bench_reads"
target/release/parley-seed --url "$PG_URL" --conversations "$N" >/dev/null
"$PSQL" -q "$PG_URL" -c "VACUUM ANALYZE" >/dev/null
# The seeding's writes reach the data files before any load runs, not during SQLite's.
"$PSQL" -q "$DB_URL" -c "CHECKPOINT"
# A profile of each PostgreSQL load, when the cluster has pg_stat_statements loaded.
PROFILE=0
if "$PSQL" -qAt "$DB_URL" -c "SHOW shared_preload_libraries" 2>/dev/null | grep -q pg_stat_statements; then
  "$PSQL" -q "$DB_URL" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
  PROFILE=1
fi
DEEP=$(sed -n 's/.*deep_cursor=\([^ ]*\).*/\1/p' <<<"$SEED")

start() { # start URL PORT: a server; its PID in PID_<PORT>
  PARLEY__DATABASE__URL="$1" PARLEY__SERVER__PORT=$2 PARLEY__APPS__BENCH__SECRET_KEY=$KEY \
    PARLEY__LOG__LEVEL=warn target/release/parley >/dev/null 2>>"$DIR/reads-server.log" &
  eval "PID_$2=$!"
  wait_for "$2"
}
wrk_out() { # wrk_out CONNS SCRIPT URL
  BENCH_N=$N BENCH_KEY=$KEY BENCH_USERS=$USERS wrk -t2 -c"$1" -d"${SECONDS_PER_RUN}s" --latency \
    -s "scripts/bench/$2" "$3"
}
declare -A RPS P99
measure() { # measure BACKEND NAME CONNS SCRIPT URL
  local out
  if [[ "$1" == PostgreSQL && $PROFILE == 1 ]]; then
    "$PSQL" -qAt "$DB_URL" -c "SELECT pg_stat_statements_reset()" >/dev/null
  fi
  out=$(wrk_out "$3" "$4" "$5")
  RPS[$1/$2]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  P99[$1/$2]=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local errors
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-10s %-36s %3s conns %10s req/s   p99 %9s   errors %s\n' \
    "$1" "$2" "$3" "${RPS[$1/$2]}" "${P99[$1/$2]}" "${errors:-0}"
  if [[ "$1" == PostgreSQL && $PROFILE == 1 ]]; then
    profile "$(awk '/requests in/ {print $1}' <<<"$out")"
  fi
}
profile() { # profile REQUESTS: what pg_stat_statements counted during the last load
  "$PSQL" -q "$DB_URL" -v requests="$1" <<'SQL'
\pset footer off
SELECT round(calls::numeric / :requests, 2) AS per_request,
       round(mean_exec_time::numeric * 1000, 1) AS mean_us,
       round((100 * total_exec_time / sum(total_exec_time) OVER ())::numeric, 1) AS pct_time,
       left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS statement
FROM pg_stat_statements
WHERE query NOT LIKE '%pg_stat_statements%'
ORDER BY calls DESC
LIMIT 6;
SQL
}
OPS=("GET one conversation" "list first page" "list 1,000 pages deep" "a user's conversations")
load() { # load BACKEND PORT INDEX: operation INDEX of OPS against the server on PORT
  local base="http://127.0.0.1:$2"
  case $3 in
    0) measure "$1" "${OPS[0]}" 64 get_conversation.lua "$base" ;;
    1) measure "$1" "${OPS[1]}" 8 get.lua "$base/v1/bench/conversations" ;;
    2) measure "$1" "${OPS[2]}" 8 get.lua "$base/v1/bench/conversations?startingAfter=$DEEP" ;;
    3) measure "$1" "${OPS[3]}" 8 user_conversations.lua "$base" ;;
  esac
}

# Both servers run throughout; each operation runs on SQLite and right after on PostgreSQL,
# ROUNDS times, so that each ratio compares loads a few seconds apart (this machine's speed
# drifts by 2x within an hour).
ROUNDS=${BENCH_ROUNDS:-2}
PORT_PG=18094
start "$SQLITE_URL" $PORT
start "$PG_URL" $PORT_PG
declare -A RATIOS
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round of $ROUNDS"
  for i in 0 1 2 3; do
    load SQLite $PORT $i
    load PostgreSQL $PORT_PG $i
    op=${OPS[$i]}
    RATIOS[$op]+="${RATIOS[$op]:+, }$(awk -v a="${RPS[PostgreSQL/$op]}" -v b="${RPS[SQLite/$op]}" \
      'BEGIN {printf "%.0f%%", 100 * a / b}')"
  done
done
kill "$PID_18090"; wait "$PID_18090" 2>/dev/null || true

echo "== two servers on the one PostgreSQL database, 4 connections each"
start "$PG_URL" $PORT2
pair() { # pair NAME SCRIPT PATH
  wrk_out 4 "$2" "http://127.0.0.1:$PORT_PG$3" >"$DIR/reads-pair1.out" &
  local first=$!
  wrk_out 4 "$2" "http://127.0.0.1:$PORT2$3" >"$DIR/reads-pair2.out"
  wait $first
  printf '%-47s %10s req/s   p99 %s / %s\n' "$1" \
    "$(awk '/Requests\/sec/ {s += $2} END {printf "%.2f", s}' "$DIR"/reads-pair[12].out)" \
    "$(awk '$1 == "99%" {print $2}' "$DIR/reads-pair1.out")" \
    "$(awk '$1 == "99%" {print $2}' "$DIR/reads-pair2.out")"
}
pair "GET one conversation, two servers" get_conversation.lua ""
pair "list first page, two servers" get.lua /v1/bench/conversations
pair "a user's conversations, two servers" user_conversations.lua ""
kill "$PID_18094" "$PID_18092"; wait 2>/dev/null || true

echo
echo "The last round's figures, and PostgreSQL / SQLite in each round:"
echo
echo "| operation | conns | SQLite req/s | SQLite p99 | PostgreSQL req/s | PostgreSQL p99 | PostgreSQL / SQLite, by round |"
echo "|---|---|---|---|---|---|---|"
for op in "${OPS[@]}"; do
  conns=8; [[ "$op" == "${OPS[0]}" ]] && conns=64
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$op" "$conns" "${RPS[SQLite/$op]}" \
    "${P99[SQLite/$op]}" "${RPS[PostgreSQL/$op]}" "${P99[PostgreSQL/$op]}" "${RATIOS[$op]}"
done
