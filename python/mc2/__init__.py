"""mc2 for Python: run SQL and gradient-boosted trees on several parties' encrypted data in an
attested enclave, with pandas in and out, and federated-averaging rounds with numpy
(mc2.fl) (docs/python.md).

    import mc2
    c = mc2.Client(home="~/.mc2", service="127.0.0.1:7350")
    c.attest()
    c.upload(df, "loans")
    c.sql("SELECT grade, COUNT(*) AS n FROM loans GROUP BY grade")   # a DataFrame

The original MC² client's verbs are here too, as thin functions over one module-level
client: mc2.set_config(path), init(), start(), upload(), run(), download(), stop().
"""
from . import fl, xgb
from ._state import config, set_config
from .client import Client, SimulationWarning
from .errors import (AuthError, CryptoError, Error, ExistsError, InputError, InternalError,
                     IOFailure, JobPending, LimitError, NoMemoryError, NotFoundError,
                     UsageError)
from . import _state

__version__ = "0.1.0"

__all__ = ["Client", "Error", "UsageError", "IOFailure", "InputError", "AuthError",
           "NoMemoryError", "ExistsError", "CryptoError", "LimitError", "NotFoundError",
           "InternalError", "JobPending", "SimulationWarning", "fl", "xgb", "set_config", "config",
           "init", "start", "upload", "run", "download", "stop"]


def init(home=None, service=None, policy=None):
    """Opens the module-level client (arguments override mc2.set_config's), as the original
    client's init(); returns it. Creating an identity is `mc2 init --name NAME`."""
    conf = config()
    c = Client(home=home or conf.get("home"), service=service or conf.get("service"),
               policy=policy or conf.get("policy"))
    _state.set_client(c)
    return c


def start():
    """Attests the service's enclave (the service itself is started with `mc2 start`)."""
    return _state.current().attest()


def upload(data, name, schema=None, replace=False):
    """Encrypts and uploads a DataFrame or CSV file as table `name` (Client.upload)."""
    return _state.current().upload(data, name, schema=schema, replace=replace)


def run(query, inputs=None, recipients=(), oblivious=False):
    """Runs a SQL query and returns its result as a DataFrame (Client.sql)."""
    return _state.current().sql(query, inputs=inputs, recipients=recipients, oblivious=oblivious)


def download(job, out=None):
    """A job's result as a DataFrame, also written to `out` as CSV if given (Client.download)."""
    return _state.current().download(job, out=out)


def stop():
    """Closes the module-level client's session (the service is stopped with `mc2 stop`)."""
    c = _state._client
    if c is not None:
        c.close()
    _state.set_client(None)
