/* identity.c - create and load a party's identity, certificate, data key and config. */
#include "mc2/identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/hex.h"
#include "base/yaml.h"
#include "crypto/pki.h"
#include "mc2/job.h"

#define CERT_DAYS    3650
#define DATA_KEY_TAG "mc2-data-key-v1 "

static const char *const FILES[] = {"identity.key", "identity.crt", "data.key", "config.yaml"};
enum { F_KEY, F_CRT, F_DATA, F_CONFIG, F_COUNT };

char *mc2_home_resolve(const char *flag, mc2_err *err)
{
    const char *h = flag;
    if (!h || !*h) h = getenv("MC2_HOME");
    if (h && *h) {
        char *r = mc2_strdup(h);
        if (!r) mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return r;
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        mc2_err_set(err, MC2_E_USAGE, "neither --home, $MC2_HOME nor $HOME is set");
        return NULL;
    }
    char *r = mc2_path_join(home, ".mc2");
    if (!r) mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    return r;
}

void mc2_identity_fingerprint(const uint8_t pub[MC2_ED25519_PUB_LEN],
                              char out[MC2_FINGERPRINT_TEXT])
{
    uint8_t h[MC2_SHA256_LEN];
    memcpy(out, "SHA256:", 7);
    if (mc2_sha256(pub, MC2_ED25519_PUB_LEN, h, NULL) != 0) MC2_PANIC("SHA-256 failed");
    mc2_hex_encode(h, sizeof h, out + 7);
}

/* Writes one new file; records its path in created[] so a later failure can undo it. */
static int write_new(const char *home, int which, const void *p, size_t n, mode_t mode,
                     char **created, mc2_err *err)
{
    char *path = mc2_path_join(home, FILES[which]);
    if (!path) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    if (mc2_file_write_atomic(path, p, n, mode, 1, err)) {
        mc2_free(path);
        return -1;
    }
    created[which] = path;
    return 0;
}

int mc2_identity_create(const char *home, const char *name, mc2_err *err)
{
    int rc = -1;
    uint8_t pub[MC2_ED25519_PUB_LEN], sec[MC2_ED25519_SEC_LEN], dkey[MC2_KEY_LEN];
    char dkey_text[sizeof DATA_KEY_TAG + 2 * MC2_KEY_LEN + 2];
    mc2_buf key_pem = {.secret = 1}, cert_pem = {0}, config = {0};
    char *created[F_COUNT] = {0};

    if (mc2_name_check(name, err)) return -1;
    if (mc2_mkdir(home, 0700, err)) return -1;
    for (int i = 0; i < F_COUNT; i++) {
        char *path = mc2_path_join(home, FILES[i]);
        if (!path) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        int exists = mc2_file_exists(path);
        if (exists)
            mc2_err_set(err, MC2_E_EXISTS,
                        "'%s' already exists: %s already holds an identity. mc2 never "
                        "overwrites keys; use --home DIR (or $MC2_HOME) for another party, "
                        "or move the old files away yourself if you mean to replace them",
                        path, home);
        mc2_free(path);
        if (exists) return -1;
    }
    if (mc2_ed25519_keygen(pub, sec, err) || mc2_random(dkey, sizeof dkey, err)) goto out;
    if (mc2_ed25519_sec_to_pem(sec, &key_pem, err)) goto out;
    if (mc2_x509_self_signed(sec, name, CERT_DAYS, &cert_pem, err)) goto out;
    memcpy(dkey_text, DATA_KEY_TAG, sizeof DATA_KEY_TAG - 1);
    mc2_hex_encode(dkey, sizeof dkey, dkey_text + sizeof DATA_KEY_TAG - 1);
    strcat(dkey_text, "\n");
    if (mc2_buf_printf(&config, err,
                       "# mc2 party configuration, written by `mc2 init`.\n"
                       "name: %s\n"
                       "identity_key: %s\n"
                       "certificate: %s\n"
                       "data_key: %s\n"
                       "# host:port of the mc2d service this party talks to\n"
                       "service: %s\n",
                       name, FILES[F_KEY], FILES[F_CRT], FILES[F_DATA], MC2_DEFAULT_SERVICE))
        goto out;
    if (write_new(home, F_KEY, key_pem.data, key_pem.len, 0600, created, err) ||
        write_new(home, F_CRT, cert_pem.data, cert_pem.len, 0644, created, err) ||
        write_new(home, F_DATA, dkey_text, strlen(dkey_text), 0600, created, err) ||
        write_new(home, F_CONFIG, config.data, config.len, 0644, created, err))
        goto out;
    rc = 0;
out:
    for (int i = 0; i < F_COUNT; i++) {
        if (rc != 0 && created[i]) unlink(created[i]);
        mc2_free(created[i]);
    }
    mc2_wipe(sec, sizeof sec);
    mc2_wipe(dkey, sizeof dkey);
    mc2_wipe(dkey_text, sizeof dkey_text);
    mc2_buf_free(&key_pem);
    mc2_buf_free(&cert_pem);
    mc2_buf_free(&config);
    return rc;
}

/* Reads home/FILES[which] into out (at most max bytes); for secret files, refuses if group
 * or others may read it. */
static int read_file(const char *home, int which, int secret, size_t max, mc2_buf *out,
                     mc2_err *err)
{
    char *path = mc2_path_join(home, FILES[which]);
    if (!path) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    int rc = -1;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            mc2_err_set(err, MC2_E_NOTFOUND,
                        "no identity in %s ('%s' is missing): run `mc2 init --name NAME` first "
                        "(or point --home / $MC2_HOME at an existing one)",
                        home, path);
        else
            mc2_err_set(err, MC2_E_IO, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    if (secret && (st.st_mode & 077)) {
        mc2_err_set(err, MC2_E_INPUT,
                    "'%s' is readable by other users (mode %03o); a key file must be private: "
                    "run `chmod 600 %s`",
                    path, (unsigned)(st.st_mode & 0777), path);
        goto out;
    }
    if (mc2_file_read_all(path, max, out, err)) goto out;
    rc = 0;
out:
    mc2_free(path);
    return rc;
}

int mc2_identity_load(const char *home, mc2_identity *id, mc2_err *err)
{
    int rc = -1;
    mc2_buf key = {.secret = 1}, dkey = {.secret = 1}, crt = {0}, cfg = {0};
    mc2_ynode *y = NULL;
    uint8_t derived[MC2_ED25519_PUB_LEN];
    char cn[MC2_NAME_MAX + 1];
    memset(id, 0, sizeof *id);

    id->home = mc2_strdup(home);
    if (!id->home) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    if (read_file(home, F_CONFIG, 0, 1 << 16, &cfg, err) ||
        read_file(home, F_KEY, 1, 1 << 14, &key, err) ||
        read_file(home, F_CRT, 0, 1 << 16, &crt, err) ||
        read_file(home, F_DATA, 1, 1 << 10, &dkey, err))
        goto out;

    y = mc2_yaml_parse(FILES[F_CONFIG], (const char *)cfg.data, cfg.len, err);
    if (!y) goto out;
    const mc2_ynode *svc = mc2_yaml_get(y, "service");
    id->service = mc2_strdup(svc && svc->kind == MC2_Y_SCALAR ? svc->text : MC2_DEFAULT_SERVICE);
    if (!id->service) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }

    if (mc2_ed25519_sec_from_pem((const char *)key.data, key.len, id->sec, err)) {
        mc2_err_prefix(err, "%s/%s: ", home, FILES[F_KEY]);
        goto out;
    }
    if (mc2_x509_info((const char *)crt.data, crt.len, id->pub, cn, sizeof cn, err)) {
        mc2_err_prefix(err, "%s/%s: ", home, FILES[F_CRT]);
        goto out;
    }
    if (mc2_ed25519_public(id->sec, derived, err)) goto out;
    if (!mc2_ct_equal(derived, id->pub, sizeof derived)) {
        mc2_err_set(err, MC2_E_INPUT,
                    "%s: the certificate's public key does not match identity.key; the two "
                    "files belong to different identities",
                    home);
        goto out;
    }
    snprintf(id->name, sizeof id->name, "%s", cn);

    const size_t tag = sizeof DATA_KEY_TAG - 1;
    size_t dl = dkey.len;
    while (dl > 0 && (dkey.data[dl - 1] == '\n' || dkey.data[dl - 1] == '\r')) dl--;
    if (dl != tag + 2 * MC2_KEY_LEN || memcmp(dkey.data, DATA_KEY_TAG, tag) != 0) {
        mc2_err_set(err, MC2_E_INPUT, "%s/%s is not an mc2 data key file", home, FILES[F_DATA]);
        goto out;
    }
    dkey.data[dl] = '\0';
    if (mc2_hex_decode((const char *)dkey.data + tag, id->data_key, MC2_KEY_LEN) != 0) {
        mc2_err_set(err, MC2_E_INPUT, "%s/%s is not an mc2 data key file", home, FILES[F_DATA]);
        goto out;
    }
    if (mc2_buf_append(&crt, "", 1, err)) goto out;
    id->cert_pem = (char *)crt.data;
    crt.data = NULL;
    rc = 0;
out:
    if (rc != 0) mc2_identity_free(id);
    mc2_yaml_free(y);
    mc2_buf_free(&key);
    mc2_buf_free(&dkey);
    mc2_buf_free(&crt);
    mc2_buf_free(&cfg);
    return rc;
}

void mc2_identity_free(mc2_identity *id)
{
    mc2_wipe(id->sec, sizeof id->sec);
    mc2_wipe(id->data_key, sizeof id->data_key);
    mc2_free(id->home);
    mc2_free(id->cert_pem);
    mc2_free(id->service);
    id->home = id->cert_pem = id->service = NULL;
}
