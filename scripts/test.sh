#!/usr/bin/env bash
# The one test command: formatting, lints (warnings are errors), then every test of the workspace
# (domain unit tests with mocks, the storage contract suite on every adapter, the HTTP
# integration tests against the real server, and the dependency-rule check), then the HTTP
# integration tests again with the server on PostgreSQL, and last Schemathesis against the
# server with its own OpenAPI document (scripts/schemathesis.sh; Python from the machine, the
# rest from PyPI into a virtualenv under ~/.cache/parley).
#
# PostgreSQL: set PARLEY_TEST_POSTGRES_URL to use a server of yours (tests create and drop
# schemas in it); otherwise this script starts a throwaway cluster from the machine's
# PostgreSQL binaries and stops it afterwards. With neither, the PostgreSQL tests are skipped
# with a loud message, except with CI=true, where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

if [[ -z "${PARLEY_TEST_POSTGRES_URL:-}" ]]; then
  PG_DIR="/tmp/parley-test-pg-$$"
  PG_PORT=$((20000 + RANDOM % 12000))  # below the ephemeral ports (32768 up)
  if PG_ENV=$(scripts/pg-throwaway.sh start "$PG_DIR" "$PG_PORT" 2>/tmp/parley-test-pg-$$.err); then
    PG_STARTED=1
    trap 'scripts/pg-throwaway.sh stop "$PG_DIR"' EXIT
    export PARLEY_TEST_POSTGRES_URL
    PARLEY_TEST_POSTGRES_URL=$(sed -n 's/^PARLEY_PG_URL=//p' <<<"$PG_ENV")
    echo "==> started a throwaway PostgreSQL at $PARLEY_TEST_POSTGRES_URL"
  else
    cat "/tmp/parley-test-pg-$$.err" >&2
    if [[ "${CI:-}" == "true" ]]; then
      echo "FAILED: CI=true but no PostgreSQL could be started for the PostgreSQL tests" >&2
      exit 1
    fi
    echo "*** WARNING: no PostgreSQL available: the PostgreSQL tests will be SKIPPED ***" >&2
  fi
  rm -f "/tmp/parley-test-pg-$$.err"
fi

# The S3-compatible server for the file-store pass (moto, from PyPI in a virtualenv).
if [[ -z "${PARLEY_TEST_S3_ENDPOINT:-}" ]]; then
  S3_PORT=$((20000 + RANDOM % 12000))  # below the ephemeral ports (32768 up)
  if S3_ENV=$(scripts/s3-throwaway.sh start "$S3_PORT"); then
    S3_PID=$(sed -n 's/^PARLEY_S3_PID=//p' <<<"$S3_ENV")
    PARLEY_TEST_S3_ENDPOINT=$(sed -n 's/^PARLEY_S3_ENDPOINT=//p' <<<"$S3_ENV")
    echo "==> started a throwaway S3-compatible server (moto) at $PARLEY_TEST_S3_ENDPOINT"
    trap 'scripts/s3-throwaway.sh stop "$S3_PID"; if [[ -n "${PG_STARTED:-}" ]]; then scripts/pg-throwaway.sh stop "$PG_DIR"; fi' EXIT
  elif [[ "${CI:-}" == "true" ]]; then
    echo "FAILED: CI=true but no S3-compatible server could be started for the file-store tests" >&2
    exit 1
  else
    echo "*** WARNING: no S3-compatible server: the S3 file-store tests will be SKIPPED ***" >&2
  fi
fi

echo "==> cargo test (SQLite and in-memory; storage contract on PostgreSQL too)"
cargo test --workspace --locked

if [[ -n "${PARLEY_TEST_POSTGRES_URL:-}" ]]; then
  echo "==> cargo test: the HTTP integration tests with the server on PostgreSQL"
  PARLEY_TEST_BACKEND=postgres cargo test --locked -p parley_server --tests
fi

if [[ -n "${PARLEY_TEST_S3_ENDPOINT:-}" ]]; then
  echo "==> cargo test: files and rich messages with the S3-compatible file store (SQLite, then PostgreSQL)"
  PARLEY_TEST_S3_ENDPOINT=$PARLEY_TEST_S3_ENDPOINT cargo test --locked -p parley_server \
    --test files --test rich_messages
  if [[ -n "${PARLEY_TEST_POSTGRES_URL:-}" ]]; then
    PARLEY_TEST_S3_ENDPOINT=$PARLEY_TEST_S3_ENDPOINT PARLEY_TEST_BACKEND=postgres \
      cargo test --locked -p parley_server --test files --test rich_messages
  fi
fi

echo "==> Schemathesis: the OpenAPI document against the real server (contract fuzzing)"
scripts/schemathesis.sh
if [[ -n "${PARLEY_TEST_POSTGRES_URL:-}" ]]; then
  PARLEY_ST_POSTGRES_URL=$PARLEY_TEST_POSTGRES_URL scripts/schemathesis.sh
fi

echo "==> all checks passed"
