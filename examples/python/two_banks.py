#!/usr/bin/python3
"""two_banks.py - mc2 from Python, notebook style (docs/python.md).

Two banks, each with its own identity (`mc2 init`) and the consortium policy, against a
running service (`mc2 start`): each uploads a pandas DataFrame (encrypted here, never readable
by the host), they run a joint SQL query that both approve, and train a gradient-boosted model
over both banks' rows whose xgboost Booster predicts exactly what mc2 predicts in the enclave.

    python3 examples/python/two_banks.py --home-a A_HOME --home-b B_HOME [--service HOST:PORT]
"""
import argparse
import random
import warnings

import pandas as pd

import mc2

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--home-a", required=True, help="bank-a's mc2 home")
ap.add_argument("--home-b", required=True, help="bank-b's mc2 home")
ap.add_argument("--service", help="HOST:PORT (default: $MC2_SERVICE)")
args = ap.parse_args()

# %% Connect and attest: each bank checks the enclave against the consortium policy.
a = mc2.Client(home=args.home_a, service=args.service)
b = mc2.Client(home=args.home_b, service=args.service)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", mc2.SimulationWarning)  # this demo runs the simulated TEE
    print("attested enclave", a.attest()["measurement"][:16], "...")
    b.attest()

# %% Each bank uploads its own customers: the schema comes from the DataFrame's dtypes.
rng = random.Random(7)


def customers(n, bank):
    rows = []
    for i in range(n):
        income = round(rng.uniform(20, 200), 2)
        debt = round(rng.uniform(0, 150), 2)
        age = rng.randrange(18, 80)
        rows.append((f"{bank}-{i}", age, income, debt, int(debt / income + rng.random() / 3 > 0.6)))
    return pd.DataFrame(rows, columns=["id", "age", "income", "debt", "defaulted"])


df_a, df_b = customers(400, "a"), customers(300, "b")
a.upload(df_a, "customers", replace=True)
b.upload(df_b, "customers", replace=True)
print(a.tables().to_string(index=False))

# %% A joint query: both banks' rows; bank-b approves bank-a's job, then bank-a reads it.
job = a.submit_sql("SELECT ca.age, COUNT(*) AS pairs, SUM(cb.defaulted) AS b_defaults "
                   "FROM ca JOIN cb ON ca.age = cb.age GROUP BY ca.age ORDER BY ca.age",
                   inputs={"ca": "bank-a/customers", "cb": "bank-b/customers"})
b.approve(job)
joint = a.download(job)
print(joint.head().to_string(index=False))
m = df_a.merge(df_b, on="age", suffixes=("_a", "_b"))
want = m.groupby("age").agg(pairs=("id_a", "size"), b_defaults=("defaulted_b", "sum"))
assert joint["age"].tolist() == want.index.tolist()
assert joint["pairs"].tolist() == want["pairs"].tolist()
assert joint["b_defaults"].tolist() == want["b_defaults"].tolist()
print("joint query equals pandas' merge:", len(joint), "ages")

# %% Train over both banks' rows (label: defaulted); bank-b approves the training job.
features = ["age", "income", "debt"]
a.upload(df_a[features + ["defaulted"]], "train", replace=True)
b.upload(df_b[features + ["defaulted"]], "train", replace=True)
params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "eval_metric": "logloss"}
try:
    model = mc2.xgb.train(params, ["bank-a/train", "bank-b/train"], label="defaulted",
                          eval="bank-b/train", client=a, num_boost_round=10, timeout=0)
except mc2.JobPending as pending:
    b.approve(pending.job)
    model = mc2.xgb.Model.from_job(a, pending.job)
print(model.eval_history.tail(3).to_string(index=False))
print("feature importance (gain):", model.feature_importance("gain"))

# %% The model as an xgboost Booster predicts what mc2 predicts inside the enclave.
import numpy as np  # noqa: E402
import xgboost  # noqa: E402

new = customers(20, "new")[features]
in_enclave = np.array(model.predict(new))
booster = model.to_xgboost()
local = booster.predict(xgboost.DMatrix(new.astype("float64")))
print("max |mc2 - xgboost| =", float(np.max(np.abs(in_enclave - local))))
assert np.max(np.abs(in_enclave - local)) <= 1e-5
print("two_banks: ok")
