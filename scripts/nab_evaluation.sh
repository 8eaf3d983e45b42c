#!/usr/bin/env bash
# Both judges on the bundled NAB AWS CloudWatch series (tests/nab_evaluation.rs):
# false fails on A/A splits and detection of a 20 % regression, at one look and at 12.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -p serin-tests --test integration nab_evaluation -- --nocapture 2>&1 | grep -E "look\(s\)|test result"
