/* tpart.c - cluster table parts (protocol in tpart.h). */
#include "table/tpart.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/file.h"
#include "table/tfile2.h"

typedef unsigned long long ull;

void mc2_block_range(uint64_t nblocks, uint32_t self, uint32_t n, uint64_t *first, uint64_t *count)
{
    /* nblocks * self fits: nblocks < 2^57 for any file (a block takes more than 64 bytes) and
     * self < 64; __int128 keeps it exact for any input anyway. */
    unsigned __int128 a = (unsigned __int128)nblocks * self / (n ? n : 1);
    unsigned __int128 b = (unsigned __int128)nblocks * (self + 1u) / (n ? n : 1);
    if (self >= n) a = b = nblocks;
    *first = (uint64_t)a;
    *count = (uint64_t)(b - a);
}

int mc2_tpart_head_parse(const uint8_t *p, size_t n, uint64_t object_size, mc2_tpart_info *info,
                         mc2_err *err)
{
    memset(info, 0, sizeof *info);
    if (n < 4 || memcmp(p, "MC2P", 4) != 0) return 0;
    if (n < MC2_TPART_HEAD_LEN || object_size < MC2_TPART_HEAD_LEN)
        return mc2_err_set(err, MC2_E_INPUT, "table part: its head is truncated");
    mc2_rd r = mc2_rd_init(p + 4, MC2_TPART_HEAD_LEN - 4);
    uint16_t version = mc2_rd_u16(&r), flags = mc2_rd_u16(&r);
    info->is_part = true;
    info->part = mc2_rd_u32(&r);
    info->parts = mc2_rd_u32(&r);
    info->first = mc2_rd_u64(&r);
    info->count = mc2_rd_u64(&r);
    info->chunk_begin = mc2_rd_u64(&r);
    info->chunk_end = mc2_rd_u64(&r);
    info->footer_offset = mc2_rd_u64(&r);
    info->file_size = mc2_rd_u64(&r);
    uint64_t reserved = mc2_rd_u64(&r);
    if (version != 1 || flags != 0 || reserved != 0)
        return mc2_err_set(err, MC2_E_INPUT, "table part: head version %u, flags %u: not known",
                           version, flags);
    if (info->parts < 1 || info->parts > MC2_TPART_MAX || info->part >= info->parts)
        return mc2_err_set(err, MC2_E_INPUT, "table part: part %u of %u is not valid", info->part,
                           info->parts);
    if (info->chunk_begin < MC2_T2_PREFIX_LEN || info->chunk_end < info->chunk_begin ||
        info->footer_offset < info->chunk_end || info->file_size < info->footer_offset)
        return mc2_err_set(err, MC2_E_INPUT, "table part: its byte ranges are not in order");
    uint64_t body = MC2_TPART_HEAD_LEN + MC2_T2_PREFIX_LEN;
    uint64_t chunks = info->chunk_end - info->chunk_begin;
    uint64_t tail = info->file_size - info->footer_offset;
    if (chunks > UINT64_MAX - body || tail > UINT64_MAX - body - chunks ||
        body + chunks + tail != object_size)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table part: %llu bytes, but its head describes %s: truncated, or "
                           "bytes were added",
                           (ull)object_size, "another size");
    return 0;
}

/* ---- the reading wrapper ------------------------------------------------------------------ */

typedef struct part_io {
    mc2_tio inner;
    mc2_tpart_info info;
} part_io;

/* Where full-file offset off is in the part, or UINT64_MAX inside a gap. */
static uint64_t map_off(const mc2_tpart_info *i, uint64_t off)
{
    uint64_t base = MC2_TPART_HEAD_LEN;
    if (off < MC2_T2_PREFIX_LEN) return base + off;
    base += MC2_T2_PREFIX_LEN;
    if (off < i->chunk_begin) return UINT64_MAX;
    if (off < i->chunk_end) return base + (off - i->chunk_begin);
    base += i->chunk_end - i->chunk_begin;
    if (off < i->footer_offset) return UINT64_MAX;
    return base + (off - i->footer_offset);
}

/* Whether [off, off + len) touches a gap (the regions kept are in the same order in the
 * part, so a read touching none maps to one contiguous range). */
static bool in_gap(const mc2_tpart_info *i, uint64_t off, uint64_t len)
{
    uint64_t end = off + len; /* off + len <= file_size: tsrc checks reads against size */
    bool g1 = i->chunk_begin > MC2_T2_PREFIX_LEN && off < i->chunk_begin && end > MC2_T2_PREFIX_LEN;
    bool g2 = i->footer_offset > i->chunk_end && off < i->footer_offset && end > i->chunk_end;
    return len > 0 && (g1 || g2);
}

static int part_begin(void *ctx, uint64_t off, size_t len, uint8_t *dst, void **h, mc2_err *err)
{
    part_io *p = ctx;
    if (off > p->info.file_size || len > p->info.file_size - off)
        return mc2_err_set(err, MC2_E_INPUT, "table part: a read past the table's end");
    if (in_gap(&p->info, off, len))
        return mc2_err_set(err, MC2_E_AUTH,
                           "this host's part of the table (part %u of %u, blocks %llu..%llu) "
                           "does not hold bytes %llu..%llu: it is another rank's part, or the "
                           "job runs on another number of hosts than the table was placed on",
                           p->info.part + 1, p->info.parts, (ull)p->info.first,
                           (ull)(p->info.first + p->info.count), (ull)off, (ull)(off + len));
    return p->inner.begin(p->inner.ctx, len ? map_off(&p->info, off) : MC2_TPART_HEAD_LEN, len, dst,
                          h, err);
}

static int part_end(void *ctx, void *h, mc2_err *err)
{
    part_io *p = ctx;
    return p->inner.end(p->inner.ctx, h, err);
}

static void part_abandon(void *ctx, void *h)
{
    part_io *p = ctx;
    p->inner.abandon(p->inner.ctx, h);
}

/* One synchronous read through an mc2_tio. */
static int tio_read(const mc2_tio *io, uint64_t off, size_t len, uint8_t *dst, mc2_err *err)
{
    void *h = NULL;
    if (io->begin(io->ctx, off, len, dst, &h, err)) return -1;
    return io->end(io->ctx, h, err);
}

int mc2_tio_part(const mc2_tio *inner, mc2_tio *out, mc2_tpart_info *info, void **ctx, mc2_err *err)
{
    uint8_t head[MC2_TPART_HEAD_LEN];
    size_t n = inner->size < sizeof head ? (size_t)inner->size : sizeof head;
    *ctx = NULL;
    *out = *inner;
    memset(info, 0, sizeof *info);
    if (n < 4) return 0; /* not a part; the table reader says what is wrong */
    if (tio_read(inner, 0, n, head, err) || mc2_tpart_head_parse(head, n, inner->size, info, err))
        return -1;
    if (!info->is_part) return 0;
    part_io *p = mc2_calloc(1, sizeof *p);
    if (!p) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    p->inner = *inner;
    p->info = *info;
    *ctx = p;
    *out = (mc2_tio){.ctx = p,
                     .size = info->file_size,
                     .begin = part_begin,
                     .end = part_end,
                     .abandon = part_abandon};
    return 0;
}

void mc2_tio_part_free(void *ctx)
{
    mc2_free(ctx);
}

int mc2_tpart_check(const mc2_tsrc *s, const mc2_tpart_info *info, uint32_t self, uint32_t n,
                    mc2_err *err)
{
    const mc2_thdr *h = mc2_tsrc_header(s);
    if (!info->is_part) return 0;
    if (h->version != 2)
        return mc2_err_set(err, MC2_E_INPUT, "table part: only version-2 tables are placed");
    uint64_t first, count;
    mc2_block_range(h->block_count, self, n, &first, &count);
    uint64_t begin = mc2_tsrc_block_offset(s, first);
    uint64_t end = mc2_tsrc_block_offset(s, first + count);
    if (info->first != first || info->count != count || info->chunk_begin != begin ||
        info->chunk_end != end || info->footer_offset != mc2_tsrc_block_offset(s, h->block_count))
        return mc2_err_set(err, MC2_E_AUTH,
                           "this host's part of the table does not hold rank %u's blocks "
                           "%llu..%llu of %llu (it says part %u of %u, blocks %llu..%llu): the "
                           "host presents another rank's part, or the table was placed on %u "
                           "hosts and the job runs on %u",
                           self, (ull)first, (ull)(first + count), (ull)h->block_count,
                           info->part + 1, info->parts, (ull)info->first,
                           (ull)(info->first + info->count), info->parts, n);
    return 0;
}

/* ---- writing (client) --------------------------------------------------------------------- */

/* Copies bytes [off, off + len) of fd to f. */
static int copy_range(int fd, uint64_t off, uint64_t len, mc2_afile *f, uint8_t *buf, size_t cap,
                      mc2_err *err)
{
    while (len > 0) {
        size_t want = len < cap ? (size_t)len : cap;
        ssize_t r = pread(fd, buf, want, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return mc2_err_set(err, MC2_E_IO, "cannot read the table file: %s",
                               r < 0 ? strerror(errno) : "it is shorter than its footer says");
        if (mc2_afile_write(f, buf, (size_t)r, err)) return -1;
        off += (uint64_t)r;
        len -= (uint64_t)r;
    }
    return 0;
}

static void head_put(uint8_t *p, const mc2_tpart_info *i)
{
    memset(p, 0, MC2_TPART_HEAD_LEN);
    memcpy(p, "MC2P", 4);
    mc2_le16_put(p + 4, 1);
    mc2_le32_put(p + 8, i->part);
    mc2_le32_put(p + 12, i->parts);
    mc2_le64_put(p + 16, i->first);
    mc2_le64_put(p + 24, i->count);
    mc2_le64_put(p + 32, i->chunk_begin);
    mc2_le64_put(p + 40, i->chunk_end);
    mc2_le64_put(p + 48, i->footer_offset);
    mc2_le64_put(p + 56, i->file_size);
}

/* The part's head for source s of a file of `size` bytes. */
static int part_plan(const mc2_tsrc *s, uint64_t size, uint32_t self, uint32_t n, mc2_tpart_info *i,
                     mc2_err *err)
{
    const mc2_thdr *h = mc2_tsrc_header(s);
    if (h->version != 2)
        return mc2_err_set(err, MC2_E_INPUT,
                           "only version-2 tables can be placed on a cluster (re-encrypt it)");
    if (n < 1 || n > MC2_TPART_MAX || self >= n)
        return mc2_err_set(err, MC2_E_USAGE, "part %u of %u: 1 to %u parts", self, n,
                           MC2_TPART_MAX);
    *i = (mc2_tpart_info){.is_part = true, .part = self, .parts = n, .file_size = size};
    mc2_block_range(h->block_count, self, n, &i->first, &i->count);
    i->chunk_begin = mc2_tsrc_block_offset(s, i->first);
    i->chunk_end = mc2_tsrc_block_offset(s, i->first + i->count);
    i->footer_offset = mc2_tsrc_block_offset(s, h->block_count);
    return 0;
}

int mc2_tpart_write(const char *in, const uint8_t data_key[32], uint32_t self, uint32_t n,
                    const char *out, mc2_err *err)
{
    int fd = open(in, O_RDONLY | O_CLOEXEC), rc = -1;
    mc2_tsrc *s = NULL;
    mc2_afile f = {0};
    mc2_tio io;
    mc2_tpart_info i;
    uint8_t head[MC2_TPART_HEAD_LEN];
    size_t cap = 1u << 20;
    uint8_t *buf = mc2_malloc(cap);
    if (fd < 0 || !buf) {
        mc2_err_set(err, fd < 0 ? MC2_E_IO : MC2_E_NOMEM, "cannot open %s: %s", in,
                    fd < 0 ? strerror(errno) : "out of memory");
        goto out;
    }
    if (mc2_tio_fd(fd, &io, err) || mc2_tsrc_open(&io, data_key, 64u << 20, &s, err) ||
        part_plan(s, io.size, self, n, &i, err) || mc2_afile_open(&f, out, 0600, 0, err))
        goto out;
    head_put(head, &i);
    if (mc2_afile_write(&f, head, sizeof head, err) ||
        copy_range(fd, 0, MC2_T2_PREFIX_LEN, &f, buf, cap, err) ||
        copy_range(fd, i.chunk_begin, i.chunk_end - i.chunk_begin, &f, buf, cap, err) ||
        copy_range(fd, i.footer_offset, i.file_size - i.footer_offset, &f, buf, cap, err) ||
        mc2_afile_commit(&f, err))
        goto out;
    rc = 0;
out:
    if (rc) mc2_afile_abort(&f);
    mc2_tsrc_free(s);
    if (fd >= 0) close(fd);
    mc2_free(buf);
    return rc;
}

/* ---- joining the parts (client) ------------------------------------------------------------ */

/* Reads exactly n bytes at off of fd. */
static int pread_all(int fd, uint8_t *p, size_t n, uint64_t off, mc2_err *err)
{
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return mc2_err_set(err, MC2_E_INPUT, "a table part is shorter than its head says");
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* Copies [off, off + len) of in to out_fd (appending). */
static int copy_fd(int in, uint64_t off, uint64_t len, int out_fd, uint8_t *buf, size_t cap,
                   mc2_err *err)
{
    while (len > 0) {
        size_t want = len < cap ? (size_t)len : cap;
        if (pread_all(in, buf, want, off, err)) return -1;
        for (size_t done = 0; done < want;) {
            ssize_t w = write(out_fd, buf + done, want - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0)
                return mc2_err_set(err, MC2_E_IO, "cannot write the joined table: %s",
                                   strerror(errno));
            done += (size_t)w;
        }
        off += want;
        len -= want;
    }
    return 0;
}

/* Reads and checks part r's head against the parts before it (prev: part r-1's, or NULL). */
static int join_head(int fd, size_t r, size_t n, const mc2_tpart_info *prev, mc2_tpart_info *i,
                     mc2_err *err)
{
    uint8_t head[MC2_TPART_HEAD_LEN];
    struct stat st;
    if (fstat(fd, &st) != 0) return mc2_err_set(err, MC2_E_IO, "cannot stat a table part");
    if ((uint64_t)st.st_size < sizeof head || pread_all(fd, head, sizeof head, 0, err) ||
        mc2_tpart_head_parse(head, sizeof head, (uint64_t)st.st_size, i, err))
        return mc2_err_prefix(err, "part %zu of %zu: ", r + 1, n);
    bool fits = i->is_part && i->part == r && i->parts == n &&
                (prev ? i->chunk_begin == prev->chunk_end && i->file_size == prev->file_size &&
                            i->footer_offset == prev->footer_offset
                      : i->chunk_begin == MC2_T2_PREFIX_LEN) &&
                (r + 1 < n || i->chunk_end == i->footer_offset);
    if (!fits)
        return mc2_err_set(err, MC2_E_INPUT,
                           "part %zu of %zu does not fit the others (a host holds another part, "
                           "or a part of another upload)",
                           r + 1, n);
    return 0;
}

int mc2_tpart_join(const int *fds, size_t n, int out_fd, mc2_err *err)
{
    mc2_tpart_info prev, cur;
    uint8_t p0[MC2_T2_PREFIX_LEN], pr[MC2_T2_PREFIX_LEN];
    size_t cap = 1u << 20;
    uint8_t *buf = mc2_malloc(cap);
    int rc = -1;
    if (!buf) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    if (n < 1 || n > MC2_TPART_MAX) {
        mc2_err_set(err, MC2_E_USAGE, "%zu parts: 1 to %u", n, MC2_TPART_MAX);
        goto out;
    }
    for (size_t r = 0; r < n; r++) {
        if (join_head(fds[r], r, n, r ? &prev : NULL, &cur, err) ||
            pread_all(fds[r], r ? pr : p0, MC2_T2_PREFIX_LEN, MC2_TPART_HEAD_LEN, err))
            goto out;
        if (r && memcmp(pr, p0, sizeof p0) != 0) {
            mc2_err_set(err, MC2_E_INPUT, "part %zu of %zu is of another table", r + 1, n);
            goto out;
        }
        if ((r == 0 &&
             copy_fd(fds[r], MC2_TPART_HEAD_LEN, MC2_T2_PREFIX_LEN, out_fd, buf, cap, err)) ||
            copy_fd(fds[r], MC2_TPART_HEAD_LEN + MC2_T2_PREFIX_LEN, cur.chunk_end - cur.chunk_begin,
                    out_fd, buf, cap, err))
            goto out;
        prev = cur;
    }
    /* the footer and trailer, from the last part (every part carries them) */
    uint64_t tail_at = MC2_TPART_HEAD_LEN + MC2_T2_PREFIX_LEN + (cur.chunk_end - cur.chunk_begin);
    rc = copy_fd(fds[n - 1], tail_at, cur.file_size - cur.footer_offset, out_fd, buf, cap, err);
out:
    mc2_free(buf);
    return rc;
}
