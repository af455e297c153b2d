/* fuzz_gc_tables.c - libFuzzer target: garbled tables from a peer (mpc_gc_tables_parse) for a
 * fixed public circuit (4-bit signed less-than: 4 AND gates, 1 output), then evaluation and
 * decoding with input labels taken from the rest of the bytes. Input: tables
 * (mpc_gc_tables_size bytes) then 8 labels of 16 bytes; any other length is only parsed (and
 * must be refused). What parses must write back to the same bytes; decoding either gives a
 * bit or MC2_E_AUTH, and nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "mpc/gc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const mpc_circuit *circuit(void)
{
    static mpc_circuit *c; /* built once per process; never freed (libFuzzer exits) */
    mc2_err err;
    if (!c && !(c = mpc_gc_circuit_lt(4, &err))) abort();
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const mpc_circuit *c = circuit();
    size_t tsz = mpc_gc_tables_size(c), nin = (size_t)c->n_g + c->n_e;
    mpc_gc_tables *t = NULL;
    mc2_err err;
    if (size != tsz + 16 * nin) {
        if (mpc_gc_tables_parse(c, data, size, &t, &err) == 0 && size != tsz) abort();
        mpc_gc_tables_free(t);
        return 0;
    }
    if (mpc_gc_tables_parse(c, data, tsz, &t, &err) != 0) return 0;
    uint8_t back[512];
    if (tsz > sizeof back) abort();
    mpc_gc_tables_write(t, back);
    if (memcmp(back, data, tsz) != 0) abort(); /* what parses writes back the same */
    mpc_block in[8], out[1];
    if (nin > 8 || c->nout != 1) abort();
    uint8_t bit = 2;
    for (size_t i = 0; i < nin; i++)
        in[i] =
            (mpc_block){mc2_le64_get(data + tsz + 16 * i), mc2_le64_get(data + tsz + 16 * i + 8)};
    if (mpc_gc_eval(c, t, in, out, &err) != 0) abort(); /* the counts were checked by the parser */
    int rc = mpc_gc_decode(t, out, &bit, &err);
    if ((rc == 0 && bit > 1) || (rc != 0 && err.code != MC2_E_AUTH)) abort();
    mpc_gc_tables_free(t);
    return 0;
}
