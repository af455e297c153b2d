/* model.c - the model a round releases (fl.h: MC2FLM1) and its sealed object (MC2FLS1). */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "fl/fl.h"

int mc2_fl_model_encode(const mc2_fl_shape *s, const float *values, const mc2_fl_report *rep,
                        mc2_buf *out, mc2_err *err)
{
    char text[MC2_FL_TENSORS_TEXT_MAX];
    mc2_fl_shape_format(s, text, sizeof text);
    size_t tl = strlen(text);
    mc2_buf_reset(out);
    if (mc2_buf_reserve(out, 64 + tl + (size_t)s->nvalues * 4, err) ||
        mc2_buf_append(out, MC2_FL_MODEL_MAGIC, 8, err) || mc2_buf_put_u32(out, rep->round, err) ||
        mc2_buf_put_u32(out, rep->contributors, err) ||
        mc2_buf_put_u64(out, mc2_f64_bits(rep->total_weight), err) ||
        mc2_buf_put_u64(out, mc2_f64_bits(rep->sigma), err) ||
        mc2_buf_put_u64(out, mc2_f64_bits(rep->epsilon), err) ||
        mc2_buf_put_u64(out, mc2_f64_bits(rep->delta), err) || mc2_buf_put_lv(out, text, tl, err) ||
        mc2_buf_put_u64(out, s->nvalues, err))
        return -1;
    uint8_t *dst = out->data + out->len;
    for (uint64_t i = 0; i < s->nvalues; i++) {
        uint32_t x;
        memcpy(&x, &values[i], 4);
        mc2_le32_put(dst + i * 4, x);
    }
    out->len += (size_t)s->nvalues * 4;
    return 0;
}

int mc2_fl_model_decode(const uint8_t *p, size_t n, mc2_fl_model *m, mc2_err *err)
{
    memset(m, 0, sizeof *m);
    mc2_rd r = mc2_rd_init(p, n);
    const uint8_t *magic = mc2_rd_take(&r, 8);
    if (!magic || memcmp(magic, MC2_FL_MODEL_MAGIC, 8) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "not an mc2 fl model (magic MC2FLM1 expected)");
    m->rep.round = mc2_rd_u32(&r);
    m->rep.contributors = mc2_rd_u32(&r);
    m->rep.total_weight = mc2_f64_of(mc2_rd_u64(&r));
    m->rep.sigma = mc2_f64_of(mc2_rd_u64(&r));
    m->rep.epsilon = mc2_f64_of(mc2_rd_u64(&r));
    m->rep.delta = mc2_f64_of(mc2_rd_u64(&r));
    size_t tl;
    const uint8_t *text = mc2_rd_lv(&r, &tl);
    uint64_t nv = mc2_rd_u64(&r);
    if (r.bad || tl == 0 || tl >= MC2_FL_TENSORS_TEXT_MAX || memchr(text, 0, tl))
        return mc2_err_set(err, MC2_E_INPUT, "malformed fl model header");
    char t[MC2_FL_TENSORS_TEXT_MAX];
    memcpy(t, text, tl);
    t[tl] = '\0';
    if (mc2_fl_shape_parse(t, &m->shape, err)) return mc2_err_prefix(err, "fl model: ");
    if (nv != m->shape.nvalues || mc2_rd_left(&r) != nv * 4)
        return mc2_err_set(err, MC2_E_INPUT, "fl model: the values do not match its tensors");
    m->values = mc2_malloc((size_t)nv * sizeof(float));
    if (!m->values) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    const uint8_t *v = mc2_rd_take(&r, (size_t)nv * 4);
    for (uint64_t i = 0; i < nv; i++) {
        uint32_t x = mc2_le32_get(v + i * 4);
        memcpy(&m->values[i], &x, 4);
    }
    return 0;
}

void mc2_fl_model_free(mc2_fl_model *m)
{
    if (m->values) {
        mc2_wipe(m->values, (size_t)m->shape.nvalues * sizeof(float));
        mc2_free(m->values);
    }
    memset(m, 0, sizeof *m);
}

int mc2_fl_seal(const uint8_t key[MC2_KEY_LEN], const uint8_t *p, size_t n, mc2_buf *out,
                mc2_err *err)
{
    mc2_buf_reset(out);
    if (n > SIZE_MAX - 64 || mc2_buf_reserve(out, 8 + MC2_NONCE_LEN + n + MC2_TAG_LEN, err))
        return -1;
    mc2_aead *a = mc2_aead_new(key, err);
    if (!a) return -1;
    uint8_t *o = out->data;
    memcpy(o, MC2_FL_SEALED_MAGIC, 8);
    int rc = mc2_random(o + 8, MC2_NONCE_LEN, err) ||
                     mc2_aead_seal(a, o + 8, o, 8, p, n, o + 8 + MC2_NONCE_LEN,
                                   o + 8 + MC2_NONCE_LEN + n, err)
                 ? -1
                 : 0;
    mc2_aead_free(a);
    if (rc == 0) out->len = 8 + MC2_NONCE_LEN + n + MC2_TAG_LEN;
    return rc;
}

int mc2_fl_open(const uint8_t key[MC2_KEY_LEN], const uint8_t *p, size_t n, mc2_buf *out,
                mc2_err *err)
{
    out->secret = 1;
    mc2_buf_reset(out);
    if (n < 8 + MC2_NONCE_LEN + MC2_TAG_LEN || memcmp(p, MC2_FL_SEALED_MAGIC, 8) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "not a sealed mc2 fl model (magic MC2FLS1)");
    size_t m = n - 8 - MC2_NONCE_LEN - MC2_TAG_LEN;
    if (mc2_buf_reserve(out, m ? m : 1, err)) return -1;
    mc2_aead *a = mc2_aead_new(key, err);
    if (!a) return -1;
    int rc = mc2_aead_open(a, p + 8, p, 8, p + 8 + MC2_NONCE_LEN, m, p + n - MC2_TAG_LEN, out->data,
                           err);
    mc2_aead_free(a);
    if (rc) return mc2_err_set(err, MC2_E_AUTH, "the sealed fl model does not authenticate");
    out->len = m;
    return 0;
}
