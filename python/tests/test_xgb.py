"""mc2.xgb against a live service: two banks' tables train one model (bank-b approves); the
model's xgboost.Booster predicts exactly what mc2 predicts in the enclave; feature importance
equals xgboost's own get_score on that Booster; the eval history has every round; a bad
parameter is refused at submission with mc2's message."""
import random

import numpy as np
import pandas as pd
import pytest

import mc2

FEATURES = ["f1", "f2", "f3", "f4"]


def frame(n, seed, label=True):
    r = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b, c, d = r.uniform(-2, 2), r.uniform(0, 10), r.randrange(100), r.random() < 0.5
        s = a + b / 5 - 1 + c / 50 - 1 + (0.5 if d else -0.5) + (r.random() - 0.5)
        rows.append((a, b, c, d, int(s > 0.2)))
    df = pd.DataFrame(rows, columns=FEATURES + ["label"])
    df["f3"] = df["f3"].astype("int64")
    return df if label else df[FEATURES]


@pytest.fixture(scope="module")
def model(bank_a, bank_b):
    bank_a.upload(frame(300, 1), "train")
    bank_b.upload(frame(250, 2), "train")
    bank_b.upload(frame(150, 3), "ev")
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3,
              "eval_metric": ["auc", "logloss"]}
    with pytest.raises(mc2.JobPending) as e:
        mc2.xgb.train(params, ["bank-a/train", "bank-b/train"], label="label", eval="bank-b/ev",
                      client=bank_a, num_boost_round=8, timeout=0)
    bank_b.approve(e.value.job)
    return mc2.xgb.Model.from_job(bank_a, e.value.job)


def test_to_xgboost_predictions_equal_mc2(model, bank_a):
    import xgboost
    score = frame(40, 4, label=False)
    mine = model.predict(score)  # uploaded as a table of bank-a's, scored in the enclave
    assert len(mine) == 40
    booster = model.to_xgboost()
    theirs = booster.predict(xgboost.DMatrix(score.astype("float64")))
    assert np.max(np.abs(np.array(mine) - theirs)) <= 1e-5
    assert len(booster.get_dump()) == 8


def test_predict_tables_gives_rows(model, bank_a):
    bank_a.upload(frame(5, 6, label=False), "score")
    got = model.predict("bank-a/score")
    assert list(got.columns) == ["table", "row", "prediction"]
    assert len(got) == 5 and all(0 <= p <= 1 for p in got["prediction"])


def test_feature_importance_equals_xgboost(model):
    booster = model.to_xgboost()
    for kind in ("weight", "gain", "cover", "total_gain", "total_cover"):
        mine = model.feature_importance(kind)
        theirs = booster.get_score(importance_type=kind)
        assert set(mine) == set(theirs), kind
        for f in theirs:
            assert mine[f] == pytest.approx(theirs[f], rel=1e-5), (kind, f)
    assert sum(model.feature_importance("weight").values()) > 0
    with pytest.raises(mc2.UsageError):
        model.feature_importance("bogus")


def test_eval_history_and_json(model):
    h = model.eval_history
    assert list(h.columns) == ["round", "metric", "value"]
    assert sorted(set(h["metric"])) == ["auc", "logloss"]
    assert h["round"].max() == 7 and len(h) == 16
    assert '"learner"' in model.export_json()


def test_bad_parameter_refused(bank_a):
    with pytest.raises(mc2.Error) as e:
        mc2.xgb.submit({"max_dept": 3}, "bank-a/train", label="label", client=bank_a)
    assert "max_dept" in e.value.message and "max_depth" in e.value.message
    with pytest.raises(mc2.NotFoundError):
        mc2.xgb.submit({}, "bank-a/nosuch", label="label", client=bank_a)


def test_failed_train_raises_input_error_with_reason(bank_a):
    """A train job that fails in the enclave (a misspelt label) raises mc2.InputError carrying
    the enclave's reason, not a refusal to fetch a model that does not exist."""
    bank_a.upload(frame(50, 7), "own_train")
    with pytest.raises(mc2.InputError, match=r"train job \d+ failed: .*label column 'lable'"):
        mc2.xgb.train({"objective": "binary:logistic"}, ["bank-a/own_train"], label="lable",
                      client=bank_a, num_boost_round=2, timeout=60)
