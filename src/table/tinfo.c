/* tinfo.c - a table file's cleartext (see tinfo.h). */
#include "table/tinfo.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/bytes.h"
#include "table/tfile2.h"
#include "table/tpart.h"

/* Reads exactly n bytes at off. */
static int read_at(int fd, uint8_t *p, size_t n, uint64_t off, mc2_err *err)
{
    ssize_t r;
    do r = pread(fd, p, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    if (r < 0) return mc2_err_set(err, MC2_E_IO, "cannot read the table file: %s", strerror(errno));
    if ((size_t)r != n) return mc2_err_set(err, MC2_E_INPUT, "the table file is truncated");
    return 0;
}

int mc2_tinfo_read(int fd, uint64_t size, mc2_tinfo *out, mc2_err *err)
{
    uint8_t pre[MC2_TFILE_PREFIX_LEN], tr[MC2_T2_TRAILER_LEN];
    memset(out, 0, sizeof *out);
    if (size < MC2_TFILE_PREFIX_LEN + MC2_T2_TRAILER_LEN)
        return mc2_err_set(err, MC2_E_INPUT, "not a table file: %llu bytes is too short",
                           (unsigned long long)size);
    if (read_at(fd, pre, sizeof pre, 0, err)) return -1;
    uint64_t at = 0; /* where the table's prefix is: after a cluster part's head */
    if (memcmp(pre, "MC2P", 4) == 0) {
        uint8_t head[MC2_TPART_HEAD_LEN];
        mc2_tpart_info pi;
        if (size < sizeof head + MC2_T2_PREFIX_LEN + MC2_T2_TRAILER_LEN ||
            read_at(fd, head, sizeof head, 0, err) ||
            mc2_tpart_head_parse(head, sizeof head, size, &pi, err) ||
            read_at(fd, pre, sizeof pre, MC2_TPART_HEAD_LEN, err))
            return mc2_err_set(err, MC2_E_INPUT, "not a table file (a malformed cluster part)");
        out->part = pi.part;
        out->parts = pi.parts;
        at = MC2_TPART_HEAD_LEN;
    }
    if (memcmp(pre, "MC2T", 4) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "not a table file (no MC2T magic)");
    out->format = mc2_le16_get(pre + 4);
    memcpy(out->table_id, pre + 8, MC2_TABLE_ID_LEN);
    if (out->format == 1 && at == 0) {
        out->rows = mc2_le64_get(pre + 24);
        out->blocks = mc2_le64_get(pre + 32);
        return 0;
    }
    if (out->format != 2)
        return mc2_err_set(err, MC2_E_INPUT, "table file format %u is not known (1 or 2)",
                           out->format);
    out->table_version = mc2_le64_get(pre + 24);
    if (read_at(fd, tr, sizeof tr, size - MC2_T2_TRAILER_LEN, err)) return -1;
    if (memcmp(tr + 28, "MC2E", 4) != 0)
        return mc2_err_set(err, MC2_E_INPUT,
                           "the table file does not end with its trailer: truncated, or bytes "
                           "were appended");
    out->rows = mc2_le64_get(tr);
    out->blocks = mc2_le64_get(tr + 8);
    return 0;
}
