"""mc2.fl through the live service (conftest.py): bank-a and bank-b are the participants and
recipients of fedavg rounds; numpy arrays in and out."""
import numpy as np
import pytest

import mc2
from mc2 import fl

RNG = np.random.default_rng(15)


def test_round_weighted_mean_dict_and_list(bank_a, bank_b):
    """A round of two: bank-a submits a dict, bank-b a list in the round's order; the model is
    the weighted mean in the tensors' shapes; the status shows who is missing meanwhile."""
    wa, ba = RNG.normal(size=(3, 2)), np.array([0.5])
    wb, bb = RNG.normal(size=(3, 2)).astype(np.float32), np.float32(-1.5)
    job = fl.start_round(["bank-a", "bank-b"], {"w": (3, 2), "b": 1}, round=1, k=2,
                         client=bank_a)
    assert fl.round_tensors(job, client=bank_b) == [("w", (3, 2)), ("b", (1,))]
    fl.submit(job, {"w": wa, "b": ba}, weight=3, client=bank_a)
    st = fl.status(job, client=bank_b)
    assert st["state"] == "waiting", st
    assert st["contributed"] == ["bank-a"] and st["missing"] == ["bank-b"], st
    assert st["k"] == 2 and 0 < st["deadline_in_s"] <= 600
    fl.submit(job, [wb, bb], weight=1, client=bank_b)
    for c in (bank_a, bank_b):  # both are recipients (the policy's)
        m = fl.model(job, client=c, timeout=60)
        assert list(m) == ["w", "b"]
        assert m["w"].shape == (3, 2) and m["b"].shape == (1,) and m["w"].dtype == np.float32
        want_w = (3 * wa.astype(np.float32).astype(np.float64) + wb) / 4
        want_b = (3 * 0.5 + 1 * -1.5) / 4
        np.testing.assert_allclose(m["w"], want_w, rtol=0, atol=1e-6)
        np.testing.assert_allclose(m["b"], [want_b], rtol=0, atol=1e-6)
    r = fl.result(job, client=bank_a)
    assert r["round"] == 1 and r["contributors"] == 2 and r["total_weight"] == 4.0, r
    assert type(r["contributors"]) is int and type(r["total_weight"]) is float, r
    assert r["sigma"] == 0 and r["epsilon"] is None, r  # no noise: no DP claim
    assert fl.status(job, client=bank_a)["state"] == "done"


def test_chained_rounds_and_server_lr(bank_a, bank_b):
    """Round 2 starts from round 1's model (base, kept sealed in the enclave); lr scales the
    mean update."""
    j1 = fl.start_round("bank-a,bank-b", "v:4", round=1, k=2, client=bank_b)
    fl.submit(j1, [np.ones(4)], 1, client=bank_a)
    fl.submit(j1, [3 * np.ones(4)], 1, client=bank_b)
    np.testing.assert_allclose(fl.model(j1, client=bank_a)["v"], 2 * np.ones(4), atol=1e-6)
    j2 = fl.start_round(["bank-a", "bank-b"], {"v": np.zeros(4)}, round=2, k=2, base=j1,
                        lr=0.5, client=bank_a)
    fl.submit(j2, {"v": np.arange(4)}, 2, client=bank_a)
    fl.submit(j2, {"v": -np.arange(4)}, 2, client=bank_b)  # mean update 0
    np.testing.assert_allclose(fl.model(j2, client=bank_b)["v"], 2 * np.ones(4), atol=1e-6)
    j3 = fl.start_round(["bank-a", "bank-b"], {"v": 4}, round=3, k=2, base=j2, lr=0.5,
                        client=bank_a)
    fl.submit(j3, {"v": np.full(4, 4.0)}, 1, client=bank_a)
    fl.submit(j3, {"v": np.zeros(4)}, 3, client=bank_b)  # mean update 1, half of it
    np.testing.assert_allclose(fl.model(j3, client=bank_a)["v"], 2.5 * np.ones(4), atol=1e-6)


def test_threshold_and_deadline(bank_a, bank_b):
    """k = 1: the deadline releases bank-a's update alone; k = 2: it releases nothing, and
    model() says why."""
    j = fl.start_round(["bank-a", "bank-b"], {"x": 2}, round=1, k=1, deadline=2,
                       client=bank_a)
    fl.submit(j, {"x": [1.0, 2.0]}, 5, client=bank_a)
    with pytest.raises(mc2.JobPending) as pending:
        fl.model(j, client=bank_a, timeout=0)
    assert pending.value.job == j
    np.testing.assert_allclose(fl.model(j, client=bank_a, timeout=30)["x"], [1.0, 2.0])
    assert fl.result(j, client=bank_b)["contributors"] == 1
    j = fl.start_round(["bank-a", "bank-b"], {"x": 2}, round=1, k=2, deadline=2,
                       client=bank_a)
    fl.submit(j, {"x": [1.0, 2.0]}, 5, client=bank_a)
    with pytest.raises(mc2.InputError, match=r"only 1 of 2 participants contributed"):
        fl.model(j, client=bank_b, timeout=30)
    assert fl.status(j, client=bank_a)["state"] == "failed"
    with pytest.raises(mc2.AuthError, match=r"the enclave refused: update refused: round job "
                                            r"\d+ is closed \(it failed\)"):
        fl.submit(j, {"x": [1.0, 2.0]}, 5, client=bank_b)


def test_refusals(bank_a, bank_b):
    """Checked here before anything is sent: tensor names, shapes, counts, NaN, weights. And
    by the enclave: a second update from the same party."""
    j = fl.start_round(["bank-a", "bank-b"], [("w", (2, 2)), ("b", (1,))], round=1, k=2,
                       client=bank_a)
    good = {"w": np.eye(2), "b": [0.0]}
    with pytest.raises(mc2.UsageError, match=r"missing b"):
        fl.submit(j, {"w": np.eye(2)}, 1, client=bank_a)
    with pytest.raises(mc2.UsageError, match=r"not in the round: c"):
        fl.submit(j, dict(good, c=[1.0]), 1, client=bank_a)
    with pytest.raises(mc2.UsageError, match=r"tensor 'w': shape \(3, 2\)"):
        fl.submit(j, {"w": np.zeros((3, 2)), "b": [0.0]}, 1, client=bank_a)
    with pytest.raises(mc2.UsageError, match=r"2 tensors"):
        fl.submit(j, [np.eye(2)], 1, client=bank_a)
    with pytest.raises(mc2.InputError, match=r"tensor 'w' holds NaN"):
        fl.submit(j, {"w": np.full((2, 2), np.nan), "b": [0.0]}, 1, client=bank_a)
    with pytest.raises(mc2.InputError, match=r"tensor 'b' holds NaN or infinity"):
        fl.submit(j, {"w": np.eye(2), "b": [1e39]}, 1, client=bank_a)  # inf as float32
    for w in (0, -1, 1.5, True):
        with pytest.raises(mc2.UsageError, match=r"weight"):
            fl.submit(j, good, w, client=bank_a)
    fl.submit(j, good, 1, client=bank_a)
    with pytest.raises(mc2.AuthError, match=r"the enclave refused: .*bank-a already contributed"):
        fl.submit(j, good, 1, client=bank_a)
    with pytest.raises(mc2.UsageError, match=r"tensor name"):
        fl.start_round(["bank-a", "bank-b"], {"W": 1}, round=1, k=1, client=bank_a)
    with pytest.raises(mc2.UsageError, match=r"round must be an int >= 1"):
        fl.start_round(["bank-a", "bank-b"], {"w": 1}, round=0, k=1, client=bank_a)
    # The enclave checks the params too: k above the number of participants.
    with pytest.raises(mc2.AuthError, match=r"the enclave refused: .*'k'"):
        fl.start_round(["bank-a", "bank-b"], {"w": 1}, round=1, k=3, client=bank_a)
    # Not a fedavg job.
    q = bank_a.submit_sql("SELECT 1 AS one", inputs=[])
    with pytest.raises(mc2.UsageError, match=r"not a fedavg round"):
        fl.submit(q, good, 1, client=bank_a)


def test_masks_passed_through(bank_a):
    """masks=True asks for `masks secagg`: the job carries it, or an enclave built without
    masked rounds refuses it by name."""
    try:
        j = fl.start_round(["bank-a", "bank-b"], {"w": 2}, round=1, k=2, masks=True,
                           deadline=5, client=bank_a)
    except mc2.AuthError as e:
        assert "'masks secagg'" in str(e)
    else:
        assert "\nparam masks secagg\n" in bank_a.job(j)["text"]
