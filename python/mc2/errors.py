"""mc2's errors as Python exceptions: one class per mc2 error code (include/mc2/err.h).

Every exception is an mc2.Error with .code (the C enum value), .code_name ("input", "auth",
...) and .message (mc2's own message, the one the CLI prints after "mc2: ").
"""


class Error(Exception):
    """An mc2 failure: `code`, `code_name`, `message`."""
    code = 0
    code_name = "error"

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self):
        return f"{self.message} [{self.code_name}]"


class UsageError(Error):
    """The call asked for something malformed (MC2_E_USAGE)."""
    code, code_name = 1, "usage"


class IOFailure(Error, OSError):
    """The operating system refused, or the service could not be reached (MC2_E_IO)."""
    code, code_name = 2, "io"


class InputError(Error, ValueError):
    """Bad data: CSV, schema, SQL text, a job that failed in the enclave (MC2_E_INPUT)."""
    code, code_name = 3, "input"


class AuthError(Error):
    """An authentication or attestation check failed, or the policy refuses (MC2_E_AUTH)."""
    code, code_name = 4, "auth"


class NoMemoryError(Error, MemoryError):
    code, code_name = 5, "nomem"


class ExistsError(Error):
    """Refusing to overwrite something that exists, e.g. a table (MC2_E_EXISTS)."""
    code, code_name = 6, "exists"


class CryptoError(Error):
    code, code_name = 7, "crypto"


class LimitError(Error):
    """A size or count exceeds what mc2 supports (MC2_E_LIMIT)."""
    code, code_name = 8, "limit"


class NotFoundError(Error, LookupError):
    """A named file, key, table or column does not exist (MC2_E_NOTFOUND)."""
    code, code_name = 9, "notfound"


class InternalError(Error):
    code, code_name = 10, "internal"


class JobPending(Error):
    """A job is still waiting (for other owners' approvals): `.job` is its id, `.state` why."""
    code, code_name = -1, "pending"

    def __init__(self, message, job, state):
        super().__init__(message)
        self.job, self.state = job, state


_BY_CODE = {c.code: c for c in (UsageError, IOFailure, InputError, AuthError, NoMemoryError,
                                ExistsError, CryptoError, LimitError, NotFoundError, InternalError)}


def raise_for(code, message):
    raise _BY_CODE.get(code, Error)(message, code)
