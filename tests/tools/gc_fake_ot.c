/* gc_fake_ot.c - TEST-ONLY, INSECURE stand-in for src/mpc/ot.c while that module is being
 * written: the "OT" sender sends BOTH messages in the clear and the receiver keeps the one it
 * chose. It only lets test_mpc_gc run the garbled-circuit protocol end to end; it hides
 * nothing. Linked only into test_mpc_gc, and only while src/mpc/ot.c does not exist
 * (CMakeLists.txt): once ot.c is merged the test runs over the real OT and this file goes. */
#include <stdlib.h>

#include "base/bytes.h"
#include "mpc/ot.h"

struct mpc_ot {
    mpc_net *net;
    uint32_t peer;
    bool sender;
    uint64_t count;
};

int mpc_ot_setup(mpc_net *net, uint32_t peer, bool sender, mpc_ot **out, mc2_err *err)
{
    (void)err;
    if (!(*out = calloc(1, sizeof **out))) abort();
    **out = (mpc_ot){net, peer, sender, 0};
    return 0;
}

int mpc_ot_send(mpc_ot *o, const mpc_block *m0, const mpc_block *m1, size_t n, mc2_err *err)
{
    if (!o->sender) return mc2_err_set(err, MC2_E_USAGE, "fake ot: not the sender");
    for (size_t j = 0; j < n; j++) {
        uint8_t b[32];
        mc2_le64_put(b, m0[j].lo);
        mc2_le64_put(b + 8, m0[j].hi);
        mc2_le64_put(b + 16, m1[j].lo);
        mc2_le64_put(b + 24, m1[j].hi);
        if (mpc_net_send(o->net, o->peer, b, 32, err)) return -1;
    }
    o->count += n;
    return 0;
}

int mpc_ot_recv(mpc_ot *o, const uint8_t *c, mpc_block *out, size_t n, mc2_err *err)
{
    if (o->sender) return mc2_err_set(err, MC2_E_USAGE, "fake ot: not the receiver");
    for (size_t j = 0; j < n; j++) {
        uint8_t b[32];
        if (mpc_net_recv(o->net, o->peer, b, 32, err)) return -1;
        const uint8_t *m = c[j] ? b + 16 : b;
        out[j] = (mpc_block){mc2_le64_get(m), mc2_le64_get(m + 8)};
    }
    o->count += n;
    return 0;
}

uint64_t mpc_ot_count(const mpc_ot *o)
{
    return o->count;
}

void mpc_ot_free(mpc_ot *o)
{
    free(o);
}
