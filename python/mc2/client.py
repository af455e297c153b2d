"""mc2.Client: one party talking to one mc2 service (docs/python.md)."""
import ctypes
import io
import os
import warnings

import pandas as pd

from . import _frames
from ._lib import Attestation, JobSpec, Table, b, call, cstrings, lib, take
from .errors import InputError, JobPending, UsageError


class Client:
    """One party (its identity in `home`, made by `mc2 init`) in one consortium (`policy`,
    default HOME/consortium.yaml) at one service (`service`, HOST:PORT; default
    $MC2_SERVICE, else the identity's). Opening loads keys and policy; the enclave is
    attested on first use (or with attest()), with the CLI's checks. Use as a context
    manager or call close()."""

    def __init__(self, home=None, service=None, policy=None):
        h = ctypes.c_void_p()
        call("mc2_client_open", b(home), b(service), b(policy), ctypes.byref(h))
        self._h = h

    # ---- session --------------------------------------------------------------------------
    def close(self):
        if getattr(self, "_h", None) and self._h.value:
            lib().mc2_client_close(self._h)
            self._h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _c(self):
        if not self._h.value:
            raise UsageError("this client is closed")
        return self._h

    @property
    def party(self):
        return lib().mc2_client_party(self._c()).decode()

    @property
    def service(self):
        return lib().mc2_client_service(self._c()).decode()

    @property
    def consortium(self):
        return lib().mc2_client_consortium(self._c()).decode()

    def attest(self):
        """Attests the service's enclave (once per client): a dict with simulation,
        measurement and instance. Warns (mc2.SimulationWarning) on a simulated TEE, which
        protects nothing against whoever runs the host."""
        a = Attestation()
        call("mc2_client_attest", self._c(), ctypes.byref(a))
        info = {"simulation": bool(a.simulation), "measurement": a.measurement.decode(),
                "instance": a.instance.decode()}
        if info["simulation"]:
            warnings.warn("the enclave runs on the SIMULATED TEE, which protects nothing "
                          "against whoever runs the host; accepted only because the consortium "
                          "policy sets allow_simulation: true", SimulationWarning, stacklevel=2)
        return info

    # ---- tables ---------------------------------------------------------------------------
    def upload(self, data, name, schema=None, replace=False, format=None):
        """Encrypts data here and uploads it as table `name` (see `mc2 upload`). data: a
        pandas DataFrame (schema inferred from its dtypes; `schema` a dict column -> type
        overrides), or the path of a CSV/.tbl file (`schema`: a dict, YAML text or the path of
        a schema file; a dict infers the other columns from the file read by pandas). An
        existing table `name` is replaced only with replace=True (else mc2.ExistsError).
        Returns {"rows": N, "version": V}."""
        rows, version = ctypes.c_uint64(), ctypes.c_uint64()
        path, blob, tbl = None, None, 0
        if isinstance(data, pd.DataFrame):
            yaml = _frames.schema_yaml(data, schema if isinstance(schema, dict) else None) \
                if not isinstance(schema, str) else _schema_text(schema)
            blob = _frames.to_csv(data, yaml)
        elif isinstance(data, (str, os.PathLike)):
            path = os.fspath(data)
            tbl = int(format == "tbl" or (format is None and path.endswith(".tbl")))
            if isinstance(schema, str):
                yaml = _schema_text(schema)
            elif tbl:
                raise UsageError("a .tbl file has no header: give its schema (YAML or a file)")
            else:
                yaml = _frames.schema_yaml(pd.read_csv(path), schema)
        else:
            raise UsageError("upload wants a pandas DataFrame or the path of a CSV file")
        call("mc2_client_upload", self._c(), b(name), yaml.encode(), b(path), blob,
             len(blob) if blob is not None else 0, tbl, int(bool(replace)),
             ctypes.byref(rows), ctypes.byref(version))
        return {"rows": rows.value, "version": version.value}

    def tables(self):
        """The service's table listing (owner, name, version, rows, blocks, bytes), as the
        host reports it (not authenticated)."""
        out, n = ctypes.POINTER(Table)(), ctypes.c_size_t()
        call("mc2_client_tables", self._c(), ctypes.byref(out), ctypes.byref(n))
        try:
            recs = [{"owner": out[i].owner.decode(), "name": out[i].name.decode(),
                     "version": out[i].version, "rows": out[i].rows, "blocks": out[i].blocks,
                     "bytes": out[i].bytes} for i in range(n.value)]
        finally:
            lib().mc2_client_free(out)
        return pd.DataFrame(recs, columns=["owner", "name", "version", "rows", "blocks", "bytes"])

    # ---- jobs -----------------------------------------------------------------------------
    def submit(self, kind, inputs=(), recipients=(), params=None):
        """Signs and submits a job (see `mc2 submit`); returns its id. inputs: "OWNER/TABLE"
        (for kind "sql" also "NAME=OWNER/TABLE", or none: the query's own tables as yours).
        recipients: default yourself for sql, else the policy's recipients. params: a dict;
        list values are joined with commas. Your own inputs' data key is granted."""
        params = dict(params or {})
        keys = [str(k) for k in params]
        vals = [",".join(map(str, v)) if isinstance(v, (list, tuple)) else _param(v)
                for v in params.values()]
        ia, ni = cstrings(list(inputs))
        ra, nr = cstrings(list(recipients))
        ka, nk = cstrings(keys)
        va, _ = cstrings(vals)
        spec = JobSpec(b(kind), ia, ni, ra, nr, ka, va, nk)
        jid, text = ctypes.c_uint64(), ctypes.c_void_p()
        call("mc2_client_submit", self._c(), ctypes.byref(spec), ctypes.byref(jid),
             ctypes.byref(text))
        take(text)
        return jid.value

    def submit_sql(self, query, inputs=None, recipients=(), oblivious=False, pad_rows=None):
        """Submits a SQL job; returns its id. inputs: None (the query's tables, all yours), a
        list of "OWNER/TABLE", or a dict {name in the query: "OWNER/TABLE"}."""
        if isinstance(inputs, dict):
            inputs = [f"{k}={v}" for k, v in inputs.items()]
        params = {"query": query}
        if oblivious:
            params["oblivious"] = 1
        if pad_rows is not None:
            if not oblivious:
                raise UsageError("pad_rows needs oblivious=True")
            params["pad_rows"] = int(pad_rows)
        return self.submit("sql", inputs or (), recipients, params)

    def sql(self, query, inputs=None, recipients=(), oblivious=False, pad_rows=None,
            timeout=300):
        """Runs a query in the enclave and returns its result as a DataFrame (you must be a
        recipient). If other parties must approve first and have not within `timeout`
        seconds, raises mc2.JobPending (its .job: approve it elsewhere, then download())."""
        jid = self.submit_sql(query, inputs, recipients, oblivious, pad_rows)
        self.settle("sql", jid, timeout)
        return self.download(jid)

    def approve(self, job):
        """Approves job `job` as the owner of some of its inputs (see `mc2 approve`): checks it
        names this policy and enclave instance and your latest uploads, co-signs it and grants
        your data key."""
        call("mc2_client_approve", self._c(), int(job))

    def jobs(self):
        """The service's job listing (id, kind, state, status) as the host reports it."""
        text = ctypes.c_void_p()
        call("mc2_client_jobs", self._c(), ctypes.byref(text))
        recs = []
        for line in (take(text) or b"").decode().splitlines():
            f = line.split(None, 3)
            if len(f) >= 3 and f[0].isdigit():
                recs.append({"id": int(f[0]), "kind": f[1], "state": f[2],
                             "status": f[3] if len(f) > 3 else ""})
        return pd.DataFrame(recs, columns=["id", "kind", "state", "status"])

    def job(self, job):
        """Job `job` from the attested enclave: {"id", "state", "text"} (text: the exact job
        text its parties sign)."""
        text, state = ctypes.c_void_p(), ctypes.c_void_p()
        call("mc2_client_job", self._c(), int(job), ctypes.byref(text), ctypes.byref(state))
        return {"id": int(job), "state": take(state).decode(), "text": take(text).decode()}

    def settle(self, kind, job, timeout):
        """Waits for job `job` (a `kind` job) as wait() does; returns once it is done. A failed
        job raises mc2.InputError with its reason (its parties see it); one still waiting for
        approvals or running at the timeout raises mc2.JobPending."""
        state = self.wait(job, timeout)
        if state.startswith("failed"):
            why = state[6:].lstrip(": ") or "(only its parties see why)"
            raise InputError(f"{kind} job {job} failed: {why}")
        if not state.startswith("done"):
            raise JobPending(f"{kind} job {job} is {state}: once its other owners approve it "
                             f"(mc2 approve {job}), its recipients fetch the result", job, state)
        return state

    def wait(self, job, timeout=300):
        """Waits up to `timeout` seconds for job `job` to end; returns its state ("done...",
        "failed: REASON", or still "waiting ..."/"running" at the timeout)."""
        state = ctypes.c_void_p()
        call("mc2_client_wait", self._c(), int(job), int(timeout * 1000), ctypes.byref(state))
        return take(state).decode()

    def download(self, job, out=None):
        """Job `job`'s table result (you must be a recipient), decrypted here, as a DataFrame
        typed by the result's schema; with out=PATH also written there as CSV. A failed job
        raises mc2.InputError with its reason."""
        csv, n, schema = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_void_p()
        call("mc2_client_result_csv", self._c(), int(job), ctypes.byref(csv), ctypes.byref(n),
             ctypes.byref(schema))
        text = take(csv, n.value)
        yaml = (take(schema) or b"").decode()
        if out is not None:
            fd = os.open(os.fspath(out), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with io.FileIO(fd, "wb") as f:
                f.write(text)
        return _frames.from_result(text, yaml)


class SimulationWarning(UserWarning):
    """The attested enclave runs on the simulated TEE (allowed by the policy)."""


def _schema_text(schema):
    """YAML text, or the path of a schema file."""
    if "\n" not in schema and os.path.exists(schema):
        with open(schema, encoding="utf-8") as f:
            return f.read()
    return schema


def _param(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)
