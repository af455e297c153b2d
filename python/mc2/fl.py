"""mc2.fl: federated averaging rounds inside the attested enclave, with numpy arrays in and
out (docs/fl.md, docs/python.md).

    job = mc2.fl.start_round(["bank-a", "bank-b", "bank-c"], {"w": (30,), "b": (1,)},
                             round=1, k=2, client=a)
    mc2.fl.submit(job, {"w": dw, "b": db}, weight=len(rows), client=a)   # each participant
    mc2.fl.status(job, client=a)     # state, who contributed, who is missing, k, time left
    new = mc2.fl.model(job, client=a)   # {"w": ndarray (30,), "b": ndarray (1,)}
    mc2.fl.result(job, client=a)     # the round's table: contributors, total weight, ...

A round is a job of kind `fedavg`: its participants send updates (their local model minus
the round's base model) with a weight (their example count); the enclave releases
base + lr * sum(w_i u_i) / sum(w_i) to the round's recipients once every participant
contributed, or at the deadline if at least k did, and keeps it (sealed) as a later round's
`base`. Every update travels inside the participant's own attested session, signed by its
identity and bound to the round's job; no single update leaves the enclave.
"""
import ctypes
import re

import numpy as np
import pandas as pd

from . import _state
from ._lib import call, lib, take
from .errors import InputError, JobPending, UsageError

_NAME = re.compile(r"[a-z0-9_]{1,32}\Z")


def start_round(participants, tensors, round, k, *, deadline=None, base=None, lr=None,
                clip=None, noise=None, delta=None, max_weight=None, masks=False,
                recipients=(), params=None, client=None):
    """Starts a round (submits a signed `fedavg` job) and returns its job id. participants:
    parties of the policy (2..128); tensors: {name: shape} (a shape is a tuple or an int; an
    ndarray stands for its own shape; a 0-d shape counts as (1,)), a list of (name, shape)
    pairs, or the text "w:30x1,b:1"; round: its number (>= 1, bound into every update); k:
    the release threshold (1 <= k <= len(participants)). Optional, as docs/fl.md's params:
    deadline (seconds, default 600), base (the job id of an earlier round whose model this one
    starts from; default zeros), lr (server_lr), clip (clip_norm), noise (noise_multiplier),
    delta, max_weight, masks (True: SecAgg masks, `masks secagg`), recipients (who gets the
    new model; default the policy's recipients), params (any other fedavg params, a dict)."""
    c = client or _state.current()
    p = {"participants": _names(participants, "participants"), "tensors": tensors_text(tensors),
         "round": _int(round, "round", 1), "k": _int(k, "k", 1)}
    opt = {"deadline_s": deadline, "base_job": base, "server_lr": lr, "clip_norm": clip,
           "noise_multiplier": noise, "delta": delta, "max_weight": max_weight}
    p.update({key: v for key, v in opt.items() if v is not None})
    if masks:
        p["masks"] = "secagg"
    for key, v in (params or {}).items():
        if key in p:
            raise UsageError(f"give {key} as an argument of start_round, not in params")
        p[key] = v
    return c.submit("fedavg", (), list(recipients), p)


def submit(job, arrays, weight, *, client=None, timeout=300):
    """Contributes this party's update to round `job`: arrays is {name: ndarray} with exactly
    the round's tensors, or a list of ndarrays in the round's order; each must have its
    tensor's number of values (its shape, up to dimensions of size 1) and only finite values.
    They travel as float32. weight: this party's example count (an int >= 1; the enclave caps
    it at the round's max_weight). The update is signed by this party and sent inside its
    attested session, bound to the job. For a masked round this runs the whole masked
    protocol and returns when this party's part is done (within `timeout` seconds); run each
    party's submit on its own thread. The enclave refuses it (mc2.AuthError, "the enclave
    refused: update refused: ...", saying why) if this party is not a participant or already
    contributed, after the deadline, or once the round is closed."""
    c = client or _state.current()
    shape = round_tensors(job, client=c)
    if isinstance(weight, bool) or not isinstance(weight, (int, np.integer)) or weight < 1:
        raise UsageError(f"weight must be an int >= 1 (the example count), not {weight!r}")
    values = _flatten(shape, arrays)
    ptr = values.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    call("mc2_client_fl_submit", c._c(), int(job), ptr, values.size, int(weight),
         _ms(timeout))


def status(job, *, client=None):
    """Round `job` as the attested enclave reports it to a participant: a dict with state
    ("waiting", "queued", "running", "done", "failed"), text (the enclave's own words: for a
    failed round, why), and while it waits for updates: contributed and missing (party
    names), k, deadline_in_s. A participant sees here whether the host withholds its update:
    its name would stay under missing after its submit returned."""
    c = client or _state.current()
    state = c.job(job)["state"]
    word, _, text = state.partition(": ")
    out = {"job": int(job), "state": word, "text": text, "contributed": None, "missing": None,
           "k": None, "deadline_in_s": None}
    m = re.match(r"waiting for updates: \d+ of \d+ \(k = (\d+)\)(?: from ([^;]*))?"
                 r"(?:; missing ([^;]*))?; deadline in (\d+) s", text)
    if m:
        out["contributed"] = _split(m.group(2))
        out["missing"] = _split(m.group(3))
        out["k"] = int(m.group(1))
        out["deadline_in_s"] = int(m.group(4))
    return out


def model(job, *, client=None, timeout=600):
    """The new global model of round `job` (this party one of its recipients), decrypted here:
    {name: float32 ndarray of the tensor's shape}, in the round's order. Waits up to `timeout`
    seconds for the round to be released; a round still waiting then raises mc2.JobPending
    (.job, .state); a failed round (e.g. fewer than k contributors by the deadline) raises
    mc2.InputError with the enclave's reason."""
    c = client or _state.current()
    _settle(c, job, timeout)
    vals, n, tens = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_void_p()
    call("mc2_client_fl_model", c._c(), int(job), ctypes.byref(vals), ctypes.byref(n),
         ctypes.byref(tens))
    try:
        flat = np.frombuffer(ctypes.string_at(vals.value, n.value * 4), dtype="<f4").copy() \
            if n.value else np.zeros(0, np.float32)
    finally:
        lib().mc2_client_free(vals)
    text = (take(tens) or b"").decode()
    out, off = {}, 0
    for name, dims in parse_tensors(text):
        size = int(np.prod(dims))
        if off + size > flat.size:
            raise InputError(f"round {job}'s model holds {flat.size} values, its tensors "
                             f"'{text}' need more")
        out[name] = flat[off:off + size].reshape(dims)
        off += size
    if off != flat.size:
        raise InputError(f"round {job}'s model holds {flat.size} values, its tensors '{text}' "
                         f"{off}")
    return out


def result(job, *, client=None, timeout=600):
    """Round `job`'s result table (this party a recipient) as a dict: round, contributors,
    total_weight, sigma, epsilon (None without noise: no differential-privacy guarantee),
    delta, and any other column the enclave reports. Waits as model() does."""
    c = client or _state.current()
    _settle(c, job, timeout)
    df = c.download(job)
    if len(df) != 1:
        raise InputError(f"round {job}'s result table has {len(df)} rows, not 1")
    cells = {col: df[col].iloc[0] for col in df.columns}  # per column: keeps each one's type
    return {col: (None if _isnull(v) else _scalar(v)) for col, v in cells.items()}


def round_tensors(job, *, client=None):
    """Round `job`'s tensors as [(name, shape tuple)], from its job text in the enclave."""
    c = client or _state.current()
    text = c.job(job)["text"]
    kind = re.search(r"^kind (\S+)$", text, re.M)
    if not kind or kind.group(1) != "fedavg":
        raise UsageError(f"job {job} is not a fedavg round "
                         f"(kind {kind.group(1) if kind else '?'})")
    m = re.search(r"^param tensors (\S+)$", text, re.M)
    if not m:
        raise InputError(f"round {job}'s job text has no tensors param")
    return parse_tensors(m.group(1))


def tensors_text(tensors):
    """The `tensors` param text ("w:30x1,b:1") for {name: shape}, [(name, shape)], or text."""
    if isinstance(tensors, str):
        parse_tensors(tensors)
        return tensors
    items = tensors.items() if isinstance(tensors, dict) else tensors
    parts = []
    for name, shape in items:
        if not isinstance(name, str) or not _NAME.match(name):
            raise UsageError(f"tensor name {name!r}: use 1..32 of a-z, 0-9, _")
        dims = _dims(shape, name)
        parts.append(f"{name}:{'x'.join(map(str, dims))}")
    if not parts:
        raise UsageError("a round needs at least one tensor")
    return ",".join(parts)


def parse_tensors(text):
    """[(name, shape tuple)] of a tensors text "w:30x1,b:1"."""
    out = []
    for item in text.split(","):
        name, _, dims = item.partition(":")
        if not _NAME.match(name) or not re.fullmatch(r"[1-9][0-9]*(x[1-9][0-9]*){0,3}", dims):
            raise UsageError(f"tensors '{text}': '{item}' is not NAME:D1xD2... (names a-z, 0-9, "
                             f"_; 1 to 4 dimensions >= 1)")
        out.append((name, tuple(int(d) for d in dims.split("x"))))
    return out


# ---- helpers ---------------------------------------------------------------------------------

def _flatten(shape, arrays):
    """One contiguous float32 vector of the round's tensors, in order, checked."""
    if isinstance(arrays, dict):
        names = [n for n, _ in shape]
        extra, missing = sorted(set(arrays) - set(names)), [n for n in names if n not in arrays]
        if extra or missing:
            raise UsageError(f"the round's tensors are {', '.join(names)}"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; not in the round: {', '.join(map(str, extra))}"
                                if extra else ""))
        seq = [arrays[n] for n in names]
    else:
        seq = list(arrays)
        if len(seq) != len(shape):
            raise UsageError(f"the round has {len(shape)} tensors "
                             f"({', '.join(n for n, _ in shape)}), {len(seq)} arrays given")
    parts = []
    for (name, dims), a in zip(shape, seq):
        a = np.asarray(a)
        if a.dtype.kind not in "fiub":
            raise UsageError(f"tensor '{name}': numbers wanted, not dtype {a.dtype}")
        if tuple(d for d in a.shape if d != 1) != tuple(d for d in dims if d != 1):
            raise UsageError(f"tensor '{name}': shape {a.shape}, the round declares "
                             f"{tuple(dims)}")
        with np.errstate(over="ignore", invalid="ignore"):
            f = a.astype(np.float32).reshape(-1)
        if not np.all(np.isfinite(f)):
            raise InputError(f"tensor '{name}' holds NaN or infinity (as float32)")
        parts.append(f)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def _settle(c, job, timeout):
    state = c.wait(job, timeout)
    if state.startswith("waiting") or state.startswith("queued") or state.startswith("running"):
        raise JobPending(f"round {job} is {state}", int(job), state)
    # done, or failed: fetching the model gives the reason


def _dims(shape, name):
    if isinstance(shape, np.ndarray):
        shape = shape.shape
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    dims = tuple(int(d) for d in shape) or (1,)
    if len(dims) > 4 or any(d < 1 for d in dims):
        raise UsageError(f"tensor '{name}': shape {dims}: 1 to 4 dimensions, each >= 1")
    return dims


def _names(items, what):
    if isinstance(items, str):
        items = items.split(",")
    names = [str(x) for x in items]
    if not names:
        raise UsageError(f"{what}: name at least one party")
    return ",".join(names)


def _int(v, what, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise UsageError(f"{what} must be an int >= {lo}, not {v!r}")
    return int(v)


def _ms(timeout):
    if timeout is None or timeout < 0:
        raise UsageError("timeout: seconds >= 0")
    return min(int(timeout * 1000), 2 ** 32 - 1)


def _split(s):
    return [x for x in (s or "").split(", ") if x]


def _isnull(v):
    return bool(pd.isna(v))


def _scalar(v):
    return v.item() if hasattr(v, "item") else v
