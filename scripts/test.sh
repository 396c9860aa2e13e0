#!/usr/bin/env bash
# The one test command: formatting, lints (warnings are errors), then every test of the workspace
# (domain unit tests with mocks, the storage contract suite on every adapter, the HTTP
# integration tests against the real server, and the dependency-rule check).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> cargo test"
cargo test --workspace --locked

echo "==> all checks passed"
