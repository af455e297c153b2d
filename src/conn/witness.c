/* witness.c - the client's witness of the enclave's sealed-state generation: the highest
 * generation this party has seen from the enclave of each consortium policy, kept in
 * $MC2_HOME/witness. A service whose enclave answers a lower one had its sealed state rolled
 * back together with the host's counter, which the enclave alone cannot tell
 * (docs/security.md, "Sealed state"). One line per policy: "<policy hash, 64 hex>
 * <generation>\n"; read-modify-write under an exclusive lock (witness.lock), replaced
 * atomically. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/file.h"
#include "base/hex.h"
#include "conn/conn.h"

#define WITNESS_MAX (1u << 20)

/* The generation recorded for hex in the file's text (0 if none); -1 if malformed. */
static int find(const char *text, const char *hex, uint64_t *gen)
{
    *gen = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        if (!nl || nl - p < 66 || p[64] != ' ') return -1;
        char *end;
        unsigned long long g = strtoull(p + 65, &end, 10);
        if (end != nl) return -1;
        if (strncmp(p, hex, 64) == 0) *gen = g;
        p = nl + 1;
    }
    return 0;
}

/* The file's text with hex's line set to gen. */
static int update(const char *text, const char *hex, uint64_t gen, mc2_buf *out, mc2_err *err)
{
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        if (strncmp(p, hex, 64) != 0 && mc2_buf_append(out, p, (size_t)(nl - p + 1), err))
            return -1;
        p = nl + 1;
    }
    return mc2_buf_printf(out, err, "%s %llu\n", hex, (unsigned long long)gen);
}

static int check_locked(const char *path, const char *hex, uint64_t gen, mc2_err *err)
{
    mc2_buf b = {0}, out = {0};
    uint64_t seen = 0;
    int rc = -1;
    if (mc2_file_read_all(path, WITNESS_MAX, &b, err) && err->code != MC2_E_NOTFOUND) goto out;
    if (mc2_buf_append(&b, "", 1, err)) goto out;
    if (find((const char *)b.data, hex, &seen)) {
        mc2_err_set(err, MC2_E_INPUT, "'%s' is not a witness file (remove it to start over)", path);
        goto out;
    }
    if (gen < seen) {
        mc2_err_set(err, MC2_E_AUTH,
                    "the service's sealed state was rolled back: generation %llu < %llu seen "
                    "earlier (its host put an older enclave state back; do not use this "
                    "service until its operator explains)",
                    (unsigned long long)gen, (unsigned long long)seen);
        goto out;
    }
    rc = gen == seen ? 0
         : (update((const char *)b.data, hex, gen, &out, err) ||
            mc2_file_write_atomic(path, out.data, out.len, 0600, 0, err))
             ? -1
             : 0;
out:
    mc2_buf_free(&b);
    mc2_buf_free(&out);
    return rc;
}

int mc2_witness_check(const char *home, const uint8_t policy_hash[32], uint64_t gen, mc2_err *err)
{
    char hex[65];
    mc2_hex_encode(policy_hash, 32, hex);
    char *path = mc2_path_join(home, "witness"), *lock = mc2_path_join(home, "witness.lock");
    int fd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1, rc = -1;
    if (!path || !lock)
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    else if (fd < 0 || flock(fd, LOCK_EX) != 0)
        mc2_err_set(err, MC2_E_IO, "cannot lock '%s'", lock);
    else
        rc = check_locked(path, hex, gen, err);
    if (fd >= 0) close(fd);
    mc2_free(path);
    mc2_free(lock);
    return rc;
}
