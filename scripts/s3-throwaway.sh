#!/usr/bin/env bash
# A throwaway S3-compatible server for the file-store tests: the `moto` server from PyPI, in a
# virtualenv this script creates once (under ~/.cache/parley/moto-venv, or $PARLEY_MOTO_VENV).
#
#   scripts/s3-throwaway.sh start PORT   # prints PARLEY_S3_ENDPOINT=http://127.0.0.1:PORT and
#                                        # PARLEY_S3_PID=...; creates the bucket parley-test
#   scripts/s3-throwaway.sh stop PID
set -euo pipefail

venv=${PARLEY_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/parley/moto-venv}
case "${1:-}" in
  start)
    port=$2
    if [[ ! -x "$venv/bin/moto_server" ]]; then
      echo "==> creating $venv with moto[server] (PyPI)" >&2
      mkdir -p "$(dirname "$venv")"
      python3 -m venv "$venv" >&2
      "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]' >&2
    fi
    log=$(mktemp /tmp/parley-moto-XXXXXX.log)
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        curl -sf -X PUT "http://127.0.0.1:$port/parley-test" -o /dev/null
        echo "PARLEY_S3_ENDPOINT=http://127.0.0.1:$port"
        echo "PARLEY_S3_PID=$pid"
        exit 0
      fi
      sleep 0.2
    done
    cat "$log" >&2
    kill "$pid" 2>/dev/null || true
    echo "the moto server did not start" >&2
    exit 1
    ;;
  stop)
    kill "$2" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 start PORT | stop PID" >&2
    exit 2
    ;;
esac
