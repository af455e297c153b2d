/* mc2/err.h - error reporting shared by every module of libmc2. */
#ifndef MC2_ERR_H
#define MC2_ERR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks functions whose failure must be handled (warn_unused_result, as WireGuard does). */
#define MC2_WUR __attribute__((warn_unused_result))

/* What kind of failure; the CLI maps these to exit codes (usage -> 2, others -> 1). */
enum mc2_code {
    MC2_OK = 0,
    MC2_E_USAGE,    /* the caller asked for something malformed (bad flag, bad argument) */
    MC2_E_IO,       /* the operating system refused (open, read, write, rename, ...) */
    MC2_E_INPUT,    /* bad data from outside: CSV, schema, YAML, wire bytes */
    MC2_E_AUTH,     /* an authentication check failed: tampered, reordered, wrong key */
    MC2_E_NOMEM,    /* allocation failed */
    MC2_E_EXISTS,   /* refusing to overwrite something that exists */
    MC2_E_CRYPTO,   /* the crypto library failed in a way that is not an auth failure */
    MC2_E_LIMIT,    /* a size or count exceeds what mc2 supports */
    MC2_E_NOTFOUND, /* a named file, key, table or column does not exist */
    MC2_E_INTERNAL  /* a bug in mc2; the message says where */
};

#define MC2_ERR_MSG_MAX 1024

/* An error: a code and a message a person can act on. Never holds secrets. */
typedef struct mc2_err {
    enum mc2_code code;
    char msg[MC2_ERR_MSG_MAX];
} mc2_err;

/* Clears *e to MC2_OK with an empty message. e may be NULL. */
void mc2_err_clear(mc2_err *e);

/* Sets *e (if not NULL) to code and the printf-formatted message; returns -1 so callers can
 * write `return mc2_err_set(err, ...)`. The message is truncated to fit. */
int mc2_err_set(mc2_err *e, enum mc2_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends a printf-formatted context ("file 'x.csv': ") to the message already in *e,
 * keeping its code; returns -1. */
int mc2_err_prefix(mc2_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns a short lowercase name for a code ("input", "auth", ...). */
const char *mc2_code_name(enum mc2_code code);

#ifdef __cplusplus
}
#endif
#endif
