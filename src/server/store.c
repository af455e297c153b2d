/* store.c - UNTRUSTED: mc2d's object store on the local file system. Objects are written
 * atomically (temporary file, fsync, rename), so a crash never leaves a partial object
 * under a real name; leftovers (and the spilled runs of the enclave instance that ran
 * before) are removed at start-up. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/hex.h"
#include "mc2/job.h"
#include "mc2/table.h"
#include "server/server.h"
#include "table/tinfo.h"

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
