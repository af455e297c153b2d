/* rows.c - the rows of the eight TPC-H tables (clause 4.2.3) as .tbl text. Each row (each
 * order with its lines) draws from its own random stream, so any range of rows can be
 * written on any thread with the same result. */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "tpch/internal.h"

/* Clause 4.2.2.12 and 4.2.3: STARTDATE 1992-01-01 is day 0, ENDDATE 1998-12-31 day 2556,
 * CURRENTDATE 1995-06-17 day 1263. Orders are placed up to ENDDATE - 151 days. */
#define DAY_CURRENT   1263
#define DAY_ORDER_MAX (TPCH_NDAYS - 1 - 151)
#define DAY_1993      366 /* 1993-01-01 */
#define DAY_1994      731 /* 1994-01-01 */

/* Row text bounds used to reserve room (generous: the longest row is well below these). */
#define ROW_MAX  512
#define LINE_MAX 256

/* ---- dates -------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

static uint64_t scaled(double sf, double base)
{
    long long v = llround(sf * base);
    return v < 1 ? 1 : (uint64_t)v;
}

void mc2_tpch_counts(double sf, uint64_t counts[MC2_TPCH_NTABLES])
{
    counts[MC2_TPCH_REGION] = TPCH_NREGIONS;
    counts[MC2_TPCH_NATION] = TPCH_NNATIONS;
    counts[MC2_TPCH_SUPPLIER] = scaled(sf, 10000);
    counts[MC2_TPCH_CUSTOMER] = scaled(sf, 150000);
    counts[MC2_TPCH_PART] = scaled(sf, 200000);
    counts[MC2_TPCH_PARTSUPP] = 4 * counts[MC2_TPCH_PART];
    counts[MC2_TPCH_ORDERS] = scaled(sf, 1500000);
    counts[MC2_TPCH_LINEITEM] = 0;
}

static void part_suppliers(const tpch_ctx *c, uint64_t pk, uint64_t out[4]);

/* k distinct values in [0, n) (n >= k) drawn from r. */
static void distinct(tpch_rng *r, uint64_t n, uint64_t *out, int k)
{
    for (int i = 0; i < k; i++) {
        int dup;
        do {
            out[i] = (uint64_t)tpch_uniform(r, 0, (int64_t)n - 1);
            dup = 0;
            for (int j = 0; j < i; j++) dup |= out[j] == out[i];
        } while (dup);
    }
}

/* Chooses the planted orders, parts and suppliers (seed-dependent). */
static void plant(tpch_ctx *c)
{
    tpch_rng r;
    tpch_seed(&r, c->seed, 101, 0);
    distinct(&r, c->n[MC2_TPCH_ORDERS], c->plant_order, TPCH_NPLANTS);
    uint64_t parts[6];
    distinct(&r, c->n[MC2_TPCH_PART], parts, 6);
    c->p17 = parts[0] + 1;
    c->p19a = parts[1] + 1;
    c->p19c = parts[2] + 1;
    c->p20 = parts[3] + 1;
    c->p21a = parts[4] + 1;
    c->p21b = parts[5] + 1;
    uint64_t s[4];
    part_suppliers(c, c->p21a, s);
    c->s21 = s[0];
    part_suppliers(c, c->p21b, s);
    c->s21b = s[0] != c->s21 ? s[0] : s[1];
    part_suppliers(c, c->p20, s);
    c->s20 = s[0] != c->s21 ? s[0] : s[1];
    for (uint32_t i = 0; i < tpch_colors.n; i++)
        if (strcmp(tpch_colors.w[i].s, "forest") == 0) c->forest = i;
}

void tpch_ctx_init(tpch_ctx *c, double sf, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->seed = seed;
    mc2_tpch_counts(sf, c->n);
    c->n_clerks = scaled(sf, 1000);
    plant(c);
    /* SF * 5 suppliers with "Customer ... Complaints" and as many with "... Recommends", at
     * least one of each: one of each per block of bbb_block suppliers. */
    uint64_t ns = c->n[MC2_TPCH_SUPPLIER];
    c->bbb_n = ns / 2000 ? ns / 2000 : 1;
    c->bbb_block = ns / c->bbb_n;
    int64_t d0 = days_from_civil(1992, 1, 1);
    for (int i = 0; i < TPCH_NDAYS; i++) {
        int y;
        unsigned m, d;
        civil_from_days(d0 + i, &y, &m, &d);
        char *p = c->dates[i];
        p[0] = (char)('0' + y / 1000);
        p[1] = (char)('0' + y / 100 % 10);
        p[2] = (char)('0' + y / 10 % 10);
        p[3] = (char)('0' + y % 10);
        p[4] = '-';
        p[5] = (char)('0' + m / 10);
        p[6] = (char)('0' + m % 10);
        p[7] = '-';
        p[8] = (char)('0' + d / 10);
        p[9] = (char)('0' + d % 10);
    }
    if (days_from_civil(1995, 6, 17) - d0 != DAY_CURRENT ||
        days_from_civil(1993, 1, 1) - d0 != DAY_1993 ||
        days_from_civil(1994, 1, 1) - d0 != DAY_1994 ||
        days_from_civil(1998, 12, 31) - d0 != TPCH_NDAYS - 1)
        MC2_PANIC("tpch: date constants are wrong");
}

int tpch_out_need(tpch_out *o, size_t n, mc2_err *err)
{
    if (o->cap - o->len >= n) return 0;
    size_t want = o->cap ? o->cap : 1u << 16;
    while (want - o->len < n) want *= 2;
    char *p = mc2_realloc(o->p, want);
    if (!p) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    o->p = p;
    o->cap = want;
    return 0;
}

/* ---- field writers: each appends at p and returns the new end ---------------------------- */

static char *put_u(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

/* At least 9 digits, zero-padded ("Supplier#000000042"). */
static char *put_pad9(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < 9) tmp[n++] = '0';
    while (n) *p++ = tmp[--n];
    return p;
}

/* Cents as a decimal with two places ("-12.05"). */
static char *put_money(char *p, int64_t cents)
{
    uint64_t v = cents < 0 ? (uint64_t)(-cents) : (uint64_t)cents;
    if (cents < 0) *p++ = '-';
    p = put_u(p, v / 100);
    *p++ = '.';
    *p++ = (char)('0' + v % 100 / 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_w(char *p, const tpch_word *w)
{
    return put_str(p, w->s, w->len);
}

static char *put_date(char *p, const tpch_ctx *c, int64_t day)
{
    return put_str(p, c->dates[day], 10);
}

#define SEP(p) (*(p)++ = '|')

/* A text string of clause 4.2.2.10: length uniform in [lo, hi], cut from the pool at a
 * random offset. */
static char *put_text(char *p, const tpch_ctx *c, tpch_rng *r, int lo, int hi)
{
    size_t n = (size_t)tpch_uniform(r, lo, hi);
    size_t off = (size_t)tpch_uniform(r, 0, (int64_t)(c->pool.len - n));
    return put_str(p, c->pool.text + off, n);
}

/* A random v-string of clause 4.2.2.7: length uniform in [lo, hi], characters from a set
 * of 64 (6 bits of a draw each). */
static char *put_vstr(char *p, tpch_rng *r, int lo, int hi)
{
    static const char ALNUM[65] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ, ";
    int n = (int)tpch_uniform(r, lo, hi);
    uint64_t bits = 0;
    for (int i = 0; i < n; i++) {
        if (i % 10 == 0) bits = tpch_next(r);
        *p++ = ALNUM[bits & 63];
        bits >>= 6;
    }
    return p;
}

/* A phone number of clause 4.2.2.9: country code nation + 10, then 3-3-4 digits. */
static char *put_phone(char *p, tpch_rng *r, int64_t nation)
{
    p = put_u(p, (uint64_t)nation + 10);
    *p++ = '-';
    p = put_u(p, (uint64_t)tpch_uniform(r, 100, 999));
    *p++ = '-';
    p = put_u(p, (uint64_t)tpch_uniform(r, 100, 999));
    *p++ = '-';
    return put_u(p, (uint64_t)tpch_uniform(r, 1000, 9999));
}

/* ---- the tables --------------------------------------------------------------------------- */

static char *region_row(const tpch_ctx *c, uint64_t i, char *p)
{
    tpch_rng r;
    tpch_seed(&r, c->seed, MC2_TPCH_REGION, i);
    p = put_u(p, i);
    SEP(p);
    p = put_str(p, tpch_region_names[i], strlen(tpch_region_names[i]));
    SEP(p);
    p = put_text(p, c, &r, 31, 115);
    SEP(p);
    *p++ = '\n';
    return p;
}

static char *nation_row(const tpch_ctx *c, uint64_t i, char *p)
{
    tpch_rng r;
    tpch_seed(&r, c->seed, MC2_TPCH_NATION, i);
    p = put_u(p, i);
    SEP(p);
    p = put_str(p, tpch_nation_names[i], strlen(tpch_nation_names[i]));
    SEP(p);
    p = put_u(p, tpch_nation_region[i]);
    SEP(p);
    p = put_text(p, c, &r, 31, 114);
    SEP(p);
    *p++ = '\n';
    return p;
}

/* 0: a plain comment; 1: "Customer ... Complaints"; 2: "Customer ... Recommends". */
static int supplier_bbb(const tpch_ctx *c, uint64_t i)
{
    uint64_t b = c->bbb_block, blk = i / b;
    if (blk >= c->bbb_n) return 0;
    tpch_rng r;
    tpch_seed(&r, c->seed, 100, blk);
    uint64_t pc = (uint64_t)tpch_uniform(&r, 0, (int64_t)b - 1);
    uint64_t pr = (uint64_t)tpch_uniform(&r, 0, (int64_t)b - 1);
    if (pr == pc) pr = (pc + 1) % b;
    if (i % b == pc) return 1;
    if (i % b == pr && b > 1) return 2;
    return 0;
}

static char *supplier_row(const tpch_ctx *c, uint64_t i, char *p)
{
    tpch_rng r;
    tpch_seed(&r, c->seed, MC2_TPCH_SUPPLIER, i);
    uint64_t key = i + 1;
    p = put_u(p, key);
    SEP(p);
    p = put_pad9(put_str(p, "Supplier#", 9), key);
    SEP(p);
    p = put_vstr(p, &r, 10, 40);
    SEP(p);
    int64_t nation = tpch_uniform(&r, 0, TPCH_NNATIONS - 1);
    if (key == c->s20) nation = 3;  /* CANADA (Q20) */
    if (key == c->s21) nation = 20; /* SAUDI ARABIA (Q21) */
    p = put_u(p, (uint64_t)nation);
    SEP(p);
    p = put_phone(p, &r, nation);
    SEP(p);
    p = put_money(p, tpch_uniform(&r, -99999, 999999));
    SEP(p);
    char *comment = p;
    p = put_text(p, c, &r, 25, 100);
    int bbb = supplier_bbb(c, i);
    if (bbb) {
        /* "Customer", junk kept from the comment, then "Complaints"/"Recommends", at a
         * random place inside the comment; its length does not change. */
        int64_t len = p - comment;
        int64_t junk = tpch_uniform(&r, 0, len - 18);
        int64_t at = tpch_uniform(&r, 0, len - 18 - junk);
        memcpy(comment + at, "Customer", 8);
        memcpy(comment + at + 8 + junk, bbb == 1 ? "Complaints" : "Recommends", 10);
    }
    SEP(p);
    *p++ = '\n';
    return p;
}

static char *customer_row(const tpch_ctx *c, uint64_t i, char *p)
{
    tpch_rng r;
    tpch_seed(&r, c->seed, MC2_TPCH_CUSTOMER, i);
    uint64_t key = i + 1;
    p = put_u(p, key);
    SEP(p);
    p = put_pad9(put_str(p, "Customer#", 9), key);
    SEP(p);
    p = put_vstr(p, &r, 10, 40);
    SEP(p);
    int64_t nation = tpch_uniform(&r, 0, TPCH_NNATIONS - 1);
    p = put_u(p, (uint64_t)nation);
    SEP(p);
    p = put_phone(p, &r, nation);
    SEP(p);
    p = put_money(p, tpch_uniform(&r, -99999, 999999));
    SEP(p);
    p = put_w(p, tpch_pick(&tpch_segments, &r));
    SEP(p);
    p = put_text(p, c, &r, 29, 116);
    SEP(p);
    *p++ = '\n';
    return p;
}

/* P_RETAILPRICE in cents (clause 4.2.3). */
static int64_t retail_cents(uint64_t pk)
{
    return (int64_t)(90000 + (pk / 10) % 20001 + 100 * (pk % 1000));
}

static char *part_row(const tpch_ctx *c, uint64_t i, char *p)
{
    tpch_rng r;
    tpch_seed(&r, c->seed, MC2_TPCH_PART, i);
    uint64_t key = i + 1;
    uint32_t words[5];
    for (int k = 0; k < 5; k++) {
        int dup;
        do {
            words[k] = (uint32_t)tpch_uniform(&r, 0, (int64_t)tpch_colors.n - 1);
            dup = 0;
            for (int j = 0; j < k; j++) dup |= words[j] == words[k];
        } while (dup);
    }
    int64_t m = tpch_uniform(&r, 1, 5), n = tpch_uniform(&r, 1, 5);
    const tpch_word *t1 = tpch_pick(&tpch_type1, &r), *t2 = tpch_pick(&tpch_type2, &r),
                    *t3 = tpch_pick(&tpch_type3, &r);
    int64_t size = tpch_uniform(&r, 1, 50);
    const tpch_word *c1 = tpch_pick(&tpch_cont1, &r), *c2 = tpch_pick(&tpch_cont2, &r);
    /* Planted parts: brand, container and size of Q17's and Q19's predicates; Q20's
     * "forest%" name. */
    if (key == c->p17 || key == c->p19a || key == c->p19c) {
        int q = key == c->p17 ? 0 : key == c->p19a ? 1 : 2;
        static const int64_t M[3] = {2, 1, 3}, N[3] = {3, 2, 4}, SMAX[3] = {10, 5, 15};
        static const uint8_t C1[3] = {2, 0, 1}, C2[3] = {1, 0, 1}; /* MED BOX, SM CASE, LG BOX */
        m = M[q];
        n = N[q];
        size = 1 + size % SMAX[q];
        c1 = &tpch_cont1.w[C1[q]];
        c2 = &tpch_cont2.w[C2[q]];
    }
    if (key == c->p20 && words[0] != c->forest) {
        for (int k = 1; k < 5; k++)
            if (words[k] == c->forest) words[k] = words[0];
        words[0] = c->forest;
    }
    p = put_u(p, key);
    SEP(p);
    for (int k = 0; k < 5; k++) {
        if (k) *p++ = ' ';
        p = put_w(p, &tpch_colors.w[words[k]]);
    }
    SEP(p);
    p = put_str(p, "Manufacturer#", 13);
    *p++ = (char)('0' + m);
    SEP(p);
    p = put_str(p, "Brand#", 6);
    *p++ = (char)('0' + m);
    *p++ = (char)('0' + n);
    SEP(p);
    p = put_w(p, t1);
    *p++ = ' ';
    p = put_w(p, t2);
    *p++ = ' ';
    p = put_w(p, t3);
    SEP(p);
    p = put_u(p, (uint64_t)size);
    SEP(p);
    p = put_w(p, c1);
    *p++ = ' ';
    p = put_w(p, c2);
    SEP(p);
    p = put_money(p, retail_cents(key));
    SEP(p);
    p = put_text(p, c, &r, 5, 22);
    SEP(p);
    *p++ = '\n';
    return p;
}

/* The four suppliers of part pk (clause 4.2.3's PS_SUPPKEY formula; when the supplier count
 * is so small that the formula repeats a supplier, the next one is taken instead). */
static void part_suppliers(const tpch_ctx *c, uint64_t pk, uint64_t out[4])
{
    uint64_t s = c->n[MC2_TPCH_SUPPLIER];
    for (uint64_t i = 0; i < 4; i++) {
        uint64_t k = (pk + i * (s / 4 + (pk - 1) / s)) % s + 1;
        for (int again = 1; again;) {
            again = 0;
            for (uint64_t j = 0; j < i; j++)
                if (out[j] == k) again = 1;
            if (again) k = k % s + 1;
        }
        out[i] = k;
    }
}

/* The four PARTSUPP rows of part i. */
static char *partsupp_rows(const tpch_ctx *c, uint64_t i, char *p)
{
    tpch_rng r;
    tpch_seed(&r, c->seed, MC2_TPCH_PARTSUPP, i);
    uint64_t pk = i + 1, supp[4];
    part_suppliers(c, pk, supp);
    for (int k = 0; k < 4; k++) {
        p = put_u(p, pk);
        SEP(p);
        p = put_u(p, supp[k]);
        SEP(p);
        int64_t avail = tpch_uniform(&r, 1, 9999);
        if (pk == c->p20 && supp[k] == c->s20) avail = 5000 + avail / 2; /* Q20 */
        p = put_u(p, (uint64_t)avail);
        SEP(p);
        p = put_money(p, tpch_uniform(&r, 100, 100000));
        SEP(p);
        p = put_text(p, c, &r, 49, 198);
        SEP(p);
        *p++ = '\n';
    }
    return p;
}

/* O_ORDERKEY of the i-th order (0-based): dbgen's sparse keys, the first 8 of every 32. */
static uint64_t order_key(uint64_t i)
{
    uint64_t k = i + 1;
    return ((k >> 3) << 5) | (k & 7);
}

/* A line of a planted order: part, supplier (0: one of the part's four at random),
 * quantity range, ship/commit/receipt offsets (-1: at random), mode and instruction
 * (-1: at random). */
typedef struct pline {
    uint64_t pk, sk;
    int64_t qlo, qhi, ship, commit, receipt, mode, instr;
} pline;

#define AIR 1 /* index in tpch_modes */
#define DIP 0 /* DELIVER IN PERSON, index in tpch_instructions */

/* The lines of order i if it is planted (0 if not), and the range of its order date. */
static int planted(const tpch_ctx *c, uint64_t i, pline *pl, int64_t *od_lo, int64_t *od_hi)
{
    int n = 0;
    if (i == c->plant_order[PLANT_Q18]) { /* Q18: sum(l_quantity) > 300 */
        for (; n < 7; n++) pl[n] = (pline){0, 0, 44, 50, -1, -1, -1, -1, -1};
    } else if (i == c->plant_order[PLANT_Q17_Q19]) {
        /* Q17: a small quantity of a Brand#23 MED BOX part; Q19: one line per branch. */
        pl[n++] = (pline){c->p17, 0, 1, 2, -1, -1, -1, -1, -1};
        pl[n++] = (pline){c->p17, 0, 10, 20, -1, -1, -1, AIR, DIP};
        pl[n++] = (pline){c->p19a, 0, 1, 11, -1, -1, -1, AIR, DIP};
        pl[n++] = (pline){c->p19c, 0, 20, 30, -1, -1, -1, AIR, DIP};
    } else if (i == c->plant_order[PLANT_Q20]) {
        /* Q20: a 1994 shipment of a forest part by a Canadian supplier. */
        *od_lo = DAY_1994;
        *od_hi = DAY_1994 + 212; /* 1994-08-01: shipped by 1994-11-30 */
        pl[n++] = (pline){c->p20, c->s20, 1, 50, -1, -1, -1, -1, -1};
    } else if (i == c->plant_order[PLANT_Q21]) {
        /* Q21: a finished order in which only the Saudi supplier was late. */
        *od_lo = DAY_1993;
        *od_hi = DAY_1994 - 1;
        pl[n++] = (pline){c->p21a, c->s21, 1, 50, 100, 30, 5, -1, -1};
        pl[n++] = (pline){c->p21b, c->s21b, 1, 50, 1, 60, 1, -1, -1};
    }
    return n;
}

/* One order and its lines; lines go to *lp, the order row to p. */
static char *order_rows(const tpch_ctx *c, uint64_t i, char *p, char **lp, uint64_t *nlines)
{
    tpch_rng r;
    tpch_seed(&r, c->seed, MC2_TPCH_ORDERS, i);
    uint64_t key = order_key(i);
    /* Customers whose key is a multiple of 3 place no orders. */
    uint64_t nc = c->n[MC2_TPCH_CUSTOMER], m = nc - nc / 3;
    uint64_t rc = (uint64_t)tpch_uniform(&r, 0, (int64_t)m - 1);
    uint64_t cust = rc / 2 * 3 + rc % 2 + 1;
    pline pl[7];
    int64_t od_lo = 0, od_hi = DAY_ORDER_MAX;
    int np = planted(c, i, pl, &od_lo, &od_hi);
    int64_t od = tpch_uniform(&r, od_lo, od_hi);
    int64_t nl = np ? np : tpch_uniform(&r, 1, 7);
    int64_t total = 0;
    int nf = 0;
    char *l = *lp;
    for (int64_t ln = 1; ln <= nl; ln++) {
        const pline *f = np ? &pl[ln - 1] : NULL;
        uint64_t pk =
            f && f->pk ? f->pk : (uint64_t)tpch_uniform(&r, 1, (int64_t)c->n[MC2_TPCH_PART]);
        uint64_t supp[4];
        part_suppliers(c, pk, supp);
        uint64_t sk = supp[tpch_uniform(&r, 0, 3)];
        if (f && f->sk) sk = f->sk;
        int64_t qty = f ? tpch_uniform(&r, f->qlo, f->qhi) : tpch_uniform(&r, 1, 50);
        int64_t ext = qty * retail_cents(pk);
        int64_t disc = tpch_uniform(&r, 0, 10), tax = tpch_uniform(&r, 0, 8);
        int64_t ship = od + tpch_uniform(&r, 1, 121);
        int64_t commit = od + tpch_uniform(&r, 30, 90);
        int64_t receipt = ship + tpch_uniform(&r, 1, 30);
        if (f && f->ship >= 0) {
            ship = od + f->ship;
            commit = od + f->commit;
            receipt = ship + f->receipt;
        }
        char rf = receipt <= DAY_CURRENT ? (tpch_uniform(&r, 0, 1) ? 'R' : 'A') : 'N';
        char ls = ship > DAY_CURRENT ? 'O' : 'F';
        const tpch_word *instr = tpch_pick(&tpch_instructions, &r);
        const tpch_word *mode = tpch_pick(&tpch_modes, &r);
        if (f && f->instr >= 0) instr = &tpch_instructions.w[f->instr];
        if (f && f->mode >= 0) mode = &tpch_modes.w[f->mode];
        nf += ls == 'F';
        total += ext * (100 - disc) / 100 * (100 + tax) / 100;
        l = put_u(l, key);
        SEP(l);
        l = put_u(l, pk);
        SEP(l);
        l = put_u(l, sk);
        SEP(l);
        l = put_u(l, (uint64_t)ln);
        SEP(l);
        l = put_u(l, (uint64_t)qty);
        SEP(l);
        l = put_money(l, ext);
        SEP(l);
        l = put_money(l, disc);
        SEP(l);
        l = put_money(l, tax);
        SEP(l);
        *l++ = rf;
        SEP(l);
        *l++ = ls;
        SEP(l);
        l = put_date(l, c, ship);
        SEP(l);
        l = put_date(l, c, commit);
        SEP(l);
        l = put_date(l, c, receipt);
        SEP(l);
        l = put_w(l, instr);
        SEP(l);
        l = put_w(l, mode);
        SEP(l);
        l = put_text(l, c, &r, 10, 43);
        SEP(l);
        *l++ = '\n';
    }
    *lp = l;
    *nlines += (uint64_t)nl;
    p = put_u(p, key);
    SEP(p);
    p = put_u(p, cust);
    SEP(p);
    *p++ = nf == nl ? 'F' : nf == 0 ? 'O' : 'P';
    SEP(p);
    p = put_money(p, total);
    SEP(p);
    p = put_date(p, c, od);
    SEP(p);
    p = put_w(p, tpch_pick(&tpch_priorities, &r));
    SEP(p);
    p = put_pad9(put_str(p, "Clerk#", 6), (uint64_t)tpch_uniform(&r, 1, (int64_t)c->n_clerks));
    SEP(p);
    *p++ = '0';
    SEP(p);
    p = put_text(p, c, &r, 19, 78);
    SEP(p);
    *p++ = '\n';
    return p;
}

int tpch_rows(const tpch_ctx *c, enum mc2_tpch_table t, uint64_t first, uint64_t count,
              tpch_out *out, tpch_out *lines, uint64_t *nlines, mc2_err *err)
{
    for (uint64_t i = first; i < first + count; i++) {
        if (tpch_out_need(out, t == MC2_TPCH_PARTSUPP ? 4 * ROW_MAX : ROW_MAX, err)) return -1;
        char *p = out->p + out->len;
        switch (t) {
        case MC2_TPCH_REGION:
            p = region_row(c, i, p);
            break;
        case MC2_TPCH_NATION:
            p = nation_row(c, i, p);
            break;
        case MC2_TPCH_SUPPLIER:
            p = supplier_row(c, i, p);
            break;
        case MC2_TPCH_CUSTOMER:
            p = customer_row(c, i, p);
            break;
        case MC2_TPCH_PART:
            p = part_row(c, i, p);
            break;
        case MC2_TPCH_PARTSUPP:
            p = partsupp_rows(c, i, p);
            break;
        case MC2_TPCH_ORDERS: {
            if (tpch_out_need(lines, 7 * LINE_MAX, err)) return -1;
            char *l = lines->p + lines->len;
            p = order_rows(c, i, p, &l, nlines);
            lines->len = (size_t)(l - lines->p);
            break;
        }
        default:
            MC2_PANIC("tpch_rows: lineitem rows are written with their orders");
        }
        out->len = (size_t)(p - out->p);
    }
    return 0;
}
