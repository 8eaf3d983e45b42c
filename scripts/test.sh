#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then formatting,
# lints, docs, every test, and a build of the benchmarks (never timed here).
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools. The judgement engine and its tests need no system packages; later parts
# of the suite (a real Prometheus, a real nginx) install theirs here.
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

echo "== format"
cargo fmt --all -- --check
echo "== lints"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "== benchmarks build"
cargo bench -p serin-benches --locked --no-run
echo "== tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line over every test binary (cargo prints one per binary).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed; exit (failed > 0 || passed == 0) }' "$log"
