/* expr.c - the constant-time expression evaluator (expr.h). Only the program (public)
 * steers control flow; values pass through masks. */
#include "obliv/expr.h"

#include "obliv/ct.h"

#include <string.h>

static int stack_effect(enum obliv_xop op, int *pop, int *push)
{
    *push = 1;
    switch (op) {
    case OX_COL:
    case OX_CONST:
    case OX_STR_EQ:
        *pop = 0;
        return 0;
    case OX_NOT:
    case OX_ISNULL:
    case OX_NEG:
    case OX_CHECK_DEC:
        *pop = 1;
        return 0;
    case OX_CASE:
        *pop = 3;
        return 0;
    case OX_EQ:
    case OX_NE:
    case OX_LT:
    case OX_LE:
    case OX_GT:
    case OX_GE:
    case OX_AND:
    case OX_OR:
    case OX_ADD:
    case OX_SUB:
    case OX_MUL:
        *pop = 2;
        return 0;
    }
    return -1;
}

int obliv_expr_check(const struct obliv_expr *e, const struct obliv_layout *lay, mc2_err *err)
{
    int depth = 0;
    for (size_t i = 0; i < e->n; i++) {
        const struct obliv_xins *x = &e->ins[i];
        int pop, push;
        if (stack_effect(x->op, &pop, &push))
            return mc2_err_set(err, MC2_E_USAGE, "oblivious expression: bad opcode at %zu", i);
        if (x->op == OX_COL || x->op == OX_STR_EQ) {
            if (x->col >= lay->ncols)
                return mc2_err_set(err, MC2_E_USAGE, "oblivious expression: column %u", x->col);
            int isvc = lay->col[x->col].type.id == MC2_T_VARCHAR;
            if ((x->op == OX_COL && isvc) || (x->op == OX_STR_EQ && !isvc))
                return mc2_err_set(err, MC2_E_USAGE,
                                   "oblivious expression: column %u has the wrong type", x->col);
            if (x->op == OX_COL && lay->col[x->col].type.id == MC2_T_DOUBLE)
                return mc2_err_set(err, MC2_E_USAGE,
                                   "oblivious expression: DOUBLE arithmetic is not supported");
            if (x->op == OX_STR_EQ && (size_t)x->len > 8 * (lay->col[x->col].nwords - 1))
                return mc2_err_set(err, MC2_E_USAGE, "oblivious expression: string too long");
        }
        if (depth < pop)
            return mc2_err_set(err, MC2_E_USAGE, "oblivious expression: stack underflow at %zu", i);
        depth += push - pop;
        if (depth > OBLIV_EXPR_STACK)
            return mc2_err_set(err, MC2_E_LIMIT, "oblivious expression: too deep");
    }
    if (depth != 1)
        return mc2_err_set(err, MC2_E_USAGE, "oblivious expression: %d results, not 1", depth);
    return 0;
}

#define DEC_LIMIT 1000000000000000000ull /* 10^18 */

void obliv_expr_eval(const struct obliv_expr *e, const struct obliv_layout *lay,
                     const uint64_t *row, uint64_t *val, uint64_t *isnull, uint64_t *overflow)
{
    uint64_t v[OBLIV_EXPR_STACK], nl[OBLIV_EXPR_STACK], ovf = 0;
    size_t sp = 0; /* depends on the program only */
    for (size_t i = 0; i < e->n; i++) {
        const struct obliv_xins *x = &e->ins[i];
        uint64_t a = 0, b = 0, na = 0, nb = 0;
        switch (x->op) { /* public: the program */
        case OX_COL: {
            const struct obliv_col *c = &lay->col[x->col];
            v[sp] = row[c->word];
            nl[sp] = (row[OBLIV_W_NULLS] >> x->col) & 1;
            sp++;
            continue;
        }
        case OX_CONST:
            v[sp] = (uint64_t)x->k;
            nl[sp] = x->isnull ? 1 : 0;
            sp++;
            continue;
        case OX_STR_EQ: {
            const struct obliv_col *c = &lay->col[x->col];
            uint64_t eq = ct_eq_u64(row[c->word], x->len);
            for (size_t w = 0; w + 1 < c->nwords; w++) {
                uint64_t k = 0;
                size_t at = 8 * w;
                if (at < x->len) /* public: the constant's length */
                    memcpy(&k, x->str + at, x->len - at < 8 ? x->len - at : 8);
                eq &= ct_eq_u64(row[c->word + 1 + w], k);
            }
            v[sp] = eq & 1;
            nl[sp] = (row[OBLIV_W_NULLS] >> x->col) & 1;
            sp++;
            continue;
        }
        default:
            break;
        }
        if (x->op == OX_NOT || x->op == OX_ISNULL || x->op == OX_NEG || x->op == OX_CHECK_DEC) {
            a = v[sp - 1], na = nl[sp - 1];
            uint64_t r = a, rn = na;
            switch (x->op) {
            case OX_NOT:
                r = 1 & ~ct_nonzero(a);
                break;
            case OX_ISNULL:
                r = x->k ? 1 ^ na : na;
                rn = 0;
                break;
            case OX_NEG:
                r = (uint64_t)0 - a;
                ovf |= ct_eq_u64(a, (uint64_t)1 << 63) & ~ct_mask(na);
                break;
            default: { /* OX_CHECK_DEC */
                uint64_t s = ct_mask(a >> 63), abs = (a ^ s) - s;
                ovf |= ~ct_lt_u64(abs, DEC_LIMIT) & ~ct_mask(na);
                break;
            }
            }
            v[sp - 1] = r, nl[sp - 1] = rn;
            continue;
        }
        if (x->op == OX_CASE) {
            uint64_t c = v[sp - 3], nc = nl[sp - 3];
            uint64_t take = ct_nonzero(c) & ~ct_mask(nc);
            v[sp - 3] = ct_select_u64(take, v[sp - 2], v[sp - 1]);
            nl[sp - 3] = ct_select_u64(take, nl[sp - 2], nl[sp - 1]);
            sp -= 2;
            continue;
        }
        a = v[sp - 2], na = nl[sp - 2], b = v[sp - 1], nb = nl[sp - 1];
        sp--;
        uint64_t r = 0, rn = na | nb, anynull = ct_mask(rn);
        switch (x->op) {
        case OX_EQ:
            r = ct_eq_u64(a, b) & 1;
            break;
        case OX_NE:
            r = ~ct_eq_u64(a, b) & 1;
            break;
        case OX_LT:
            r = ct_lt_i64((int64_t)a, (int64_t)b) & 1;
            break;
        case OX_LE:
            r = ~ct_lt_i64((int64_t)b, (int64_t)a) & 1;
            break;
        case OX_GT:
            r = ct_lt_i64((int64_t)b, (int64_t)a) & 1;
            break;
        case OX_GE:
            r = ~ct_lt_i64((int64_t)a, (int64_t)b) & 1;
            break;
        case OX_AND: {
            uint64_t fa = ~ct_mask(na) & ~ct_nonzero(a), fb = ~ct_mask(nb) & ~ct_nonzero(b);
            uint64_t f = fa | fb;
            rn = ~f & anynull & 1;
            r = ~f & ~anynull & 1;
            break;
        }
        case OX_OR: {
            uint64_t ta = ~ct_mask(na) & ct_nonzero(a), tb = ~ct_mask(nb) & ct_nonzero(b);
            uint64_t t = ta | tb;
            rn = ~t & anynull & 1;
            r = t & 1;
            break;
        }
        case OX_ADD:
            r = a + b;
            ovf |= ct_mask(((a ^ r) & (b ^ r)) >> 63) & ~anynull;
            break;
        case OX_SUB:
            r = a - b;
            ovf |= ct_mask(((a ^ b) & (a ^ r)) >> 63) & ~anynull;
            break;
        default: { /* OX_MUL */
            __extension__ __int128 p = (__int128)(int64_t)a * (__int128)(int64_t)b;
            r = (uint64_t)p;
            uint64_t hi = (uint64_t)((unsigned __int128)p >> 64);
            ovf |= ct_nonzero(hi ^ (uint64_t)((int64_t)r >> 63)) & ~anynull;
            break;
        }
        }
        v[sp - 1] = r & ~ct_mask(rn), nl[sp - 1] = rn;
    }
    *val = v[0] & ~ct_mask(nl[0]);
    *isnull = nl[0];
    *overflow |= ovf & 1;
}
