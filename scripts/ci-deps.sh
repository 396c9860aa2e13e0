#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, when it is missing: a C toolchain is
# assumed (Rust needs it); this adds libpq (the PostgreSQL backend links it), PostgreSQL's
# server binaries (the tests start a throwaway cluster) and Node (the webhook receiver
# example), and Python's venv (the moto S3 server). Needs root or sudo; does nothing when everything is present.
set -euo pipefail

need=()
[[ -e /usr/include/postgresql/libpq-fe.h ]] || need+=(libpq-dev)
if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  need+=(postgresql)
fi
# Python with venv runs the moto server, the S3-compatible store of the file-store tests.
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need+=(python3 python3-venv)
fi
command -v curl >/dev/null 2>&1 || need+=(curl)
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
if [[ ${#need[@]} -gt 0 ]]; then
  echo "==> installing ${need[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Node runs the documented webhook receiver example; the test falls back to the Python example
# without it, so a failed install is only a warning.
if ! command -v node >/dev/null 2>&1; then
  echo "==> installing nodejs"
  { "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs; } ||
    echo "*** WARNING: nodejs could not be installed: the webhook example is checked in Python ***" >&2
fi
