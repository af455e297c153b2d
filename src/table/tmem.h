/* tmem.h - sealing a batch that is already in memory into a whole encrypted table in memory
 * (results produced inside the enclave). The format is the one of tfile.c. */
#ifndef MC2_TABLE_TMEM_H
#define MC2_TABLE_TMEM_H

#include "base/buf.h"
#include "mc2/table.h"

/* Encrypts the rows of b (all of them, one block per rows_per_block rows; 0 picks the
 * whole batch as one block) under data_key as a new table with a fresh table id; appends
 * the .mc2t bytes to out. */
int mc2_table_seal_batch(const mc2_batch *b, const uint8_t data_key[MC2_KEY_LEN], mc2_buf *out,
                         mc2_err *err) MC2_WUR;

#endif
