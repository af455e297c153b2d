"""gbdt_cmp.py DIST.json ONE.json DATA.csv: compares a model trained on several ranks with one
trained on one enclave over the same data (xgboost JSON models, `mc2 model export`; DATA.csv:
age,income,debt,defaulted with a header). Prints the mean |prediction difference| and both
accuracies; exits 1 beyond the tolerance docs/gbdt.md states for distributed training
(merged sketches move thresholds). Used by test_dist_jobs.sh and test_cluster_jobs.sh."""
import sys

import numpy as np
import xgboost as xgb

X = np.loadtxt(sys.argv[3], delimiter=",", skiprows=1)
d = xgb.DMatrix(X[:, :3], feature_names=["age", "income", "debt"])
p = [xgb.Booster(model_file=f).predict(d) for f in sys.argv[1:3]]
mean = float(np.mean(np.abs(p[0] - p[1])))
acc = [float(np.mean((q > 0.5) == (X[:, 3] > 0.5))) for q in p]
print(f"mean |pred diff| {mean:.5f}, accuracy {acc[0]:.4f} on ranks vs {acc[1]:.4f} on one")
sys.exit(0 if mean <= 0.02 and abs(acc[0] - acc[1]) <= 0.01 else 1)
