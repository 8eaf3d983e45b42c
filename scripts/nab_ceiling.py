#!/usr/bin/env python3
"""The ceiling of one-look detection on the NAB protocol of tests/nab_evaluation.rs.

Fixed-sample tests at alpha 0.01 (the most favourable case: an anytime-valid test
can only do worse) on the same days, split and regression; run
`python3 scripts/nab_ceiling.py` (numpy, scipy) and read docs/statistics.md,
"What the NAB protocol allows".

Protocol: each series -> whole consecutive days of 288 points (from start,
remainder dropped). Each day: every point independently -> canary w.p. 1/2
(rng = np.random.default_rng(series_index*1000 + day), series sorted by file
name), else baseline. Healthy canary = its side as is; regressed canary = its
side * 1.2. Fail = one-sided (canary > baseline) rejection at alpha = 0.01.

Tests (single look at the whole day):
 MW    Mann-Whitney U, alternative='greater'
 WlogT Welch t on log1p(values)
 WrawT Welch t on raw values
 Perm  permutation test (2000 label permutations) on diff of means of log1p
 PairW time-paired Wilcoxon signed-rank on log1p(c_i) - log1p(nearest baseline)
       (nearest = adjacent row in the day; tie -> earlier one); may be invalid
 UNION any of MW, WlogT, WrawT, Perm, PairW (upper bound, not a valid test)
Extra (valid by design, randomisation inference under the sharp null):
 RandP randomisation test (2000 label permutations, the nearest-baseline pairing
       recomputed for every permutation) with the signed-rank statistic of PairW
"""
import glob
import os

import numpy as np
from scipy import stats

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "nab", "realAWSCloudwatch")
DAY = 288
# The series on which no test can see a 20 % change in a day (see the ideal-test table);
# the totals are printed with and without them.
HOPELESS = ["ec2_disk_write_bytes_1ef3de", "ec2_disk_write_bytes_c0d644", "elb_request_count_8c0756"]
# Quantised series where moment tests fail and the rank test wins by the protocol's artefact.
QUANTISED = ["ec2_cpu_utilization_77c1ca", "ec2_network_in_5abac7"]
ALPHA = 0.01
SHIFT = 1.2
NPERM = 2000
Z_A = stats.norm.ppf(1 - ALPHA)


def load(path):
    vals = []
    with open(path) as fh:
        next(fh)
        for line in fh:
            line = line.strip()
            if line:
                vals.append(float(line.split(",")[1]))
    return np.asarray(vals)


def nearest_baseline(is_canary):
    """is_canary: (..., n) bool. For every position, index of the nearest
    baseline position (tie -> earlier); -1 if the day has no baseline."""
    n = is_canary.shape[-1]
    idx = np.arange(n)
    base = ~is_canary
    prev = np.where(base, idx, -1)
    prev = np.maximum.accumulate(prev, axis=-1)
    nxt = np.where(base, idx, n + n)
    nxt = np.flip(np.minimum.accumulate(np.flip(nxt, -1), axis=-1), -1)
    dprev = np.where(prev >= 0, idx - prev, 10 * n)
    dnext = np.where(nxt < 2 * n, nxt - idx, 10 * n)
    out = np.where(dprev <= dnext, prev, nxt)
    out = np.where(np.minimum(dprev, dnext) >= 10 * n, -1, out)
    return out


def signed_rank_stat(d, mask):
    """Wilcoxon W+ (zeros dropped, average ranks not needed for a
    randomisation test: ordinal ranks with ties broken by position are fine
    as long as the same rule is used for observed and permuted). Vectorised
    over rows: d, mask shape (B, n)."""
    a = np.abs(d)
    keep = mask & (a > 0)
    a = np.where(keep, a, np.inf)
    order = np.argsort(a, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, d.shape[-1] + 1)[None, :].repeat(d.shape[0], 0), axis=-1)
    # rank among kept entries: kept entries sort first, so ranks 1..k
    wplus = np.where(keep & (d > 0), ranks, 0).sum(-1)
    k = keep.sum(-1)
    # centre and scale so that it is comparable across permutations with different k
    mean = k * (k + 1) / 4.0
    sd = np.sqrt(np.maximum(k * (k + 1) * (2 * k + 1) / 24.0, 1e-12))
    return (wplus - mean) / sd


def tests(x_day, is_c, rng_perm, shift):
    """x_day: day's values (288). is_c: canary mask. shift: 1.0 or 1.2.
    Returns dict of p-values."""
    vals = x_day.copy()
    vals[is_c] = vals[is_c] * shift  # observed day (canary side possibly regressed)
    c = vals[is_c]
    b = vals[~is_c]
    lc, lb = np.log1p(c), np.log1p(b)
    lv = np.log1p(vals)
    p = {}
    # (a) Mann-Whitney
    try:
        p["MW"] = stats.mannwhitneyu(c, b, alternative="greater").pvalue
    except ValueError:
        p["MW"] = 1.0
    # (b) Welch t
    for name, (u, w) in (("WlogT", (lc, lb)), ("WrawT", (c, b))):
        r = stats.ttest_ind(u, w, equal_var=False, alternative="greater").pvalue
        p[name] = 1.0 if not np.isfinite(r) else r
    # (c) permutation on diff of means of log1p
    obs = lc.mean() - lb.mean()
    nc = is_c.sum()
    perms = np.argsort(rng_perm.random((NPERM, DAY)), axis=1) < nc  # random label sets of size nc
    s = lv.sum()
    sc = (perms * lv).sum(1)
    diffs = sc / nc - (s - sc) / (DAY - nc)
    p["Perm"] = (1 + np.sum(diffs >= obs - 1e-12)) / (1 + NPERM)
    # (d) time-paired Wilcoxon
    nb = nearest_baseline(is_c[None, :])[0]
    d = lv[is_c] - lv[nb[is_c]]
    if np.all(d == 0):
        p["PairW"] = 1.0
    else:
        p["PairW"] = stats.wilcoxon(d, alternative="greater").pvalue
    # extra: randomisation test with the paired signed-rank statistic
    obs_z = signed_rank_stat((lv - lv[nb])[None, :], is_c[None, :])[0]
    nbp = nearest_baseline(perms)
    dp = lv[None, :] - np.take_along_axis(np.broadcast_to(lv, perms.shape), nbp, axis=1)
    zp = signed_rank_stat(dp, perms)
    p["RandP"] = (1 + np.sum(zp >= obs_z - 1e-12)) / (1 + NPERM)
    return p


TESTS = ["MW", "WlogT", "WrawT", "Perm", "PairW"]
ALLT = TESTS + ["UNION", "RandP", "UNION+R"]


def power(z):
    return stats.norm.cdf(z - Z_A)


def series_days():
    """(series name, [(day values, canary mask)]) for every series, split once."""
    files = sorted(glob.glob(os.path.join(DATA, "*.csv")))
    out = []
    for si, f in enumerate(files):
        x = load(f)
        days = []
        for day in range(len(x) // DAY):
            rng = np.random.default_rng(si * 1000 + day)
            days.append((x[day * DAY:(day + 1) * DAY], rng.random(DAY) < 0.5))
        out.append((os.path.basename(f)[:-4], days))
    return out


def main():
    series = series_days()
    tot = {k: {"reg": 0, "aa": 0} for k in ALLT}
    nwin = 0
    n_allzero_c = 0
    rows = []
    bo_rows = []
    for si, (name, days) in enumerate(series):
        nd = len(days)
        det = {k: {"reg": 0, "aa": 0} for k in ALLT}
        allzero = 0
        bo = {"zlog": [], "zraw": [], "zpair": []}
        for day, (xd, is_c) in enumerate(days):
            if np.all(xd[is_c] == 0):
                allzero += 1
            for cond, shift in (("reg", SHIFT), ("aa", 1.0)):
                rp = np.random.default_rng(10_000_000 + si * 1000 + day)
                p = tests(xd, is_c, rp, shift)
                fails = {k: p[k] <= ALPHA for k in p}
                fails["UNION"] = any(fails[k] for k in TESTS)
                fails["UNION+R"] = fails["UNION"] or fails["RandP"]
                for k in ALLT:
                    det[k][cond] += int(fails[k])
            # back-of-envelope z for the regressed window (n ~ 144 per side)
            n = DAY / 2
            lx = np.log1p(xd)
            delta_log = np.mean(np.log1p(SHIFT * xd) - lx)
            sd_log = lx.std(ddof=1)
            bo["zlog"].append(delta_log / (sd_log * np.sqrt(2 / n)) if sd_log > 0 else (np.inf if delta_log > 0 else 0))
            sd_raw = xd.std(ddof=1)
            bo["zraw"].append((SHIFT - 1) * xd.mean() / (sd_raw * np.sqrt(2 / n)) if sd_raw > 0 else (np.inf if xd.mean() > 0 else 0))
            # paired: differences of adjacent points (lag-1), effect delta_log
            sd_d = np.diff(lx).std(ddof=1)
            bo["zpair"].append(delta_log / (sd_d / np.sqrt(n)) if sd_d > 0 else (np.inf if delta_log > 0 else 0))
        zero_share = float(np.mean(np.concatenate([xd for xd, _ in days]) == 0))
        rows.append((name, nd, zero_share, allzero, det))
        bo_rows.append((name, {k: np.array(v) for k, v in bo.items()}))
        nwin += nd
        n_allzero_c += allzero
        for k in ALLT:
            for c in ("reg", "aa"):
                tot[k][c] += det[k][c]

    print(f"NAB realAWSCloudwatch, {len(series)} series, day = {DAY} points, shift x{SHIFT}, alpha = {ALPHA}, "
       f"one look, {NPERM} permutations")
    print("Regressed windows: detections out of days")
    hdr = f"{'series':40s} {'days':>4s} {'zero%':>6s} {'c=0':>3s} " + " ".join(f"{k:>7s}" for k in ALLT)
    print(hdr)
    for name, nd, zs, az, det in rows:
        print(f"{name:40s} {nd:4d} {100*zs:6.1f} {az:3d} " + " ".join(f"{det[k]['reg']:>7d}" for k in ALLT))
    print()
    print("A/A windows: false fails out of days")
    print(hdr)
    for name, nd, zs, az, det in rows:
        print(f"{name:40s} {nd:4d} {100*zs:6.1f} {az:3d} " + " ".join(f"{det[k]['aa']:>7d}" for k in ALLT))
    print()
    print(f"TOTAL windows = {nwin}; windows whose canary side is all zero (regressed == healthy) = {n_allzero_c}")
    print(f"{'test':8s} {'regressed detect':>22s} {'A/A false fail':>20s}")
    for k in ALLT:
        r, a = tot[k]["reg"], tot[k]["aa"]
        print(f"{k:8s} {r:5d}/{nwin} = {100*r/nwin:6.1f}%   {a:5d}/{nwin} = {100*a/nwin:5.1f}%")
    print()
    print("Back-of-envelope (n = 144 per side, z_alpha = 2.326; 90% power needs z >= 3.61):")
    print(" zlog  = mean[log1p(1.2x)-log1p(x)] / (sd_day(log1p x) * sqrt(2/144))   (unpaired, log1p)")
    print(" zraw  = 0.2*mean(x) / (sd_day(x) * sqrt(2/144))                         (unpaired, raw)")
    print(" zpair = mean[log1p(1.2x)-log1p(x)] / (sd(lag-1 diff of log1p x) / sqrt(144))  (paired, iid-diff approx)")
    print(f"{'series':40s} {'med zlog':>8s} {'pow':>5s} {'med zraw':>8s} {'pow':>5s} {'med zpair':>9s} {'pow':>5s} {'d/sd_log':>8s}")
    for name, b in bo_rows:
        zl, zr, zp = np.median(b["zlog"]), np.median(b["zraw"]), np.median(b["zpair"])
        print(f"{name:40s} {zl:8.2f} {power(zl):5.2f} {zr:8.2f} {power(zr):5.2f} {zp:9.2f} {power(zp):5.2f} "
           f"{zl*np.sqrt(2/144):8.3f}")
    # ---- hard series: ideal-test power on log of the positive values ----
    print()
    print("Hard series, ideal unpaired log-scale test on POSITIVE values only (zeros cannot move under x1.2):")
    print(" z = log(1.2) / sqrt(s_c^2/k_c + s_b^2/k_b), s = sd of log(x>0), k = # positive points per side")
    print(f"{'series':40s} {'k_c':>5s} {'k_b':>5s} {'sd_log':>6s} {'med z':>6s} {'power':>6s} {'n/side for 90%':>15s}")
    z90 = Z_A + stats.norm.ppf(0.9)
    for name, days in series:
        if name not in HOPELESS + QUANTISED:
            continue
        zs, kc, kb, sds = [], [], [], []
        for xd, is_c in days:
            pos = xd > 0
            lc, lb = np.log(xd[is_c & pos]), np.log(xd[~is_c & pos])
            kc.append(len(lc)); kb.append(len(lb))
            if len(lc) > 1 and len(lb) > 1:
                zs.append(np.log(SHIFT) / np.sqrt(lc.var(ddof=1) / len(lc) + lb.var(ddof=1) / len(lb)))
                sds.append(np.log(xd[pos]).std(ddof=1))
            else:
                zs.append(0.0)
        zm, sdm = np.median(zs), np.median(sds)
        nneed = 2 * (z90 * sdm / np.log(SHIFT)) ** 2
        print(f"{name:40s} {np.median(kc):5.0f} {np.median(kb):5.0f} {sdm:6.2f} {zm:6.2f} {power(zm):6.3f} {nneed:15.0f}")
    print(" (77c1ca and 5abac7 are quantised, bursty series: moment tests are hopeless, but the rank test MW")
    print("  wins because x1.2 lifts the whole tied bulk (a few lattice values) above the baseline's copies.)")
    print()
    # ---- totals without the three impossible series ----
    imp = set(HOPELESS)
    n_imp = sum(nd for name, nd, *_ in rows if name in imp)
    print(f"Without the 3 hardest series (disk_write_bytes x2, elb_request_count; {n_imp} windows):")
    for k in ALLT:
        r = sum(det[k]["reg"] for name, nd, zs, az, det in rows if name not in imp)
        a = sum(det[k]["aa"] for name, nd, zs, az, det in rows if name not in imp)
        print(f"  {k:8s} {r:4d}/{nwin - n_imp} = {100*r/(nwin-n_imp):5.1f}%   A/A {a}/{nwin - n_imp}")
    need = int(np.ceil(0.9 * nwin))
    print(f"90% of {nwin} = {need} windows; even with 100% on the other {nwin - n_imp} windows, at least "
       f"{need - (nwin - n_imp)} of the {n_imp} hard windows must be detected "
       f"({100*(need-(nwin-n_imp))/n_imp:.0f}% power there).")
    # lattice caveat
    for name, days in series:
        if name != "elb_request_count_8c0756":
            continue
        nd = len(days)
        hit = sum(int(np.any(np.abs(SHIFT * xd[c] - np.round(SHIFT * xd[c])) > 1e-9)) for xd, c in days)
        print(f"Caveat (degenerate lattice test): elb counts are integers; a regressed canary holds a non-integer "
           f"value on {hit}/{nd} days, so 'any canary value off the integer lattice' is a formally valid, "
           f"100%-power test -- an artefact of multiplying by 1.2, not a real detector.")


if __name__ == "__main__":
    main()
