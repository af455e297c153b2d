/* file.c - atomic file writes and bounded reads. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "base/file.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

char *mc2_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    char *p = mc2_malloc(dl + nl + 2);
    if (!p) return NULL;
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

int mc2_file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int mc2_mkdir(const char *path, mode_t mode, mc2_err *err)
{
    if (mkdir(path, mode) == 0) return 0;
    if (errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
        return mc2_err_set(err, MC2_E_IO, "'%s' exists and is not a directory", path);
    }
    return mc2_err_set(err, MC2_E_IO, "cannot create directory '%s': %s", path, strerror(errno));
}

/* Directory part of path, malloc'd ("." when there is none). */
static char *dir_of(const char *path)
{
    char *copy = mc2_strdup(path);
    if (!copy) return NULL;
    char *d = mc2_strdup(dirname(copy));
    mc2_free(copy);
    return d;
}

static int fsync_dir(const char *path, mc2_err *err)
{
    char *d = dir_of(path);
    if (!d) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        mc2_err_set(err, MC2_E_IO, "cannot open directory '%s': %s", d, strerror(errno));
        mc2_free(d);
        return -1;
    }
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) {
        mc2_err_set(err, MC2_E_IO, "cannot sync directory '%s': %s", d, strerror(e));
        mc2_free(d);
        return -1;
    }
    mc2_free(d);
    return 0;
}

/* The live temporary files, for mc2_afile_unlink_all. A slot's state: 0 free; 3 taken, its
 * template being copied in; 2 the file being created from it (mkostemp writes the name in
 * place, in the slot); 1 created, under that name. The file is listed before it exists, so
 * a signal never finds it unlisted (unlinking a name not yet created is harmless). The
 * names live in static memory, so a signal handler never reads freed memory. */
enum { LIVE_FREE, LIVE_NAMED, LIVE_MAKING, LIVE_COPYING };
static _Atomic int live_state[MC2_AFILE_LIVE_MAX];
static char live_name[MC2_AFILE_LIVE_MAX][PATH_MAX];

/* mkostemp on f->tmp_path (its XXXXXX replaced), the file listed; -1 with errno on failure.
 * When all slots are taken the file is made unlisted (not removed on a signal). */
static int live_mkstemp(mc2_afile *f)
{
    size_t n = strlen(f->tmp_path);
    for (int i = 0; n < PATH_MAX && i < MC2_AFILE_LIVE_MAX; i++) {
        int expect = LIVE_FREE;
        if (!atomic_compare_exchange_strong(&live_state[i], &expect, LIVE_COPYING)) continue;
        memcpy(live_name[i], f->tmp_path, n + 1);
        atomic_store(&live_state[i], LIVE_MAKING);
        int fd = mkostemp(live_name[i], O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            atomic_store(&live_state[i], LIVE_FREE);
            errno = e;
            return -1;
        }
        memcpy(f->tmp_path, live_name[i], n + 1);
        atomic_store(&live_state[i], LIVE_NAMED);
        f->slot = i + 1;
        return fd;
    }
    return mkostemp(f->tmp_path, O_CLOEXEC);
}

static void live_remove(mc2_afile *f)
{
    if (f->slot > 0) atomic_store(&live_state[f->slot - 1], LIVE_FREE);
    f->slot = 0;
}

void mc2_afile_unlink_all(void)
{
    for (int i = 0; i < MC2_AFILE_LIVE_MAX; i++) {
        int st = atomic_load(&live_state[i]);
        if (st == LIVE_NAMED || st == LIVE_MAKING) unlink(live_name[i]);
    }
}

int mc2_afile_open(mc2_afile *f, const char *path, mode_t mode, int no_clobber, mc2_err *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->no_clobber = no_clobber;
    if (no_clobber && mc2_file_exists(path))
        return mc2_err_set(err, MC2_E_EXISTS, "'%s' already exists; refusing to overwrite it",
                           path);
    f->path = mc2_strdup(path);
    char *copy = mc2_strdup(path);
    char *d = dir_of(path);
    if (!f->path || !copy || !d) goto nomem;
    const char *base = basename(copy);
    size_t n = strlen(d) + strlen(base) + 32;
    f->tmp_path = mc2_malloc(n);
    if (!f->tmp_path) goto nomem;
    snprintf(f->tmp_path, n, "%s/.%s.tmp-XXXXXX", d, base);
    f->fd = live_mkstemp(f);
    if (f->fd < 0) {
        mc2_err_set(err, MC2_E_IO, "cannot create a file in '%s': %s", d, strerror(errno));
        mc2_free(f->tmp_path);
        f->tmp_path = NULL;
        goto fail;
    }
    if (fchmod(f->fd, mode) != 0) {
        mc2_err_set(err, MC2_E_IO, "cannot set mode of '%s': %s", f->tmp_path, strerror(errno));
        goto fail;
    }
    mc2_free(copy);
    mc2_free(d);
    return 0;
nomem:
    mc2_err_set(err, MC2_E_NOMEM, "out of memory");
fail:
    mc2_free(copy);
    mc2_free(d);
    mc2_afile_abort(f);
    return -1;
}

int mc2_afile_write(mc2_afile *f, const void *p, size_t n, mc2_err *err)
{
    const uint8_t *q = p;
    while (n > 0) {
        ssize_t w = write(f->fd, q, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return mc2_err_set(err, MC2_E_IO, "cannot write '%s': %s", f->path, strerror(errno));
        }
        q += w;
        n -= (size_t)w;
        f->written += (uint64_t)w;
    }
    return 0;
}

int mc2_file_anon(const char *dir, mc2_err *err)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    /* A file system without O_TMPFILE: a named file, unlinked at once. */
    char *path = mc2_path_join(dir, ".mc2-tmp-XXXXXX");
    if (!path) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        mc2_err_set(err, MC2_E_IO, "cannot create a temporary file in '%s': %s", dir,
                    strerror(errno));
    else
        unlink(path);
    mc2_free(path);
    return fd;
}

int mc2_afile_commit(mc2_afile *f, mc2_err *err)
{
    if (fsync(f->fd) != 0) {
        mc2_err_set(err, MC2_E_IO, "cannot sync '%s': %s", f->path, strerror(errno));
        goto fail;
    }
    if (close(f->fd) != 0) {
        f->fd = -1;
        mc2_err_set(err, MC2_E_IO, "cannot close '%s': %s", f->path, strerror(errno));
        goto fail;
    }
    f->fd = -1;
    if (f->no_clobber) {
        /* link(2) fails with EEXIST instead of replacing: no race with another writer. */
        if (link(f->tmp_path, f->path) != 0) {
            if (errno == EEXIST)
                mc2_err_set(err, MC2_E_EXISTS, "'%s' already exists; refusing to overwrite it",
                            f->path);
            else
                mc2_err_set(err, MC2_E_IO, "cannot create '%s': %s", f->path, strerror(errno));
            goto fail;
        }
        unlink(f->tmp_path);
    } else if (rename(f->tmp_path, f->path) != 0) {
        mc2_err_set(err, MC2_E_IO, "cannot rename into '%s': %s", f->path, strerror(errno));
        goto fail;
    }
    live_remove(f);
    mc2_free(f->tmp_path);
    f->tmp_path = NULL;
    if (fsync_dir(f->path, err)) {
        mc2_afile_abort(f);
        return -1;
    }
    mc2_afile_abort(f);
    return 0;
fail:
    mc2_afile_abort(f);
    return -1;
}

void mc2_afile_abort(mc2_afile *f)
{
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    live_remove(f);
    if (f->tmp_path) unlink(f->tmp_path);
    mc2_free(f->tmp_path);
    mc2_free(f->path);
    f->tmp_path = NULL;
    f->path = NULL;
}

int mc2_file_write_atomic(const char *path, const void *p, size_t n, mode_t mode, int no_clobber,
                          mc2_err *err)
{
    mc2_afile f;
    if (mc2_afile_open(&f, path, mode, no_clobber, err)) return -1;
    if (mc2_afile_write(&f, p, n, err)) {
        mc2_afile_abort(&f);
        return -1;
    }
    return mc2_afile_commit(&f, err);
}

int mc2_file_read_all(const char *path, size_t max, mc2_buf *out, mc2_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        enum mc2_code c = errno == ENOENT ? MC2_E_NOTFOUND : MC2_E_IO;
        return mc2_err_set(err, c, "cannot open '%s': %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return mc2_err_set(err, MC2_E_IO, "'%s' is not a regular file", path);
    }
    size_t total = 0;
    for (;;) {
        if (mc2_buf_reserve(out, 65536, err)) goto fail;
        ssize_t r = read(fd, out->data + out->len, 65536);
        if (r < 0) {
            if (errno == EINTR) continue;
            mc2_err_set(err, MC2_E_IO, "cannot read '%s': %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0) break;
        total += (size_t)r;
        out->len += (size_t)r;
        if (total > max) {
            mc2_err_set(err, MC2_E_LIMIT, "'%s' is larger than %zu bytes", path, max);
            goto fail;
        }
    }
    close(fd);
    return 0;
fail:
    close(fd);
    return -1;
}
