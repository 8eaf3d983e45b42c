#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then formatting,
# lints, docs, every test, and a build of the benchmarks (never timed here).
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools. Integration tests start a real Prometheus (with promtool for backfill)
# and a real nginx on 127.0.0.1; install Debian's packages when they are missing.
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The packages start system services; the tests start their own instances.
  $sudo_cmd service prometheus stop >/dev/null 2>&1 || true
  $sudo_cmd service nginx stop >/dev/null 2>&1 || true
fi

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
