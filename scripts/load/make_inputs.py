#!/usr/bin/env python3
"""Writes the load benchmark's inputs (seeded, so every run sends the same bytes).

- configs/load.json: a canary config of 20 metrics (Prometheus gauges `load_metric_NN`,
  selected by a `track` label);
- inline.json: a POST /judge body with inline data, 20 metrics x 2 x 500 points;
- prometheus.json: a POST /judge body asking Prometheus for the same 20 metrics;
- backfill.om: OpenMetrics for Prometheus (20 gauges x 2 tracks, 15 s apart, the
  last 30 minutes).
"""
import json
import pathlib
import random
import sys
import time

out = pathlib.Path(sys.argv[1])
(out / "configs").mkdir(parents=True, exist_ok=True)
rng = random.Random(42)
METRICS = 20
POINTS = 500

config = {
    "name": "load",
    "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
    "templates": {"track": 'track="${scope}"'},
    "metrics": [
        {
            "name": f"metric_{i:02}",
            "query": {"type": "prometheus", "metricName": f"load_metric_{i:02}", "customFilterTemplate": "track"},
            "groups": [f"group_{i % 4}"],
            "analysisConfigurations": {"canary": {"direction": "either"}},
        }
        for i in range(METRICS)
    ],
    "classifier": {"groupWeights": {f"group_{g}": 25 for g in range(4)}},
}
(out / "configs" / "load.json").write_text(json.dumps(config))


def series(mean):
    return [round(rng.gauss(mean, mean * 0.1), 6) for _ in range(POINTS)]


data = {f"metric_{i:02}": {"baseline": series(100 + i), "canary": series(100 + i)} for i in range(METRICS)}
(out / "inline.json").write_text(json.dumps({"configName": "load", "data": data}))
(out / "prometheus.json").write_text(json.dumps({
    "configName": "load",
    "baseline": {"scope": "stable"},
    "canary": {"scope": "canary"},
    "lookback": "20m",
    "step": "15s",
}))

now = int(time.time()) // 60 * 60
lines = []
for i in range(METRICS):
    lines.append(f"# TYPE load_metric_{i:02} gauge")
    for track in ("stable", "canary"):
        for t in range(now - 1800, now, 15):
            lines.append(f'load_metric_{i:02}{{track="{track}"}} {rng.gauss(100 + i, 10 + i / 10):.6f} {t}')
lines.append("# EOF")
(out / "backfill.om").write_text("\n".join(lines) + "\n")
