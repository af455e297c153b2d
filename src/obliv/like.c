/* like.c - LIKE for oblivious mode (expr.h, OX_LIKE): the pattern (public) is compiled into a
 * bit-parallel NFA that is stepped over every byte slot of the padded VARCHAR column, so the
 * work depends on the column's declared length, never on the string.
 *
 * States 0..m (m = literal bytes and `_` positions, at most 63): bit i set = "positions
 * [0, i) matched". On a byte c:
 *   literal i:  i -> i+1 if c == pat[i] (bit-sliced: AND over the 8 bits of c of the masks of
 *               positions whose literal has that bit set / clear; no table indexed by c)
 *   `_` at i:   i -> i+1 on a byte that starts a code point (not 10xxxxxx); state i+1 then
 *               also absorbs continuation bytes, so `_` consumes one whole code point
 *   `%`:        a self-loop on the state where it stands (any byte)
 * The string matches if bit m is set after its last byte. For valid UTF-8 subjects and
 * patterns (both are checked where they enter: block decoding, mc2_px_like) this accepts
 * exactly what src/sql/expr_eval.c's like_one accepts: its `_` skips one code point, its `%`
 * lets the next segment start at any code point boundary, and a valid pattern's literals
 * and `_` can only match starting at a boundary. */
#include "base/alloc.h"
#include "obliv/ct.h"
#include "obliv/expr.h"

struct obliv_like {
    uint64_t one[8], zero[8]; /* bit i: literal i has bit b of its byte set / clear */
    uint64_t lit, wild;       /* positions that are literals / `_` */
    uint64_t loop;            /* states with a `%` self-loop */
    uint64_t cont;            /* states just after a `_` (absorb continuation bytes) */
    unsigned m;               /* positions; the accepting state */
};

int obliv_like_compile(const char *pat, size_t n, int escape, struct obliv_like **out, mc2_err *err)
{
    *out = NULL;
    struct obliv_like lk = {0};
    const unsigned char *s = (const unsigned char *)pat;
    unsigned m = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        int esc = escape >= 0 && c == (unsigned)escape;
        if (c == '%' && !esc) { /* the same order of tests as expr_eval.c's compile_like */
            lk.loop |= (uint64_t)1 << m;
            continue;
        }
        if (m >= OBLIV_LIKE_MAX)
            return mc2_err_set(err, MC2_E_LIMIT,
                               "LIKE pattern too long for oblivious mode (more than %d "
                               "characters other than %%)",
                               OBLIV_LIKE_MAX);
        uint64_t bit = (uint64_t)1 << m;
        if (esc) {
            if (++i >= n)
                return mc2_err_set(err, MC2_E_USAGE, "LIKE pattern ends with the escape character");
            c = s[i];
        } else if (c == '_') {
            lk.wild |= bit;
            lk.cont |= bit << 1;
            m++;
            continue;
        }
        lk.lit |= bit;
        for (unsigned b = 0; b < 8; b++) {
            if ((c >> b) & 1)
                lk.one[b] |= bit;
            else
                lk.zero[b] |= bit;
        }
        m++;
    }
    lk.m = m;
    struct obliv_like *p = mc2_malloc(sizeof *p);
    if (!p) return mc2_err_set(err, MC2_E_NOMEM, "out of memory compiling a LIKE pattern");
    *p = lk;
    *out = p;
    return 0;
}

void obliv_like_free(struct obliv_like *lk)
{
    if (lk) mc2_free_wipe(lk, sizeof *lk);
}

uint64_t obliv_like_match(const struct obliv_like *lk, const unsigned char *s, size_t cap,
                          uint64_t len)
{
    uint64_t st = 1;
    for (size_t i = 0; i < cap; i++) { /* public: the padded size */
        uint64_t c = s[i];
        uint64_t eq = lk->lit;
        for (unsigned b = 0; b < 8; b++)
            eq &= ct_select_u64(ct_mask((c >> b) & 1), lk->one[b], lk->zero[b]);
        uint64_t iscont = ct_eq_u64(c & 0xC0, 0x80);
        uint64_t adv = eq | (lk->wild & ~iscont);
        uint64_t next = ((st & adv) << 1) | (st & lk->loop) | (st & lk->cont & iscont);
        st = ct_select_u64(ct_lt_u64(ct_barrier(i), len), next, st);
    }
    return (st >> lk->m) & 1;
}
