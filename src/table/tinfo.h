/* tinfo.h - what a table file's plaintext says about it, read without its key: the format
 * version, table id, table version and row and block counts (format 1 keeps the counts in
 * its 48-byte prefix and has no table version; format 2 keeps the table version in its
 * prefix and the counts in its 32-byte trailer, table/tfile2.h). Nothing of it is
 * authenticated: the enclave and the owner's client check all of it when they open the
 * table with the key. A cluster part (table/tpart.h) is read past its head. mc2d lists the tables
 * it stores with it (HAPI_LIST). */
#ifndef MC2_TABLE_TINFO_H
#define MC2_TABLE_TINFO_H

#include <stdint.h>

#include "mc2/err.h"
#include "mc2/table.h"

typedef struct mc2_tinfo {
    uint16_t format; /* 1 or 2 */
    uint8_t table_id[MC2_TABLE_ID_LEN];
    uint64_t table_version; /* 0 in format 1 */
    uint64_t rows, blocks;  /* a cluster part: the whole table's */
    uint32_t part, parts;   /* a cluster part (table/tpart.h): part `part` of `parts`; else 0 */
} mc2_tinfo;

/* Reads the cleartext of the table file open at fd, `size` bytes long (pread: fd's offset is
 * not used). MC2_E_INPUT if it is not a table file (too short, wrong magic or format
 * version, format 2 without its trailer); MC2_E_IO if it cannot be read. */
int mc2_tinfo_read(int fd, uint64_t size, mc2_tinfo *out, mc2_err *err) MC2_WUR;

#endif
