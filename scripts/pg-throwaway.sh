#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests (or the benchmark) and prints its URL.
#
#   scripts/pg-throwaway.sh start DIR PORT   # prints PARLEY_PG_DIR=... and PARLEY_PG_URL=...
#   scripts/pg-throwaway.sh halt DIR         # stops the server, keeps the data (an outage)
#   scripts/pg-throwaway.sh resume DIR       # starts it again on the same port
#   scripts/pg-throwaway.sh stop DIR         # stops the server and deletes everything
#
# PG_DURABLE=1 keeps PostgreSQL's default durability (fsync, synchronous commit) for benchmarks;
# by default the cluster is tuned for tests (no fsync).
#
# Uses the machine's PostgreSQL binaries (Debian: /usr/lib/postgresql/<version>/bin). The server
# refuses to run as root, so as root the cluster is created and run as the `postgres` user. It
# listens on 127.0.0.1 and a socket in DIR only, trusts local connections, and is tuned for
# tests (no fsync): never point it at data you want to keep.
set -euo pipefail

find_bin() {
  local bin
  bin=$(command -v pg_ctl 2>/dev/null || true)
  if [[ -z "$bin" ]]; then
    bin=$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -1 || true)
  fi
  [[ -n "$bin" ]] && dirname "$(readlink -f "$bin")"
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
  start)
    dir=$2 port=$3

    bin=$(find_bin) || { echo "no PostgreSQL server binaries found" >&2; exit 1; }
    rm -rf "$dir"
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U parley --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    {
      echo "port = $port"
      echo "listen_addresses = '127.0.0.1'"
      echo "unix_socket_directories = '$dir'"
      echo "max_connections = 400"
      if [[ "${PG_STAT_STATEMENTS:-}" == "1" ]]; then
        echo "shared_preload_libraries = 'pg_stat_statements'"
      fi
      if [[ "${PG_DURABLE:-}" != "1" ]]; then
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
      fi
    } >>"$dir/data/postgresql.conf"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U parley parley
    echo "PARLEY_PG_DIR=$dir"
    echo "PARLEY_PG_URL=postgres://parley@127.0.0.1:$port/parley"
    ;;
  halt)
    dir=$2
    bin=$(find_bin) || exit 1
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  resume)
    dir=$2
    bin=$(find_bin) || exit 1
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    dir=$2
    bin=$(find_bin) || exit 0
    [[ -d "$dir/data" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR PORT | halt DIR | resume DIR | stop DIR" >&2
    exit 2
    ;;
esac
