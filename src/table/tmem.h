/* tmem.h - sealing a batch that is already in memory into a whole encrypted table in memory
 * (results produced inside the enclave), in format version 2 (tfile2.h). */
#ifndef MC2_TABLE_TMEM_H
#define MC2_TABLE_TMEM_H

#include "base/buf.h"
#include "mc2/table.h"

/* Encrypts the rows of b (all of them, in blocks of 65536 rows; no rows: a table of no
 * blocks) under data_key as a new table with a fresh table id and table version 0; appends
 * the .mc2t bytes to out. */
int mc2_table_seal_batch(const mc2_batch *b, const uint8_t data_key[MC2_KEY_LEN], mc2_buf *out,
                         mc2_err *err) MC2_WUR;

#endif
