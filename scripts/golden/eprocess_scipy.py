#!/usr/bin/env python3
"""Golden values for the Serin judge's e-processes, computed independently with scipy.

Writes fixtures/golden/eprocess_scipy.json with three tables:

* ``betting``: the betting mixture ``E_t = mean_l prod_{j<=t} (1 + l * s_j)`` over the
  bets below, for seeded statistic sequences in [-1, 1]: ln E at the end, the largest
  ln E (at least 0, the start) and the first step where ln E >= ln(100).  Computed as
  ``scipy.special.logsumexp`` over per-bet cumulative sums of ``log1p(l * s)``, not
  with the shared-scale products Serin keeps.
* ``sign``: ``ln E`` of the sign test after k signs of +1 and n - k of -1, and the
  fewest +1 out of n that reach ln(1/alpha).
* ``rate``: the conditional binomial e-process of a rate ratio: for each bin with
  events on either side and requests on both, the log likelihood ratio
  ``binom.logpmf(e, e + f, theta(R)) - binom.logpmf(e, e + f, theta(R0))`` with
  ``theta(R) = R n / (R n + m)``, summed over bins, mixed over R = R0 x ratios (above)
  or R0 / ratios (below) by logsumexp; ln E at the end, its maximum and first crossing.

savvi's Multinomial test (Lindon & Malek 2022) mixes over a Dirichlet prior where
Serin mixes over a grid of ratios, so its e-values are not Serin's; confseq does not
install here (it needs Boost).  The constants below must match
crates/serin-core/src/stats/eprocess.rs (BETS, RATE_RATIOS).

Usage (from the repository root):  python3 scripts/golden/eprocess_scipy.py
"""

import json
import math
import os

import numpy as np
import scipy
from scipy.special import logsumexp
from scipy.stats import binom

BETS = [0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9]
RATE_RATIOS = [1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0]
LOG_THRESHOLD = math.log(100.0)


def trajectory_summary(log_e):
    """ln E at the end, max(0, max ln E), first index with ln E >= ln 100."""
    crossed = next((i for i, v in enumerate(log_e) if v >= LOG_THRESHOLD), None)
    return {
        "log_e": float(log_e[-1]),
        "max_log_e": float(max(0.0, float(np.max(log_e)))),
        "crossed_at": crossed,
    }


def betting(statistics):
    s = np.asarray(statistics, dtype=np.float64)
    logs = np.stack([np.cumsum(np.log1p(bet * s)) for bet in BETS])
    log_e = logsumexp(logs, axis=0) - math.log(len(BETS))
    return trajectory_summary(log_e)


def sign_log_e(above, below):
    logs = [above * math.log1p(bet) + below * math.log1p(-bet) for bet in BETS]
    return float(logsumexp(logs) - math.log(len(BETS)))


def sign_threshold(n, log_threshold):
    for k in range(n + 1):
        if sign_log_e(k, n - k) >= log_threshold:
            return k
    return None


def rate(bins, null_ratio, direction):
    ratios = [null_ratio * r if direction == "above" else null_ratio / r for r in RATE_RATIOS]
    totals = np.zeros(len(ratios))
    log_e = []
    for e, n, f, m in bins:
        if n > 0 and m > 0 and e + f > 0:
            def theta(ratio):
                return ratio * n / (ratio * n + m)
            null = binom.logpmf(e, e + f, theta(null_ratio))
            totals += np.array([binom.logpmf(e, e + f, theta(r)) - null for r in ratios])
        log_e.append(logsumexp(totals) - math.log(len(ratios)))
    return trajectory_summary(np.array(log_e))


def main():
    rng = np.random.default_rng(20261203)
    betting_cases = []
    for name, length, drift in [
        ("short", 10, 0.0),
        ("null-200", 200, 0.0),
        ("drift-200", 200, 0.25),
        ("drift-5000", 5000, 0.05),
        ("null-20000", 20000, 0.0),
        ("signs-3000", 3000, None),
    ]:
        if drift is None:
            statistics = [1.0] * length
        else:
            statistics = np.clip(rng.uniform(-1, 1, length) + drift, -1, 1)
            # Some exact signs and zeros, as the level test gives.
            statistics[::7] = np.sign(statistics[::7])
            statistics[::11] = 0.0
            statistics = [round(float(v), 6) for v in statistics]
        betting_cases.append({"name": name, "statistics": statistics, **betting(statistics)})

    sign_cases = []
    for n, k in [(1, 1), (10, 7), (50, 40), (144, 90), (1440, 800), (1440, 700)]:
        sign_cases.append({"n": n, "above": k, "log_e": sign_log_e(k, n - k)})
    threshold_cases = []
    for alpha in [0.05, 0.01, 0.001, 0.0002]:
        for n in [5, 8, 11, 16, 30, 144, 1440]:
            threshold_cases.append(
                {"n": n, "alpha": alpha, "k": sign_threshold(n, math.log(1 / alpha))}
            )

    rate_cases = []
    for name, bins_count, canary_rate, baseline_rate, traffic in [
        ("healthy", 60, 0.01, 0.01, (50, 1000)),
        ("regressed", 60, 0.03, 0.01, (50, 1000)),
        ("sparse", 120, 0.002, 0.0005, (20, 400)),
        ("three-in-500", 1, None, None, None),
    ]:
        if name == "three-in-500":
            bins = [(3, 500, 0, 10000)]
        else:
            bins = []
            for _ in range(bins_count):
                n = int(rng.poisson(traffic[0])) + (0 if rng.uniform() < 0.05 else 1)
                m = int(rng.poisson(traffic[1])) + 1
                bins.append((int(rng.binomial(n, canary_rate)), n, int(rng.binomial(m, baseline_rate)), m))
        for null_ratio, direction in [(1.0, "above"), (1.5, "above"), (1.0, "below"), (0.8, "below")]:
            rate_cases.append(
                {"name": name, "null_ratio": null_ratio, "direction": direction,
                 "bins": bins, **rate(bins, null_ratio, direction)}
            )

    out = {
        "generator": "scripts/golden/eprocess_scipy.py",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "log_threshold": LOG_THRESHOLD,
        "betting": betting_cases,
        "sign": sign_cases,
        "sign_threshold": threshold_cases,
        "rate": rate_cases,
    }
    path = os.path.join("fixtures", "golden", "eprocess_scipy.json")
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print(f"wrote {path}: {len(betting_cases)} betting, {len(sign_cases) + len(threshold_cases)} sign, {len(rate_cases)} rate cases")


if __name__ == "__main__":
    main()
