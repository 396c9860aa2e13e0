#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, when it is missing: a C toolchain is
# assumed (Rust needs it); this adds libpq (the PostgreSQL backend links it), PostgreSQL's
# server binaries (the tests start a throwaway cluster) and Node (the webhook receiver
# example). Needs root or sudo; does nothing when everything is present.
set -euo pipefail

need=()
[[ -e /usr/include/postgresql/libpq-fe.h ]] || need+=(libpq-dev)
if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  need+=(postgresql)
fi
# Node runs the documented webhook receiver example (the test falls back to Python without it).
command -v node >/dev/null 2>&1 || need+=(nodejs)
if [[ ${#need[@]} -eq 0 ]]; then
  exit 0
fi
echo "==> installing ${need[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
