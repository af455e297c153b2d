/* tee_sim.c - UNTRUSTED: the sim backend. Its "hardware key" is an Ed25519 key in the
 * service's state directory (STATE/platform.key): the enclave signs its evidence with it, so
 * whoever runs the host can forge that evidence. It protects nothing, and says so everywhere
 * it shows (mc2d's start line, `mc2 status`, the claims' simulation flag). */
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "host/tee.h"

typedef struct sim_tee {
    uint8_t sec[MC2_ED25519_SEC_LEN];
    char *state_dir; /* where the counter is kept */
} sim_tee;

static int sim_open(const char *state_dir, const char *opts, void **ctx, mc2_err *err)
{
    char k[32], v[32];
    int r = mc2_tee_opt_next(&opts, k, sizeof k, v, sizeof v, err);
    if (r < 0) return -1;
    if (r == 0) return mc2_err_set(err, MC2_E_USAGE, "the sim backend takes no option ('%s')", k);
    sim_tee *t = mc2_calloc(1, sizeof *t);
    uint8_t pub[MC2_ED25519_PUB_LEN];
    if (!t) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    t->state_dir = mc2_strdup(state_dir);
    if (!t->state_dir) mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    if (!t->state_dir || mc2_sim_platform_key(state_dir, t->sec, pub, err)) {
        mc2_free(t->state_dir);
        mc2_wipe(t, sizeof *t);
        mc2_free(t);
        return -1;
    }
    *ctx = t;
    return 0;
}

static int sim_prepare(void *ctx, const uint8_t measurement[MC2_SHA256_LEN],
                       const mc2_sigstruct *ss, mc2_buf *attester, mc2_err *err)
{
    (void)measurement;
    (void)ss;
    sim_tee *t = ctx;
    return mc2_buf_append(attester, t->sec, sizeof t->sec, err);
}

static int sim_counter(void *ctx, bool increment, uint64_t *value, mc2_err *err)
{
    sim_tee *t = ctx;
    return mc2_sim_counter(t->state_dir, increment, value, err);
}

static void sim_close(void *ctx)
{
    sim_tee *t = ctx;
    if (!t) return;
    mc2_free(t->state_dir);
    mc2_wipe(t, sizeof *t);
    mc2_free(t);
}

const mc2_tee_ops mc2_tee_sim = {
    .name = "sim",
    .banner = "SIMULATION: no hardware protection",
    .open = sim_open,
    .prepare = sim_prepare,
    .evidence = NULL, /* the enclave signs its own */
    .counter = sim_counter,
    .close = sim_close,
};

int mc2_sim_platform_key(const char *state_dir, uint8_t sec[MC2_ED25519_SEC_LEN],
                         uint8_t pub[MC2_ED25519_PUB_LEN], mc2_err *err)
{
    char *path = mc2_path_join(state_dir, "platform.key");
    char *pub_path = mc2_path_join(state_dir, "platform.pub");
    mc2_buf b = {.secret = 1};
    int rc = -1;
    if (!path || !pub_path) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    if (mc2_file_read_all(path, 1024, &b, err) == 0) {
        while (b.len && (b.data[b.len - 1] == '\n')) b.len--;
        if (mc2_buf_append(&b, "", 1, err)) goto out;
        if (mc2_hex_decode((const char *)b.data, sec, MC2_ED25519_SEC_LEN) != 0) {
            mc2_err_set(err, MC2_E_INPUT, "'%s' is not a platform key", path);
            goto out;
        }
        rc = mc2_ed25519_public(sec, pub, err);
        goto out;
    }
    if (err->code != MC2_E_NOTFOUND) goto out;
    char hex[2 * MC2_ED25519_SEC_LEN + 2];
    if (mc2_mkdir(state_dir, 0700, err) || mc2_ed25519_keygen(pub, sec, err)) goto out;
    mc2_hex_encode(sec, MC2_ED25519_SEC_LEN, hex);
    strcat(hex, "\n");
    rc = mc2_file_write_atomic(path, hex, strlen(hex), 0600, 1, err);
    mc2_wipe(hex, sizeof hex);
    if (rc) goto out;
    mc2_hex_encode(pub, MC2_ED25519_PUB_LEN, hex);
    strcat(hex, "\n");
    rc = mc2_file_write_atomic(pub_path, hex, strlen(hex), 0644, 0, err);
out:
    mc2_buf_free(&b);
    mc2_free(path);
    mc2_free(pub_path);
    return rc;
}
