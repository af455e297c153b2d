"""mc2.xgb: gradient-boosted trees trained inside the enclave, with the calls an xgboost user
expects (docs/python.md, docs/gbdt.md).

    model = mc2.xgb.train({"objective": "binary:logistic", "max_depth": 3, "num_round": 20},
                          ["bank-a/train", "bank-b/train"], label="label", eval="bank-b/ev",
                          client=c)
    model.predict("bank-a/score")       # a DataFrame: table, row, prediction
    model.to_xgboost()                   # an xgboost.Booster with the same predictions
    model.feature_importance("gain")     # {feature: average gain}
    model.eval_history                   # round, metric, value
"""
import ctypes
import json
import os
import shutil
import tempfile

from . import _state
from ._lib import b, call, cstrings, take
from .errors import InputError, UsageError


def train(params, tables, label, eval=None, recipients=(), client=None, num_boost_round=None,
          timeout=3600):
    """Trains a model over the parties' tables (one schema; rows concatenated) with XGBoost's
    parameters (docs/gbdt.md); `eval`: an OWNER/TABLE used only for per-round metrics. Returns
    the Model once the job is done and fetched (you must be one of its recipients: default,
    the policy's). If other owners have not approved within `timeout` seconds, raises
    mc2.JobPending (.job: approve it elsewhere, then Model.from_job(client, job))."""
    c = client or _state.current()
    jid = submit(params, tables, label, eval, recipients, client=c,
                 num_boost_round=num_boost_round)
    c.settle("train", jid, timeout)  # JobPending: approve, then Model.from_job(client, jid)
    return Model.from_job(c, jid)


def submit(params, tables, label, eval=None, recipients=(), client=None, num_boost_round=None):
    """Submits the train job only; returns its id (see train)."""
    c = client or _state.current()
    if isinstance(tables, str):
        tables = [tables]
    p = dict(params or {})
    if num_boost_round is not None:
        p["num_round"] = int(num_boost_round)
    for k in ("label", "eval"):
        if k in p:
            raise UsageError(f"give {k} as train(..., {k}=...), not in params")
    inputs = list(tables)
    full = {"label": label}
    if eval is not None:
        if eval not in inputs:
            inputs.append(eval)
        full["eval"] = eval
    full.update(p)
    return c.submit("train", inputs, recipients, full)


class Model:
    """A model this party received (a recipient of its train job): the decrypted model is
    kept in a private temporary directory while the object lives; its key in HOME/models
    (as `mc2 model get`), so predict jobs can bind it."""

    def __init__(self, client, job, path, tmpdir):
        self.client, self.job, self.path, self._tmp = client, job, path, tmpdir
        self._json = None
        self._history = None

    @classmethod
    def from_job(cls, client, job):
        tmp = tempfile.mkdtemp(prefix="mc2-model-")
        path = os.path.join(tmp, f"job-{int(job)}.mc2m")
        try:
            call("mc2_client_model_get", client._c(), int(job), b(path))
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(client, int(job), path, tmp)

    def __del__(self):
        shutil.rmtree(getattr(self, "_tmp", None) or "/nonexistent", ignore_errors=True)

    def export_json(self):
        """The model as XGBoost 1.7 JSON text (as `mc2 model export --format xgboost-json`)."""
        if self._json is None:
            out, n = ctypes.c_void_p(), ctypes.c_size_t()
            call("mc2_client_model_json", b(self.path), ctypes.byref(out), ctypes.byref(n))
            self._json = take(out, n.value).decode()
        return self._json

    def save_model(self, path):
        """Writes the XGBoost JSON to path (xgboost.Booster(model_file=path) loads it)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.export_json())

    def to_xgboost(self):
        """An xgboost.Booster loaded from the JSON export (needs the xgboost package)."""
        import xgboost
        booster = xgboost.Booster()
        booster.load_model(bytearray(self.export_json().encode()))
        return booster

    def predict(self, data, oblivious=False, timeout=3600):
        """Scores rows inside the enclave with this model. data: "OWNER/TABLE" or a list of
        them (a DataFrame of table, row, prediction: this party's own rows only), or a pandas
        DataFrame of feature columns in training order (uploaded as your table mc2py_predict,
        replacing the previous one; returns the predictions as a list in row order)."""
        import pandas as pd
        c = self.client
        if isinstance(data, pd.DataFrame):
            name = "mc2py_predict"
            c.upload(data, name, replace=True)
            res = self.predict(f"{c.party}/{name}", oblivious, timeout)
            return [float(v) for v in res.sort_values("row")["prediction"]]
        tables = [data] if isinstance(data, str) else list(data)
        arr, n = cstrings(tables)
        jid = ctypes.c_uint64()
        call("mc2_client_predict", c._c(), f"job-{self.job}".encode(), arr, n,
             int(bool(oblivious)), ctypes.byref(jid))
        c.settle("predict", jid.value, timeout)
        return c.download(jid.value)

    @property
    def eval_history(self):
        """The per-round metrics of the train job (round, metric, value), if it had `eval`;
        else an empty DataFrame."""
        import pandas as pd
        if self._history is None:
            try:
                self._history = self.client.download(self.job)
            except Exception as e:  # a train job without eval has no table result
                if getattr(e, "code_name", "") != "notfound":
                    raise
                self._history = pd.DataFrame(columns=["round", "metric", "value"])
        return self._history

    def feature_importance(self, importance_type="gain"):
        """{feature: score} computed from the model's trees as xgboost's get_score does:
        'weight' (number of splits on the feature), 'gain'/'cover' (average loss reduction /
        hessian sum over those splits), 'total_gain'/'total_cover' (their sums). mc2 keeps
        each split's loss change and hessian sum; if a model carries none (all zero), gain and
        cover raise mc2.InputError rather than report zeros."""
        kinds = ("weight", "gain", "cover", "total_gain", "total_cover")
        if importance_type not in kinds:
            raise UsageError(f"importance_type is one of {', '.join(kinds)}")
        learner = json.loads(self.export_json())["learner"]
        names = learner.get("feature_names") or []
        trees = learner["gradient_booster"]["model"]["trees"]
        count, gain, cover = {}, {}, {}
        for t in trees:
            left, idx = t["left_children"], t["split_indices"]
            for i, child in enumerate(left):
                if child == -1:
                    continue
                f = idx[i]
                count[f] = count.get(f, 0) + 1
                gain[f] = gain.get(f, 0.0) + float(t["loss_changes"][i])
                cover[f] = cover.get(f, 0.0) + float(t["sum_hessian"][i])
        if importance_type != "weight":
            stat = gain if "gain" in importance_type else cover
            if count and not any(stat.values()):
                raise InputError(f"this model carries no {importance_type.split('_')[-1]} "
                                 "statistics (every split's value is 0): only 'weight' can be "
                                 "computed")
        out = {}
        for f, n in sorted(count.items()):
            key = names[f] if f < len(names) else f"f{f}"
            if importance_type == "weight":
                out[key] = float(n)
            else:
                s = (gain if "gain" in importance_type else cover)[f]
                out[key] = s if importance_type.startswith("total") else s / n
        return out
