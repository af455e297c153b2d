/* internal.h - what the generator's files share: the per-row random streams, the word lists
 * and distributions of TPC-H clause 4.2.2, the text pool, and the row writers. */
#ifndef MC2_TPCH_INTERNAL_H
#define MC2_TPCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "tpch/tpch.h"

/* ---- random streams ----------------------------------------------------------------------- */

/* A splitmix64 stream. Every row (every order with its lines) seeds its own stream from
 * (seed, table, row), so any range of rows can be generated on any thread and the output
 * does not depend on how the work was cut up. */
typedef struct tpch_rng {
    uint64_t s;
} tpch_rng;

static inline uint64_t tpch_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t tpch_next(tpch_rng *r)
{
    return tpch_mix(r->s += 0x9E3779B97F4A7C15ull);
}

/* Seeds r for row `row` of stream `stream` (a table, or a sub-stream of one). */
static inline void tpch_seed(tpch_rng *r, uint64_t seed, unsigned stream, uint64_t row)
{
    r->s = tpch_mix(seed ^ tpch_mix(((uint64_t)stream << 56) ^ row ^ 0x6D63325450434821ull));
}

/* Uniform in [lo, hi] (hi >= lo); the bias of the multiply-shift is below 2^-40 for every
 * span used here. */
static inline int64_t tpch_uniform(tpch_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(uint64_t)(((unsigned __int128)tpch_next(r) * span) >> 64);
}

/* ---- distributions (dists.c) -------------------------------------------------------------- */

/* A word of a list, with its length and its weight in the list (dbgen's dists.dss). */
typedef struct tpch_word {
    const char *s;
    uint8_t len;
    uint8_t w;
} tpch_word;

typedef struct tpch_dist {
    const tpch_word *w;
    uint32_t n;
} tpch_dist;

/* A uniform pick from d (the weights are used by the text grammar only, in text.c). */
static inline const tpch_word *tpch_pick(const tpch_dist *d, tpch_rng *r)
{
    return &d->w[tpch_uniform(r, 0, (int64_t)d->n - 1)];
}

extern const tpch_dist tpch_nouns, tpch_verbs, tpch_adjectives, tpch_adverbs, tpch_prepositions,
    tpch_auxiliaries, tpch_terminators;
extern const tpch_dist tpch_colors, tpch_type1, tpch_type2, tpch_type3, tpch_cont1, tpch_cont2,
    tpch_segments, tpch_priorities, tpch_instructions, tpch_modes;

#define TPCH_NREGIONS 5
#define TPCH_NNATIONS 25
extern const char *const tpch_region_names[TPCH_NREGIONS];
extern const char *const tpch_nation_names[TPCH_NNATIONS];
extern const uint8_t tpch_nation_region[TPCH_NNATIONS];

/* ---- text pool (text.c) ------------------------------------------------------------------- */

/* The text pool comment columns are cut from (clause 4.2.2.10): sentences from the grammar,
 * generated once per seed. */
typedef struct tpch_pool {
    char *text;
    size_t len;
} tpch_pool;

#define TPCH_POOL_MAX (10u << 20)
#define TPCH_POOL_MIN (1u << 20)

/* Generates the pool for a seed: 40 MiB per unit of scale factor, within TPCH_POOL_MIN ..
 * TPCH_POOL_MAX (small scale factors do not need 10 MiB of text). */
int tpch_pool_init(tpch_pool *p, double sf, uint64_t seed, mc2_err *err) MC2_WUR;
void tpch_pool_free(tpch_pool *p);

/* ---- rows (rows.c) ------------------------------------------------------------------------ */

/* Dates are days since 1992-01-01 (STARTDATE); TPCH_NDAYS covers 1992-01-01 .. 1998-12-31. */
#define TPCH_NDAYS 2557

/* The planted orders. */
enum tpch_plant { PLANT_Q18, PLANT_Q17_Q19, PLANT_Q20, PLANT_Q21, TPCH_NPLANTS };

/* Everything the row writers read; immutable once built. */
typedef struct tpch_ctx {
    uint64_t seed;
    uint64_t n[MC2_TPCH_NTABLES]; /* row counts (lineitem: 0, unknown) */
    uint64_t n_clerks;
    /* Planted rows (docs/tpch.md): a few orders, parts and suppliers forced to match the
     * most selective predicates, so that Q17 .. Q21 find rows at any scale factor. */
    uint64_t plant_order[TPCH_NPLANTS];        /* order indices, one per enum tpch_plant */
    uint64_t p17, p19a, p19c, p20, p21a, p21b; /* part keys */
    uint64_t s20, s21, s21b;                   /* supplier keys (S20 in CANADA, S21 in SAUDI
                                                  ARABIA; S21B supplies P21B, is not S21) */
    uint32_t forest;                           /* index of "forest" in tpch_colors */
    uint64_t bbb_block; /* suppliers per block holding one Complaints/Recommends comment */
    uint64_t bbb_n;     /* number of such blocks */
    tpch_pool pool;
    char dates[TPCH_NDAYS][10]; /* "YYYY-MM-DD" for each day */
} tpch_ctx;

/* Fills everything but the pool. */
void tpch_ctx_init(tpch_ctx *c, double sf, uint64_t seed);

/* An output buffer the row writers append to. */
typedef struct tpch_out {
    char *p;
    size_t len, cap;
} tpch_out;

/* Makes room for n more bytes. */
int tpch_out_need(tpch_out *o, size_t n, mc2_err *err) MC2_WUR;

/* Appends rows [first, first + count) of table t (not LINEITEM: ORDERS rows write their
 * lines to `lines`, counting them in *nlines). */
int tpch_rows(const tpch_ctx *c, enum mc2_tpch_table t, uint64_t first, uint64_t count,
              tpch_out *out, tpch_out *lines, uint64_t *nlines, mc2_err *err) MC2_WUR;

#endif
