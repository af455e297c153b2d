/* test_mpc_prg.c - mpc/prg.h: the AES-CTR generator against AES-128's known answer (key 0,
 * block 0), determinism and stream continuity; the TCCR hash against its definition
 * (computed here with a second AES context) for several tweaks, and its vectorised path. */
#include <openssl/evp.h>
#include <string.h>

#include "mpc/prg.h"
#include "test.h"

static mpc_block aes_fixed(mpc_block x)
{
    static const uint8_t key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    mpc_block y;
    int len = 0;
    if (!c || EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(c, 0) != 1 ||
        EVP_EncryptUpdate(c, (uint8_t *)&y, &len, (const uint8_t *)&x, 16) != 1)
        abort();
    EVP_CIPHER_CTX_free(c);
    return y;
}

int main(void)
{
    mc2_err err;
    static const uint8_t zero[16] = {0};
    static const uint8_t kat[16] = {0x66, 0xe9, 0x4b, 0xd4, 0xef, 0x8a, 0x2c, 0x3b,
                                    0x88, 0x4c, 0xfa, 0x59, 0xca, 0x34, 0x2b, 0x2e};
    mpc_prg *g = mpc_prg_new(zero, &err), *g2 = mpc_prg_new(zero, &err);
    uint8_t a[100], b[100];
    CHECK(g && g2 && mpc_prg_bytes(g, a, 16, &err) == 0 && memcmp(a, kat, 16) == 0);
    CHECK(mpc_prg_bytes(g, a + 16, 84, &err) == 0 && mpc_prg_bytes(g2, b, 100, &err) == 0 &&
          memcmp(a, b, 100) == 0); /* two calls continue the one stream */
    mpc_prg *r1 = mpc_prg_random(&err), *r2 = mpc_prg_random(&err);
    CHECK(r1 && r2 && mpc_prg_bytes(r1, a, 32, &err) == 0 && mpc_prg_bytes(r2, b, 32, &err) == 0 &&
          memcmp(a, b, 32) != 0);
    mpc_crh *h = mpc_crh_new(&err);
    CHECK(h != NULL);
    mpc_block in[150], out[150];
    for (size_t i = 0; i < 150; i++) in[i] = (mpc_block){i * 0x9e3779b97f4a7c15ull, ~i};
    mpc_crh_hash(h, in, 1000, out, 150);
    int okv = 1;
    for (size_t i = 0; i < 150; i++) {
        mpc_block p = aes_fixed(in[i]);
        mpc_block t = {p.lo ^ (1000 + i), p.hi};
        mpc_block want = mpc_block_xor(aes_fixed(t), p);
        okv &= want.lo == out[i].lo && want.hi == out[i].hi;
    }
    CHECK_MSG(okv, "H(x, i) = pi(pi(x) ^ i) ^ pi(x) for 150 blocks (the vectorised path)");
    mpc_block o1, o2;
    mpc_crh_hash(h, &in[7], 5, &o1, 1);
    mpc_crh_hash(h, &in[7], 6, &o2, 1);
    CHECK(o1.lo != o2.lo || o1.hi != o2.hi); /* the tweak matters */
    mpc_crh_free(h);
    mpc_prg_free(g);
    mpc_prg_free(g2);
    mpc_prg_free(r1);
    mpc_prg_free(r2);
    return test_done("test_mpc_prg");
}
