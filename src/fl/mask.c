/* mask.c - quantisation, PRG masks, pairwise agreement and share encryption for masked
 * federated rounds (the protocol is in fl/mask.h). */
#include "fl/mask.h"

#include <math.h>
#include <openssl/evp.h>
#include <string.h>

#include "base/bytes.h"

int mc2_fl_quant_ok(double clipping_range, uint32_t quantization_range, size_t count)
{
    if (!(clipping_range > 0) || !isfinite(clipping_range)) return 0;
    if (quantization_range < 2 || count < 1) return 0;
    uint64_t top = (uint64_t)(quantization_range - 1);
    return count <= (UINT64_C(0xffffffff) / top);
}

int mc2_fl_quantize(const double *x, size_t n, double clipping_range, uint32_t quantization_range,
                    uint32_t *q, mc2_err *err)
{
    enum { CHUNK = 1024 };
    uint32_t rnd[CHUNK];
    const double c = clipping_range;
    const double top = (double)(quantization_range - 1);
    const double scale = top / (2 * c);
    int rc = -1;

    if (!mc2_fl_quant_ok(c, quantization_range, 1))
        return mc2_err_set(err, MC2_E_USAGE,
                           "quantisation: clipping range must be > 0 and quantisation range >= 2");
    for (size_t base = 0; base < n; base += CHUNK) {
        size_t m = n - base < CHUNK ? n - base : CHUNK;
        if (mc2_random(rnd, m * sizeof rnd[0], err) != 0) goto out;
        for (size_t k = 0; k < m; k++) {
            double v = x[base + k];
            if (isnan(v)) {
                mc2_err_set(err, MC2_E_INPUT, "quantisation: value %zu is NaN", base + k);
                goto out;
            }
            v = v < -c ? -c : v > c ? c : v;
            double p = (v + c) * scale;
            if (p < 0) p = 0;
            if (p > top) p = top;
            double fl = floor(p);
            double frac = p - fl;
            /* up with probability frac: rnd / 2^32 < frac */
            uint32_t up = (double)rnd[k] < frac * 4294967296.0;
            uint32_t r = (uint32_t)fl + up;
            q[base + k] = r > (uint32_t)top ? (uint32_t)top : r;
        }
    }
    rc = 0;
out:
    mc2_wipe(rnd, sizeof rnd);
    return rc;
}

void mc2_fl_dequantize_sum(const uint32_t *s, size_t n, size_t count, double clipping_range,
                           uint32_t quantization_range, double *out)
{
    const double step = 2 * clipping_range / (double)(quantization_range - 1);
    const double shift = (double)count * clipping_range;
    for (size_t k = 0; k < n; k++) out[k] = (double)s[k] * step - shift;
}

int mc2_fl_prg_add(const uint8_t seed[MC2_FL_SEED_LEN], int sign, uint32_t *v, size_t n,
                   mc2_err *err)
{
    enum { CHUNK = 4096 }; /* values per block of keystream */
    static const uint8_t iv[16];
    uint8_t zero[CHUNK * 4], ks[CHUNK * 4];
    EVP_CIPHER_CTX *ctx = NULL;
    EVP_CIPHER *aes = NULL;
    int rc = -1;

    if (sign != 1 && sign != -1)
        return mc2_err_set(err, MC2_E_INTERNAL, "fl/mask.c: PRG sign must be +1 or -1");
    memset(zero, 0, sizeof zero);
    aes = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
    ctx = EVP_CIPHER_CTX_new();
    if (!aes || !ctx) {
        mc2_err_set(err, MC2_E_CRYPTO, "PRG: AES-256-CTR is not available from OpenSSL");
        goto out;
    }
    if (EVP_EncryptInit_ex2(ctx, aes, seed, iv, NULL) != 1) {
        mc2_err_set(err, MC2_E_CRYPTO, "PRG: AES-256-CTR setup failed");
        goto out;
    }
    for (size_t base = 0; base < n; base += CHUNK) {
        size_t m = n - base < CHUNK ? n - base : CHUNK;
        int len = 0;
        if (EVP_EncryptUpdate(ctx, ks, &len, zero, (int)(m * 4)) != 1 || len != (int)(m * 4)) {
            mc2_err_set(err, MC2_E_CRYPTO, "PRG: AES-256-CTR failed");
            goto out;
        }
        if (sign > 0)
            for (size_t k = 0; k < m; k++) v[base + k] += mc2_le32_get(ks + 4 * k);
        else
            for (size_t k = 0; k < m; k++) v[base + k] -= mc2_le32_get(ks + 4 * k);
    }
    rc = 0;
out:
    mc2_wipe(ks, sizeof ks);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(aes);
    return rc;
}

int mc2_fl_agree(const uint8_t my_sk[MC2_X25519_LEN], const uint8_t peer_pk[MC2_X25519_LEN],
                 const uint8_t rid[MC2_SHA256_LEN], enum mc2_fl_purpose purpose,
                 uint8_t out[MC2_FL_SEED_LEN], mc2_err *err)
{
    static const char mask_label[] = "mc2 fl mask v1", share_label[] = "mc2 fl share v1";
    const char *label = purpose == MC2_FL_AGREE_MASK ? mask_label : share_label;
    size_t llen = strlen(label);
    uint8_t shared[MC2_X25519_LEN], info[32 + MC2_SHA256_LEN];
    int rc = -1;

    memcpy(info, label, llen);
    memcpy(info + llen, rid, MC2_SHA256_LEN);
    if (mc2_x25519(my_sk, peer_pk, shared, err) != 0) goto out;
    if (mc2_hkdf_sha256(shared, sizeof shared, NULL, 0, info, llen + MC2_SHA256_LEN, out,
                        MC2_FL_SEED_LEN, err) != 0)
        goto out;
    rc = 0;
out:
    mc2_wipe(shared, sizeof shared);
    return rc;
}

static void share_nonce_aad(const uint8_t rid[MC2_SHA256_LEN], uint32_t from, uint32_t to,
                            uint8_t nonce[MC2_NONCE_LEN], uint8_t aad[MC2_SHA256_LEN + 8])
{
    memset(nonce, 0, MC2_NONCE_LEN);
    mc2_le32_put(nonce, from);
    mc2_le32_put(nonce + 4, to);
    memcpy(aad, rid, MC2_SHA256_LEN);
    mc2_le32_put(aad + MC2_SHA256_LEN, from);
    mc2_le32_put(aad + MC2_SHA256_LEN + 4, to);
}

int mc2_fl_share_seal(const uint8_t key[MC2_FL_SEED_LEN], const uint8_t rid[MC2_SHA256_LEN],
                      uint32_t from, uint32_t to, const uint8_t pt[MC2_FL_SHARE_PT_LEN],
                      uint8_t ct[MC2_FL_SHARE_CT_LEN], mc2_err *err)
{
    uint8_t nonce[MC2_NONCE_LEN], aad[MC2_SHA256_LEN + 8];
    share_nonce_aad(rid, from, to, nonce, aad);
    mc2_aead *a = mc2_aead_new(key, err);
    if (!a) return -1;
    int rc = mc2_aead_seal(a, nonce, aad, sizeof aad, pt, MC2_FL_SHARE_PT_LEN, ct,
                           ct + MC2_FL_SHARE_PT_LEN, err);
    mc2_aead_free(a);
    return rc;
}

int mc2_fl_share_open(const uint8_t key[MC2_FL_SEED_LEN], const uint8_t rid[MC2_SHA256_LEN],
                      uint32_t from, uint32_t to, const uint8_t ct[MC2_FL_SHARE_CT_LEN],
                      uint8_t pt[MC2_FL_SHARE_PT_LEN], mc2_err *err)
{
    uint8_t nonce[MC2_NONCE_LEN], aad[MC2_SHA256_LEN + 8];
    share_nonce_aad(rid, from, to, nonce, aad);
    mc2_aead *a = mc2_aead_new(key, err);
    if (!a) return -1;
    int rc = mc2_aead_open(a, nonce, aad, sizeof aad, ct, MC2_FL_SHARE_PT_LEN,
                           ct + MC2_FL_SHARE_PT_LEN, pt, err);
    mc2_aead_free(a);
    if (rc != 0) mc2_err_prefix(err, "share from participant %u to %u: ", from, to);
    return rc;
}

/* ---- the two ends of the masked stage ------------------------------------------------------- */

int mc2_fl_mask_input(const double *x, size_t nv, double clipping_range,
                      uint32_t quantization_range, size_t me, const uint8_t b[MC2_FL_SEED_LEN],
                      const uint8_t s_sk[MC2_X25519_LEN], const uint8_t (*s_pk)[MC2_X25519_LEN],
                      const bool *in_u2, size_t n, const uint8_t rid[MC2_SHA256_LEN], uint32_t *y,
                      mc2_err *err)
{
    uint8_t s[MC2_FL_SEED_LEN];
    int rc = -1;
    if (mc2_fl_quantize(x, nv, clipping_range, quantization_range, y, err) ||
        mc2_fl_prg_add(b, 1, y, nv, err))
        goto out;
    for (size_t j = 0; j < n; j++) {
        if (!in_u2[j] || j == me) continue;
        if (mc2_fl_agree(s_sk, s_pk[j], rid, MC2_FL_AGREE_MASK, s, err) ||
            mc2_fl_prg_add(s, j > me ? 1 : -1, y, nv, err))
            goto out;
    }
    rc = 0;
out:
    mc2_wipe(s, sizeof s);
    return rc;
}

/* The secret of participant `of` from the shares the revealers (flag UNMASK) posted. */
static int reconstruct(size_t n, unsigned t, const uint8_t *flags,
                       const uint8_t (*reveal)[MC2_FL_SEED_LEN], size_t of,
                       uint8_t secret[MC2_FL_SEED_LEN], mc2_err *err)
{
    uint8_t xs[MC2_FL_MAX_PARTIES], shares[MC2_FL_MAX_PARTIES][MC2_FL_SEED_LEN];
    size_t cnt = 0;
    for (size_t h = 0; h < n; h++) {
        if (!(flags[h] & MC2_FL_MF_UNMASK)) continue;
        xs[cnt] = (uint8_t)(h + 1);
        memcpy(shares[cnt], reveal[h * n + of], MC2_FL_SEED_LEN);
        cnt++;
    }
    int rc =
        cnt < t ? mc2_err_set(err, MC2_E_INPUT,
                              "unmask: %zu participants revealed shares, fewer than t = %u", cnt, t)
                : mc2_fl_shamir_combine(xs, (const uint8_t(*)[MC2_FL_SEED_LEN])shares, cnt, secret,
                                        err);
    mc2_wipe(shares, sizeof shares);
    return rc;
}

int mc2_fl_unmask(uint32_t *sum, size_t nv, size_t n, unsigned t, const uint8_t *flags,
                  const uint8_t (*s_pk)[MC2_X25519_LEN], const uint8_t (*reveal)[MC2_FL_SEED_LEN],
                  const uint8_t rid[MC2_SHA256_LEN], mc2_err *err)
{
    static const uint8_t base9[MC2_X25519_LEN] = {9}; /* X25519's base point: sk -> pk */
    uint8_t secret[MC2_FL_SEED_LEN], pk[MC2_X25519_LEN], s[MC2_FL_SEED_LEN];
    int rc = -1;
    if (n > MC2_FL_MAX_PARTIES)
        return mc2_err_set(err, MC2_E_INTERNAL, "fl/mask.c: unmask with %zu participants", n);
    for (size_t j = 0; j < n; j++) {
        if (!(flags[j] & MC2_FL_MF_SHARES)) continue;
        if (reconstruct(n, t, flags, reveal, j, secret, err)) goto out;
        if (flags[j] & MC2_FL_MF_MASKED) { /* a survivor: its self-mask b_j */
            if (mc2_fl_prg_add(secret, -1, sum, nv, err)) goto out;
            continue;
        }
        /* dropped after sharing: the masks each survivor i made with it, sign(j > i) */
        if (mc2_x25519(secret, base9, pk, err) || !mc2_ct_equal(pk, s_pk[j], MC2_X25519_LEN)) {
            mc2_err_set(err, MC2_E_AUTH,
                        "unmask: the mask key of dropped participant %zu rebuilt from the "
                        "revealed shares does not match its public key (a share was wrong)",
                        j);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            if (!(flags[i] & MC2_FL_MF_MASKED)) continue;
            if (mc2_fl_agree(secret, s_pk[i], rid, MC2_FL_AGREE_MASK, s, err) ||
                mc2_fl_prg_add(s, j > i ? -1 : 1, sum, nv, err))
                goto out;
        }
    }
    rc = 0;
out:
    mc2_wipe(secret, sizeof secret);
    mc2_wipe(s, sizeof s);
    return rc;
}
