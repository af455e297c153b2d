/* quantile.c - per-feature cut points for the histogram method, reproducing XGBoost 1.7's
 * hist sketch exactly: a streaming weighted quantile sketch (WQuantileSketch with float
 * ranks, eps = 1 / (8 * min(max_bin, column size))) fed the column's non-missing values in
 * row order, its summary pruned to min(column size, 8 * max_bin) entries and then to
 * min(that, max_bin) + 1 entries with XGBoost's SetPrune rule; the cuts are entries
 * 1 .. max_bin-1 (strictly increasing) and a sentinel above the largest value. Identical
 * cuts give identical bins, which is what makes mc2's trees match XGBoost's. */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "gbdt/gbdt.h"
#include "gbdt/internal.h"

/* ---- summaries (XGBoost's WQSummary<float, float>) ---------------------------------------- */

typedef struct summary {
    mc2_gbdt_qentry *data;
    size_t size;
} summary;

static void copy_from(summary *dst, const summary *src)
{
    if (src->size) memcpy(dst->data, src->data, src->size * sizeof *src->data);
    dst->size = src->size;
}

/* Keeps at most maxsize entries of src (dst must not overlap src). */
static void set_prune(summary *dst, const summary *src, size_t maxsize)
{
    if (src->size <= maxsize) {
        copy_from(dst, src);
        return;
    }
    const mc2_gbdt_qentry *s = src->data;
    const float begin = s[0].rmax;
    const float range = s[src->size - 1].rmin - s[0].rmax;
    const size_t n = maxsize - 1;
    dst->data[0] = s[0];
    dst->size = 1;
    size_t i = 1, lastidx = 0;
    for (size_t k = 1; k < n; ++k) {
        float dx2 = 2 * (((float)k * range) / (float)n + begin);
        while (i < src->size - 1 && dx2 >= s[i + 1].rmax + s[i + 1].rmin) ++i;
        if (i == src->size - 1) break;
        if (dx2 < (s[i].rmin + s[i].wmin) + (s[i + 1].rmax - s[i + 1].wmin)) {
            if (i != lastidx) {
                dst->data[dst->size++] = s[i];
                lastidx = i;
            }
        } else {
            if (i + 1 != lastidx) {
                dst->data[dst->size++] = s[i + 1];
                lastidx = i + 1;
            }
        }
    }
    if (lastidx != src->size - 1) dst->data[dst->size++] = s[src->size - 1];
}

static inline mc2_gbdt_qentry entry(float rmin, float rmax, float wmin, float value)
{
    mc2_gbdt_qentry e = {rmin, rmax, wmin, value};
    return e;
}

/* Re-establishes the rank invariants after a combine (XGBoost's FixError). */
static void fix_error(summary *d)
{
    float prev_rmin = 0, prev_rmax = 0;
    for (size_t i = 0; i < d->size; ++i) {
        mc2_gbdt_qentry *e = &d->data[i];
        if (e->rmin < prev_rmin)
            e->rmin = prev_rmin;
        else
            prev_rmin = e->rmin;
        if (e->rmax < prev_rmax) e->rmax = prev_rmax;
        float rmin_next = e->rmin + e->wmin;
        if (e->rmax < rmin_next) e->rmax = rmin_next;
        prev_rmax = e->rmax;
    }
}

/* dst = the merge of sa and sb (dst holds sa->size + sb->size entries, no overlap). */
static void set_combine(summary *dst, const summary *sa, const summary *sb)
{
    if (sa->size == 0) {
        copy_from(dst, sb);
        return;
    }
    if (sb->size == 0) {
        copy_from(dst, sa);
        return;
    }
    const mc2_gbdt_qentry *a = sa->data, *a_end = sa->data + sa->size;
    const mc2_gbdt_qentry *b = sb->data, *b_end = sb->data + sb->size;
    float aprev_rmin = 0, bprev_rmin = 0;
    mc2_gbdt_qentry *o = dst->data;
    while (a != a_end && b != b_end) {
        if (a->value == b->value) {
            *o++ = entry(a->rmin + b->rmin, a->rmax + b->rmax, a->wmin + b->wmin, a->value);
            aprev_rmin = a->rmin + a->wmin;
            bprev_rmin = b->rmin + b->wmin;
            ++a;
            ++b;
        } else if (a->value < b->value) {
            *o++ = entry(a->rmin + bprev_rmin, a->rmax + (b->rmax - b->wmin), a->wmin, a->value);
            aprev_rmin = a->rmin + a->wmin;
            ++a;
        } else {
            *o++ = entry(b->rmin + aprev_rmin, b->rmax + (a->rmax - a->wmin), b->wmin, b->value);
            bprev_rmin = b->rmin + b->wmin;
            ++b;
        }
    }
    if (a != a_end) {
        float brmax = (b_end - 1)->rmax;
        for (; a != a_end; ++a)
            *o++ = entry(a->rmin + bprev_rmin, a->rmax + brmax, a->wmin, a->value);
    }
    if (b != b_end) {
        float armax = (a_end - 1)->rmax;
        for (; b != b_end; ++b)
            *o++ = entry(b->rmin + aprev_rmin, b->rmax + armax, b->wmin, b->value);
    }
    dst->size = (size_t)(o - dst->data);
    fix_error(dst);
}

/* ---- the streaming sketch (XGBoost's WQuantileSketch<float, float>) ----------------------- */

void mc2_gbdt_sketch_dims(size_t maxn, uint32_t max_bin, size_t *limit_size, size_t *nlevel)
{
    size_t n_bins = maxn < max_bin ? maxn : max_bin;
    if (n_bins < 1) n_bins = 1;
    double eps = 1.0 / (double)((float)n_bins * 8.0f);
    size_t nl = 1, ls;
    for (;;) {
        ls = (size_t)ceil((double)nl / eps) + 1;
        if (ls > maxn) ls = maxn;
        if (nl >= 63 || ((uint64_t)1 << nl) * ls >= maxn) break;
        ++nl;
    }
    *limit_size = ls < 1 ? 1 : ls;
    *nlevel = nl;
}

/* Sorts queue entries (value, weight) by value: LSD radix sort on an order-preserving key. */
static inline uint32_t float_key(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static void sort_queue(mc2_gbdt_sketch *sk)
{
    size_t n = sk->qtail;
    uint64_t *a = sk->sort_a, *t = sk->sort_b;
    for (size_t i = 0; i < n; i++) {
        uint32_t wb;
        memcpy(&wb, &sk->queue[i].weight, 4);
        a[i] = (uint64_t)float_key(sk->queue[i].value) << 32 | wb;
    }
    size_t count[256];
    uint64_t *src = a, *dst = t;
    for (unsigned pass = 0; pass < 4; pass++) {
        unsigned shift = 32u + 8u * pass;
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++) count[(src[i] >> shift) & 0xff]++;
        if (n == 0 || count[(src[0] >> shift) & 0xff] == n) continue;
        size_t sum = 0;
        for (unsigned b = 0; b < 256; b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[count[(src[i] >> shift) & 0xff]++] = src[i];
        uint64_t *x = src;
        src = dst;
        dst = x;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)(src[i] >> 32), wb = (uint32_t)src[i];
        uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
        memcpy(&sk->queue[i].value, &u, 4);
        memcpy(&sk->queue[i].weight, &wb, 4);
    }
}

/* The queue as a summary of distinct values (XGBoost's Queue::MakeSummary). */
static void make_summary(mc2_gbdt_sketch *sk, summary *out)
{
    sort_queue(sk);
    out->size = 0;
    float wsum = 0;
    for (size_t i = 0; i < sk->qtail;) {
        size_t j = i + 1;
        float w = sk->queue[i].weight;
        while (j < sk->qtail && sk->queue[j].value == sk->queue[i].value)
            w += sk->queue[j++].weight;
        out->data[out->size++] = entry(wsum, wsum + w, w, sk->queue[i].value);
        wsum += w;
        i = j;
    }
}

static summary level(mc2_gbdt_sketch *sk, size_t l)
{
    summary s = {sk->levels + l * sk->limit_size, sk->level_size[l]};
    return s;
}

static void init_level(mc2_gbdt_sketch *sk, size_t n)
{
    if (sk->n_levels >= n) return;
    if (n > sk->max_levels) MC2_PANIC("gbdt: quantile sketch level bound exceeded");
    for (size_t l = sk->n_levels; l < n; l++) sk->level_size[l] = 0;
    sk->n_levels = n;
}

/* Pushes the summary in temp up the levels (XGBoost's PushTemp). */
static void push_temp(mc2_gbdt_sketch *sk)
{
    summary temp = {sk->temp, sk->temp_size};
    for (size_t l = 1;; ++l) {
        init_level(sk, l + 1);
        summary lv = level(sk, l), l0 = level(sk, 0);
        if (lv.size == 0) {
            set_prune(&lv, &temp, sk->limit_size);
            sk->level_size[l] = lv.size;
            break;
        }
        set_prune(&l0, &temp, sk->limit_size);
        sk->level_size[0] = l0.size;
        set_combine(&temp, &l0, &lv);
        if (temp.size > sk->limit_size) {
            sk->level_size[l] = 0;
        } else {
            copy_from(&lv, &temp);
            sk->level_size[l] = lv.size;
            break;
        }
    }
    sk->temp_size = temp.size;
}

void mc2_gbdt_sketch_init(mc2_gbdt_sketch *sk, size_t maxn, uint32_t max_bin)
{
    size_t ls, nl;
    mc2_gbdt_sketch_dims(maxn, max_bin, &ls, &nl);
    if (ls > sk->cap_limit || nl + 2 > sk->cap_levels)
        MC2_PANIC("gbdt: quantile sketch buffers too small");
    sk->limit_size = ls;
    sk->max_levels = nl + 2;
    sk->qcap = 2 * ls;
    sk->qtail = 0;
    sk->n_levels = 0;
    sk->temp_size = 0;
}

void mc2_gbdt_sketch_push(mc2_gbdt_sketch *sk, float x, float w)
{
    if (w == 0) return;
    if (sk->qtail == sk->qcap && sk->queue[sk->qtail - 1].value != x) {
        summary temp = {sk->temp, 0};
        make_summary(sk, &temp);
        sk->temp_size = temp.size;
        sk->qtail = 0;
        push_temp(sk);
    }
    if (sk->qtail == 0 || sk->queue[sk->qtail - 1].value != x) {
        sk->queue[sk->qtail].value = x;
        sk->queue[sk->qtail].weight = w;
        sk->qtail++;
    } else {
        sk->queue[sk->qtail - 1].weight += w;
    }
}

/* The final summary into out (2 * limit_size entries; XGBoost's GetSummary). */
static void get_summary(mc2_gbdt_sketch *sk, summary *out)
{
    make_summary(sk, out);
    if (sk->n_levels != 0) {
        summary l0 = level(sk, 0);
        set_prune(&l0, out, sk->limit_size);
        for (size_t l = 1; l < sk->n_levels; ++l) {
            summary lv = level(sk, l);
            if (lv.size == 0) continue;
            if (l0.size == 0) {
                copy_from(&l0, &lv);
            } else {
                set_combine(out, &l0, &lv);
                set_prune(&l0, out, sk->limit_size);
            }
        }
        copy_from(out, &l0);
    } else if (out->size > sk->limit_size) {
        summary temp = {sk->temp, 0};
        set_prune(&temp, out, sk->limit_size);
        copy_from(out, &temp);
    }
}

size_t mc2_gbdt_sketch_summary(mc2_gbdt_sketch *sk, size_t count, uint32_t max_bin,
                               mc2_gbdt_qentry *dst)
{
    summary out = {sk->out, 0};
    if (count) get_summary(sk, &out);
    if (out.size == 0) return 0;
    size_t inter = (size_t)max_bin * 8;
    if (count < inter) inter = count;
    summary reduced = {dst, 0};
    set_prune(&reduced, &out, inter);
    return reduced.size;
}

size_t mc2_gbdt_summary_merge(const mc2_gbdt_qentry *a, size_t na, const mc2_gbdt_qentry *b,
                              size_t nb, size_t maxsize, mc2_gbdt_qentry *tmp, mc2_gbdt_qentry *dst)
{
    summary sa = {(mc2_gbdt_qentry *)a, na}, sb = {(mc2_gbdt_qentry *)b, nb};
    summary t = {tmp, 0}, o = {dst, 0};
    set_combine(&t, &sa, &sb);
    set_prune(&o, &t, maxsize);
    return o.size;
}

uint32_t mc2_gbdt_summary_cuts(const mc2_gbdt_qentry *s, size_t size, size_t count,
                               uint32_t max_bin, mc2_gbdt_qentry *tmp, float *cuts, float *min_val)
{
    uint32_t nc = 0;
    if (size == 0) { /* an empty column (or only zero weights): one bin */
        *min_val = 1e-5f;
        cuts[nc++] = *min_val + (fabsf(*min_val) + 1e-5f);
        return nc;
    }
    size_t inter = (size_t)max_bin * 8;
    if (count < inter) inter = count;
    size_t max_num_bins = inter < max_bin ? inter : max_bin;
    summary src = {(mc2_gbdt_qentry *)s, size}, a = {tmp, 0};
    set_prune(&a, &src, max_num_bins + 1);
    float mval = a.data[0].value;
    *min_val = mval - fabsf(mval) - 1e-5f;
    size_t required = a.size < max_num_bins ? a.size : max_num_bins;
    for (size_t i = 1; i < required; i++) {
        float cpt = a.data[i].value;
        if (i == 1 || cpt > cuts[nc - 1]) cuts[nc++] = cpt;
    }
    float cpt = a.data[a.size - 1].value;
    cuts[nc++] = cpt + (fabsf(cpt) + 1e-5f);
    return nc;
}

uint32_t mc2_gbdt_sketch_cuts(mc2_gbdt_sketch *sk, size_t count, uint32_t max_bin, float *cuts,
                              float *min_val)
{
    /* temp holds 2 * limit_size >= the summary's entries; out then takes the final prune */
    size_t n = mc2_gbdt_sketch_summary(sk, count, max_bin, sk->temp);
    return mc2_gbdt_summary_cuts(sk->temp, n, count, max_bin, sk->out, cuts, min_val);
}

int mc2_gbdt_sketch_alloc(mc2_gbdt_sketch *sk, size_t maxn, uint32_t max_bin)
{
    memset(sk, 0, sizeof *sk);
    size_t ls, nl;
    mc2_gbdt_sketch_dims(maxn, max_bin, &ls, &nl);
    sk->cap_limit = ls;
    sk->cap_levels = nl + 2;
    size_t two = 2 * ls + 2;
    sk->queue = mc2_malloc(two * sizeof *sk->queue);
    sk->sort_a = mc2_malloc(two * sizeof *sk->sort_a);
    sk->sort_b = mc2_malloc(two * sizeof *sk->sort_b);
    sk->temp = mc2_malloc(two * sizeof *sk->temp);
    /* out also receives the final prune; max_bin * 8 bounds nothing here, 2 * ls does */
    sk->out = mc2_malloc((two + (size_t)max_bin + 2) * sizeof *sk->out);
    sk->levels = mc2_malloc(sk->cap_levels * ls * sizeof *sk->levels);
    sk->level_size = mc2_calloc(sk->cap_levels, sizeof *sk->level_size);
    if (!sk->queue || !sk->sort_a || !sk->sort_b || !sk->temp || !sk->out || !sk->levels ||
        !sk->level_size) {
        mc2_gbdt_sketch_free(sk);
        return -1;
    }
    return 0;
}

void mc2_gbdt_sketch_free(mc2_gbdt_sketch *sk)
{
    mc2_free(sk->queue);
    mc2_free(sk->sort_a);
    mc2_free(sk->sort_b);
    mc2_free(sk->temp);
    mc2_free(sk->out);
    mc2_free(sk->levels);
    mc2_free(sk->level_size);
    memset(sk, 0, sizeof *sk);
}

uint32_t mc2_gbdt_feature_cuts(const float *vals, const float *wts, size_t n, uint32_t max_bin,
                               float *cuts, float *min_val)
{
    mc2_gbdt_sketch sk;
    if (mc2_gbdt_sketch_alloc(&sk, n ? n : 1, max_bin) != 0) return 0;
    mc2_gbdt_sketch_init(&sk, n ? n : 1, max_bin);
    for (size_t i = 0; i < n; i++) mc2_gbdt_sketch_push(&sk, vals[i], wts ? wts[i] : 1.0f);
    uint32_t nc = mc2_gbdt_sketch_cuts(&sk, n, max_bin, cuts, min_val);
    mc2_gbdt_sketch_free(&sk);
    return nc;
}
