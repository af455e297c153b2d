"""ctypes binding of libmc2's client API (include/mc2/client.h, docs/api.md).

Only this module touches C. Every call that can fail raises the mc2.Error subclass for the
code mc2 set, carrying mc2's own message; strings mc2 allocates are copied and freed here.
The library is found as $MC2_LIB, else beside an installed package (the path `make install`
records in _install.py), else by the dynamic linker (ldconfig: libmc2.so.0).
"""
import ctypes
import ctypes.util
import os

from .errors import raise_for

_ERR_MSG_MAX = 1024


class Err(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * _ERR_MSG_MAX)]


class Attestation(ctypes.Structure):
    _fields_ = [("simulation", ctypes.c_int), ("measurement", ctypes.c_char * 65),
                ("instance", ctypes.c_char * 65)]


class Table(ctypes.Structure):
    _fields_ = [("owner", ctypes.c_char * 65), ("name", ctypes.c_char * 129),
                ("version", ctypes.c_uint64), ("rows", ctypes.c_uint64),
                ("blocks", ctypes.c_uint64), ("bytes", ctypes.c_uint64)]


class JobSpec(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_char_p),
                ("inputs", ctypes.POINTER(ctypes.c_char_p)), ("ninputs", ctypes.c_size_t),
                ("recipients", ctypes.POINTER(ctypes.c_char_p)), ("nrecipients", ctypes.c_size_t),
                ("param_keys", ctypes.POINTER(ctypes.c_char_p)),
                ("param_values", ctypes.POINTER(ctypes.c_char_p)), ("nparams", ctypes.c_size_t)]


def _find():
    env = os.environ.get("MC2_LIB")
    if env:
        return env
    try:
        from . import _install  # written by `make install`
        path = os.path.join(_install.LIBDIR, "libmc2.so")
        if os.path.exists(path):
            return path
    except ImportError:
        pass
    found = ctypes.util.find_library("mc2")
    if found:
        return found
    return "libmc2.so.0"


_lib = None

_P = ctypes.c_void_p
_S = ctypes.c_char_p
_E = ctypes.POINTER(Err)
_SIGS = {
    "mc2_client_open": [_S, _S, _S, ctypes.POINTER(_P), _E],
    "mc2_client_close": [_P],
    "mc2_client_free": [_P],
    "mc2_client_party": [_P],
    "mc2_client_service": [_P],
    "mc2_client_consortium": [_P],
    "mc2_client_attest": [_P, ctypes.POINTER(Attestation), _E],
    "mc2_client_upload": [_P, _S, _S, _S, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_int, ctypes.POINTER(ctypes.c_uint64),
                          ctypes.POINTER(ctypes.c_uint64), _E],
    "mc2_client_tables": [_P, ctypes.POINTER(ctypes.POINTER(Table)),
                          ctypes.POINTER(ctypes.c_size_t), _E],
    "mc2_client_submit": [_P, ctypes.POINTER(JobSpec), ctypes.POINTER(ctypes.c_uint64),
                          ctypes.POINTER(_P), _E],
    "mc2_client_approve": [_P, ctypes.c_uint64, _E],
    "mc2_client_jobs": [_P, ctypes.POINTER(_P), _E],
    "mc2_client_job": [_P, ctypes.c_uint64, ctypes.POINTER(_P), ctypes.POINTER(_P), _E],
    "mc2_client_wait": [_P, ctypes.c_uint64, ctypes.c_uint, ctypes.POINTER(_P), _E],
    "mc2_client_result_csv": [_P, ctypes.c_uint64, ctypes.POINTER(_P),
                              ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(_P), _E],
    "mc2_client_model_get": [_P, ctypes.c_uint64, _S, _E],
    "mc2_client_model_json": [_S, ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t), _E],
    "mc2_client_predict": [_P, _S, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                           ctypes.c_int, ctypes.POINTER(ctypes.c_uint64), _E],
    "mc2_client_fl_submit": [_P, ctypes.c_uint64, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t,
                             ctypes.c_uint64, ctypes.c_uint, _E],
    "mc2_client_fl_model": [_P, ctypes.c_uint64, ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t),
                            ctypes.POINTER(_P), _E],
    "mc2_identity_create": [_S, _S, _E],
}
_RESTYPES = {"mc2_client_party": _S, "mc2_client_service": _S, "mc2_client_consortium": _S,
             "mc2_client_close": None, "mc2_client_free": None}


def lib():
    """The loaded library, with argument types declared."""
    global _lib
    if _lib is None:
        path = _find()
        try:
            L = ctypes.CDLL(path)
        except OSError as e:
            raise OSError(f"cannot load libmc2 ({path}): {e}; build mc2 and set MC2_LIB to "
                          "build/libmc2.so, or install it (`make install`)") from None
        for name, args in _SIGS.items():
            f = getattr(L, name)
            f.argtypes = args
            f.restype = _RESTYPES.get(name, ctypes.c_int)
        _lib = L
    return _lib


def b(s):
    """str -> bytes for C (None stays None)."""
    return None if s is None else os.fsencode(s) if isinstance(s, os.PathLike) else \
        s.encode() if isinstance(s, str) else s


def call(name, *args):
    """Calls mc2 function `name` with an mc2_err appended; raises on failure."""
    err = Err()
    if getattr(lib(), name)(*args, ctypes.byref(err)) != 0:
        raise_for(err.code, err.msg.decode(errors="replace"))


def take(ptr, size=None):
    """Copies a string mc2 returned (void* out-parameter) and frees it."""
    if not ptr.value:
        return None
    try:
        if size is None:
            return ctypes.string_at(ptr.value)
        return ctypes.string_at(ptr.value, size)
    finally:
        lib().mc2_client_free(ptr)


def cstrings(items):
    """A C array of char* (and its keepalive list)."""
    enc = [b(x) for x in items]
    arr = (ctypes.c_char_p * max(len(enc), 1))(*enc)
    return arr, len(enc)
