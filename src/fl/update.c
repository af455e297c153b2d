/* update.c - a client's update (fl.h): encoding, the hostile-bytes decoder, signature. */
#include <string.h>

#include "base/bytes.h"
#include "fl/fl.h"

#define HDR_FIXED (8 + MC2_SHA256_LEN + 4 + 4 + 8 + 1 + 8) /* all but the party's bytes */

static const char SIG_CONTEXT[] = "mc2 fl update v1"; /* signed with its NUL */

size_t mc2_fl_update_size(size_t party_len, uint64_t nvalues)
{
    if (party_len == 0 || party_len > MC2_FL_PARTY_MAX || nvalues > MC2_FL_MAX_VALUES + 1) return 0;
    return HDR_FIXED + party_len + (size_t)nvalues * 4;
}

int mc2_fl_update_encode(const uint8_t job_sha256[MC2_SHA256_LEN], uint32_t round,
                         const char *party, uint64_t weight, uint8_t form, const void *values,
                         uint64_t nvalues, mc2_buf *out, mc2_err *err)
{
    size_t pl = strlen(party), size = mc2_fl_update_size(pl, nvalues);
    if (size == 0)
        return mc2_err_set(err, MC2_E_LIMIT, "an update holds at most %u values",
                           MC2_FL_MAX_VALUES + 1);
    mc2_buf_reset(out);
    if (mc2_buf_reserve(out, size, err) || mc2_buf_append(out, MC2_FL_UPDATE_MAGIC, 8, err) ||
        mc2_buf_append(out, job_sha256, MC2_SHA256_LEN, err) || mc2_buf_put_u32(out, round, err) ||
        mc2_buf_put_lv(out, party, pl, err) || mc2_buf_put_u64(out, weight, err) ||
        mc2_buf_put_u8(out, form, err) || mc2_buf_put_u64(out, nvalues, err))
        return -1;
    const uint8_t *v = values;
    uint8_t *dst = out->data + out->len;
    for (uint64_t i = 0; i < nvalues; i++) { /* float32 and uint32 alike: 4 bytes, LE */
        uint32_t x;
        memcpy(&x, v + i * 4, 4);
        mc2_le32_put(dst + i * 4, x);
    }
    out->len += (size_t)nvalues * 4;
    return 0;
}

int mc2_fl_update_decode(const uint8_t *p, size_t n, mc2_fl_update *u, mc2_err *err)
{
    memset(u, 0, sizeof *u);
    mc2_rd r = mc2_rd_init(p, n);
    const uint8_t *magic = mc2_rd_take(&r, 8);
    if (!magic || memcmp(magic, MC2_FL_UPDATE_MAGIC, 8) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "not an mc2 fl update (magic MC2FLU1 expected)");
    const uint8_t *h = mc2_rd_take(&r, MC2_SHA256_LEN);
    u->round = mc2_rd_u32(&r);
    size_t pl;
    const uint8_t *party = mc2_rd_lv(&r, &pl);
    u->weight = mc2_rd_u64(&r);
    u->form = mc2_rd_u8(&r);
    u->nvalues = mc2_rd_u64(&r);
    if (r.bad) return mc2_err_set(err, MC2_E_INPUT, "truncated fl update header");
    memcpy(u->job_sha256, h, MC2_SHA256_LEN);
    if (pl == 0 || pl > MC2_FL_PARTY_MAX)
        return mc2_err_set(err, MC2_E_INPUT, "fl update: party name of %zu bytes (1 to %d)", pl,
                           MC2_FL_PARTY_MAX);
    for (size_t i = 0; i < pl; i++) {
        uint8_t c = party[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return mc2_err_set(err, MC2_E_INPUT, "fl update: malformed party name");
    }
    memcpy(u->party, party, pl);
    u->party[pl] = '\0';
    if (u->form != MC2_FL_FORM_FLOAT32 && u->form != MC2_FL_FORM_MASKED)
        return mc2_err_set(err, MC2_E_INPUT, "fl update: unknown form %u (0 float32, 1 masked)",
                           u->form);
    if (u->nvalues == 0 || u->nvalues > MC2_FL_MAX_VALUES + 1 || u->nvalues * 4 != mc2_rd_left(&r))
        return mc2_err_set(err, MC2_E_INPUT,
                           "fl update: %zu bytes of values do not hold the %llu values it declares",
                           mc2_rd_left(&r), (unsigned long long)u->nvalues);
    u->values = mc2_rd_take(&r, mc2_rd_left(&r));
    return 0;
}

/* "mc2 fl update v1" || 0 || SHA-256(update) */
static int sig_message(const uint8_t *p, size_t n, uint8_t msg[sizeof SIG_CONTEXT + 32],
                       mc2_err *err)
{
    memcpy(msg, SIG_CONTEXT, sizeof SIG_CONTEXT);
    return mc2_sha256(p, n, msg + sizeof SIG_CONTEXT, err);
}

int mc2_fl_update_sign(const uint8_t sec[MC2_ED25519_SEC_LEN], const uint8_t *p, size_t n,
                       uint8_t sig[MC2_ED25519_SIG_LEN], mc2_err *err)
{
    uint8_t msg[sizeof SIG_CONTEXT + 32];
    if (sig_message(p, n, msg, err)) return -1;
    return mc2_ed25519_sign(sec, msg, sizeof msg, sig, err);
}

int mc2_fl_update_verify(const uint8_t pub[MC2_ED25519_PUB_LEN], const uint8_t *p, size_t n,
                         const uint8_t sig[MC2_ED25519_SIG_LEN], mc2_err *err)
{
    uint8_t msg[sizeof SIG_CONTEXT + 32];
    if (sig_message(p, n, msg, err)) return -1;
    return mc2_ed25519_verify(pub, msg, sizeof msg, sig, MC2_ED25519_SIG_LEN, err);
}
