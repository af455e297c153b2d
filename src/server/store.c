/* store.c - UNTRUSTED: mc2d's object store on the local file system. Objects are written
 * atomically (temporary file, fsync, rename), so a crash never leaves a partial object
 * under a real name; leftovers (and the spilled runs of the enclave instance that ran
 * before) are removed at start-up. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/hex.h"
#include "mc2/job.h"
#include "mc2/table.h"
#include "server/server.h"
#include "table/tinfo.h"
#include "wire/proto.h"

char *srv_object_path(const char *store, const char *name, mc2_err *err)
{
    char owner[65], table[140];
    size_t n = strlen(name);
    if (n > 300) goto bad;
    if (strcmp(name, SRV_STATE_OBJECT) == 0) goto ok;
    size_t pre = strncmp(name, "results/job-", 12) == 0 ? 12
                 : strncmp(name, "spill/job-", 10) == 0 ? 10
                                                        : 0;
    if (pre) {
        /* results/job-N-SUFFIX or spill/job-N-SUFFIX: N decimal without leading zeros,
         * SUFFIX a valid name. */
        const char *p = name + pre, *dash;
        if (*p < '1' || *p > '9') goto bad;
        while (*p >= '0' && *p <= '9') p++;
        dash = p;
        if (*dash != '-' || dash - (name + pre) > 20 || mc2_table_name_check(dash + 1, NULL))
            goto bad;
    } else {
        const char *a = strchr(name, '/'), *b = a ? strchr(a + 1, '/') : NULL;
        if (strncmp(name, "tables/", 7) != 0 || !b || strchr(b + 1, '/')) goto bad;
        size_t ol = (size_t)(b - a - 1), tl = strlen(b + 1);
        if (ol == 0 || ol >= sizeof owner || tl <= 5 || tl - 5 >= sizeof table ||
            strcmp(b + 1 + tl - 5, ".mc2t") != 0)
            goto bad;
        memcpy(owner, a + 1, ol);
        owner[ol] = '\0';
        memcpy(table, b + 1, tl - 5);
        table[tl - 5] = '\0';
        if (mc2_name_check(owner, NULL) || mc2_table_name_check(table, NULL)) goto bad;
    }
ok:;
    char *p = mc2_path_join(store, name);
    if (!p) mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    return p;
bad:
    mc2_err_set(err, MC2_E_USAGE, "invalid object name '%.80s'", name);
    return NULL;
}

/* Removes ".*.tmp-*" files in dir (unfinished uploads and objects), and with `all` every
 * other regular file too. */
static void clean_dir(const char *dir, bool all)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        bool tmp = e->d_name[0] == '.' && strstr(e->d_name, ".tmp-");
        if (tmp || (all && e->d_name[0] != '.')) {
            char *p = mc2_path_join(dir, e->d_name);
            if (p && tmp) fprintf(stderr, "mc2d: removing an unfinished object: %s\n", p);
            if (p) unlink(p);
            mc2_free(p);
        }
    }
    closedir(d);
}

void srv_store_recover(server *s)
{
    char *tables = mc2_path_join(s->store, "tables"), *results = mc2_path_join(s->store, "results");
    char *spill = mc2_path_join(s->store, "spill"), *encl = mc2_path_join(s->store, "enclave");
    if (results) clean_dir(results, false);
    if (encl) clean_dir(encl, false); /* an unfinished sealed state */
    mc2_free(encl);
    /* Spilled runs are sealed under keys of the enclave instance that wrote them: none can
     * be read again after a restart. */
    if (spill) clean_dir(spill, true);
    mc2_free(spill);
    DIR *d = tables ? opendir(tables) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *p = mc2_path_join(tables, e->d_name);
        if (p) clean_dir(p, false);
        mc2_free(p);
    }
    if (d) closedir(d);
    mc2_free(tables);
    mc2_free(results);
}

int srv_list_tables(server *s, mc2_buf *out, mc2_err *err)
{
    char *tables = mc2_path_join(s->store, "tables");
    DIR *d = tables ? opendir(tables) : NULL;
    struct dirent *e;
    int rc = 0;
    while (d && rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *od = mc2_path_join(tables, e->d_name);
        DIR *d2 = od ? opendir(od) : NULL;
        struct dirent *f;
        while (d2 && rc == 0 && (f = readdir(d2)) != NULL) {
            size_t l = strlen(f->d_name);
            if (f->d_name[0] == '.' || l <= 5 || strcmp(f->d_name + l - 5, ".mc2t") != 0) continue;
            char *p = mc2_path_join(od, f->d_name);
            int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
            off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
            mc2_tinfo ti;
            mc2_err ierr; /* a file that is not a table is left out of the list */
            if (size >= 0 && mc2_tinfo_read(fd, (uint64_t)size, &ti, &ierr) == 0) {
                char id[33];
                mc2_hex_encode(ti.table_id, 16, id);
                rc = mc2_buf_printf(out, err, "%s/%.*s %s %llu %llu %lld %llu\n", e->d_name,
                                    (int)(l - 5), f->d_name, id, (unsigned long long)ti.rows,
                                    (unsigned long long)ti.blocks, (long long)size,
                                    (unsigned long long)ti.table_version);
            }
            if (fd >= 0) close(fd);
            mc2_free(p);
        }
        if (d2) closedir(d2);
        mc2_free(od);
    }
    if (d) closedir(d);
    mc2_free(tables);
    return rc;
}

int srv_store_reply(srv_outq *q, uint32_t ch, uint32_t status, const void *p, size_t n)
{
    mc2_buf b = {0};
    mc2_err err;
    int rc = mc2_buf_put_u32(&b, status, &err) || mc2_buf_append(&b, p, n, &err) ||
                     srv_outq_frame(q, EIF_STORE_REPLY, ch, b.data, b.len, &err)
                 ? -1
                 : 0;
    mc2_buf_free(&b);
    return rc;
}

int srv_store_req_name(mc2_rd *r, char name[310])
{
    size_t nl;
    const uint8_t *n = mc2_rd_lv(r, &nl);
    if (r->bad || nl >= 310 || memchr(n, 0, nl)) return -1;
    memcpy(name, n, nl);
    name[nl] = '\0';
    return 0;
}

/* The reply to a read: the frame's header (wire/frame.h) and the status, then the file's
 * bytes, sent from the page cache (srv_outq_file takes fd). */
static int reply_file(srv_outq *q, uint32_t ch, int fd, uint64_t off, uint32_t len)
{
    uint8_t hdr[MC2_FRAME_HDR + 4];
    mc2_err err;
    mc2_le32_put(hdr, 4 + len);
    mc2_le16_put(hdr + 4, EIF_STORE_REPLY);
    mc2_le16_put(hdr + 6, MC2_WIRE_VERSION);
    mc2_le32_put(hdr + 8, ch);
    mc2_le32_put(hdr + 12, SRV_STORE_OK);
    if (srv_outq_put(q, hdr, sizeof hdr, &err)) {
        close(fd);
        return -1;
    }
    return srv_outq_file(q, fd, off, len, &err);
}

int srv_store_answer_read(srv_outq *q, uint16_t type, uint32_t ch, const char *path, mc2_rd *r)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
    struct stat st;
    if (fd < 0 && errno == ENOENT && type == EIF_STORE_SIZE) {
        rc = srv_store_reply(q, ch, SRV_STORE_NOTFOUND, NULL, 0); /* no such object */
    } else if (fd < 0 || fstat(fd, &st) != 0) {
        rc = srv_store_reply(q, ch, SRV_STORE_FAILED, NULL, 0);
    } else if (type == EIF_STORE_SIZE) {
        uint8_t sz[8];
        mc2_le64_put(sz, (uint64_t)st.st_size);
        rc = srv_store_reply(q, ch, SRV_STORE_OK, sz, 8);
    } else {
        uint64_t off = mc2_rd_u64(r);
        uint32_t len = mc2_rd_u32(r);
        if (!r->bad && len <= (1u << 24) && off <= (uint64_t)st.st_size &&
            len <= (uint64_t)st.st_size - off)
            return reply_file(q, ch, fd, off, len); /* takes fd */
        rc = srv_store_reply(q, ch, SRV_STORE_FAILED, NULL, 0);
    }
    if (fd >= 0) close(fd);
    return rc;
}
