#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then formatting,
# lints, docs, every test, and a build of the benchmarks (never timed here).
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools. The judgement engine needs no system packages; later parts of the suite
# (a real Prometheus, a real nginx) add theirs here.
need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  fi
fi
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

echo "== format"
cargo fmt --all -- --check
echo "== lints"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "== tests"
cargo test --workspace --locked
echo "== benchmarks build"
cargo bench --workspace --locked --no-run
