#!/usr/bin/python3
"""breast_cancer.py - federated logistic regression through mc2's attested aggregator.

Five hospitals each hold part of scikit-learn's breast-cancer data set (Wisconsin diagnostic,
569 tumours x 30 features; Debian package python3-sklearn). They train one logistic-regression
model with FedAvg: every round each hospital trains a few local SGD epochs from the current
global model and submits its update (local model minus global model) with its row count as
weight; the enclave releases only the weighted mean, sealed for the five hospitals, and keeps
it as the next round's base (examples/fl/README.md says how the data is split and
standardised). The run prints a table of round, participants, accuracy on a held-out test
split, then the accuracy of the same model trained centrally on the union of the hospitals'
rows, and checks that the federated model comes within --max-gap points of it.

    python3 examples/fl/breast_cancer.py --homes DIR [--service HOST:PORT] [--rounds 20]
    python3 examples/fl/breast_cancer.py --local        # the same rounds, averaged here

--homes DIR holds the five hospitals' mc2 homes, DIR/hospital-a .. DIR/hospital-e (made with
`mc2 init --name hospital-a --home DIR/hospital-a`, each with the consortium policy as
DIR/hospital-X/consortium.yaml). --local runs the same training with FedAvg computed in
numpy instead of the enclave: what mc2 computes, for comparison.
"""
import argparse
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

PARTIES = ["hospital-a", "hospital-b", "hospital-c", "hospital-d", "hospital-e"]

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
where = ap.add_mutually_exclusive_group(required=True)
where.add_argument("--homes", help="directory of the five hospitals' mc2 homes")
where.add_argument("--local", action="store_true", help="average in numpy, no service")
ap.add_argument("--service", help="HOST:PORT (default: $MC2_SERVICE)")
ap.add_argument("--rounds", type=int, default=20, help="FedAvg rounds (default 20)")
ap.add_argument("--epochs", type=int, default=5, help="local SGD epochs per round (default 5)")
ap.add_argument("--k", type=int, default=3, help="release threshold per round (default 3)")
ap.add_argument("--deadline", type=int, default=10,
                help="seconds a round waits for updates (default 10; reached only in rounds "
                     "where a hospital is offline)")
ap.add_argument("--offline", default="7:hospital-c,15:hospital-e",
                help="ROUND:PARTY,... hospitals that send nothing in a round (default "
                     "7:hospital-c,15:hospital-e; '' for none)")
ap.add_argument("--masks", action="store_true",
                help="also mask the model rounds' updates (SecAgg; not the statistics round, "
                     "whose values exceed the masks' clipping range)")
ap.add_argument("--max-gap", type=float, default=1.0,
                help="fail if centralised accuracy - federated accuracy exceeds this many "
                     "points (default 1.0)")
args = ap.parse_args()
offline = {}
for item in filter(None, args.offline.split(",")):
    r, _, p = item.partition(":")
    if not r.isdigit() or p not in PARTIES:
        ap.error(f"--offline: '{item}' is not ROUND:PARTY with PARTY one of {PARTIES}")
    offline.setdefault(int(r), set()).add(p)

# %% The data: a stratified 80/20 split (fixed seed) into a training part, spread over the
# hospitals, and a test part that no hospital trains on (used only to print the accuracy).
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                    random_state=0)


def label_skew_split(y, nparties, alpha, seed):
    """Non-IID partition: for each class, its rows are dealt to the parties in proportions
    drawn from Dirichlet(alpha); small alpha, more skew (0.5: some hospitals see mostly benign
    tumours, others mostly malignant ones, and their sizes differ)."""
    rng = np.random.default_rng(seed)
    parts = [[] for _ in range(nparties)]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        cuts = (np.cumsum(rng.dirichlet([alpha] * nparties)) * len(idx)).astype(int)[:-1]
        for p, chunk in enumerate(np.split(idx, cuts)):
            parts[p].extend(chunk)
    return [np.sort(np.array(p, dtype=int)) for p in parts]


parts = label_skew_split(y_train, len(PARTIES), alpha=0.5, seed=0)
data = {p: (X_train[i], y_train[i]) for p, i in zip(PARTIES, parts)}
assert min(len(i) for i in parts) >= 10, "every hospital needs some rows"
print("hospital     rows  malignant")
for p, (_, yp) in data.items():
    print(f"{p:<12} {len(yp):4d}  {100 * (1 - yp.mean()):5.1f}%")   # target 0 = malignant
print(f"test split   {len(y_test):4d}  {100 * (1 - y_test.mean()):5.1f}%  (no hospital's)")

# %% The model: logistic regression, w (30) and b (1), mini-batch SGD with L2 penalty.
L2, LR0, DECAY, BATCH = 1e-3, 0.1, 0.2, 32


def sgd(model, X, y, epochs, lr, rng):
    w, b = model["w"].astype(np.float64), float(model["b"][0])
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for s in range(0, len(y), BATCH):
            i = order[s:s + BATCH]
            g = 1.0 / (1.0 + np.exp(-(X[i] @ w + b))) - y[i]
            w = w - lr * (X[i].T @ g / len(i) + L2 * w)
            b = b - lr * g.mean()
    return {"w": w, "b": np.array([b])}


def accuracy(model, X, y):
    return 100.0 * np.mean(((X @ model["w"] + model["b"][0]) > 0) == y)


def lr_at(r):  # round r's learning rate (r = 1, 2, ...)
    return LR0 / (1.0 + DECAY * (r - 1))


# %% The aggregator: mc2's enclave (--homes) or numpy (--local), one interface: run(round,
# tensors, updates {party: (arrays, weight)}, k, chain) -> (new model, number of
# contributors); chain: start from the previous round's model (else from zeros).
def fedavg(base, updates, shapes):
    """FedAvg as the enclave computes it (docs/fl.md): new = base + sum(w_i u_i) / sum(w_i),
    the updates float32 as they travel, summed in double."""
    W = float(sum(wt for _, wt in updates.values()))
    new = {}
    for name, shape in shapes:
        s = sum(wt * np.asarray(u[name], np.float32).astype(np.float64)
                for u, wt in updates.values())
        b0 = base[name] if base is not None else np.zeros(shape)
        new[name] = (b0 + s / W).astype(np.float32)
    return new


class NumpyRounds:
    def __init__(self):
        self.prev = None

    def run(self, rnd, tensors, updates, k, chain, masks=False):
        if len(updates) < k:
            raise RuntimeError(f"round {rnd}: {len(updates)} updates, k = {k}")
        self.prev = fedavg(self.prev if chain else None, updates, tensors)
        return self.prev, len(updates)


class Mc2Rounds:
    """Each round is a fedavg job that hospital-a starts; every hospital online submits its
    update from its own client (attested session, update signed by its identity) and gets
    the new global model back; the job of round r is round r+1's base (kept in the enclave)."""

    def __init__(self, homes, service):
        import mc2
        self.mc2 = mc2
        self.clients = {p: mc2.Client(home=os.path.join(homes, p), service=service)
                        for p in PARTIES}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mc2.SimulationWarning)  # the simulated TEE
            for c in self.clients.values():
                c.attest()
        self.prev = None

    def run(self, rnd, tensors, updates, k, chain, masks=False):
        fl = self.mc2.fl
        starter = self.clients["hospital-a"]
        # A masked round moves through stages; one waits for an offline hospital until its
        # stage timeout, which must come well before the round's deadline.
        extra = {"stage_timeout_s": max(1, args.deadline // 3)} if masks else None
        job = fl.start_round(PARTIES, dict(tensors), round=rnd, k=k, deadline=args.deadline,
                             base=self.prev if chain else None, masks=masks,
                             recipients=PARTIES, params=extra, client=starter)

        def submit(p):
            u, weight = updates[p]
            fl.submit(job, u, weight, client=self.clients[p])

        # One thread per hospital, as if each ran on its own machine (a masked round needs
        # them at once: each waits for the others' masking stages).
        with ThreadPoolExecutor(len(updates)) as pool:
            list(pool.map(submit, sorted(updates)))
        new = fl.model(job, client=starter, timeout=args.deadline + 60)
        self.prev = job
        return new, fl.result(job, client=starter)["contributors"]


agg = NumpyRounds() if args.local else Mc2Rounds(args.homes, args.service)

# %% Round 0: the global feature statistics, themselves a secure aggregate. Each hospital
# submits its per-feature mean and mean of squares weighted by its row count; the weighted
# mean of those is the pooled mean and second moment; no hospital's own statistics leave it.
# (Never masked: SecAgg's quantisation clips values to [-8, 8], and a mean area is ~650.)
stats_updates = {p: ({"mean": Xp.mean(0), "sq": (Xp ** 2).mean(0)}, len(yp))
                 for p, (Xp, yp) in data.items()}
tensors = [("mean", (30,)), ("sq", (30,))]
stats, _ = agg.run(1, tensors, stats_updates, len(PARTIES), chain=False)
mean = stats["mean"].astype(np.float64)
sd = np.sqrt(np.maximum(stats["sq"].astype(np.float64) - mean ** 2, 1e-12))
Z = {p: ((Xp - mean) / sd, yp) for p, (Xp, yp) in data.items()}
Z_test = (X_test - mean) / sd
pooled = X_train.mean(0)
print(f"pooled statistics from the stats round: max |mean - numpy's| = "
      f"{np.max(np.abs(mean - pooled) / np.abs(pooled)):.1e} (relative)")

# %% FedAvg rounds.
rng = np.random.default_rng(1)
tensors = [("w", (30,)), ("b", (1,))]
model = {"w": np.zeros(30, np.float32), "b": np.zeros(1, np.float32)}
print("\nround | participants                 | accuracy")
fed_acc = 0.0
max_diff = max_tol = 0.0
for r in range(1, args.rounds + 1):
    updates = {}
    for p in PARTIES:
        if p in offline.get(r, ()):
            continue
        local = sgd(model, *Z[p], args.epochs, lr_at(r), rng)
        updates[p] = ({n: local[n] - model[n] for n in model}, len(Z[p][1]))
    new, contributors = agg.run(r, tensors, updates, args.k, chain=r > 1, masks=args.masks)
    want = fedavg(model, updates, tensors)
    diff = max(float(np.max(np.abs(new[n] - want[n]))) for n in new)
    # Masked updates are quantised (Flower's SecAgg+: clipping range 8, 2^22 levels, each
    # value scaled by weight / max_weight 1000): the mean may then be off by up to one step
    # per hospital over the summed weight ratios. Unmasked: float32 rounding only.
    tol = 1e-5
    if args.masks:
        tol += len(updates) * 16 / (2 ** 22 - 1) / (sum(w for _, w in updates.values()) / 1000)
    if diff > tol:
        sys.exit(f"breast_cancer: round {r}'s model is {diff:.1e} from the weighted mean of "
                 f"the updates sent (allowed {tol:.1e})")
    max_diff, max_tol = max(max_diff, diff), max(max_tol, tol)
    model = {n: np.asarray(new[n], np.float32).reshape(-1) for n in ("w", "b")}
    fed_acc = accuracy(model, Z_test, y_test)
    if contributors != len(updates):
        sys.exit(f"breast_cancer: round {r} counted {contributors} contributors, "
                 f"{len(updates)} hospitals sent an update")
    missing = [p for p in PARTIES if p not in updates]
    label = f"{contributors}/{len(PARTIES)}" + (f" ({', '.join(missing)} offline)"
                                                  if missing else "")
    print(f"{r:5d} | {label:<28} | {fed_acc:6.2f}%")

# %% The centralised baseline: the same model and schedule on the union of the rows.
central = {"w": np.zeros(30), "b": np.zeros(1)}
Zall = np.concatenate([Z[p][0] for p in PARTIES])
yall = np.concatenate([Z[p][1] for p in PARTIES])
for r in range(1, args.rounds + 1):
    central = sgd(central, Zall, yall, args.epochs, lr_at(r), rng)
cen_acc = accuracy(central, Z_test, y_test)
gap = cen_acc - fed_acc
print(f"\ncentralised (same model, {args.rounds} x {args.epochs} epochs on the union): "
      f"{cen_acc:.2f}%")
print(f"federated after round {args.rounds}: {fed_acc:.2f}% (gap {gap:+.2f} points; "
      f"test split: {len(y_test)} rows, one row = {100 / len(y_test):.2f} points)")
print(f"max |aggregate - numpy weighted mean of the updates sent| = {max_diff:.1e} "
      f"(allowed {max_tol:.1e})")
if gap > args.max_gap:
    sys.exit(f"breast_cancer: federated accuracy is {gap:.2f} points below centralised "
             f"(more than {args.max_gap})")
print("breast_cancer: ok")
