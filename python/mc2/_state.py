"""The module-level client the original MC² client's verbs (mc2.set_config, init, start, ...)
and mc2.xgb use when no client is passed."""
import os

from .errors import UsageError

_config = {}
_client = None


def set_config(path):
    """Reads a config file: YAML (or `key: value` lines) with home, service, policy (each
    optional; relative paths are taken from the file's directory)."""
    global _config
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        import yaml
        conf = yaml.safe_load(text) or {}
    except ImportError:
        conf = {}
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if ":" in line:
                k, v = line.split(":", 1)
                conf[k.strip()] = v.strip().strip("'\"")
    if not isinstance(conf, dict):
        raise UsageError(f"{path}: expected home, service, policy keys")
    unknown = set(conf) - {"home", "service", "policy"}
    if unknown:
        raise UsageError(f"{path}: unknown keys {sorted(unknown)} (known: home, service, policy)")
    base = os.path.dirname(os.path.abspath(path))
    for k in ("home", "policy"):
        if conf.get(k):
            conf[k] = os.path.join(base, os.path.expanduser(str(conf[k])))
    _config = {k: (str(v) if v is not None else None) for k, v in conf.items()}
    return dict(_config)


def config():
    return dict(_config)


def set_client(c):
    global _client
    _client = c


def current():
    if _client is None:
        raise UsageError("no mc2 client: call mc2.init() (after mc2.set_config(path)) or pass "
                         "client=mc2.Client(...)")
    return _client
