#!/usr/bin/env bash
# Benchmarks side by side with scipy, in one run: the same seeded inputs go through
# scipy.stats.mannwhitneyu and through Serin's criterion benchmarks, and the
# ratios are printed at the end. Needs python3 with scipy and numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
inputs=target/bench-inputs
mkdir -p "$inputs"
python3 scripts/golden/bench_scipy.py --write-inputs "$inputs" --no-time
cargo bench -p serin-benches --bench statistics -- --warm-up-time 1 --measurement-time 5 "$@"
python3 scripts/golden/bench_scipy.py > target/bench-scipy.jsonl
python3 - <<'PY'
import json, pathlib
scipy = {row["n"]: row["scipy_mwu_seconds"] for row in map(json.loads, open("target/bench-scipy.jsonl"))}
def criterion(group, ident):
    path = pathlib.Path("target/criterion") / group / ident / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["mean"]["point_estimate"] / 1e9
print()
print(f"{'n = m':>10}  {'scipy mannwhitneyu':>20}  {'serin MWU + exact HL + CI':>26}  {'serin / scipy':>13}")
for n, seconds in sorted(scipy.items()):
    ours = criterion("mwu_exact_hl", str(n))
    if ours is not None:
        print(f"{n:>10}  {seconds * 1e3:>17.3f} ms  {ours * 1e3:>23.3f} ms  {ours / seconds:>13.3f}")
for ident, label in [("50_metrics_x_2_x_1000_points", "kayenta interval, 1 thread"), ("50_metrics_x_2_x_1000_points_2_threads", "kayenta interval, 2 threads"), ("50_metrics_x_2_x_1000_points_exact", "exact interval, 1 thread")]:
    judge = criterion("judge", ident)
    if judge is not None:
        print(f"50-metric x 2 x 1000-point judgement ({label}): {judge * 1e3:.3f} ms")
PY
