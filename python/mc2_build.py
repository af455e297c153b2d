"""A minimal PEP 517 build backend for the mc2 package: a pure-Python wheel of mc2/*.py with
its metadata, built without setuptools or anything from the network (pyproject.toml)."""
import base64
import hashlib
import os
import zipfile

NAME, VERSION = "mc2", "0.1.0"
HERE = os.path.dirname(os.path.abspath(__file__))
DIST = f"{NAME}-{VERSION}.dist-info"
METADATA = f"""Metadata-Version: 2.1
Name: {NAME}
Version: {VERSION}
Summary: mc2 for Python: SQL and gradient-boosted trees over encrypted data, pandas in and out
Requires-Python: >=3.9
Requires-Dist: pandas
Provides-Extra: xgboost
Requires-Dist: xgboost; extra == "xgboost"
"""
WHEEL = "Wheel-Version: 1.0\nGenerator: mc2_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    d = os.path.join(metadata_directory, DIST)
    os.makedirs(d, exist_ok=True)
    for name, text in (("METADATA", METADATA), ("WHEEL", WHEEL)):
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(text)
    return DIST


def _record(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    whl = f"{NAME}-{VERSION}-py3-none-any.whl"
    files = []
    pkg = os.path.join(HERE, NAME)
    for fn in sorted(os.listdir(pkg)):
        if fn.endswith(".py") and fn != "_install.py":
            with open(os.path.join(pkg, fn), "rb") as f:
                files.append((f"{NAME}/{fn}", f.read()))
    files.append((f"{DIST}/METADATA", METADATA.encode()))
    files.append((f"{DIST}/WHEEL", WHEEL.encode()))
    record = [_record(n, d) for n, d in files] + [f"{DIST}/RECORD,,"]
    files.append((f"{DIST}/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, whl), "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            z.writestr(n, d)
    return whl


def build_sdist(sdist_directory, config_settings=None):
    import tarfile
    base = f"{NAME}-{VERSION}"
    out = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, out), "w:gz") as t:
        for fn in ("pyproject.toml", "mc2_build.py"):
            t.add(os.path.join(HERE, fn), f"{base}/{fn}")
        for fn in sorted(os.listdir(os.path.join(HERE, NAME))):
            if fn.endswith(".py") and fn != "_install.py":
                t.add(os.path.join(HERE, NAME, fn), f"{base}/{NAME}/{fn}")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = METADATA.encode()
        info.size = len(data)
        import io
        t.addfile(info, io.BytesIO(data))
    return out
