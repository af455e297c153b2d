/* prg.c - AES-CTR generator and the fixed-key TCCR hash (prg.h), over OpenSSL's EVP. */
#include "mpc/prg.h"

#include <openssl/evp.h>
#include <string.h>

#include "base/alloc.h"
#include "crypto/ossl.h"
#include "mc2/crypto.h"

struct mpc_prg {
    EVP_CIPHER_CTX *ctx;
};

mpc_prg *mpc_prg_new(const uint8_t seed[16], mc2_err *err)
{
    static const uint8_t iv[16] = {0};
    mpc_prg *g = mc2_calloc(1, sizeof *g);
    if (!g) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    if (!(g->ctx = EVP_CIPHER_CTX_new()) ||
        EVP_EncryptInit_ex(g->ctx, EVP_aes_128_ctr(), NULL, seed, iv) != 1) {
        mc2_ossl_fail(err, MC2_E_INTERNAL, "mpc prg");
        mpc_prg_free(g);
        return NULL;
    }
    return g;
}

mpc_prg *mpc_prg_random(mc2_err *err)
{
    uint8_t seed[16];
    if (mc2_random(seed, sizeof seed, err)) return NULL;
    mpc_prg *g = mpc_prg_new(seed, err);
    mc2_wipe(seed, sizeof seed);
    return g;
}

int mpc_prg_bytes(mpc_prg *g, void *out, size_t n, mc2_err *err)
{
    uint8_t *o = out;
    memset(o, 0, n); /* CTR: the keystream itself */
    while (n > 0) {
        int chunk = n > (1u << 30) ? 1 << 30 : (int)n, len = 0;
        if (EVP_EncryptUpdate(g->ctx, o, &len, o, chunk) != 1 || len != chunk)
            return mc2_ossl_fail(err, MC2_E_INTERNAL, "mpc prg");
        o += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

void mpc_prg_free(mpc_prg *g)
{
    if (!g) return;
    EVP_CIPHER_CTX_free(g->ctx); /* OpenSSL wipes the key schedule */
    mc2_free(g);
}

struct mpc_crh {
    EVP_CIPHER_CTX *ctx;
};

mpc_crh *mpc_crh_new(mc2_err *err)
{
    static const uint8_t key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    mpc_crh *h = mc2_calloc(1, sizeof *h);
    if (!h) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    if (!(h->ctx = EVP_CIPHER_CTX_new()) ||
        EVP_EncryptInit_ex(h->ctx, EVP_aes_128_ecb(), NULL, key, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(h->ctx, 0) != 1) {
        mc2_ossl_fail(err, MC2_E_INTERNAL, "mpc crh");
        mpc_crh_free(h);
        return NULL;
    }
    return h;
}

/* out[0..n) = pi(in[0..n)), n blocks at a time (ECB: independent blocks). */
static void pi(const mpc_crh *h, const mpc_block *in, mpc_block *out, size_t n)
{
    int len = 0;
    if (n && EVP_EncryptUpdate(h->ctx, (uint8_t *)out, &len, (const uint8_t *)in,
                               (int)(n * sizeof *in)) != 1)
        abort(); /* AES-ECB on whole blocks cannot fail with a valid context */
}

void mpc_crh_hash(const mpc_crh *h, const mpc_block *in, uint64_t tweak, mpc_block *out, size_t n)
{
    enum { B = 64 };
    mpc_block px[B], t[B];
    for (size_t off = 0; off < n; off += B) {
        size_t m = n - off < B ? n - off : B;
        pi(h, in + off, px, m);
        for (size_t j = 0; j < m; j++) t[j] = (mpc_block){px[j].lo ^ (tweak + off + j), px[j].hi};
        pi(h, t, out + off, m);
        for (size_t j = 0; j < m; j++) out[off + j] = mpc_block_xor(out[off + j], px[j]);
    }
}

void mpc_crh_free(mpc_crh *h)
{
    if (!h) return;
    EVP_CIPHER_CTX_free(h->ctx);
    mc2_free(h);
}
