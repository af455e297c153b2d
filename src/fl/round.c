/* round.c - a fedavg round's params (fl.h, docs/fl.md's params table): each param is parsed
 * strictly and each bad one fails with a message that names it and says what it must be. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl/fl.h"

/* ---- tensors ------------------------------------------------------------------------------- */

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* A decimal 1..max without sign, spaces or leading zeros, from s[0..n). */
static bool dec_span(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20 || s[0] < '1' || s[0] > '9') return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > max / 10 || (v == max / 10 && d > max % 10)) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* One "name:d1xd2..." of text[0..n) into t. */
static int tensor_parse(const char *s, size_t n, mc2_fl_tensor *t, mc2_err *err)
{
    const char *colon = memchr(s, ':', n);
    size_t nl = colon ? (size_t)(colon - s) : 0;
    if (!colon || nl == 0 || nl > MC2_FL_NAME_MAX)
        return mc2_err_set(err, MC2_E_INPUT,
                           "'tensors': each entry is NAME:D1xD2... with a name of 1 to %d "
                           "characters [a-z0-9_] (e.g. w:30x1,b:1)",
                           MC2_FL_NAME_MAX);
    for (size_t i = 0; i < nl; i++)
        if (!name_char(s[i]))
            return mc2_err_set(err, MC2_E_INPUT,
                               "'tensors': tensor names use only [a-z0-9_] (entry %zu bytes long)",
                               n);
    memcpy(t->name, s, nl);
    t->name[nl] = '\0';
    const char *d = colon + 1, *end = s + n;
    t->ndims = 0;
    t->n = 1;
    while (d <= end) {
        const char *x = memchr(d, 'x', (size_t)(end - d));
        const char *stop = x ? x : end;
        uint64_t v;
        if (t->ndims == MC2_FL_MAX_DIMS)
            return mc2_err_set(err, MC2_E_INPUT, "'tensors': tensor '%s' has more than %d dims",
                               t->name, MC2_FL_MAX_DIMS);
        if (!dec_span(d, (size_t)(stop - d), MC2_FL_MAX_VALUES, &v))
            return mc2_err_set(err, MC2_E_INPUT,
                               "'tensors': tensor '%s': each dim is a whole number from 1 to %u",
                               t->name, MC2_FL_MAX_VALUES);
        t->dims[t->ndims++] = v;
        t->n *= v; /* both <= 2^24: no overflow before the check */
        if (t->n > MC2_FL_MAX_VALUES)
            return mc2_err_set(err, MC2_E_LIMIT, "'tensors': tensor '%s' has more than %u values",
                               t->name, MC2_FL_MAX_VALUES);
        if (!x) break;
        d = x + 1;
    }
    return 0;
}

int mc2_fl_shape_parse(const char *text, mc2_fl_shape *s, mc2_err *err)
{
    memset(s, 0, sizeof *s);
    size_t len = strlen(text);
    if (len == 0 || len >= MC2_FL_TENSORS_TEXT_MAX)
        return mc2_err_set(err, MC2_E_INPUT,
                           "'tensors' must list 1 to %d tensors as NAME:D1xD2..., comma-separated "
                           "(e.g. w:30x1,b:1)",
                           MC2_FL_MAX_TENSORS);
    const char *p = text, *end = text + len;
    while (p <= end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *stop = c ? c : end;
        if (s->ntensors == MC2_FL_MAX_TENSORS)
            return mc2_err_set(err, MC2_E_LIMIT, "'tensors': more than %d tensors",
                               MC2_FL_MAX_TENSORS);
        mc2_fl_tensor *t = &s->t[s->ntensors];
        if (tensor_parse(p, (size_t)(stop - p), t, err)) return -1;
        for (size_t i = 0; i < s->ntensors; i++)
            if (strcmp(s->t[i].name, t->name) == 0)
                return mc2_err_set(err, MC2_E_INPUT, "'tensors': tensor '%s' is named twice",
                                   t->name);
        t->off = s->nvalues;
        s->nvalues += t->n;
        if (s->nvalues > MC2_FL_MAX_VALUES)
            return mc2_err_set(err, MC2_E_LIMIT,
                               "'tensors': the model has more than %u values in all",
                               MC2_FL_MAX_VALUES);
        s->ntensors++;
        if (!c) break;
        p = c + 1;
    }
    return 0;
}

void mc2_fl_shape_format(const mc2_fl_shape *s, char *out, size_t cap)
{
    size_t at = 0;
    if (cap) out[0] = '\0';
    for (size_t i = 0; i < s->ntensors && at < cap; i++) {
        int w = snprintf(out + at, cap - at, "%s%s:", i ? "," : "", s->t[i].name);
        at += w > 0 ? (size_t)w : 0;
        for (uint32_t d = 0; d < s->t[i].ndims && at < cap; d++) {
            w = snprintf(out + at, cap - at, "%s%llu", d ? "x" : "",
                         (unsigned long long)s->t[i].dims[d]);
            at += w > 0 ? (size_t)w : 0;
        }
    }
}

/* ---- the params ----------------------------------------------------------------------------- */

static bool party_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > MC2_FL_PARTY_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
    }
    return true;
}

static int parse_parts(const char *v, mc2_fl_round *r, mc2_err *err)
{
    const char *p = v, *end = v + strlen(v);
    while (p <= end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t n = (size_t)((c ? c : end) - p);
        if (!party_name_ok(p, n))
            return mc2_err_set(err, MC2_E_INPUT,
                               "'participants' is a comma-separated list of party names (letters, "
                               "digits, '.', '_', '-'; no spaces)");
        if (r->nparts == MC2_FL_MAX_PARTICIPANTS)
            return mc2_err_set(err, MC2_E_LIMIT, "'participants': more than %d parties",
                               MC2_FL_MAX_PARTICIPANTS);
        memcpy(r->parts[r->nparts], p, n);
        r->parts[r->nparts][n] = '\0';
        for (size_t i = 0; i < r->nparts; i++)
            if (strcmp(r->parts[i], r->parts[r->nparts]) == 0)
                return mc2_err_set(err, MC2_E_INPUT, "'participants' names %s twice", r->parts[i]);
        r->nparts++;
        if (!c) break;
        p = c + 1;
    }
    if (r->nparts < 2)
        return mc2_err_set(err, MC2_E_INPUT,
                           "'participants' must name at least 2 parties (a round of one would "
                           "release that party's update)");
    return 0;
}

static int bad_int(const char *key, uint64_t lo, uint64_t hi, mc2_err *err)
{
    return mc2_err_set(err, MC2_E_INPUT, "'%s' must be a whole number from %llu to %llu", key,
                       (unsigned long long)lo, (unsigned long long)hi);
}

static int get_int(const char *key, const char *v, uint64_t lo, uint64_t hi, uint64_t *out,
                   mc2_err *err)
{
    uint64_t x;
    if (!dec_span(v, strlen(v), hi, &x) || x < lo) return bad_int(key, lo, hi, err);
    *out = x;
    return 0;
}

/* A finite decimal number in [lo, hi] (lo_open: lo itself excluded). */
static int get_num(const char *key, const char *v, double lo, bool lo_open, double hi, double *out,
                   mc2_err *err)
{
    char *end;
    errno = 0;
    double x = (v[0] == '-' || v[0] == '+' || (v[0] >= '0' && v[0] <= '9') || v[0] == '.')
                   ? strtod(v, &end)
                   : NAN;
    if (isnan(x) || *end || errno || !isfinite(x) || x < lo || (lo_open && x == lo) || x > hi)
        return mc2_err_set(err, MC2_E_INPUT, "'%s' must be a number %s %g and at most %g", key,
                           lo_open ? "above" : "from", lo, hi);
    *out = x;
    return 0;
}

static const char KNOWN[] = "participants, tensors, round, k, deadline_s, base_job, server_lr, "
                            "clip_norm, noise_multiplier, delta, max_weight, masks, "
                            "mask_threshold, clipping_range, quantization_range, stage_timeout_s";

static bool masked_only(const char *key)
{
    return strcmp(key, "mask_threshold") == 0 || strcmp(key, "clipping_range") == 0 ||
           strcmp(key, "quantization_range") == 0 || strcmp(key, "stage_timeout_s") == 0;
}

/* Parses one param (key, v) into r; r->nparts is known when mask_threshold and k come. */
static int one_param(const char *key, const char *v, mc2_fl_round *r, mc2_err *err)
{
    uint64_t x;
    if (strcmp(key, "tensors") == 0) return mc2_fl_shape_parse(v, &r->shape, err);
    if (strcmp(key, "round") == 0) {
        if (get_int(key, v, 1, UINT32_MAX, &x, err)) return -1;
        r->round = (uint32_t)x;
        return 0;
    }
    if (strcmp(key, "k") == 0) {
        if (get_int(key, v, 1, r->nparts, &x, err))
            return mc2_err_prefix(
                err, "the release threshold (at most the %zu participants): ", r->nparts);
        r->k = (uint32_t)x;
        return 0;
    }
    if (strcmp(key, "deadline_s") == 0) return get_int(key, v, 1, 604800, &r->deadline_s, err);
    if (strcmp(key, "base_job") == 0) {
        r->has_base = true;
        return get_int(key, v, 1, UINT64_MAX, &r->base_job, err);
    }
    if (strcmp(key, "server_lr") == 0) return get_num(key, v, 0, true, 1000, &r->server_lr, err);
    if (strcmp(key, "clip_norm") == 0) return get_num(key, v, 0, false, 1e9, &r->clip_norm, err);
    if (strcmp(key, "noise_multiplier") == 0)
        return get_num(key, v, 0, false, 1000, &r->noise_multiplier, err);
    if (strcmp(key, "delta") == 0) {
        if (get_num(key, v, 0, true, 1, &r->delta, err)) return -1;
        if (r->delta >= 1) return mc2_err_set(err, MC2_E_INPUT, "'delta' must be below 1");
        return 0;
    }
    if (strcmp(key, "max_weight") == 0) return get_int(key, v, 1, 1ull << 40, &r->max_weight, err);
    if (strcmp(key, "masks") == 0) {
        if (strcmp(v, "off") == 0)
            r->masks = MC2_FL_MASKS_OFF;
        else if (strcmp(v, "secagg") == 0)
            r->masks = MC2_FL_MASKS_SECAGG;
        else
            return mc2_err_set(err, MC2_E_INPUT, "'masks' must be off or secagg");
        return 0;
    }
    if (strcmp(key, "mask_threshold") == 0) {
        if (get_int(key, v, 1, r->nparts, &x, err)) return -1;
        r->mask_threshold = (uint32_t)x;
        return 0;
    }
    if (strcmp(key, "clipping_range") == 0)
        return get_num(key, v, 0, true, 1e6, &r->clipping_range, err);
    if (strcmp(key, "quantization_range") == 0)
        return get_int(key, v, 2, 1ull << 31, &r->quantization_range, err);
    if (strcmp(key, "stage_timeout_s") == 0)
        return get_int(key, v, 1, 3600, &r->stage_timeout_s, err);
    return mc2_err_set(err, MC2_E_INPUT, "fedavg takes no parameter '%s' (known: %s)", key, KNOWN);
}

static int find_param(const mc2_job *j, const char *key)
{
    for (size_t i = 0; i < j->nparams; i++)
        if (strcmp(j->param_key[i], key) == 0) return (int)i;
    return -1;
}

int mc2_fl_round_from_job(const mc2_job *j, mc2_fl_round *r, mc2_err *err)
{
    memset(r, 0, sizeof *r);
    r->deadline_s = 600;
    r->server_lr = 1;
    r->delta = 1e-5;
    r->max_weight = 1000;
    r->clipping_range = 8.0;
    r->quantization_range = 4194304;
    r->stage_timeout_s = 60;
    static const char *const REQUIRED[] = {"participants", "tensors", "round", "k"};
    for (size_t i = 0; i < 4; i++)
        if (find_param(j, REQUIRED[i]) < 0)
            return mc2_err_set(err, MC2_E_INPUT,
                               "fedavg needs the parameter '%s' (participants, tensors, round, k "
                               "are required; docs/fl.md)",
                               REQUIRED[i]);
    if (j->ninputs)
        return mc2_err_set(err, MC2_E_INPUT,
                           "fedavg takes no input tables: participants send their updates");
    if (parse_parts(j->param_value[find_param(j, "participants")], r, err)) return -1;
    for (size_t i = 0; i < j->nparams; i++) {
        const char *key = j->param_key[i];
        if (strcmp(key, "participants") == 0 || strcmp(key, "cpu_seconds") == 0) continue;
        if (one_param(key, j->param_value[i], r, err)) return -1;
    }
    if (r->noise_multiplier > 0 && r->clip_norm <= 0)
        return mc2_err_set(err, MC2_E_INPUT,
                           "'noise_multiplier' needs 'clip_norm' > 0 (the noise is scaled to the "
                           "clipped updates' bound)");
    if (r->masks == MC2_FL_MASKS_OFF) {
        for (size_t i = 0; i < j->nparams; i++)
            if (masked_only(j->param_key[i]))
                return mc2_err_set(err, MC2_E_INPUT,
                                   "'%s' applies to masked rounds only (masks secagg)",
                                   j->param_key[i]);
    } else {
        if (r->nparts > MC2_FL_MAX_MASKED_PARTICIPANTS)
            return mc2_err_set(err, MC2_E_LIMIT,
                               "a masked round takes at most %d participants (each keeps its "
                               "attested session open through the stages; the enclave serves "
                               "64 sessions): split the round or use masks off",
                               MC2_FL_MAX_MASKED_PARTICIPANTS);
        if (r->mask_threshold == 0) {
            uint32_t half = (uint32_t)(r->nparts / 2 + 1);
            r->mask_threshold = r->k > half ? r->k : half;
        }
    }
    return 0;
}

int mc2_fl_participant(const mc2_fl_round *r, const char *name)
{
    for (size_t i = 0; i < r->nparts; i++)
        if (strcmp(r->parts[i], name) == 0) return (int)i;
    return -1;
}
