/* text.c - the text pool of TPC-H clause 4.2.2.10: sentences from the specification's
 * grammar, with dbgen's word weights, that comment columns are cut from. */
#include <string.h>

#include "base/alloc.h"
#include "tpch/internal.h"

/* A weighted list ready for picking: cum[i] = weights of words 0..i. */
typedef struct wlist {
    const tpch_dist *d;
    uint32_t cum[64];
    uint32_t total;
} wlist;

static void wlist_init(wlist *l, const tpch_dist *d)
{
    if (d->n > sizeof l->cum / sizeof l->cum[0]) MC2_PANIC("tpch: word list too long");
    l->d = d;
    uint32_t t = 0;
    for (uint32_t i = 0; i < d->n; i++) l->cum[i] = t += d->w[i].w;
    l->total = t;
}

static const tpch_word *wlist_pick(const wlist *l, tpch_rng *r)
{
    uint32_t x = (uint32_t)tpch_uniform(r, 0, (int64_t)l->total - 1);
    uint32_t lo = 0, hi = l->d->n - 1;
    while (lo < hi) { /* first i with cum[i] > x */
        uint32_t mid = (lo + hi) / 2;
        if (l->cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &l->d->w[lo];
}

enum { L_NOUN, L_VERB, L_ADJ, L_ADV, L_PREP, L_AUX, L_TERM, L_N };

/* Grammar productions as strings of symbols: N noun phrase, V verb phrase, P prepositional
 * phrase, T terminator; inside phrases n noun, v verb, j adjective, d adverb, p preposition,
 * x auxiliary, ',' a comma after the previous word, 't' the word "the". */
typedef struct prod {
    const char *sym;
    uint32_t w;
} prod;

static const prod SENTENCES[] = {{"NVT", 3}, {"NVPT", 3}, {"NVNT", 3}, {"NPVNT", 1}, {"NPVPT", 1}};
static const prod NOUN_PHRASES[] = {{"n", 10}, {"jn", 20}, {"j,jn", 10}, {"djn", 50}};
static const prod VERB_PHRASES[] = {{"v", 30}, {"xv", 1}, {"vd", 40}, {"xvd", 1}};

static const char *pick_prod(const prod *p, size_t n, tpch_rng *r)
{
    uint32_t total = 0;
    for (size_t i = 0; i < n; i++) total += p[i].w;
    uint32_t x = (uint32_t)tpch_uniform(r, 0, (int64_t)total - 1);
    for (size_t i = 0; i < n; i++) {
        if (x < p[i].w) return p[i].sym;
        x -= p[i].w;
    }
    return p[n - 1].sym;
}

typedef struct writer {
    char *p;
    size_t len, cap;
} writer;

/* Appends a word preceded by a space (unless at the start); stops silently when full. */
static void put_word(writer *w, const char *s, size_t n)
{
    if (w->len && w->len < w->cap) w->p[w->len++] = ' ';
    size_t room = w->cap - w->len;
    if (n > room) n = room;
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

/* Appends text directly after the previous word (a comma or a terminator). */
static void put_attached(writer *w, const char *s, size_t n)
{
    size_t room = w->cap - w->len;
    if (n > room) n = room;
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void put_pick(writer *w, const wlist *l, tpch_rng *r)
{
    const tpch_word *x = wlist_pick(l, r);
    put_word(w, x->s, x->len);
}

static void phrase(writer *w, const char *sym, const wlist *lists, tpch_rng *r)
{
    for (const char *s = sym; *s; s++) {
        switch (*s) {
        case 'n':
            put_pick(w, &lists[L_NOUN], r);
            break;
        case 'v':
            put_pick(w, &lists[L_VERB], r);
            break;
        case 'j':
            put_pick(w, &lists[L_ADJ], r);
            break;
        case 'd':
            put_pick(w, &lists[L_ADV], r);
            break;
        case 'p':
            put_pick(w, &lists[L_PREP], r);
            break;
        case 'x':
            put_pick(w, &lists[L_AUX], r);
            break;
        case 't':
            put_word(w, "the", 3);
            break;
        case ',':
            put_attached(w, ",", 1);
            break;
        default:
            MC2_PANIC("tpch: bad grammar symbol");
        }
    }
}

int tpch_pool_init(tpch_pool *p, double sf, uint64_t seed, mc2_err *err)
{
    double want = sf * (40u << 20);
    size_t size = want >= TPCH_POOL_MAX   ? TPCH_POOL_MAX
                  : want <= TPCH_POOL_MIN ? TPCH_POOL_MIN
                                          : (size_t)want;
    wlist lists[L_N];
    wlist_init(&lists[L_NOUN], &tpch_nouns);
    wlist_init(&lists[L_VERB], &tpch_verbs);
    wlist_init(&lists[L_ADJ], &tpch_adjectives);
    wlist_init(&lists[L_ADV], &tpch_adverbs);
    wlist_init(&lists[L_PREP], &tpch_prepositions);
    wlist_init(&lists[L_AUX], &tpch_auxiliaries);
    wlist_init(&lists[L_TERM], &tpch_terminators);
    writer w = {mc2_malloc(size), 0, size};
    if (!w.p) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (text pool)");
    tpch_rng r;
    tpch_seed(&r, seed, 200, 0);
    while (w.len < w.cap) {
        for (const char *s = pick_prod(SENTENCES, sizeof SENTENCES / sizeof SENTENCES[0], &r); *s;
             s++) {
            switch (*s) {
            case 'N':
                phrase(&w, pick_prod(NOUN_PHRASES, 4, &r), lists, &r);
                break;
            case 'V':
                phrase(&w, pick_prod(VERB_PHRASES, 4, &r), lists, &r);
                break;
            case 'P':
                put_pick(&w, &lists[L_PREP], &r);
                put_word(&w, "the", 3);
                phrase(&w, pick_prod(NOUN_PHRASES, 4, &r), lists, &r);
                break;
            case 'T': {
                const tpch_word *t = wlist_pick(&lists[L_TERM], &r);
                put_attached(&w, t->s, t->len);
                break;
            }
            default:
                MC2_PANIC("tpch: bad grammar symbol");
            }
        }
    }
    p->text = w.p;
    p->len = w.len;
    return 0;
}

void tpch_pool_free(tpch_pool *p)
{
    mc2_free(p->text);
    p->text = NULL;
    p->len = 0;
}
