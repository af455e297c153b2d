/* init.c - TRUSTED: the enclave's INIT message (see enclave.h, enc_init). */
#include <string.h>

#include "base/bytes.h"
#include "enclave/enclave.h"

int enc_init(enclave *e, const uint8_t *p, size_t n, mc2_err *err)
{
    mc2_rd r = mc2_rd_init(p, n);
    uint32_t budget_mb = mc2_rd_u32(&r);
    size_t pol_len, ss_len, att_len, name_len;
    const uint8_t *pol = mc2_rd_lv(&r, &pol_len);
    const uint8_t *ss = mc2_rd_lv(&r, &ss_len);
    const uint8_t *att = mc2_rd_lv(&r, &att_len);
    uint32_t idle_s = mc2_rd_u32(&r);
    const uint8_t *name = mc2_rd_lv(&r, &name_len);
    uint8_t flags = mc2_rd_u8(&r);
    if (r.bad || mc2_rd_left(&r) != 0 || budget_mb == 0 || budget_mb > (1u << 20) || idle_s == 0 ||
        idle_s > ENC_SESSION_IDLE_MAX_S || flags > 3)
        return mc2_err_set(err, MC2_E_INPUT, "malformed INIT message");
    e->att = enc_attester_find(name, name_len);
    if (!e->att)
        return mc2_err_set(err, MC2_E_INPUT,
                           "INIT names a TEE backend this enclave has no attester for");
    if (e->att->init(e, att, att_len, err)) return -1;
    e->discard_state = flags & 1;
    e->worker = (flags & 2) != 0;
    e->budget_bytes = (uint64_t)budget_mb << 20;
    e->session_idle_ns = (uint64_t)idle_s * 1000000000u;
    if (mc2_sigstruct_decode(ss, ss_len, &e->sigstruct, err) ||
        mc2_sigstruct_verify(&e->sigstruct, err))
        return -1;
    if (memcmp(e->sigstruct.measurement, e->measurement, MC2_SHA256_LEN) != 0)
        return mc2_err_set(err, MC2_E_AUTH, "the sigstruct is for another enclave build");
    return mc2_policy_parse("consortium policy", (const char *)pol, pol_len, &e->policy, err);
}
