/* fuzz_enclave_state.c - libFuzzer target for the enclave's sealed state (src/enclave/state.c):
 * the bytes the host hands back at start-up. Input: u8 mode | bytes. Even mode: the bytes are
 * a decrypted state encoding (enc_state_decode), as if the host had forged a valid seal; odd
 * mode: they are a sealed blob (enc_state_open under the fixture's key, then decode). Oracles
 * besides the sanitizers: a refusal is MC2_E_INPUT/MC2_E_AUTH/MC2_E_NOMEM and leaves the
 * enclave with no job and no key; whatever decodes re-encodes to bytes that decode again to
 * the same encoding (the restart rules are idempotent). Uses tests/tools/statefix.h.
 *
 * MC2_FUZZ_SEED_DIR=dir: writes the seed corpus (fuzz/corpus/fuzz_enclave_state) and exits. */
#include <stdint.h>
#include <stdlib.h>

#include "../tests/tools/statefix.h"

static mc2_policy *POL;
static enclave E;

static void fresh(void)
{
    sf_enclave(&E, POL);
}

static void check_empty(void)
{
    if (E.njobs) abort();
    for (size_t p = 0; p < MC2_POLICY_MAX_PARTIES; p++)
        if (E.has_key[p]) abort();
}

/* A decoded state re-encodes to bytes that decode and re-encode to the same bytes. */
static void round_trip(void)
{
    mc2_buf a = {.secret = 1}, b = {.secret = 1};
    mc2_err err;
    if (enc_state_encode(&E, &a, &err)) abort();
    enc_state_clear(&E);
    fresh();
    if (enc_state_decode(&E, a.data, a.len, &err) || enc_state_encode(&E, &b, &err)) abort();
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) abort();
    enc_state_clear(&E);
    mc2_buf_free(&a);
    mc2_buf_free(&b);
}

static void decode(const uint8_t *p, size_t n)
{
    mc2_err err;
    fresh();
    if (enc_state_decode(&E, p, n, &err) == 0) {
        round_trip();
        return;
    }
    if (err.code != MC2_E_INPUT && err.code != MC2_E_NOMEM) abort();
    check_empty();
}

static void write_seed(const char *dir, const char *name, uint8_t mode, const mc2_buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputc(mode, f) == EOF || fwrite(b->data, 1, b->len, f) != b->len || fclose(f))
        sf_die(path, NULL);
}

static void write_seeds(const char *dir)
{
    mc2_buf plain = {.secret = 1}, blob = {0};
    mc2_err err;
    fresh();
    sf_populate(&E);
    if (enc_state_encode(&E, &plain, &err) ||
        enc_state_seal(&E, 7, plain.data, plain.len, &blob, &err))
        sf_die("seed", &err);
    write_seed(dir, "plain", 0, &plain);
    write_seed(dir, "sealed", 1, &blob);
    enc_state_clear(&E);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    POL = sf_policy();
    const char *dir = getenv("MC2_FUZZ_SEED_DIR");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if ((data[0] & 1) == 0) {
        decode(data + 1, size - 1);
        return 0;
    }
    mc2_buf plain = {0};
    mc2_err err;
    uint64_t gen;
    fresh();
    if (enc_state_open(&E, data + 1, size - 1, &plain, &gen, &err) == 0)
        decode(plain.data, plain.len);
    else if (err.code != MC2_E_INPUT && err.code != MC2_E_AUTH && err.code != MC2_E_NOMEM)
        abort();
    mc2_buf_free(&plain);
    return 0;
}
