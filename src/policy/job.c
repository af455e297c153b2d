/* job.c - canonical job text, job signatures and key-grant signatures (see mc2/job.h). */
#include "mc2/job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hex.h"

int mc2_name_check(const char *name, mc2_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return mc2_err_set(err, MC2_E_USAGE, "a party name must be 1 to %d characters long", 64);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return mc2_err_set(err, MC2_E_USAGE,
                               "invalid party name '%s': use letters, digits, '.', '_' and '-', "
                               "starting with a letter or digit",
                               name);
    }
    return 0;
}

int mc2_table_name_check(const char *name, mc2_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > MC2_TABLE_NAME_MAX || name[0] == '.')
        return mc2_err_set(err, MC2_E_USAGE,
                           "invalid table name '%.40s': 1 to 128 characters, not starting "
                           "with '.'",
                           name);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return mc2_err_set(err, MC2_E_USAGE,
                               "invalid table name '%.40s': use letters, digits, '_', '.', '-'",
                               name);
    }
    return 0;
}

static int key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 32) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
            return 0;
    return 1;
}

int mc2_job_add_param(mc2_job *job, const char *key, const char *value, mc2_err *err)
{
    if (!key_ok(key))
        return mc2_err_set(err, MC2_E_USAGE, "invalid job parameter name '%.40s'", key);
    if (job->nparams >= MC2_JOB_MAX_PARAMS)
        return mc2_err_set(err, MC2_E_LIMIT, "too many job parameters");
    if (mc2_job_param(job, key))
        return mc2_err_set(err, MC2_E_USAGE, "job parameter '%s' given twice", key);
    char *k = mc2_strdup(key), *v = mc2_strdup(value);
    if (!k || !v) {
        mc2_free(k);
        mc2_free(v);
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    }
    job->param_key[job->nparams] = k;
    job->param_value[job->nparams++] = v;
    return 0;
}

const char *mc2_job_param(const mc2_job *job, const char *key)
{
    for (size_t i = 0; i < job->nparams; i++)
        if (strcmp(job->param_key[i], key) == 0) return job->param_value[i];
    return NULL;
}

void mc2_job_free(mc2_job *job)
{
    for (size_t i = 0; i < job->nparams; i++) {
        mc2_free(job->param_key[i]);
        mc2_free(job->param_value[i]);
    }
    job->nparams = 0;
}

static int put_hex(mc2_buf *b, const char *label, const uint8_t *p, size_t n, mc2_err *err)
{
    char hex[65];
    mc2_hex_encode(p, n, hex);
    return mc2_buf_printf(b, err, "%s %s\n", label, hex);
}

int mc2_job_format(const mc2_job *job, char **out, size_t *len, mc2_err *err)
{
    mc2_buf b = {0};
    if (mc2_buf_puts(&b, "mc2-job v2\n", err) ||
        put_hex(&b, "consortium", job->policy_hash, 32, err) ||
        put_hex(&b, "instance", job->instance, 32, err) ||
        mc2_buf_printf(&b, err, "counter %llu\nkind %s\n", (unsigned long long)job->counter,
                       job->kind))
        goto fail;
    for (size_t i = 0; i < job->ninputs; i++) {
        char hex[33];
        mc2_hex_encode(job->inputs[i].table_id, 16, hex);
        if (mc2_buf_printf(&b, err, "input %s %s %s %llu\n", job->inputs[i].owner,
                           job->inputs[i].table, hex, (unsigned long long)job->inputs[i].version))
            goto fail;
    }
    for (size_t i = 0; i < job->nparams; i++) {
        if (mc2_buf_printf(&b, err, "param %s ", job->param_key[i])) goto fail;
        for (const char *v = job->param_value[i]; *v; v++) {
            const char *esc = *v == '\\' ? "\\\\" : *v == '\n' ? "\\n" : *v == '\r' ? "\\r" : NULL;
            if (esc ? mc2_buf_puts(&b, esc, err) : mc2_buf_append(&b, v, 1, err)) goto fail;
        }
        if (mc2_buf_puts(&b, "\n", err)) goto fail;
    }
    for (size_t i = 0; i < job->nrecipients; i++)
        if (mc2_buf_printf(&b, err, "recipient %s\n", job->recipients[i])) goto fail;
    if (b.len > MC2_JOB_MAX_TEXT) {
        mc2_err_set(err, MC2_E_LIMIT, "job text longer than %d bytes", MC2_JOB_MAX_TEXT);
        goto fail;
    }
    if (mc2_buf_append(&b, "", 1, err)) goto fail;
    *out = (char *)b.data;
    *len = b.len - 1;
    return 0;
fail:
    mc2_buf_free(&b);
    return -1;
}

/* Splits the next line off *p (bounded by end); returns its length or -1 if no LF. */
static long next_line(const char **p, const char *end, const char **line)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl) return -1;
    *line = *p;
    *p = nl + 1;
    return nl - *line;
}

/* Copies a space-free word of at most cap-1 bytes from s; returns chars consumed or -1. */
static long word(const char *s, size_t n, char *dst, size_t cap)
{
    size_t i = 0;
    while (i < n && s[i] != ' ') i++;
    if (i == 0 || i >= cap) return -1;
    memcpy(dst, s, i);
    dst[i] = '\0';
    return (long)i;
}

/* Parses s[0..n) as a decimal u64 without sign or leading zeros; -1 if it is not one. */
static int decimal_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20 || (s[0] == '0' && n > 1)) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return -1;
    }
    *out = v;
    return 0;
}

static int unescape(const char *s, size_t n, char **out)
{
    char *v = mc2_malloc(n + 1);
    if (!v) return -1;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            if (i + 1 >= n) goto bad;
            char c = s[++i];
            v[j++] = c == '\\' ? '\\' : c == 'n' ? '\n' : c == 'r' ? '\r' : 0;
            if (v[j - 1] == 0) goto bad;
        } else {
            if (s[i] == '\0' || s[i] == '\r') goto bad;
            v[j++] = s[i];
        }
    }
    v[j] = '\0';
    *out = v;
    return 0;
bad:
    mc2_free(v);
    return -2;
}

int mc2_job_parse(const char *text, size_t n, mc2_job *job, mc2_err *err)
{
    memset(job, 0, sizeof *job);
    if (n > MC2_JOB_MAX_TEXT)
        return mc2_err_set(err, MC2_E_LIMIT, "job text longer than %d bytes", MC2_JOB_MAX_TEXT);
    const char *p = text, *end = text + n, *l;
    long len;
    unsigned line = 0;
    char buf[160], hex[65];
#define BAD(msg)                                                                                   \
    do {                                                                                           \
        mc2_err_set(err, MC2_E_INPUT, "job text line %u: %s", line, (msg));                        \
        goto fail;                                                                                 \
    } while (0)
    /* Fixed header lines. */
    static const char *const head[] = {"mc2-job v2", "consortium ", "instance ", "counter ",
                                       "kind "};
    for (int h = 0; h < 5; h++) {
        line++;
        len = next_line(&p, end, &l);
        size_t hl = strlen(head[h]);
        if (len < (long)hl || memcmp(l, head[h], hl) != 0) {
            snprintf(buf, sizeof buf, "expected a line starting '%s'", head[h]);
            BAD(buf);
        }
        const char *v = l + hl;
        size_t vl = (size_t)len - hl;
        if (h == 0 && vl != 0) BAD("expected 'mc2-job v2'");
        if (h == 1 || h == 2) {
            if (vl != 64) BAD("expected 64 hex digits");
            memcpy(hex, v, 64);
            hex[64] = '\0';
            if (mc2_hex_decode(hex, h == 1 ? job->policy_hash : job->instance, 32))
                BAD("expected 64 hex digits");
        }
        if (h == 3) {
            if (vl == 0 || vl > 20) BAD("bad counter");
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            char *e;
            job->counter = strtoull(buf, &e, 10);
            if (*e || (buf[0] == '0' && vl > 1) || buf[0] == '-' || buf[0] == '+')
                BAD("bad counter");
        }
        if (h == 4 && (word(v, vl, job->kind, sizeof job->kind) != (long)vl || !key_ok(job->kind)))
            BAD("bad job kind");
    }
    /* inputs, params, recipients, in that order. */
    while (p < end) {
        line++;
        len = next_line(&p, end, &l);
        if (len < 0) BAD("missing line end");
        if (len > 6 && memcmp(l, "input ", 6) == 0 && job->nparams == 0 && job->nrecipients == 0) {
            if (job->ninputs >= MC2_JOB_MAX_INPUTS) BAD("too many inputs");
            mc2_job_input *in = &job->inputs[job->ninputs++];
            const char *s = l + 6;
            size_t left = (size_t)len - 6;
            long w = word(s, left, in->owner, sizeof in->owner);
            if (w < 0 || (size_t)w >= left || s[w] != ' ' || mc2_name_check(in->owner, NULL))
                BAD("bad input owner");
            s += w + 1;
            left -= (size_t)w + 1;
            w = word(s, left, in->table, sizeof in->table);
            if (w < 0 || (size_t)w >= left || s[w] != ' ' || mc2_table_name_check(in->table, NULL))
                BAD("bad input table name");
            s += w + 1;
            left -= (size_t)w + 1;
            if (left < 34 || s[32] != ' ') BAD("bad table id");
            memcpy(hex, s, 32);
            hex[32] = '\0';
            if (mc2_hex_decode(hex, in->table_id, 16)) BAD("bad table id");
            if (decimal_u64(s + 33, left - 33, &in->version)) BAD("bad table version");
        } else if (len > 6 && memcmp(l, "param ", 6) == 0 && job->nrecipients == 0) {
            char key[33];
            long w = word(l + 6, (size_t)len - 6, key, sizeof key);
            if (w < 0 || (size_t)w + 6 >= (size_t)len || l[6 + w] != ' ') BAD("bad param");
            char *v = NULL;
            const char *vs = l + 6 + w + 1;
            if (unescape(vs, (size_t)(l + len - vs), &v)) BAD("bad param value escape");
            int rc = mc2_job_add_param(job, key, v, err);
            mc2_free(v);
            if (rc) goto fail;
        } else if (len > 10 && memcmp(l, "recipient ", 10) == 0) {
            if (job->nrecipients >= MC2_JOB_MAX_RECIPIENTS) BAD("too many recipients");
            char *r = job->recipients[job->nrecipients++];
            if (word(l + 10, (size_t)len - 10, r, 65) != len - 10 || mc2_name_check(r, NULL))
                BAD("bad recipient");
        } else {
            BAD("unexpected line (inputs, then params, then recipients)");
        }
    }
#undef BAD
    if (job->nrecipients == 0)
        return mc2_err_set(err, MC2_E_INPUT, "job text names no recipient"), mc2_job_free(job), -1;
    /* Canonical form: re-formatting gives back the same bytes. */
    char *canon = NULL;
    size_t clen = 0;
    if (mc2_job_format(job, &canon, &clen, err)) goto fail;
    int same = clen == n && memcmp(canon, text, n) == 0;
    mc2_free(canon);
    if (!same) {
        mc2_err_set(err, MC2_E_INPUT, "job text is not in canonical form");
        goto fail;
    }
    return 0;
fail:
    mc2_job_free(job);
    return -1;
}

static const char JOB_CTX[] = "mc2 job v1";
static const char GRANT_CTX[] = "mc2 key grant v1";

int mc2_job_sign(const uint8_t sec[MC2_ED25519_SEC_LEN], const char *text, size_t n,
                 uint8_t sig[MC2_ED25519_SIG_LEN], mc2_err *err)
{
    mc2_buf m = {0};
    int rc = -1;
    if (!mc2_buf_append(&m, JOB_CTX, sizeof JOB_CTX, err) && !mc2_buf_append(&m, text, n, err))
        rc = mc2_ed25519_sign(sec, m.data, m.len, sig, err);
    mc2_buf_free(&m);
    return rc;
}

int mc2_job_verify(const uint8_t pub[MC2_ED25519_PUB_LEN], const char *text, size_t n,
                   const uint8_t sig[MC2_ED25519_SIG_LEN], mc2_err *err)
{
    mc2_buf m = {0};
    int rc = -1;
    if (!mc2_buf_append(&m, JOB_CTX, sizeof JOB_CTX, err) && !mc2_buf_append(&m, text, n, err))
        rc = mc2_ed25519_verify(pub, m.data, m.len, sig, MC2_ED25519_SIG_LEN, err);
    mc2_buf_free(&m);
    return rc;
}

/* The key-grant message: context, NUL, policy hash, instance, SHA-256(data key). */
static int grant_msg(const uint8_t policy_hash[32], const uint8_t instance[32],
                     const uint8_t key[32], uint8_t m[sizeof GRANT_CTX + 96], mc2_err *err)
{
    memcpy(m, GRANT_CTX, sizeof GRANT_CTX);
    memcpy(m + sizeof GRANT_CTX, policy_hash, 32);
    memcpy(m + sizeof GRANT_CTX + 32, instance, 32);
    return mc2_sha256(key, 32, m + sizeof GRANT_CTX + 64, err);
}

int mc2_grant_sign(const uint8_t sec[MC2_ED25519_SEC_LEN],
                   const uint8_t policy_hash[MC2_SHA256_LEN], const uint8_t instance[32],
                   const uint8_t data_key[MC2_KEY_LEN], uint8_t sig[MC2_ED25519_SIG_LEN],
                   mc2_err *err)
{
    uint8_t m[sizeof GRANT_CTX + 96];
    if (grant_msg(policy_hash, instance, data_key, m, err)) return -1;
    return mc2_ed25519_sign(sec, m, sizeof m, sig, err);
}

int mc2_grant_verify(const uint8_t pub[MC2_ED25519_PUB_LEN],
                     const uint8_t policy_hash[MC2_SHA256_LEN], const uint8_t instance[32],
                     const uint8_t data_key[MC2_KEY_LEN], const uint8_t sig[MC2_ED25519_SIG_LEN],
                     mc2_err *err)
{
    uint8_t m[sizeof GRANT_CTX + 96];
    if (grant_msg(policy_hash, instance, data_key, m, err)) return -1;
    return mc2_ed25519_verify(pub, m, sizeof m, sig, MC2_ED25519_SIG_LEN, err);
}

/* ---- object-key grants ------------------------------------------------------------------- */

static const char OBJECT_CTX[] = "mc2 object key v2";

/* The object-key grant message: context, NUL, SHA-256(job text), name, NUL, SHA-256(key). */
static int object_msg(const uint8_t job_sha256[32], const char *name, const uint8_t key[32],
                      mc2_buf *m, mc2_err *err)
{
    size_t nl = strnlen(name, MC2_OBJECT_NAME_MAX + 1);
    uint8_t h[MC2_SHA256_LEN];
    if (nl == 0 || nl > MC2_OBJECT_NAME_MAX)
        return mc2_err_set(err, MC2_E_USAGE, "an object name must be 1 to %d bytes",
                           MC2_OBJECT_NAME_MAX);
    return mc2_sha256(key, 32, h, err) || mc2_buf_append(m, OBJECT_CTX, sizeof OBJECT_CTX, err) ||
                   mc2_buf_append(m, job_sha256, 32, err) || mc2_buf_append(m, name, nl + 1, err) ||
                   mc2_buf_append(m, h, sizeof h, err)
               ? -1
               : 0;
}

int mc2_object_grant_sign(const uint8_t sec[MC2_ED25519_SEC_LEN],
                          const uint8_t job_sha256[MC2_SHA256_LEN], const char *name,
                          const uint8_t key[MC2_KEY_LEN], uint8_t sig[MC2_ED25519_SIG_LEN],
                          mc2_err *err)
{
    mc2_buf m = {0};
    int rc =
        object_msg(job_sha256, name, key, &m, err) || mc2_ed25519_sign(sec, m.data, m.len, sig, err)
            ? -1
            : 0;
    mc2_buf_free(&m);
    return rc;
}

int mc2_object_grant_verify(const uint8_t pub[MC2_ED25519_PUB_LEN],
                            const uint8_t job_sha256[MC2_SHA256_LEN], const char *name,
                            const uint8_t key[MC2_KEY_LEN], const uint8_t sig[MC2_ED25519_SIG_LEN],
                            mc2_err *err)
{
    mc2_buf m = {0};
    int rc = object_msg(job_sha256, name, key, &m, err) ||
                     mc2_ed25519_verify(pub, m.data, m.len, sig, MC2_ED25519_SIG_LEN, err)
                 ? -1
                 : 0;
    mc2_buf_free(&m);
    return rc;
}
