"""Threshold rules compared over seeds (issue 15, section 2): fixed 0.5, the old 0.05-0.95 grid, and
helpers.metrics.tune_thresholds' logit grid with a fallback to 0.5 below 1, 3, 5 or 10 validation
positives. Reads the probabilities dump.py saved (notebook 04's defaults: 4,000 training scenes,
tail 3.3, 15 epochs, plain BCE and neg_over_pos, one thread) and writes results.csv and judged.csv
here; judged with helpers.stats (paired per seed against the logit grid with min_positives=1, Holm
across the table, SESOI 0.01 in macro-F1).

    for s in 0 1 2 3 4; do PYTHONPATH=$PWD OMP_NUM_THREADS=1 python evidence/thresholds/dump.py $s 3.3; done
    PYTHONPATH=$PWD python evidence/thresholds/measure.py /tmp/stats_meas
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import metrics as M
from helpers import stats as S

HERE = Path(__file__).parent
OLD = np.round(np.linspace(0.05, 0.95, 19), 10)
REFERENCE = "logit grid, min 1"

rows = []
for f in sorted(Path(sys.argv[1]).glob("probs_tail3.3_seed*.npz")):
    z = np.load(f)
    seed = int(f.stem.split("seed")[1])
    for setup in ("bce_with_logits", "bce_with_logits+neg_over_pos"):
        pv, pt = z[setup + "/val"], z[setup + "/test"]
        rules = {"fixed 0.5": np.full(pv.shape[1], 0.5), "old grid 0.05-0.95": M.tune_thresholds(z["Y_val"], pv, grid=OLD)}
        for k in (1, 3, 5, 10):
            rules[f"logit grid, min {k}"] = M.tune_thresholds(z["Y_val"], pv, min_positives=k)
        for rule, t in rules.items():
            m = M.evaluate(z["Y_test"], pt, threshold=t)
            rows.append({"seed": seed, "setup": setup, "rule": rule, "macro_f1": m["macro_f1"],
                         "fallback_labels": int((z["Y_val"].sum(0) < int(rule.split()[-1])).sum()) if "min" in rule else 0,
                         "val_positives_rarest": int(z["Y_val"].sum(0).min()),
                         "thresholds": " ".join(f"{x:.4g}" for x in t)})
df = pd.DataFrame(rows)
df.to_csv(HERE / "results.csv", index=False)
wide = df.pivot_table(index=["setup", "seed"], columns="rule", values="macro_f1")
diffs = {(setup, rule): (wide.loc[setup, rule] - wide.loc[setup, REFERENCE]).to_numpy()
         for setup in wide.index.get_level_values(0).unique() for rule in wide.columns if rule != REFERENCE}
judged = S.judge(diffs, metric="macro_f1")
judged.index = judged.index.set_names(["setup", "rule"])
judged.to_csv(HERE / "judged.csv")
pd.set_option("display.width", 200)
print(wide.groupby(level=0).mean().round(3).T.to_string())
print()
for (setup, rule), r in judged.iterrows():
    print("- " + S.sentence(r, f"{setup}: {rule} minus {REFERENCE}, test macro-F1"))
