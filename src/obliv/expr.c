/* expr.c - the constant-time expression evaluator (expr.h). Only the program (public)
 * steers control flow; values pass through masks. */
#include "obliv/expr.h"

#include "obliv/ct.h"

#include <stdlib.h>
#include <string.h>

#define DEC_LIMIT      1000000000000000000ull /* 10^18 */
#define ADD_MONTHS_MAX 100000000              /* |k| of OX_ADD_MONTHS (the planner: 1.44e7) */

/* ---- division ------------------------------------------------------------------------------ */

/* q = n / d, r = n % d (unsigned; d != 0; n < 2^steps, steps <= 128, public) by a fixed
 * shift-subtract loop of `steps` steps: no `div` instruction, whose latency depends on its
 * operands. */
static void ct_divmod(ct_u128 n, uint64_t d, int steps, ct_u128 *q, uint64_t *r)
{
    ct_u128 rem = 0, quo = 0;
    n <<= 128 - steps;                /* its top bit first */
    for (int i = 0; i < steps; i++) { /* rem < 2d < 2^65 throughout */
        rem = (rem << 1) | (ct_u128)(uint64_t)(n >> 127);
        n <<= 1;
        ct_u128 t = rem - d; /* top bit set iff rem < d */
        uint64_t ge = ct_mask(1 ^ (uint64_t)(t >> 127));
        rem = ((ct_u128)ct_select_u64(ge, (uint64_t)(t >> 64), (uint64_t)(rem >> 64)) << 64) |
              ct_select_u64(ge, (uint64_t)t, (uint64_t)rem);
        quo = (quo << 1) | (ge & 1);
    }
    *q = quo;
    *r = (uint64_t)rem;
}

/* |x| as an unsigned word (INT64_MIN -> 2^63) and the sign mask. */
static inline uint64_t ct_abs(uint64_t x, uint64_t *sign)
{
    uint64_t s = ct_mask(x >> 63);
    *sign = s;
    return (x ^ s) - s;
}

/* ---- the calendar ------------------------------------------------------------------------ */

/* x / d for a constant d >= 2, exact whenever x * d < 2^64: multiplies by ceil(2^64 / d), a
 * constant the compiler folds (no `div`, even at -O0). */
#define DIVC(x, d) ((uint64_t)(((ct_u128)(uint64_t)(x) * (UINT64_MAX / (d) + 1)) >> 64))

#define ERA_OFF 15000 /* eras (400 years) added so that every int32 day count is >= 0 */

/* Howard Hinnant's civil_from_days, branch-free (as mc2_civil_from_days for every DATE). */
static void ct_civil(uint64_t days, int64_t *y, uint64_t *m, uint64_t *d)
{
    uint64_t z = (uint64_t)((int64_t)(int32_t)days + 719468 + (int64_t)146097 * ERA_OFF);
    uint64_t era = DIVC(z, 146097);
    uint64_t doe = z - era * 146097; /* [0, 146096] */
    uint64_t yoe = DIVC(doe - DIVC(doe, 1460) + DIVC(doe, 36524) - DIVC(doe, 146096), 365);
    uint64_t doy = doe - (365 * yoe + DIVC(yoe, 4) - DIVC(yoe, 100)); /* [0, 365] */
    uint64_t mp = DIVC(5 * doy + 2, 153);                             /* [0, 11] */
    *d = doy - DIVC(153 * mp + 2, 5) + 1;
    uint64_t late = ~ct_lt_u64(mp, 10); /* Jan, Feb: the next civil year */
    *m = mp + 3 - (late & 12);
    *y = (int64_t)(yoe + era * 400) - (int64_t)400 * ERA_OFF + (int64_t)(late & 1);
}

/* days_from_civil for y in [-2*10^7, 2*10^7], m in 1..12, d in 1..31. */
static int64_t ct_days(int64_t y, uint64_t m, uint64_t d)
{
    uint64_t early = ct_lt_u64(m, 3);
    uint64_t yy = (uint64_t)(y - (int64_t)(early & 1) + (int64_t)400 * 60000);
    uint64_t era = DIVC(yy, 400);
    uint64_t yoe = yy - era * 400;
    uint64_t mp = m + 9 - (~early & 12); /* Mar = 0 .. Feb = 11 */
    uint64_t doy = DIVC(153 * mp + 2, 5) + d - 1;
    uint64_t doe = yoe * 365 + DIVC(yoe, 4) - DIVC(yoe, 100) + doy;
    return ((int64_t)era - 60000) * 146097 + (int64_t)doe - 719468;
}

/* DATE + months, the day clamped to the month's end (expr_eval.c's add_months); *bad: the
 * year leaves 1..9999 or the date the DATE range. */
static uint64_t ct_add_months(uint64_t date, int64_t months, uint64_t *bad)
{
    int64_t y;
    uint64_t m, d;
    ct_civil(date, &y, &m, &d);
    const int64_t yoff = 20000000; /* |y| < 6e6, |months| <= 1e8: t >= 0 */
    uint64_t t = (uint64_t)((y + yoff) * 12 + (int64_t)m - 1 + months);
    uint64_t q = DIVC(t, 12);
    int64_t ny = (int64_t)q - yoff;
    uint64_t nm = t - q * 12 + 1;
    /* month lengths - 28, two bits per month, January at bits 2..3: a shift by a secret
     * count (constant time), never a table indexed by the month */
    uint64_t lim = 28 + ((0x3BBEECCull >> (2 * nm)) & 3);
    uint64_t yl = (uint64_t)(ny + (int64_t)400 * 100000);
    uint64_t leap = (ct_eq_u64(yl & 3, 0) & ~ct_eq_u64(yl - DIVC(yl, 100) * 100, 0)) |
                    ct_eq_u64(yl - DIVC(yl, 400) * 400, 0);
    lim += leap & ct_eq_u64(nm, 2) & 1;
    d = ct_select_u64(ct_lt_u64(lim, d), lim, d);
    int64_t r = ct_days(ny, nm, d);
    *bad = ct_lt_i64(ny, 1) | ct_lt_i64(9999, ny) | ct_lt_i64(r, -719162) | ct_lt_i64(2932896, r);
    return (uint64_t)r;
}

/* ---- strings ------------------------------------------------------------------------------- */

/* Compares a (secret length la, cap_a padded bytes) with b (length lb, cap_b bytes): memcmp
 * on the common prefix, then the shorter first. *lt, *eq: masks. Reads every byte slot. */
static void ct_strcmp(const unsigned char *a, size_t cap_a, uint64_t la, const unsigned char *b,
                      size_t cap_b, uint64_t lb, uint64_t *lt, uint64_t *eq)
{
    size_t n = cap_a > cap_b ? cap_a : cap_b;
    uint64_t l = 0, e = ~(uint64_t)0; /* "greater" is neither less nor equal */
    for (size_t i = 0; i < n; i++) {  /* public: the padded sizes */
        uint64_t ca = i < cap_a ? a[i] : 0, cb = i < cap_b ? b[i] : 0;
        uint64_t ii = ct_barrier(i);
        uint64_t act = ct_lt_u64(ii, la) & ct_lt_u64(ii, lb);
        l |= e & act & ct_lt_u64(ca, cb);
        e &= ~act | ct_eq_u64(ca, cb);
    }
    l |= e & ct_lt_u64(la, lb);
    *lt = ct_barrier(l);
    *eq = ct_barrier(e & ct_eq_u64(la, lb));
}

/* ---- DOUBLE -------------------------------------------------------------------------------- */

/* ~0 if the bits are an infinity or a NaN. */
static inline uint64_t ct_nonfinite(uint64_t b)
{
    return ct_eq_u64((b >> 52) & 0x7ff, 0x7ff);
}

static int stack_effect(enum obliv_xop op, int *pop, int *push)
{
    *push = 1;
    switch (op) {
    case OX_COL:
    case OX_CONST:
    case OX_STR_EQ:
    case OX_LIKE:
    case OX_STR_CMP:
        *pop = 0;
        return 0;
    case OX_I2F:
    case OX_F2ORD:
    case OX_YEAR:
    case OX_MONTH:
    case OX_DAY:
    case OX_ADD_MONTHS:
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
    case OX_DIV:
    case OX_MOD:
    case OX_FADD:
    case OX_FSUB:
    case OX_FMUL:
    case OX_FDIV:
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
        if (x->op == OX_COL || x->op == OX_STR_EQ || x->op == OX_LIKE || x->op == OX_STR_CMP) {
            if (x->col >= lay->ncols)
                return mc2_err_set(err, MC2_E_USAGE, "oblivious expression: column %u", x->col);
            int isvc = lay->col[x->col].type.id == MC2_T_VARCHAR;
            if ((x->op == OX_COL) == isvc)
                return mc2_err_set(err, MC2_E_USAGE,
                                   "oblivious expression: column %u has the wrong type", x->col);
            if (x->op == OX_STR_EQ && (size_t)x->len > 8 * (lay->col[x->col].nwords - 1))
                return mc2_err_set(err, MC2_E_USAGE, "oblivious expression: string too long");
        }
        if (x->op == OX_STR_CMP) {
            if (x->k < 1 || x->k > 6)
                return mc2_err_set(err, MC2_E_USAGE,
                                   "oblivious expression: bad comparison %lld at %zu",
                                   (long long)x->k, i);
            if (!x->str && (x->col2 >= lay->ncols || lay->col[x->col2].type.id != MC2_T_VARCHAR))
                return mc2_err_set(err, MC2_E_USAGE,
                                   "oblivious expression: column %u is not a VARCHAR column",
                                   x->col2);
        }
        if (x->op == OX_LIKE && !x->like)
            return mc2_err_set(err, MC2_E_USAGE, "oblivious expression: LIKE without a pattern");
        if (x->op == OX_DIV && x->k <= 0)
            return mc2_err_set(err, MC2_E_USAGE, "oblivious expression: division scale %lld",
                               (long long)x->k);
        if (x->op == OX_I2F && (x->k < 0 || x->k > 18))
            return mc2_err_set(err, MC2_E_USAGE, "oblivious expression: DECIMAL scale %lld",
                               (long long)x->k);
        if (x->op == OX_ADD_MONTHS && (x->k < -ADD_MONTHS_MAX || x->k > ADD_MONTHS_MAX))
            return mc2_err_set(err, MC2_E_LIMIT, "oblivious expression: INTERVAL of %lld months",
                               (long long)x->k);
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

static int is_unary(enum obliv_xop op)
{
    switch (op) {
    case OX_NOT:
    case OX_ISNULL:
    case OX_NEG:
    case OX_CHECK_DEC:
    case OX_I2F:
    case OX_F2ORD:
    case OX_YEAR:
    case OX_MONTH:
    case OX_DAY:
    case OX_ADD_MONTHS:
        return 1;
    default:
        return 0;
    }
}

/* The padded bytes of VARCHAR column c in row, and their count. */
static inline const unsigned char *str_bytes(const struct obliv_col *c, const uint64_t *row,
                                             size_t *cap)
{
    *cap = 8 * (c->nwords - 1);
    return (const unsigned char *)(row + c->word + 1);
}

/* The result of comparison op (1..6: EQ NE LT LE GT GE) from the masks lt, eq. */
static uint64_t cmp_result(int64_t op, uint64_t lt, uint64_t eq)
{
    switch (op) { /* public: the program */
    case 1:
        return eq & 1;
    case 2:
        return ~eq & 1;
    case 3:
        return lt & 1;
    case 4:
        return (lt | eq) & 1;
    case 5:
        return ~(lt | eq) & 1;
    default:
        return ~lt & 1;
    }
}

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
        case OX_LIKE: {
            const struct obliv_col *c = &lay->col[x->col];
            size_t cap;
            const unsigned char *p = str_bytes(c, row, &cap);
            uint64_t m = obliv_like_match(x->like, p, cap, row[c->word]);
            nl[sp] = (row[OBLIV_W_NULLS] >> x->col) & 1;
            v[sp] = (m ^ (x->k != 0)) & ~ct_mask(nl[sp]);
            sp++;
            continue;
        }
        case OX_STR_CMP: {
            const struct obliv_col *c = &lay->col[x->col];
            size_t cap_a, cap_b;
            const unsigned char *pa = str_bytes(c, row, &cap_a), *pb;
            uint64_t lb, nb2;
            if (x->str) { /* public: the program */
                pb = (const unsigned char *)x->str;
                cap_b = x->len;
                lb = x->len;
                nb2 = 0;
            } else {
                const struct obliv_col *c2 = &lay->col[x->col2];
                pb = str_bytes(c2, row, &cap_b);
                lb = row[c2->word];
                nb2 = (row[OBLIV_W_NULLS] >> x->col2) & 1;
            }
            uint64_t lt, eq;
            ct_strcmp(pa, cap_a, row[c->word], pb, cap_b, lb, &lt, &eq);
            nl[sp] = ((row[OBLIV_W_NULLS] >> x->col) & 1) | nb2;
            v[sp] = cmp_result(x->k, lt, eq) & ~ct_mask(nl[sp]);
            sp++;
            continue;
        }
        default:
            break;
        }
        if (is_unary(x->op)) {
            a = v[sp - 1], na = nl[sp - 1];
            uint64_t r = a, rn = na, live = ~ct_mask(na);
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
                ovf |= ct_eq_u64(a, (uint64_t)1 << 63) & live;
                break;
            case OX_CHECK_DEC: {
                uint64_t s, abs = ct_abs(a, &s);
                ovf |= ~ct_lt_u64(abs, DEC_LIMIT) & live;
                break;
            }
            case OX_I2F: {
                int64_t p = 1; /* public: as expr_eval.c, (double)v / (double)10^k */
                for (int64_t j = 0; j < x->k; j++) p *= 10;
                r = mc2_f64_bits((double)(int64_t)a / (double)p);
                break;
            }
            case OX_F2ORD: { /* sign-magnitude to two's complement; -0.0 -> 0 */
                uint64_t s = ct_mask(a >> 63), mag = a & ~((uint64_t)1 << 63);
                r = (mag ^ s) - s;
                break;
            }
            case OX_YEAR:
            case OX_MONTH:
            case OX_DAY: {
                int64_t y;
                uint64_t m, d;
                ct_civil(a, &y, &m, &d);
                r = x->op == OX_YEAR ? (uint64_t)y : x->op == OX_MONTH ? m : d; /* public op */
                break;
            }
            default: { /* OX_ADD_MONTHS */
                uint64_t bad;
                r = ct_add_months(a, x->k, &bad);
                ovf |= bad & live;
                break;
            }
            }
            v[sp - 1] = r & ~ct_mask(rn), nl[sp - 1] = rn;
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
        case OX_MUL: {
            __extension__ __int128 p = (__int128)(int64_t)a * (__int128)(int64_t)b;
            r = (uint64_t)p;
            uint64_t hi = (uint64_t)((unsigned __int128)p >> 64);
            ovf |= ct_nonzero(hi ^ (uint64_t)((int64_t)r >> 63)) & ~anynull;
            break;
        }
        case OX_DIV:
        case OX_MOD: {
            uint64_t sa, sb, ua = ct_abs(a, &sa), ub = ct_abs(b, &sb);
            uint64_t bz = ct_eq_u64(b, 0);
            uint64_t dv = ub | (bz & 1); /* never 0; the row is NULL then */
            ct_u128 q;
            uint64_t rem;
            if (x->op == OX_MOD) { /* public: the program */
                ct_divmod(ua, dv, 64, &q, &rem);
                r = (rem ^ sa) - sa; /* the sign of a */
            } else {
                ct_divmod((ct_u128)ua * (uint64_t)x->k, dv, 128, &q, &rem);
                ct_u128 t = ((ct_u128)rem << 1) - dv; /* 2 rem >= d: round away from zero */
                q += 1 ^ (uint64_t)(t >> 127);
                uint64_t neg = sa ^ sb, hi = (uint64_t)(q >> 64), lo = (uint64_t)q;
                uint64_t fits = ct_eq_u64(hi, 0) & (ct_lt_u64(lo, (uint64_t)1 << 63) |
                                                    (neg & ct_eq_u64(lo, (uint64_t)1 << 63)));
                r = (lo ^ neg) - neg;
                ovf |= ~fits & ~anynull & ~bz;
            }
            rn |= bz & 1;
            break;
        }
        case OX_FADD:
        case OX_FSUB:
        case OX_FMUL:
        case OX_FDIV: {
            double fa = mc2_f64_of(a), fb = mc2_f64_of(b), fr;
            uint64_t bz = 0;
            switch (x->op) { /* public: the program */
            case OX_FADD:
                fr = fa + fb;
                break;
            case OX_FSUB:
                fr = fa - fb;
                break;
            case OX_FMUL:
                fr = fa * fb;
                break;
            default:
                bz = ct_eq_u64(b << 1, 0); /* +-0.0 */
                fr = fa / mc2_f64_of(ct_select_u64(bz, mc2_f64_bits(1.0), b));
                break;
            }
            r = mc2_f64_bits(fr);
            rn |= bz & 1;
            ovf |= ct_nonfinite(r) & ~ct_mask(rn);
            break;
        }
        default:
            abort(); /* obliv_expr_check let an opcode through that eval does not know */
        }
        v[sp - 1] = r & ~ct_mask(rn), nl[sp - 1] = rn;
    }
    *val = v[0] & ~ct_mask(nl[0]);
    *isnull = nl[0];
    *overflow |= ovf & 1;
}
