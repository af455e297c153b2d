/* test_crypto.c - the crypto core against Project Wycheproof's vectors (AES-GCM,
 * HKDF-SHA256, Ed25519, X25519) and RFC known answers, plus unit tests: AEAD round trips,
 * tampering (which must fail and wipe the output), messages longer than INT_MAX, SHA-256,
 * HKDF limits, constant-time comparison, wiping and allocation fault injection. */
#include "test.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/hex.h"
#include "mc2/crypto.h"

/* ---- a small, strict JSON reader (RFC 8259) for the vector files --------------------------
 * Debian has JSON libraries, but a test-only dependency is not worth a package: this reader
 * builds a tree, rejects anything malformed (trailing commas, bad escapes, control
 * characters, garbage after the document) and bounds nesting depth. The vector counts are
 * cross-checked against each file's numberOfTests, so a reader bug that drops vectors fails
 * the test instead of passing quietly. */

enum jkind { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
    enum jkind kind;
    int boolean;
    double num;
    char *str; /* J_STR: NUL-terminated UTF-8 (len bytes) */
    size_t len;
    struct jv **items; /* J_ARR and J_OBJ values */
    char **keys;       /* J_OBJ keys, parallel to items */
    size_t n;
} jv;

typedef struct jparser {
    const char *p, *end, *start;
    int depth;
    char err[160];
} jparser;

#define JSON_MAX_DEPTH 64

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "test_crypto: out of memory\n");
        exit(1);
    }
    return q;
}

static void jv_free(jv *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        jv_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

static jv *jfail(jparser *jp, const char *what)
{
    if (!jp->err[0]) snprintf(jp->err, sizeof jp->err, "%s at byte %td", what, jp->p - jp->start);
    return NULL;
}

static void jskip_ws(jparser *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

static void put_utf8(char **s, size_t *len, size_t *cap, uint32_t cp)
{
    if (*len + 5 > *cap) {
        *cap = *cap * 2 + 8;
        *s = xrealloc(*s, *cap);
    }
    char *o = *s + *len;
    if (cp < 0x80) {
        o[0] = (char)cp;
        *len += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        *len += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        *len += 3;
    } else {
        o[0] = (char)(0xf0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        *len += 4;
    }
}

static int jhex4(jparser *jp, uint32_t *out)
{
    uint32_t v = 0;
    if (jp->end - jp->p < 4) return -1;
    for (int i = 0; i < 4; i++) {
        char c = *jp->p++;
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Parses a string at jp->p (which is at the opening quote) into a malloc'd buffer. */
static char *jstring(jparser *jp, size_t *out_len)
{
    size_t len = 0, cap = 16;
    char *s = xrealloc(NULL, cap);
    jp->p++; /* opening quote */
    for (;;) {
        if (jp->p >= jp->end) goto bad;
        unsigned char c = (unsigned char)*jp->p++;
        if (c == '"') break;
        if (c < 0x20) goto bad;
        if (c != '\\') {
            put_utf8(&s, &len, &cap, c); /* raw UTF-8 bytes pass through one by one */
            continue;
        }
        if (jp->p >= jp->end) goto bad;
        char e = *jp->p++;
        uint32_t cp;
        switch (e) {
        case '"':
            cp = '"';
            break;
        case '\\':
            cp = '\\';
            break;
        case '/':
            cp = '/';
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (jhex4(jp, &cp)) goto bad;
            if (cp >= 0xd800 && cp < 0xdc00) { /* high surrogate: a low one must follow */
                uint32_t lo;
                if (jp->end - jp->p < 2 || jp->p[0] != '\\' || jp->p[1] != 'u') goto bad;
                jp->p += 2;
                if (jhex4(jp, &lo) || lo < 0xdc00 || lo >= 0xe000) goto bad;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                goto bad;
            }
            break;
        default:
            goto bad;
        }
        put_utf8(&s, &len, &cap, cp);
    }
    s = xrealloc(s, len + 1);
    s[len] = '\0';
    *out_len = len;
    return s;
bad:
    free(s);
    jfail(jp, "malformed string");
    return NULL;
}

static jv *jvalue(jparser *jp);

static jv *jnew(enum jkind k)
{
    jv *v = xrealloc(NULL, sizeof *v);
    memset(v, 0, sizeof *v);
    v->kind = k;
    return v;
}

static jv *jcontainer(jparser *jp, int is_obj)
{
    jv *v = jnew(is_obj ? J_OBJ : J_ARR);
    char close = is_obj ? '}' : ']';
    if (++jp->depth > JSON_MAX_DEPTH) {
        jv_free(v);
        return jfail(jp, "nesting too deep");
    }
    jp->p++;
    jskip_ws(jp);
    if (jp->p < jp->end && *jp->p == close) {
        jp->p++;
        jp->depth--;
        return v;
    }
    for (;;) {
        char *key = NULL;
        if (is_obj) {
            size_t klen;
            jskip_ws(jp);
            if (jp->p >= jp->end || *jp->p != '"') goto bad;
            key = jstring(jp, &klen);
            if (!key) goto bad;
            jskip_ws(jp);
            if (jp->p >= jp->end || *jp->p != ':') {
                free(key);
                goto bad;
            }
            jp->p++;
        }
        jv *item = jvalue(jp);
        if (!item) {
            free(key);
            goto bad;
        }
        v->items = xrealloc(v->items, (v->n + 1) * sizeof *v->items);
        if (is_obj) v->keys = xrealloc(v->keys, (v->n + 1) * sizeof *v->keys);
        v->items[v->n] = item;
        if (is_obj) v->keys[v->n] = key;
        v->n++;
        jskip_ws(jp);
        if (jp->p < jp->end && *jp->p == ',') {
            jp->p++;
            continue;
        }
        if (jp->p < jp->end && *jp->p == close) {
            jp->p++;
            jp->depth--;
            return v;
        }
        goto bad;
    }
bad:
    jv_free(v);
    return jfail(jp, is_obj ? "malformed object" : "malformed array");
}

static jv *jnumber(jparser *jp)
{
    const char *s = jp->p;
    if (jp->p < jp->end && *jp->p == '-') jp->p++;
    if (jp->p >= jp->end) return jfail(jp, "malformed number");
    if (*jp->p == '0') {
        jp->p++;
    } else if (*jp->p >= '1' && *jp->p <= '9') {
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9') jp->p++;
    } else {
        return jfail(jp, "malformed number");
    }
    if (jp->p < jp->end && *jp->p == '.') {
        jp->p++;
        if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9') return jfail(jp, "malformed number");
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9') jp->p++;
    }
    if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
        jp->p++;
        if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-')) jp->p++;
        if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9') return jfail(jp, "malformed number");
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9') jp->p++;
    }
    char tmp[64];
    size_t n = (size_t)(jp->p - s);
    if (n >= sizeof tmp) return jfail(jp, "number too long");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    jv *v = jnew(J_NUM);
    v->num = strtod(tmp, NULL);
    return v;
}

static jv *jliteral(jparser *jp, const char *word, enum jkind k, int b)
{
    size_t n = strlen(word);
    if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
        return jfail(jp, "unexpected character");
    jp->p += n;
    jv *v = jnew(k);
    v->boolean = b;
    return v;
}

static jv *jvalue(jparser *jp)
{
    jskip_ws(jp);
    if (jp->p >= jp->end) return jfail(jp, "unexpected end of input");
    switch (*jp->p) {
    case '{':
        return jcontainer(jp, 1);
    case '[':
        return jcontainer(jp, 0);
    case '"': {
        size_t len;
        char *s = jstring(jp, &len);
        if (!s) return NULL;
        jv *v = jnew(J_STR);
        v->str = s;
        v->len = len;
        return v;
    }
    case 't':
        return jliteral(jp, "true", J_BOOL, 1);
    case 'f':
        return jliteral(jp, "false", J_BOOL, 0);
    case 'n':
        return jliteral(jp, "null", J_NULL, 0);
    default:
        return jnumber(jp);
    }
}

/* Parses a whole document; NULL with a message in err[0..cap) if it is not valid JSON. */
static jv *json_parse(const char *text, size_t n, char *err, size_t cap)
{
    jparser jp = {text, text + n, text, 0, {0}};
    jv *v = jvalue(&jp);
    if (v) {
        jskip_ws(&jp);
        if (jp.p != jp.end) {
            jv_free(v);
            v = jfail(&jp, "trailing characters after the document");
        }
    }
    if (!v) snprintf(err, cap, "%s", jp.err);
    return v;
}

static const jv *jget(const jv *o, const char *key)
{
    if (!o || o->kind != J_OBJ) return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0) return o->items[i];
    return NULL;
}

static const char *jstr(const jv *o, const char *key)
{
    const jv *v = jget(o, key);
    return v && v->kind == J_STR ? v->str : NULL;
}

/* An integer field, or -1 if absent or not a non-negative integer. */
static long jint(const jv *o, const char *key)
{
    const jv *v = jget(o, key);
    if (!v || v->kind != J_NUM || v->num < 0 || v->num > 1e15 || v->num != (double)(long)v->num)
        return -1;
    return (long)v->num;
}

static void test_json_reader(void)
{
    static const char *const bad[] = {
        "",      "{",    "[1,]",        "{\"a\":1,}", "{\"a\" 1}",
        "[01]",  "[1.]", "[-]",         "\"\\x\"",    "\"a",
        "[1] 2", "tru",  "\"\\ud800\"", "{\"a\":[1}", "\"tab\there\"",
        "[1e]",
    };
    char e[160];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        jv *v = json_parse(bad[i], strlen(bad[i]), e, sizeof e);
        CHECK_MSG(v == NULL, "malformed JSON accepted: %s", bad[i]);
        jv_free(v);
    }
    const char *good = " {\"a\": [1, -2.5e1, true, false, null], \"b\\u00e9\\ud83d\\ude00\": "
                       "\"x\\n\\\"y\"} ";
    jv *v = json_parse(good, strlen(good), e, sizeof e);
    CHECK_MSG(v != NULL, "valid JSON rejected: %s", e);
    if (v) {
        const jv *a = jget(v, "a");
        CHECK(a && a->kind == J_ARR && a->n == 5 && a->items[1]->num == -25.0 &&
              a->items[2]->kind == J_BOOL && a->items[2]->boolean == 1 &&
              a->items[4]->kind == J_NULL);
        const char *s = jstr(v, "b\xc3\xa9\xf0\x9f\x98\x80");
        CHECK(s && strcmp(s, "x\n\"y") == 0);
    }
    jv_free(v);
    char deep[200];
    memset(deep, '[', sizeof deep);
    v = json_parse(deep, sizeof deep, e, sizeof e);
    CHECK(v == NULL && strstr(e, "deep"));
    jv_free(v);
}

/* ---- vector helpers ---------------------------------------------------------------------- */

/* Loads and parses tests/data/wycheproof/<name>; NULL (with a failed check) if it cannot. */
static jv *load_vectors(const char *name)
{
    char rel[256];
    mc2_buf b = {0};
    mc2_err err;
    mc2_err_clear(&err);
    snprintf(rel, sizeof rel, "wycheproof/%s", name);
    if (mc2_file_read_all(test_data(rel), 16u << 20, &b, &err)) {
        CHECK_MSG(0, "%s", err.msg);
        mc2_buf_free(&b);
        return NULL;
    }
    char e[160];
    jv *v = json_parse((const char *)b.data, b.len, e, sizeof e);
    CHECK_MSG(v != NULL, "%s: %s", name, e);
    mc2_buf_free(&b);
    if (v && !jget(v, "testGroups")) {
        CHECK_MSG(0, "%s has no testGroups", name);
        jv_free(v);
        v = NULL;
    }
    return v;
}

/* Decodes a hex field into a malloc'd buffer (never NULL, even for ""). On a malformed
 * field the check fails and *ok is cleared. */
static uint8_t *hexfield(const jv *t, const char *key, size_t *n, int *ok)
{
    const char *s = jstr(t, key);
    size_t len = s ? strlen(s) : 0;
    uint8_t *out = xrealloc(NULL, len / 2 + 1);
    *n = len / 2;
    if (!s || len % 2 || mc2_hex_decode(s, out, len / 2)) {
        CHECK_MSG(0, "tcId %ld: field '%s' is missing or not hex", jint(t, "tcId"), key);
        *ok = 0;
        *n = 0;
    }
    return out;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

typedef struct tally {
    unsigned long valid, invalid, acceptable, mismatches, skipped;
} tally;

enum result { R_VALID, R_INVALID, R_ACCEPTABLE, R_BAD };

static enum result result_of(const jv *t)
{
    const char *r = jstr(t, "result");
    if (!r) return R_BAD;
    if (strcmp(r, "valid") == 0) return R_VALID;
    if (strcmp(r, "invalid") == 0) return R_INVALID;
    if (strcmp(r, "acceptable") == 0) return R_ACCEPTABLE;
    return R_BAD;
}

static void count(tally *t, enum result r)
{
    if (r == R_VALID) t->valid++;
    if (r == R_INVALID) t->invalid++;
    if (r == R_ACCEPTABLE) t->acceptable++;
}

/* Checks that the vectors run plus skipped add up to the file's numberOfTests. */
static void check_total(const jv *doc, const char *alg, const tally *t)
{
    long want = jint(doc, "numberOfTests");
    unsigned long got = t->valid + t->invalid + t->acceptable + t->skipped;
    CHECK_MSG(want >= 0 && got == (unsigned long)want,
              "%s: ran or skipped %lu vectors but the file declares %ld", alg, got, want);
}

/* ---- AES-GCM ------------------------------------------------------------------------------ */

/* One AES-GCM vector through the one-shot API, and through the keyed mc2_aead API when the
 * sizes are mc2's own (256-bit key, 96-bit nonce, 128-bit tag). Returns 1 if it behaved. */
static int gcm_vector(const jv *t, long key_bits, long iv_bits, long tag_bits, enum result r)
{
    int ok = 1, good = 1;
    long tc = jint(t, "tcId");
    size_t kl, il, al, ml, cl, tl;
    uint8_t *key = hexfield(t, "key", &kl, &ok), *iv = hexfield(t, "iv", &il, &ok),
            *aad = hexfield(t, "aad", &al, &ok), *msg = hexfield(t, "msg", &ml, &ok),
            *ct = hexfield(t, "ct", &cl, &ok), *tag = hexfield(t, "tag", &tl, &ok);
    size_t tag_len = (size_t)tag_bits / 8;
    uint8_t *out = xrealloc(NULL, ml + cl + 1), otag[16];
    mc2_err err;
    if (!ok) {
        good = 0;
        goto out;
    }
    if (kl * 8 != (size_t)key_bits || il * 8 != (size_t)iv_bits) {
        fprintf(stderr, "aes-gcm tcId %ld: key or IV size disagrees with its group\n", tc);
        good = 0;
        goto out;
    }

    /* Seal: a valid vector must reproduce ct and tag exactly; an invalid vector with an
     * empty IV must be refused (other invalid vectors carry altered tags, which sealing
     * cannot detect). */
    mc2_err_clear(&err);
    int rc = mc2_gcm_seal_ex(key, kl, iv, il, aad, al, msg, ml, out, otag, tag_len, &err);
    if (r == R_VALID || r == R_ACCEPTABLE) {
        if (r == R_VALID && rc != 0) {
            fprintf(stderr, "aes-gcm tcId %ld: seal failed: %s\n", tc, err.msg);
            good = 0;
        }
        if (rc == 0 && (cl != ml || tl != tag_len || memcmp(out, ct, cl) != 0 ||
                        memcmp(otag, tag, tag_len) != 0)) {
            fprintf(stderr, "aes-gcm tcId %ld: seal produced the wrong ciphertext or tag\n", tc);
            good = 0;
        }
    } else if (il == 0 && rc == 0) {
        fprintf(stderr, "aes-gcm tcId %ld: sealed with an empty IV\n", tc);
        good = 0;
    }

    /* Open: the output buffer starts dirty so a missing wipe shows. */
    memset(out, 0xa5, cl + 1);
    mc2_err_clear(&err);
    rc = mc2_gcm_open_ex(key, kl, iv, il, aad, al, ct, cl, tag, tl, out, &err);
    if (r == R_VALID && (rc != 0 || cl != ml || memcmp(out, msg, ml) != 0)) {
        fprintf(stderr, "aes-gcm tcId %ld: open failed or gave the wrong plaintext: %s\n", tc,
                err.msg);
        good = 0;
    }
    if (r == R_INVALID && rc == 0) {
        fprintf(stderr, "aes-gcm tcId %ld: an invalid vector opened\n", tc);
        good = 0;
    }
    if (rc != 0 && err.code == MC2_E_AUTH && !all_zero(out, cl)) {
        fprintf(stderr, "aes-gcm tcId %ld: output not wiped after a failed tag check\n", tc);
        good = 0;
    }

    /* The keyed context (mc2's own sizes only). */
    if (key_bits == 256 && iv_bits == 96 && tag_bits == 128 && tl == 16) {
        mc2_aead *a = mc2_aead_new(key, &err);
        if (!a) {
            fprintf(stderr, "aes-gcm tcId %ld: mc2_aead_new failed: %s\n", tc, err.msg);
            good = 0;
            goto out;
        }
        if (r == R_VALID) {
            rc = mc2_aead_seal(a, iv, aad, al, msg, ml, out, otag, &err);
            if (rc != 0 || memcmp(out, ct, cl) != 0 || memcmp(otag, tag, 16) != 0) {
                fprintf(stderr, "aes-gcm tcId %ld: mc2_aead_seal differs\n", tc);
                good = 0;
            }
        }
        memset(out, 0xa5, cl + 1);
        rc = mc2_aead_open(a, iv, aad, al, ct, cl, tag, out, &err);
        if (r == R_VALID && (rc != 0 || memcmp(out, msg, ml) != 0)) {
            fprintf(stderr, "aes-gcm tcId %ld: mc2_aead_open failed\n", tc);
            good = 0;
        }
        if (r == R_INVALID && (rc == 0 || err.code != MC2_E_AUTH || !all_zero(out, cl))) {
            fprintf(stderr, "aes-gcm tcId %ld: mc2_aead_open accepted or did not wipe\n", tc);
            good = 0;
        }
        mc2_aead_free(a);
    }
out:
    free(key), free(iv), free(aad), free(msg), free(ct), free(tag), free(out);
    return good;
}

static void test_wycheproof_gcm(void)
{
    jv *doc = load_vectors("aes_gcm_test.json");
    if (!doc) return;
    tally tl = {0};
    char skipped[1024] = "";
    const jv *groups = jget(doc, "testGroups");
    for (size_t g = 0; groups && g < groups->n; g++) {
        const jv *grp = groups->items[g], *tests = jget(grp, "tests");
        long kb = jint(grp, "keySize"), ib = jint(grp, "ivSize"), tb = jint(grp, "tagSize");
        CHECK_MSG(tests && tests->kind == J_ARR && kb > 0 && ib >= 0 && tb > 0,
                  "aes-gcm group %zu is malformed", g);
        if (!tests || kb <= 0 || ib < 0 || tb <= 0) continue;
        /* What OpenSSL 3 supports, decided here independently of the code under test: AES
         * keys of 128/192/256 bits, IVs of whole bytes up to 128 bytes (an empty IV is
         * run: the vectors say it must be refused), tags of 4..16 bytes. */
        int supported = (kb == 128 || kb == 192 || kb == 256) && ib % 8 == 0 && ib <= 1024 &&
                        tb % 8 == 0 && tb >= 32 && tb <= 128;
        if (!supported) {
            char item[64];
            snprintf(item, sizeof item, "%skey %ld/IV %ld/tag %ld bits (%zu)",
                     tl.skipped ? ", " : "", kb, ib, tb, tests->n);
            if (strlen(skipped) + strlen(item) < sizeof skipped) strcat(skipped, item);
            tl.skipped += tests->n;
            /* Skipped, but the code must still refuse cleanly rather than misbehave. */
            for (size_t i = 0; i < tests->n; i++) {
                int ok = 1;
                size_t kl, il, ml;
                uint8_t *key = hexfield(tests->items[i], "key", &kl, &ok),
                        *iv = hexfield(tests->items[i], "iv", &il, &ok),
                        *msg = hexfield(tests->items[i], "msg", &ml, &ok);
                uint8_t *o = xrealloc(NULL, ml + 1), t16[16];
                mc2_err err;
                int rc = mc2_gcm_seal_ex(key, kl, iv, il, NULL, 0, msg, ml, o, t16, (size_t)tb / 8,
                                         &err);
                CHECK_MSG(rc != 0 && (err.code == MC2_E_LIMIT || err.code == MC2_E_USAGE),
                          "aes-gcm: unsupported group (IV %ld bits) was not refused", ib);
                free(key), free(iv), free(msg), free(o);
            }
            continue;
        }
        for (size_t i = 0; i < tests->n; i++) {
            const jv *t = tests->items[i];
            enum result r = result_of(t);
            CHECK_MSG(r != R_BAD, "aes-gcm tcId %ld: no result", jint(t, "tcId"));
            count(&tl, r);
            if (!gcm_vector(t, kb, ib, tb, r)) {
                tl.mismatches++;
                CHECK_MSG(0, "aes-gcm tcId %ld mismatched", jint(t, "tcId"));
            }
        }
    }
    check_total(doc, "aes-gcm", &tl);
    printf("aes-gcm: %lu vectors (%lu valid, %lu invalid, %lu acceptable), %lu mismatches; "
           "%lu skipped (OpenSSL 3 accepts IVs of at most 128 bytes): %s\n",
           tl.valid + tl.invalid + tl.acceptable, tl.valid, tl.invalid, tl.acceptable,
           tl.mismatches, tl.skipped, tl.skipped ? skipped : "none");
    jv_free(doc);
}

/* ---- HKDF-SHA256 -------------------------------------------------------------------------- */

static void test_wycheproof_hkdf(void)
{
    jv *doc = load_vectors("hkdf_sha256_test.json");
    if (!doc) return;
    tally tl = {0};
    const jv *groups = jget(doc, "testGroups");
    for (size_t g = 0; groups && g < groups->n; g++) {
        const jv *tests = jget(groups->items[g], "tests");
        for (size_t i = 0; tests && i < tests->n; i++) {
            const jv *t = tests->items[i];
            enum result r = result_of(t);
            long tc = jint(t, "tcId"), size = jint(t, "size");
            int ok = 1, good = 1;
            size_t il, sl, nl, ol;
            uint8_t *ikm = hexfield(t, "ikm", &il, &ok), *salt = hexfield(t, "salt", &sl, &ok),
                    *info = hexfield(t, "info", &nl, &ok), *okm = hexfield(t, "okm", &ol, &ok);
            CHECK_MSG(r != R_BAD && size >= 0, "hkdf tcId %ld is malformed", tc);
            count(&tl, r);
            uint8_t *out = xrealloc(NULL, size > 0 ? (size_t)size : 1);
            mc2_err err;
            mc2_err_clear(&err);
            int rc = ok && size >= 0
                         ? mc2_hkdf_sha256(ikm, il, salt, sl, info, nl, out, (size_t)size, &err)
                         : -1;
            if (!ok || size < 0)
                good = 0;
            else if (r == R_VALID)
                good = rc == 0 && ol == (size_t)size && memcmp(out, okm, ol) == 0;
            else if (r == R_INVALID)
                good = rc != 0;
            else
                good = rc != 0 || (ol == (size_t)size && memcmp(out, okm, ol) == 0);
            if (!good) {
                tl.mismatches++;
                CHECK_MSG(0, "hkdf tcId %ld mismatched (%s)", tc, rc ? err.msg : "succeeded");
            }
            free(ikm), free(salt), free(info), free(okm), free(out);
        }
    }
    check_total(doc, "hkdf-sha256", &tl);
    printf("hkdf-sha256: %lu vectors (%lu valid, %lu invalid, %lu acceptable), %lu mismatches\n",
           tl.valid + tl.invalid + tl.acceptable, tl.valid, tl.invalid, tl.acceptable,
           tl.mismatches);
    jv_free(doc);
}

/* ---- Ed25519 ------------------------------------------------------------------------------ */

static void test_wycheproof_ed25519(void)
{
    jv *doc = load_vectors("ed25519_test.json");
    if (!doc) return;
    tally tl = {0};
    const jv *groups = jget(doc, "testGroups");
    for (size_t g = 0; groups && g < groups->n; g++) {
        const jv *grp = groups->items[g], *tests = jget(grp, "tests");
        int ok = 1;
        size_t pl;
        uint8_t *pk = hexfield(jget(grp, "publicKey"), "pk", &pl, &ok);
        CHECK_MSG(ok && pl == 32, "ed25519 group %zu: public key is not 32 bytes", g);
        for (size_t i = 0; tests && i < tests->n; i++) {
            const jv *t = tests->items[i];
            enum result r = result_of(t);
            long tc = jint(t, "tcId");
            int tok = ok && pl == 32, good;
            size_t ml, sl;
            uint8_t *msg = hexfield(t, "msg", &ml, &tok), *sig = hexfield(t, "sig", &sl, &tok);
            CHECK_MSG(r != R_BAD, "ed25519 tcId %ld: no result", tc);
            count(&tl, r);
            mc2_err err;
            mc2_err_clear(&err);
            int rc = tok ? mc2_ed25519_verify(pk, msg, ml, sig, sl, &err) : -1;
            if (!tok)
                good = 0;
            else if (r == R_VALID)
                good = rc == 0;
            else if (r == R_INVALID)
                good = rc != 0 && err.code == MC2_E_AUTH;
            else
                good = rc == 0 || err.code == MC2_E_AUTH;
            if (!good) {
                tl.mismatches++;
                CHECK_MSG(0, "ed25519 tcId %ld mismatched (%s)", tc, rc ? err.msg : "verified");
            }
            free(msg), free(sig);
        }
        free(pk);
    }
    check_total(doc, "ed25519", &tl);
    printf("ed25519: %lu vectors (%lu valid, %lu invalid, %lu acceptable), %lu mismatches\n",
           tl.valid + tl.invalid + tl.acceptable, tl.valid, tl.invalid, tl.acceptable,
           tl.mismatches);
    jv_free(doc);
}

/* ---- X25519 ------------------------------------------------------------------------------- */

static void test_wycheproof_x25519(void)
{
    jv *doc = load_vectors("x25519_test.json");
    if (!doc) return;
    tally tl = {0};
    unsigned long acc_ok = 0, acc_rejected = 0, zero_rejected = 0;
    const jv *groups = jget(doc, "testGroups");
    for (size_t g = 0; groups && g < groups->n; g++) {
        const jv *grp = groups->items[g], *tests = jget(grp, "tests");
        const char *curve = jstr(grp, "curve");
        CHECK_MSG(curve && strcmp(curve, "curve25519") == 0, "x25519 group %zu: curve", g);
        for (size_t i = 0; tests && i < tests->n; i++) {
            const jv *t = tests->items[i];
            enum result r = result_of(t);
            long tc = jint(t, "tcId");
            int ok = 1, good;
            size_t sl, pl, hl;
            uint8_t *sec = hexfield(t, "private", &sl, &ok), *pub = hexfield(t, "public", &pl, &ok),
                    *want = hexfield(t, "shared", &hl, &ok);
            uint8_t out[32];
            CHECK_MSG(r != R_BAD, "x25519 tcId %ld: no result", tc);
            count(&tl, r);
            mc2_err err;
            mc2_err_clear(&err);
            int sized = ok && sl == 32 && pl == 32;
            memset(out, 0xa5, sizeof out);
            int rc = sized ? mc2_x25519(sec, pub, out, &err) : -1;
            int zero = hl == 32 && all_zero(want, 32);
            int exact = rc == 0 && hl == 32 && memcmp(out, want, 32) == 0;
            int wiped = rc == 0 || all_zero(out, 32);
            if (!ok)
                good = 0;
            else if (!sized) /* our API takes exactly 32 bytes: only an invalid vector fits */
                good = r == R_INVALID;
            else if (r == R_VALID)
                good = exact && !zero;
            else if (r == R_INVALID)
                good = rc != 0 && wiped;
            else if (zero) /* RFC 7748 6.1: mc2 refuses an all-zero shared secret */
                good = rc != 0 && err.code == MC2_E_AUTH && wiped;
            else
                good = (exact || (rc != 0 && wiped));
            if (r == R_ACCEPTABLE && good) {
                if (rc == 0)
                    acc_ok++;
                else
                    acc_rejected++;
                if (rc != 0 && zero) zero_rejected++;
            }
            if (!good) {
                tl.mismatches++;
                CHECK_MSG(0, "x25519 tcId %ld mismatched (%s)", tc, rc ? err.msg : "succeeded");
            }
            free(sec), free(pub), free(want);
        }
    }
    check_total(doc, "x25519", &tl);
    printf("x25519: %lu vectors (%lu valid, %lu invalid, %lu acceptable: %lu gave the expected "
           "secret, %lu refused, of which %lu all-zero shared secrets), %lu mismatches\n",
           tl.valid + tl.invalid + tl.acceptable, tl.valid, tl.invalid, tl.acceptable, acc_ok,
           acc_rejected, zero_rejected, tl.mismatches);
    /* All-zero secrets are the only acceptable vectors mc2 is meant to refuse. */
    CHECK(zero_rejected == acc_rejected);
    CHECK(zero_rejected > 0);
    jv_free(doc);
}

/* ---- AEAD unit tests ---------------------------------------------------------------------- */

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static void test_aead_roundtrip(void)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 255, 4096, 65537, 1u << 20, (1u << 20) + 5};
    uint8_t key[32], nonce[12], aad[40], tag[16], tag2[16];
    mc2_err err;
    fill(key, sizeof key, 1);
    fill(aad, sizeof aad, 2);
    mc2_aead *a = mc2_aead_new(key, &err);
    CHECK_MSG(a != NULL, "%s", err.msg);
    if (!a) return;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        uint8_t *pt = xrealloc(NULL, n), *ct = xrealloc(NULL, n), *ct2 = xrealloc(NULL, n),
                *back = xrealloc(NULL, n);
        fill(pt, n, (uint32_t)n + 3);
        fill(nonce, sizeof nonce, (uint32_t)s + 100);
        size_t al = s % 2 ? sizeof aad : 0; /* with and without associated data */
        CHECK(mc2_aead_seal(a, nonce, al ? aad : NULL, al, pt, n, ct, tag, &err) == 0);
        CHECK_MSG(n < 16 || memcmp(pt, ct, n) != 0, "size %zu: ciphertext equals plaintext", n);
        /* The reused context (nonce reset only) must agree with a fresh one-shot one. */
        CHECK(mc2_gcm_seal_ex(key, 32, nonce, 12, aad, al, pt, n, ct2, tag2, 16, &err) == 0);
        CHECK_MSG(memcmp(ct, ct2, n) == 0 && memcmp(tag, tag2, 16) == 0,
                  "size %zu: keyed context and one-shot disagree", n);
        memset(back, 0xa5, n);
        CHECK(mc2_aead_open(a, nonce, al ? aad : NULL, al, ct, n, tag, back, &err) == 0);
        CHECK_MSG(memcmp(back, pt, n) == 0, "size %zu: round trip differs", n);
        /* In place both ways. */
        memcpy(back, pt, n);
        CHECK(mc2_aead_seal(a, nonce, aad, al, back, n, back, tag2, &err) == 0);
        CHECK(memcmp(back, ct, n) == 0 && memcmp(tag2, tag, 16) == 0);
        CHECK(mc2_aead_open(a, nonce, aad, al, back, n, tag2, back, &err) == 0);
        CHECK(memcmp(back, pt, n) == 0);
        free(pt), free(ct), free(ct2), free(back);
    }
    /* Distinct nonces give distinct ciphertexts under one key. */
    uint8_t m[32] = {0}, c1[32], c2[32], n1[12] = {1}, n2[12] = {2};
    CHECK(mc2_aead_seal(a, n1, NULL, 0, m, 32, c1, tag, &err) == 0);
    CHECK(mc2_aead_seal(a, n2, NULL, 0, m, 32, c2, tag2, &err) == 0);
    CHECK(memcmp(c1, c2, 32) != 0 && memcmp(tag, tag2, 16) != 0);
    mc2_aead_free(a);
    mc2_aead_free(NULL);
}

/* Opens with one altered input and checks: refused with MC2_E_AUTH and output all zero. */
static void expect_auth_fail(mc2_aead *a, const uint8_t *nonce, const uint8_t *aad, size_t al,
                             const uint8_t *ct, size_t n, const uint8_t *tag, const char *what,
                             size_t pos)
{
    uint8_t *out = xrealloc(NULL, n);
    mc2_err err;
    mc2_err_clear(&err);
    memset(out, 0x5a, n);
    int rc = mc2_aead_open(a, nonce, aad, al, ct, n, tag, out, &err);
    CHECK_MSG(rc != 0 && err.code == MC2_E_AUTH, "flipped %s byte %zu: open did not fail", what,
              pos);
    CHECK_MSG(all_zero(out, n), "flipped %s byte %zu: output not wiped", what, pos);
    free(out);
}

static void test_aead_tamper(void)
{
    enum { N = 1000 };
    uint8_t key[32], nonce[12], aad[24], pt[N], ct[N], tag[16], out[N];
    mc2_err err;
    fill(key, 32, 7), fill(nonce, 12, 8), fill(aad, sizeof aad, 9), fill(pt, N, 10);
    mc2_aead *a = mc2_aead_new(key, &err);
    CHECK(a != NULL);
    if (!a) return;
    CHECK(mc2_aead_seal(a, nonce, aad, sizeof aad, pt, N, ct, tag, &err) == 0);
    static const size_t ct_pos[] = {0, 1, 15, 16, 499, N - 1};
    for (size_t i = 0; i < sizeof ct_pos / sizeof *ct_pos; i++) {
        ct[ct_pos[i]] ^= 0x01;
        expect_auth_fail(a, nonce, aad, sizeof aad, ct, N, tag, "ciphertext", ct_pos[i]);
        ct[ct_pos[i]] ^= 0x01;
    }
    for (size_t i = 0; i < 16; i++) {
        tag[i] ^= 0x80;
        expect_auth_fail(a, nonce, aad, sizeof aad, ct, N, tag, "tag", i);
        tag[i] ^= 0x80;
    }
    for (size_t i = 0; i < sizeof aad; i += 7) {
        aad[i] ^= 0x10;
        expect_auth_fail(a, nonce, aad, sizeof aad, ct, N, tag, "aad", i);
        aad[i] ^= 0x10;
    }
    for (size_t i = 0; i < 12; i++) {
        nonce[i] ^= 0x04;
        expect_auth_fail(a, nonce, aad, sizeof aad, ct, N, tag, "nonce", i);
        nonce[i] ^= 0x04;
    }
    /* Dropped associated data, a truncated message, and another key. */
    expect_auth_fail(a, nonce, NULL, 0, ct, N, tag, "aad (dropped)", 0);
    expect_auth_fail(a, nonce, aad, sizeof aad, ct, N - 1, tag, "length (truncated)", N - 1);
    uint8_t key2[32];
    memcpy(key2, key, 32);
    key2[31] ^= 1;
    mc2_aead *b = mc2_aead_new(key2, &err);
    CHECK(b != NULL);
    if (b) expect_auth_fail(b, nonce, aad, sizeof aad, ct, N, tag, "key", 31);
    mc2_aead_free(b);

    /* After all those failures the context still opens the genuine message. */
    CHECK(mc2_aead_open(a, nonce, aad, sizeof aad, ct, N, tag, out, &err) == 0);
    CHECK(memcmp(out, pt, N) == 0);

    /* The one-shot API also wipes on a bad tag, including with a truncated tag. */
    uint8_t t12[12];
    CHECK(mc2_gcm_seal_ex(key, 32, nonce, 12, aad, sizeof aad, pt, N, ct, t12, 12, &err) == 0);
    CHECK(mc2_gcm_open_ex(key, 32, nonce, 12, aad, sizeof aad, ct, N, t12, 12, out, &err) == 0);
    CHECK(memcmp(out, pt, N) == 0);
    t12[11] ^= 1;
    memset(out, 0x5a, N);
    CHECK(mc2_gcm_open_ex(key, 32, nonce, 12, aad, sizeof aad, ct, N, t12, 12, out, &err) != 0 &&
          err.code == MC2_E_AUTH);
    CHECK(all_zero(out, N));
    CHECK(strstr(err.msg, "authentication failed") != NULL);

    /* Parameter checks of the one-shot API. */
    CHECK(mc2_gcm_seal_ex(key, 20, nonce, 12, NULL, 0, pt, 16, ct, tag, 16, &err) != 0 &&
          err.code == MC2_E_USAGE);
    CHECK(mc2_gcm_seal_ex(key, 32, nonce, 0, NULL, 0, pt, 16, ct, tag, 16, &err) != 0 &&
          err.code == MC2_E_USAGE);
    CHECK(mc2_gcm_seal_ex(key, 32, nonce, 129, NULL, 0, pt, 16, ct, tag, 16, &err) != 0 &&
          err.code == MC2_E_LIMIT);
    CHECK(mc2_gcm_seal_ex(key, 32, nonce, 12, NULL, 0, pt, 16, ct, tag, 3, &err) != 0 &&
          err.code == MC2_E_USAGE);
    CHECK(mc2_gcm_seal_ex(key, 32, nonce, 12, NULL, 0, pt, 16, ct, tag, 17, &err) != 0 &&
          err.code == MC2_E_USAGE);
    /* The GCM bound (2^36-32 bytes per nonce) is checked before any buffer is touched. */
    CHECK(mc2_aead_seal(a, nonce, NULL, 0, pt, ((size_t)1 << 36) - 31, ct, tag, &err) != 0 &&
          err.code == MC2_E_LIMIT);
    mc2_aead_free(a);
}

/* A message longer than INT_MAX (EVP's length type) through the keyed context, compared
 * with an independent EVP computation fed in 1 MiB pieces. Needs about 2 GiB of memory;
 * MC2_TEST_SKIP_HUGE=1 skips it (and says so). */
static void test_aead_huge(void)
{
    const size_t n = (size_t)INT_MAX + 1 + 4096 + 5;
    const char *skip = getenv("MC2_TEST_SKIP_HUGE");
    if (skip && *skip && strcmp(skip, "0") != 0) {
        printf("aead > INT_MAX: SKIPPED (MC2_TEST_SKIP_HUGE is set)\n");
        return;
    }
    uint8_t *buf = malloc(n);
    if (!buf) {
        printf("aead > INT_MAX: SKIPPED (cannot allocate %zu bytes)\n", n);
        return;
    }
    uint8_t key[32], nonce[12], aad[13], tag[16], want_tag[16], tail[64];
    mc2_err err;
    fill(key, 32, 11), fill(nonce, 12, 12), fill(aad, sizeof aad, 13);
    /* A 1 MiB pseudorandom block repeated (memcpy keeps this fast under ASan too). */
    enum { BLK = 1 << 20 };
    uint8_t *blk = malloc(BLK);
    if (!blk) {
        free(buf);
        printf("aead > INT_MAX: SKIPPED (cannot allocate)\n");
        return;
    }
    fill(blk, BLK, 14);
    for (size_t off = 0; off < n; off += BLK) memcpy(buf + off, blk, n - off < BLK ? n - off : BLK);

    /* The oracle: plain EVP, 1 MiB at a time, output discarded except the tag. */
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t *scratch = malloc(1u << 20);
    int ok = c && scratch && EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), key, nonce, NULL) == 1;
    int l;
    ok = ok && EVP_EncryptUpdate(c, NULL, &l, aad, (int)sizeof aad) == 1;
    for (size_t off = 0; ok && off < n; off += 1u << 20) {
        size_t len = n - off < (1u << 20) ? n - off : (1u << 20);
        ok = EVP_EncryptUpdate(c, scratch, &l, buf + off, (int)len) == 1;
    }
    ok = ok && EVP_EncryptFinal_ex(c, scratch, &l) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, want_tag) == 1;
    CHECK_MSG(ok, "EVP oracle failed");
    EVP_CIPHER_CTX_free(c);
    free(scratch);

    memcpy(tail, buf + n - sizeof tail, sizeof tail);
    unsigned long failures_before = t_failures;
    mc2_aead *a = mc2_aead_new(key, &err);
    CHECK(a != NULL);
    if (a && ok) {
        CHECK(mc2_aead_seal(a, nonce, aad, sizeof aad, buf, n, buf, tag, &err) == 0);
        CHECK_MSG(memcmp(tag, want_tag, 16) == 0, "tag over %zu bytes differs from EVP's", n);
        CHECK_MSG(memcmp(tail, buf + n - sizeof tail, sizeof tail) != 0,
                  "the bytes past INT_MAX were not encrypted");
        CHECK(mc2_aead_open(a, nonce, aad, sizeof aad, buf, n, tag, buf, &err) == 0);
        size_t bad = 0;
        for (size_t off = 0; off < n; off += BLK)
            bad += memcmp(buf + off, blk, n - off < BLK ? n - off : BLK) != 0;
        CHECK_MSG(bad == 0, "%zu MiB blocks differ after the round trip", bad);
        printf("aead > INT_MAX: %zu bytes: %s\n", n,
               t_failures == failures_before ? "sealed (tag matches plain EVP) and opened"
                                             : "FAILED");
    }
    mc2_aead_free(a);
    free(blk);
    free(buf);
}

/* ---- hashing, HKDF, signatures, key agreement -------------------------------------------- */

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
    if (mc2_hex_decode(hex, out, n)) {
        fprintf(stderr, "test_crypto: bad constant %s\n", hex);
        exit(1);
    }
}

static void test_sha256(void)
{
    uint8_t d[32], want[32];
    mc2_err err;
    CHECK(mc2_sha256(NULL, 0, d, &err) == 0);
    hex_to("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
    CHECK(memcmp(d, want, 32) == 0);
    CHECK(mc2_sha256("abc", 3, d, &err) == 0);
    hex_to("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    CHECK(memcmp(d, want, 32) == 0);

    /* FIPS 180-2's one million 'a's, incrementally in uneven pieces and in one shot. */
    size_t n = 1000000;
    uint8_t *m = xrealloc(NULL, n), one[32];
    memset(m, 'a', n);
    hex_to("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", want, 32);
    CHECK(mc2_sha256(m, n, one, &err) == 0);
    CHECK(memcmp(one, want, 32) == 0);
    mc2_sha256_ctx *c = mc2_sha256_new(&err);
    CHECK(c != NULL);
    if (c) {
        size_t off = 0, step = 0;
        while (off < n) {
            size_t len = (step * 7919) % 100003;
            if (len > n - off) len = n - off;
            CHECK(mc2_sha256_update(c, m + off, len, &err) == 0); /* len may be 0 */
            off += len;
            step++;
        }
        CHECK(mc2_sha256_final(c, d, &err) == 0);
        CHECK(memcmp(d, one, 32) == 0);
    }
    free(m);
    mc2_sha256_free(NULL);
    c = mc2_sha256_new(&err);
    CHECK(c != NULL);
    CHECK(c && mc2_sha256_update(c, "ab", 2, &err) == 0);
    mc2_sha256_free(c); /* abandoned without final: no leak (ASan checks) */
}

static void test_hkdf_limits(void)
{
    uint8_t ikm[32], out[255 * 32 + 1], info[1025], a[42], b[42];
    mc2_err err;
    fill(ikm, 32, 21), fill(info, sizeof info, 22);
    CHECK(mc2_hkdf_sha256(ikm, 32, NULL, 0, NULL, 0, out, 0, &err) != 0 && err.code == MC2_E_USAGE);
    CHECK(mc2_hkdf_sha256(ikm, 32, NULL, 0, NULL, 0, out, 1, &err) == 0);
    CHECK(mc2_hkdf_sha256(ikm, 32, NULL, 0, NULL, 0, out, 255 * 32, &err) == 0);
    CHECK(mc2_hkdf_sha256(ikm, 32, NULL, 0, NULL, 0, out, 255 * 32 + 1, &err) != 0 &&
          err.code == MC2_E_USAGE);
    CHECK(strstr(err.msg, "8160") != NULL);
    CHECK(mc2_hkdf_sha256(ikm, 32, NULL, 0, info, 1024, out, 32, &err) == 0);
    CHECK(mc2_hkdf_sha256(ikm, 32, NULL, 0, info, 1025, out, 32, &err) != 0 &&
          err.code == MC2_E_LIMIT);
    /* RFC 5869: an empty salt equals HashLen zero bytes; an empty IKM is allowed. */
    uint8_t zeros[32] = {0};
    CHECK(mc2_hkdf_sha256(ikm, 32, NULL, 0, info, 10, a, sizeof a, &err) == 0);
    CHECK(mc2_hkdf_sha256(ikm, 32, zeros, 32, info, 10, b, sizeof b, &err) == 0);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(mc2_hkdf_sha256(NULL, 0, NULL, 0, NULL, 0, a, sizeof a, &err) == 0);
    /* A prefix property: a shorter output is a prefix of a longer one. */
    CHECK(mc2_hkdf_sha256(ikm, 32, NULL, 0, info, 10, out, 100, &err) == 0);
    CHECK(mc2_hkdf_sha256(ikm, 32, NULL, 0, info, 10, b, sizeof b, &err) == 0);
    CHECK(memcmp(out, b, sizeof b) == 0);
}

static void test_ed25519(void)
{
    /* RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte, 0x72). */
    static const struct {
        const char *sec, *pub, *msg, *sig;
    } kat[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
         "1cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
         "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    };
    mc2_err err;
    for (size_t i = 0; i < sizeof kat / sizeof *kat; i++) {
        uint8_t sec[32], pub[32], want_pub[32], sig[64], want_sig[64], msg[1];
        size_t ml = strlen(kat[i].msg) / 2;
        hex_to(kat[i].sec, sec, 32), hex_to(kat[i].pub, want_pub, 32);
        hex_to(kat[i].sig, want_sig, 64), hex_to(kat[i].msg, msg, ml);
        CHECK(mc2_ed25519_public(sec, pub, &err) == 0 && memcmp(pub, want_pub, 32) == 0);
        CHECK(mc2_ed25519_sign(sec, msg, ml, sig, &err) == 0 && memcmp(sig, want_sig, 64) == 0);
        CHECK(mc2_ed25519_verify(pub, msg, ml, sig, 64, &err) == 0);
    }

    uint8_t pub[32], sec[32], pub2[32], sec2[32], sig[65], msg[100];
    fill(msg, sizeof msg, 31);
    CHECK(mc2_ed25519_keygen(pub, sec, &err) == 0);
    CHECK(mc2_ed25519_keygen(pub2, sec2, &err) == 0);
    CHECK(memcmp(sec, sec2, 32) != 0 && memcmp(pub, pub2, 32) != 0);
    uint8_t derived[32];
    CHECK(mc2_ed25519_public(sec, derived, &err) == 0 && memcmp(derived, pub, 32) == 0);
    CHECK(mc2_ed25519_sign(sec, msg, sizeof msg, sig, &err) == 0);
    CHECK(mc2_ed25519_verify(pub, msg, sizeof msg, sig, 64, &err) == 0);
    CHECK(mc2_ed25519_verify(pub2, msg, sizeof msg, sig, 64, &err) != 0 && err.code == MC2_E_AUTH);
    msg[50] ^= 1;
    CHECK(mc2_ed25519_verify(pub, msg, sizeof msg, sig, 64, &err) != 0 && err.code == MC2_E_AUTH);
    msg[50] ^= 1;
    sig[10] ^= 1;
    CHECK(mc2_ed25519_verify(pub, msg, sizeof msg, sig, 64, &err) != 0 && err.code == MC2_E_AUTH);
    sig[10] ^= 1;
    sig[64] = 0;
    CHECK(mc2_ed25519_verify(pub, msg, sizeof msg, sig, 65, &err) != 0 && err.code == MC2_E_AUTH);
    CHECK(mc2_ed25519_verify(pub, msg, sizeof msg, sig, 63, &err) != 0 && err.code == MC2_E_AUTH);
    CHECK(mc2_ed25519_verify(pub, msg, sizeof msg, sig, 64, &err) == 0);
}

static void test_x25519(void)
{
    /* RFC 7748 section 6.1. */
    uint8_t a_sec[32], a_pub[32], b_sec[32], b_pub[32], want[32], base[32] = {9}, out[32], out2[32];
    mc2_err err;
    hex_to("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a_sec, 32);
    hex_to("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", a_pub, 32);
    hex_to("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b_sec, 32);
    hex_to("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", b_pub, 32);
    hex_to("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
    CHECK(mc2_x25519(a_sec, base, out, &err) == 0 && memcmp(out, a_pub, 32) == 0);
    CHECK(mc2_x25519(a_sec, b_pub, out, &err) == 0 && memcmp(out, want, 32) == 0);
    CHECK(mc2_x25519(b_sec, a_pub, out, &err) == 0 && memcmp(out, want, 32) == 0);

    /* Fresh pairs agree, and keygen's public key is sec * base point. */
    CHECK(mc2_x25519_keygen(a_pub, a_sec, &err) == 0);
    CHECK(mc2_x25519_keygen(b_pub, b_sec, &err) == 0);
    CHECK(mc2_x25519(a_sec, base, out, &err) == 0 && memcmp(out, a_pub, 32) == 0);
    CHECK(mc2_x25519(a_sec, b_pub, out, &err) == 0);
    CHECK(mc2_x25519(b_sec, a_pub, out2, &err) == 0 && memcmp(out, out2, 32) == 0);

    /* Low-order peers (0 and 1) are refused and the output is wiped. */
    uint8_t zero[32] = {0}, one[32] = {1};
    memset(out, 0xa5, 32);
    CHECK(mc2_x25519(a_sec, zero, out, &err) != 0 && err.code == MC2_E_AUTH && all_zero(out, 32));
    memset(out, 0xa5, 32);
    CHECK(mc2_x25519(a_sec, one, out, &err) != 0 && err.code == MC2_E_AUTH && all_zero(out, 32));
    CHECK(strstr(err.msg, "low-order") != NULL);
}

static void test_random_ct_wipe(void)
{
    uint8_t a[32], b[32], big[4096];
    mc2_err err;
    CHECK(mc2_random(a, 32, &err) == 0 && mc2_random(b, 32, &err) == 0);
    CHECK(memcmp(a, b, 32) != 0);
    CHECK(mc2_random(NULL, 0, &err) == 0);
    memset(big, 0, sizeof big);
    CHECK(mc2_random(big, sizeof big, &err) == 0 && !all_zero(big, sizeof big));

    uint8_t x[64], y[64];
    fill(x, 64, 41);
    memcpy(y, x, 64);
    CHECK(mc2_ct_equal(x, y, 64) == 1);
    CHECK(mc2_ct_equal(x, y, 0) == 1);
    int all_detected = 1;
    for (size_t i = 0; i < 64; i++)
        for (int bit = 0; bit < 8; bit++) {
            y[i] ^= (uint8_t)(1 << bit);
            if (mc2_ct_equal(x, y, 64) != 0) all_detected = 0;
            y[i] ^= (uint8_t)(1 << bit);
        }
    CHECK_MSG(all_detected, "a one-bit difference compared equal");
    CHECK(mc2_ct_equal(x, y, 64) == 1);

    mc2_wipe(x, sizeof x);
    CHECK(all_zero(x, sizeof x));
    mc2_wipe(NULL, 0);
}

/* The allocations this module makes through base/alloc.h fail cleanly with MC2_E_NOMEM. */
static void test_fault_injection(void)
{
    uint8_t key[32] = {1};
    mc2_err err;
    mc2_alloc_fail_after(1);
    mc2_aead *a = mc2_aead_new(key, &err);
    CHECK(a == NULL && err.code == MC2_E_NOMEM);
    mc2_alloc_fail_after(1);
    mc2_sha256_ctx *c = mc2_sha256_new(&err);
    CHECK(c == NULL && err.code == MC2_E_NOMEM);
    mc2_alloc_fail_after(0);
    a = mc2_aead_new(key, &err);
    c = mc2_sha256_new(&err);
    CHECK(a != NULL && c != NULL);
    mc2_aead_free(a);
    mc2_sha256_free(c);
}

int main(void)
{
    test_json_reader();
    test_wycheproof_gcm();
    test_wycheproof_hkdf();
    test_wycheproof_ed25519();
    test_wycheproof_x25519();
    test_aead_roundtrip();
    test_aead_tamper();
    test_sha256();
    test_hkdf_limits();
    test_ed25519();
    test_x25519();
    test_random_ct_wipe();
    test_fault_injection();
    test_aead_huge();
    return test_done("test_crypto");
}
