/* Fully quantized training (FQT): run-time range tracking and quantization parameters,
 * int32-accumulating forward layers, the selection-aware int32 weight gradients, the
 * normalised update of quantized weights without float master copies, and the top-k
 * structure selection of dynamic partial updates.
 *
 * Numeric contract: odtc/runtime/fqt.py, BIT FOR BIT. Every float operation below is one
 * IEEE single-precision operation in the order fqt.py states (compile with
 * -ffp-contract=off so that no multiply-add is fused); float reductions are sequential sums
 * in index order; rounding is rintf (ties to even, the default rounding mode) or floorf;
 * int -> float conversions round to nearest like numpy's. No double arithmetic, no malloc,
 * no VLAs: working memory comes from the caller's scratch (sizes in odtc_kernels.h).
 *
 * The integer layers reuse the library's building blocks, so the Arm DSP code paths
 * (SXTB16/SMLAD, bit-identical to the portable ones) apply here too: the forward layers
 * widen one input patch / row to offset int16 (the dot-product lane order) and take dot
 * products with two weight rows at a time (odtc_dot2_s16_s8); the weight gradients are
 * odtc_{dense,conv2d}_{s8,u8}_grad_weight with the selection as the channel list. */
#include <float.h>
#include <math.h>
#include <string.h>

#define ODTC_KERNEL_IMPL /* ODTC_ALWAYS_INLINE */
#include "odtc_kernels.h"

/* ---- helpers --------------------------------------------------------------------------- */

static int32_t fqt_storage_min(int32_t storage)
{
    switch (storage) {
    case ODTC_S8: return -128;
    case ODTC_U8: return 0;
    case ODTC_S16: return -32768;
    default: return INT32_MIN;
    }
}

static int32_t fqt_storage_max(int32_t storage)
{
    switch (storage) {
    case ODTC_S8: return 127;
    case ODTC_U8: return 255;
    case ODTC_S16: return 32767;
    default: return INT32_MAX;
    }
}

static int32_t fqt_load_q(const void *q, int32_t storage, size_t i)
{
    switch (storage) {
    case ODTC_S8: return ((const int8_t *)q)[i];
    case ODTC_U8: return ((const uint8_t *)q)[i];
    case ODTC_S16: return ((const int16_t *)q)[i];
    default: return ((const int32_t *)q)[i];
    }
}

/* Stores the low bits of v (the caller clamps when the op clamps; numpy's astype wraps). */
static void fqt_store_q(void *q, int32_t storage, size_t i, int32_t v)
{
    switch (storage) {
    case ODTC_S8: ((int8_t *)q)[i] = (int8_t)v; break;
    case ODTC_U8: ((uint8_t *)q)[i] = (uint8_t)v; break;
    case ODTC_S16: ((int16_t *)q)[i] = (int16_t)v; break;
    default: ((int32_t *)q)[i] = v; break;
    }
}

/* Element i of a gradient as f32: an f32 tensor, or an int32 accumulator converted
 * (round to nearest, numpy's astype(float32)). Always inlined with a constant g_type (the
 * kernels branch on it once, outside their loops): besides being faster, this keeps
 * GCC 12 from if-converting the conversion into a conditional VCVT, which the Cortex-M55
 * (Armv8.1-M) assembler rejects. */
static ODTC_ALWAYS_INLINE float fqt_load_g(const void *g, int32_t g_type, size_t i)
{
    if (g_type == ODTC_F32) {
        return ((const float *)g)[i];
    }
    return (float)((const int32_t *)g)[i];
}

static int32_t fqt_clamp_i64(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : (int32_t)v);
}

/* Bytes per element of a storage code (the 8-bit codes are the ones the FQT ops use). */
static size_t fqt_storage_bytes(int32_t storage)
{
    switch (storage) {
    case ODTC_S8:
    case ODTC_U8: return 1u;
    case ODTC_S16: return 2u;
    default: return 4u;
    }
}

/* f32(q - z): the exact integer difference rounded once to f32, through int32 when it fits
 * (the cheaper conversion; the same value), as odtc_dequantize and numpy's astype. */
static float fqt_diff_f32(int32_t q, int32_t z)
{
    const int64_t d = (int64_t)q - z;
    return (d >= INT32_MIN && d <= INT32_MAX) ? (float)(int32_t)d : (float)d;
}

/* One term of odtc_dequantize: f32(s * f32(q - z)), a single f32 multiply. */
static float fqt_dequantize_value(const void *q, int32_t storage, float s, int32_t z, size_t i)
{
    return s * fqt_diff_f32(fqt_load_q(q, storage, i), z);
}

/* A rounded float (rintf/floorf result) as int64: NaN -> 0, clamped to +-2^40 (beyond it
 * any 8-bit zero-point and clamp give the same result), as fqt.py's nan_to_num + clip. */
static int64_t fqt_round_to_i64(float r)
{
    const float lim = 1099511627776.0f; /* 2^40 */
    if (r != r) {
        return 0;
    }
    return (int64_t)(r > lim ? lim : (r < -lim ? -lim : r));
}

/* Number of selected rows: *count clamped to [0, rows], or all rows without a selection. */
static int32_t fqt_selected(const int32_t *select, const int32_t *select_count, int32_t rows)
{
    if (select == NULL || select_count == NULL) {
        return rows;
    }
    const int32_t k = *select_count;
    return k < 0 ? 0 : (k > rows ? rows : k);
}

/* numpy's [min, max] of a float sequence: a NaN anywhere makes both NaN (the first NaN
 * seen); otherwise strict comparisons keep the first extreme. */
typedef struct {
    float lo;
    float hi;
    int32_t started;
    int32_t nan;
} fqt_minmax;

static void fqt_minmax_add(fqt_minmax *m, float v)
{
    if (m->nan) {
        return;
    }
    if (v != v) {
        m->lo = v;
        m->hi = v;
        m->nan = 1;
        return;
    }
    if (!m->started) {
        m->lo = v;
        m->hi = v;
        m->started = 1;
        return;
    }
    if (v < m->lo) {
        m->lo = v;
    }
    if (v > m->hi) {
        m->hi = v;
    }
}

static void fqt_minmax_store(const fqt_minmax *m, float *range)
{
    if (!m->started && !m->nan) { /* nothing observed: the empty range */
        range[0] = 1.0f;
        range[1] = -1.0f;
        return;
    }
    range[0] = m->lo;
    range[1] = m->hi;
}

/* ---- scalars and ranges ---------------------------------------------------------------- */

float odtc_scale_mul(const float *a, const float *b)
{
    return *a * *b;
}

void odtc_scale_mul_channels(const float *a, const float *b, float *y, int32_t n)
{
    const float s = *a;
    for (int32_t i = 0; i < n; ++i) {
        y[i] = s * b[i];
    }
}

float odtc_scale_max(const float *s, int32_t n)
{
    if (n < 1) {
        return 1.0f;
    }
    fqt_minmax m = {0.0f, 0.0f, 0, 0};
    for (int32_t i = 0; i < n && !m.nan; ++i) {
        fqt_minmax_add(&m, s[i]);
    }
    return m.hi;
}

float odtc_scale_div(const float *s, int32_t divisor)
{
    return *s / (float)divisor; /* int32 -> f32 rounds to nearest, as np.float32(divisor) */
}

void odtc_minmax_f32(const float *x, float *range, size_t numel)
{
    fqt_minmax m = {0.0f, 0.0f, 0, 0};
    for (size_t i = 0; i < numel && !m.nan; ++i) {
        fqt_minmax_add(&m, x[i]);
    }
    fqt_minmax_store(&m, range);
}

void odtc_minmax_acc(const int32_t *acc, const float *scale, float *range, size_t numel)
{
    if (numel == 0) {
        range[0] = 1.0f;
        range[1] = -1.0f;
        return;
    }
    int32_t lo = acc[0], hi = acc[0];
    for (size_t i = 1; i < numel; ++i) {
        const int32_t v = acc[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    const float s = *scale;
    range[0] = s * (float)lo;
    range[1] = s * (float)hi;
}

void odtc_minmax_acc_channels(const int32_t *acc, const float *scale, float *range, int32_t n, int32_t c,
                              int32_t spatial)
{
    if (n < 1 || c < 1 || spatial < 1) {
        range[0] = 1.0f;
        range[1] = -1.0f;
        return;
    }
    /* numpy's min of the lo_c and max of the hi_c: each a NaN as soon as one of its terms
     * is (kept once seen); otherwise strict comparisons keep the first extreme */
    float rlo = 0.0f, rhi = 0.0f;
    for (int32_t ch = 0; ch < c; ++ch) {
        int32_t lo = INT32_MAX, hi = INT32_MIN;
        for (int32_t ni = 0; ni < n; ++ni) {
            const int32_t *p = acc + ((size_t)ni * (size_t)c + (size_t)ch) * (size_t)spatial;
            for (int32_t i = 0; i < spatial; ++i) {
                const int32_t v = p[i];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
        const float s = scale[ch];
        const float lo_c = s * (float)lo;
        const float hi_c = s * (float)hi;
        if (ch == 0) {
            rlo = lo_c;
            rhi = hi_c;
            continue;
        }
        if (rlo == rlo && (lo_c != lo_c || lo_c < rlo)) {
            rlo = lo_c;
        }
        if (rhi == rhi && (hi_c != hi_c || hi_c > rhi)) {
            rhi = hi_c;
        }
    }
    range[0] = rlo;
    range[1] = rhi;
}

void odtc_ema_range(const float *old, const float *observed, float *range, float alpha)
{
    const float o0 = old[0], o1 = old[1];
    const float n0 = observed[0], n1 = observed[1];
    if (o0 > o1) { /* empty: the first observation replaces it */
        range[0] = n0;
        range[1] = n1;
        return;
    }
    range[0] = o0 + alpha * (n0 - o0);
    range[1] = o1 + alpha * (n1 - o1);
}

float odtc_running_max(const float *old, const float *value)
{
    const float a = *old;
    const float b = fabsf(*value);
    return b > a ? b : a; /* Python max(a, b): a unless b > a */
}

/* fqt.qparams. Python's min(v, 0) / max(v, 0) keep v unless 0 compares below / above it. */
static void fqt_qparams(const float *range, int32_t qmin, int32_t qmax, int32_t symmetric, float *scale,
                        int32_t *zero_point)
{
    float v0 = range[0], v1 = range[1];
    if (v0 > v1) {
        v0 = 0.0f;
        v1 = 0.0f;
    }
    const float lo = 0.0f < v0 ? 0.0f : v0;
    const float hi = 0.0f > v1 ? 0.0f : v1;
    float s;
    if (symmetric) {
        const float nlo = -lo;
        s = (hi > nlo ? hi : nlo) / (float)qmax;
    } else {
        s = (hi - lo) / (float)(qmax - qmin);
    }
    if (!(s >= FLT_MIN && s <= FLT_MAX)) { /* not a normal positive finite scale */
        s = 1.0f;
    }
    *scale = s;
    if (symmetric) {
        *zero_point = 0;
        return;
    }
    /* lo / s <= 0. A NaN (NaN range) counts as 0 and -inf (range reaching -inf) saturates:
     * fqt.py raises in int() for both. */
    const int64_t t = fqt_round_to_i64(rintf(lo / s));
    *zero_point = fqt_clamp_i64((int64_t)qmin - t, qmin, qmax);
}

float odtc_range_scale(const float *range, int32_t qmin, int32_t qmax, int32_t symmetric)
{
    float s;
    int32_t z;
    fqt_qparams(range, qmin, qmax, symmetric, &s, &z);
    return s;
}

int32_t odtc_range_zero_point(const float *range, int32_t qmin, int32_t qmax, int32_t symmetric)
{
    float s;
    int32_t z;
    fqt_qparams(range, qmin, qmax, symmetric, &s, &z);
    return z;
}

/* ---- forward layers accumulating in int32 ---------------------------------------------- */

int32_t odtc_quantize_bias(float b, float s)
{
    const float r = rintf(b / s);
    if (r != r) {
        return 0;
    }
    if (r >= 2147483648.0f) {
        return INT32_MAX;
    }
    if (r <= -2147483648.0f) {
        return INT32_MIN;
    }
    return (int32_t)r;
}

/* dot + bias in two's complement (the reference rejects results outside int32). */
static int32_t fqt_add_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* The int32 bias table at the start of the scratch (NULL bias: zeros; acc_scale then not
 * read); bias[oc] at acc_scale[oc] (per_channel) or *acc_scale. Returns it. */
static int32_t *fqt_bias_table(void *scratch, const float *bias, const float *acc_scale, int32_t per_channel,
                               int32_t o)
{
    int32_t *bq = (int32_t *)scratch;
    for (int32_t oc = 0; oc < o; ++oc) {
        bq[oc] = bias != NULL ? odtc_quantize_bias(bias[oc], acc_scale[per_channel ? oc : 0]) : 0;
    }
    return bq;
}

static void qconv2d_acc(const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *w,
                        const int32_t *w_zero_point, int32_t w_per_channel, const float *bias,
                        const float *acc_scale, int32_t *acc, void *scratch, int32_t n, int32_t c, int32_t h,
                        int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w,
                        int32_t pad_top, int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    const int32_t klen = ci * kh * kw;
    const int32_t zx = *x_zero_point;
    const int32_t zw0 = *w_zero_point; /* per tensor: read once */
    const int32_t *bq = fqt_bias_table(scratch, bias, acc_scale, w_per_channel, o);
    int16_t *patch = (int16_t *)(void *)((int32_t *)scratch + o);
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t g = 0; g < groups; ++g) {
            for (int32_t oy = 0; oy < oh_n; ++oy) {
                for (int32_t ox = 0; ox < ow_n; ++ox) {
                    /* im2col patch (x - zx) over (i, ky, kx); padding contributes 0 */
                    int32_t p = 0;
                    for (int32_t i = 0; i < ci; ++i) {
                        const size_t plane = ((size_t)ni * c + (size_t)g * ci + i) * (size_t)h * w_;
                        for (int32_t ky = 0; ky < kh; ++ky) {
                            const int32_t iy = oy * stride_h - pad_top + ky;
                            for (int32_t kx = 0; kx < kw; ++kx, ++p) {
                                const int32_t ix = ox * stride_w - pad_left + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w_) {
                                    patch[p] = 0;
                                    continue;
                                }
                                const size_t xi = plane + (size_t)iy * w_ + ix;
                                const int32_t xv = is_u8 ? (int32_t)((const uint8_t *)x)[xi]
                                                         : (int32_t)((const int8_t *)x)[xi];
                                patch[p] = (int16_t)(xv - zx);
                            }
                        }
                    }
                    odtc_dot_layout_s16(patch, klen);
                    const size_t pos = (size_t)oy * ow_n + ox;
                    int32_t oc = g * og;
                    for (; oc + 2 <= (g + 1) * og; oc += 2) {
                        int32_t d[2];
                        odtc_dot2_s16_s8(patch, w + (size_t)oc * klen, w_per_channel ? w_zero_point[oc] : zw0,
                                         w + (size_t)(oc + 1) * klen, w_per_channel ? w_zero_point[oc + 1] : zw0,
                                         klen, d);
                        acc[((size_t)ni * o + oc) * oh_n * ow_n + pos] = fqt_add_wrap(d[0], bq[oc]);
                        acc[((size_t)ni * o + oc + 1) * oh_n * ow_n + pos] = fqt_add_wrap(d[1], bq[oc + 1]);
                    }
                    if (oc < (g + 1) * og) {
                        const int32_t zw = w_per_channel ? w_zero_point[oc] : zw0;
                        const int32_t d = odtc_dot_s16_s8(patch, w + (size_t)oc * klen, zw, klen);
                        acc[((size_t)ni * o + oc) * oh_n * ow_n + pos] = fqt_add_wrap(d, bq[oc]);
                    }
                }
            }
        }
    }
}

void odtc_qconv2d_acc_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                         const int32_t *w_zero_point, int32_t w_per_channel, const float *bias,
                         const float *acc_scale, int32_t *acc, void *scratch,
                         int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                         int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                         int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    qconv2d_acc(x, 0, x_zero_point, w, w_zero_point, w_per_channel, bias, acc_scale, acc, scratch, n, c, h, w_, o,
                kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups);
}

void odtc_qconv2d_acc_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                         const int32_t *w_zero_point, int32_t w_per_channel, const float *bias,
                         const float *acc_scale, int32_t *acc, void *scratch,
                         int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                         int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                         int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    qconv2d_acc(x, 1, x_zero_point, w, w_zero_point, w_per_channel, bias, acc_scale, acc, scratch, n, c, h, w_, o,
                kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups);
}

static void qdense_acc(const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *w,
                       const int32_t *w_zero_point, int32_t w_per_channel, const float *bias,
                       const float *acc_scale, int32_t *acc, void *scratch, int32_t n, int32_t k, int32_t o)
{
    const int32_t zx = *x_zero_point;
    const int32_t zw0 = *w_zero_point; /* per tensor: read once */
    const int32_t *bq = fqt_bias_table(scratch, bias, acc_scale, w_per_channel, o);
    int16_t *a = (int16_t *)(void *)((int32_t *)scratch + o);
    for (int32_t ni = 0; ni < n; ++ni) {
        if (is_u8) {
            odtc_offset_u8_to_s16((const uint8_t *)x + (size_t)ni * k, zx, a, k);
        } else {
            odtc_offset_s8_to_s16((const int8_t *)x + (size_t)ni * k, zx, a, k);
        }
        odtc_dot_layout_s16(a, k);
        int32_t *ar = acc + (size_t)ni * o;
        int32_t oc = 0;
        for (; oc + 2 <= o; oc += 2) {
            int32_t d[2];
            odtc_dot2_s16_s8(a, w + (size_t)oc * k, w_per_channel ? w_zero_point[oc] : zw0, w + (size_t)(oc + 1) * k,
                             w_per_channel ? w_zero_point[oc + 1] : zw0, k, d);
            ar[oc] = fqt_add_wrap(d[0], bq[oc]);
            ar[oc + 1] = fqt_add_wrap(d[1], bq[oc + 1]);
        }
        if (oc < o) {
            ar[oc] = fqt_add_wrap(odtc_dot_s16_s8(a, w + (size_t)oc * k, w_per_channel ? w_zero_point[oc] : zw0, k),
                                  bq[oc]);
        }
    }
}

void odtc_qdense_acc_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                        const int32_t *w_zero_point, int32_t w_per_channel, const float *bias,
                        const float *acc_scale, int32_t *acc, void *scratch, int32_t n, int32_t k, int32_t o)
{
    qdense_acc(x, 0, x_zero_point, w, w_zero_point, w_per_channel, bias, acc_scale, acc, scratch, n, k, o);
}

void odtc_qdense_acc_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                        const int32_t *w_zero_point, int32_t w_per_channel, const float *bias,
                        const float *acc_scale, int32_t *acc, void *scratch, int32_t n, int32_t k, int32_t o)
{
    qdense_acc(x, 1, x_zero_point, w, w_zero_point, w_per_channel, bias, acc_scale, acc, scratch, n, k, o);
}

void odtc_acc_relu(const int32_t *acc, int32_t *y, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        const int32_t v = acc[i];
        y[i] = v > 0 ? v : 0;
    }
}

int32_t odtc_relu6_bound(const float *acc_scale)
{
    const float q = floorf(6.0f / *acc_scale);
    if (q >= 2147483648.0f) { /* 2^31 and +inf (a zero or subnormal scale): everything passes */
        return INT32_MAX;
    }
    if (!(q > 0.0f)) { /* NaN, -inf, non-positive quotients */
        return 0;
    }
    return (int32_t)q; /* an integer-valued float in [1, 2^31) */
}

void odtc_acc_relu6(const int32_t *acc, const float *acc_scale, int32_t *y, size_t numel)
{
    const int32_t hi = odtc_relu6_bound(acc_scale);
    for (size_t i = 0; i < numel; ++i) {
        const int32_t v = acc[i] > 0 ? acc[i] : 0;
        y[i] = v < hi ? v : hi;
    }
}

void odtc_requantize_acc(const int32_t *acc, void *y, int32_t y_storage, size_t numel,
                         const float *acc_scale, const float *y_scale, const int32_t *y_zero_point)
{
    const int32_t zero = 0;
    odtc_requantize(acc, ODTC_S32, y, y_storage, numel, acc_scale, &zero, y_scale, y_zero_point);
}

void odtc_acc_relu6_channels(const int32_t *acc, const float *acc_scale, int32_t *y, int32_t n, int32_t c,
                             int32_t spatial)
{
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t ch = 0; ch < c; ++ch) {
            const size_t at = ((size_t)ni * (size_t)c + (size_t)ch) * (size_t)spatial;
            odtc_acc_relu6(acc + at, &acc_scale[ch], y + at, (size_t)spatial);
        }
    }
}

void odtc_requantize_acc_channels(const int32_t *acc, void *y, int32_t y_storage, int32_t n, int32_t c,
                                  int32_t spatial, const float *acc_scale, const float *y_scale,
                                  const int32_t *y_zero_point)
{
    const size_t ybytes = fqt_storage_bytes(y_storage);
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t ch = 0; ch < c; ++ch) {
            const size_t at = ((size_t)ni * (size_t)c + (size_t)ch) * (size_t)spatial;
            odtc_requantize_acc(acc + at, (int8_t *)y + at * ybytes, y_storage, (size_t)spatial, &acc_scale[ch],
                                y_scale, y_zero_point);
        }
    }
}

/* One plane of fqt.qrescale_channels: y = clamp(rintf(f32(e - ze) * f), int16) (a NaN
 * product, from a NaN factor, gives 0; fqt.py leaves it undefined). Always inlined with a
 * constant storage, so each storage gets its own loop. */
static ODTC_ALWAYS_INLINE void qrescale_plane(const void *e, int32_t e_storage, size_t at, int32_t spatial,
                                              int32_t ze, float f, int16_t *y)
{
    for (int32_t i = 0; i < spatial; ++i) {
        float r = rintf(fqt_diff_f32(fqt_load_q(e, e_storage, at + (size_t)i), ze) * f);
        if (!(r == r)) {
            r = 0.0f;
        }
        r = r < -32768.0f ? -32768.0f : (r > 32767.0f ? 32767.0f : r);
        y[at + (size_t)i] = (int16_t)(int32_t)r;
    }
}

/* fqt.qrescale_channels. f[ch] = f32(w_scale[ch] / max) * 2^shift is recomputed for each
 * (n, ch) plane (no buffer); the power-of-two product is exact. */
void odtc_qrescale_channels(const void *e, int32_t e_storage, const int32_t *e_zero_point, const float *w_scale,
                            int16_t *y, int32_t n, int32_t c, int32_t spatial, int32_t shift)
{
    if (n < 1 || c < 1 || spatial < 1) {
        return;
    }
    const float mx = odtc_scale_max(w_scale, c);
    const float p2 = (float)((int32_t)1 << (shift < 0 ? 0 : (shift > 30 ? 30 : shift)));
    const int32_t ze = *e_zero_point;
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t ch = 0; ch < c; ++ch) {
            const float f = (w_scale[ch] / mx) * p2;
            const size_t at = ((size_t)ni * (size_t)c + (size_t)ch) * (size_t)spatial;
            if (e_storage == ODTC_S8) {
                qrescale_plane(e, ODTC_S8, at, spatial, ze, f, y);
            } else if (e_storage == ODTC_U8) {
                qrescale_plane(e, ODTC_U8, at, spatial, ze, f, y);
            } else {
                qrescale_plane(e, ODTC_S16, at, spatial, ze, f, y);
            }
        }
    }
}

/* ---- residual add and global average pool ---------------------------------------------- */

/* fqt.qadd_real, element i: f32(sa * f32(a - za)) + f32(sb * f32(b - zb)). */
static float fqt_qadd_value(const void *a, int32_t a_storage, float sa, int32_t za, const void *b,
                            int32_t b_storage, float sb, int32_t zb, size_t i)
{
    const float ra = fqt_dequantize_value(a, a_storage, sa, za, i);
    const float rb = fqt_dequantize_value(b, b_storage, sb, zb, i);
    return ra + rb;
}

void odtc_qadd_range(const void *a, int32_t a_storage, const float *a_scale, const int32_t *a_zero_point,
                     const void *b, int32_t b_storage, const float *b_scale, const int32_t *b_zero_point,
                     float *range, size_t numel)
{
    const float sa = *a_scale, sb = *b_scale;
    const int32_t za = *a_zero_point, zb = *b_zero_point;
    fqt_minmax m = {0.0f, 0.0f, 0, 0};
    for (size_t i = 0; i < numel && !m.nan; ++i) {
        fqt_minmax_add(&m, fqt_qadd_value(a, a_storage, sa, za, b, b_storage, sb, zb, i));
    }
    fqt_minmax_store(&m, range);
}

/* The real sums go through a small stack block into odtc_quantize (the library's one
 * quantization, so qadd rounds and saturates exactly as quantize does). Each block is read
 * completely before it is written, so y may be a or b. */
#define FQT_QADD_BLOCK 32

void odtc_qadd(const void *a, int32_t a_storage, const float *a_scale, const int32_t *a_zero_point,
               const void *b, int32_t b_storage, const float *b_scale, const int32_t *b_zero_point,
               void *y, int32_t y_storage, const float *y_scale, const int32_t *y_zero_point, size_t numel)
{
    const float sa = *a_scale, sb = *b_scale;
    const int32_t za = *a_zero_point, zb = *b_zero_point;
    const size_t ybytes = fqt_storage_bytes(y_storage);
    float real[FQT_QADD_BLOCK];
    for (size_t i0 = 0; i0 < numel; i0 += FQT_QADD_BLOCK) {
        const size_t m = numel - i0 < FQT_QADD_BLOCK ? numel - i0 : FQT_QADD_BLOCK;
        for (size_t j = 0; j < m; ++j) {
            real[j] = fqt_qadd_value(a, a_storage, sa, za, b, b_storage, sb, zb, i0 + j);
        }
        odtc_quantize(real, (int8_t *)y + i0 * ybytes, y_storage, 1u, 1u, m, y_scale, y_zero_point, 0);
    }
}

void odtc_qavgpool_acc(const void *x, int32_t x_storage, const int32_t *x_zero_point, int32_t *acc,
                       int32_t n, int32_t c, int32_t spatial)
{
    /* sum(x) - spatial * zx in wrapping 32-bit arithmetic: the exact sum whenever it fits
     * int32 (fqt.py rejects the others), with no signed overflow on the way */
    const uint32_t zx = (uint32_t)*x_zero_point;
    const size_t rows = (size_t)n * (size_t)c;
    for (size_t r = 0; r < rows; ++r) {
        const size_t base = r * (size_t)spatial;
        uint32_t sum = 0u;
        for (int32_t i = 0; i < spatial; ++i) {
            sum += (uint32_t)fqt_load_q(x, x_storage, base + (size_t)i);
        }
        acc[r] = (int32_t)(sum - (uint32_t)spatial * zx);
    }
}

void odtc_qgrad_bias(const void *e, int32_t e_storage, const float *scale, const int32_t *zero_point, float *db,
                     int32_t n, int32_t o, int32_t spatial)
{
    const float s = *scale;
    const int32_t z = *zero_point;
    for (int32_t oc = 0; oc < o; ++oc) {
        float acc = 0.0f;
        for (int32_t ni = 0; ni < n; ++ni) {
            const size_t base = ((size_t)ni * (size_t)o + (size_t)oc) * (size_t)spatial;
            for (int32_t i = 0; i < spatial; ++i) {
                const float v = s * (float)(fqt_load_q(e, e_storage, base + (size_t)i) - z);
                acc += v;
            }
        }
        db[oc] = acc;
    }
}

/* ---- streamed accumulators ---------------------------------------------------------------- */

void odtc_acc_stream_init(odtc_acc_stream *s, int32_t relu, const float *acc_scale, const float *y_scale,
                          const int32_t *y_zero_point, void *y, int32_t y_storage, float *range)
{
    s->relu = relu;
    s->acc_scale = acc_scale;
    s->y_scale = y_scale;
    s->y_zero_point = y_zero_point;
    s->y = y;
    s->y_storage = y_storage;
    s->range = range;
    s->lo = INT32_MAX;
    s->hi = INT32_MIN;
    s->seen = 0;
}

void odtc_acc_stream_plane(odtc_acc_stream *s, int32_t *plane, size_t numel, size_t offset)
{
    if (s->relu == 2) {
        odtc_acc_relu6(plane, s->acc_scale, plane, numel);
    } else if (s->relu) {
        odtc_acc_relu(plane, plane, numel);
    }
    if (s->range != NULL) {
        for (size_t i = 0; i < numel; ++i) {
            const int32_t v = plane[i];
            s->lo = v < s->lo ? v : s->lo;
            s->hi = v > s->hi ? v : s->hi;
        }
        s->seen += numel;
        return;
    }
    /* 8-bit storage: element offset == byte offset */
    odtc_requantize_acc(plane, (int8_t *)s->y + offset, s->y_storage, numel, s->acc_scale, s->y_scale,
                        s->y_zero_point);
}

void odtc_acc_stream_finish(odtc_acc_stream *s)
{
    if (s->range == NULL) {
        return;
    }
    if (s->seen == 0) {
        s->range[0] = 1.0f;
        s->range[1] = -1.0f;
        return;
    }
    const float sc = *s->acc_scale;
    s->range[0] = sc * (float)s->lo;
    s->range[1] = sc * (float)s->hi;
}

static void qconv2d_acc_stream(const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *w,
                               const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                               const float *y_scale, const int32_t *y_zero_point, void *y, int32_t y_storage,
                               float *range, int32_t relu, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                               int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w,
                               int32_t pad_top, int32_t pad_left, int32_t pad_bottom, int32_t pad_right,
                               int32_t groups)
{
    const int32_t oh = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const size_t spatial = (size_t)oh * (size_t)ow;
    const int32_t ci = c / groups; /* input channels per group = channels of a filter */
    const int32_t og = o / groups; /* output channels per group */
    const size_t xsize = (size_t)c * (size_t)h * (size_t)w_; /* bytes per sample (8-bit) */
    const size_t gsize = (size_t)ci * (size_t)h * (size_t)w_; /* bytes per channel group */
    const size_t wsize = (size_t)ci * (size_t)kh * (size_t)kw;
    int32_t *plane = scratch;
    void *acc_scratch = scratch + spatial;
    odtc_acc_stream sink;
    odtc_acc_stream_init(&sink, relu, acc_scale, y_scale, y_zero_point, y, y_storage, range);
    for (int32_t ni = 0; ni < n; ++ni) {
        const int8_t *xn = (const int8_t *)x + (size_t)ni * xsize;
        for (int32_t oc = 0; oc < o; ++oc) {
            /* filter oc sees its group's ci input channels: a groups-1 conv of those */
            const void *xg = xn + (size_t)(oc / og) * gsize;
            qconv2d_acc(xg, is_u8, x_zero_point, w + (size_t)oc * wsize, w_zero_point, 0,
                        bias != NULL ? bias + oc : NULL, acc_scale, plane, acc_scratch, 1, ci, h, w_, 1, kh, kw,
                        stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, 1);
            odtc_acc_stream_plane(&sink, plane, spatial, ((size_t)ni * (size_t)o + (size_t)oc) * spatial);
        }
    }
    odtc_acc_stream_finish(&sink);
}

void odtc_qconv2d_grad_input_stream(const int8_t *e, const int32_t *e_zero_point, const int8_t *w,
                                    const int32_t *w_zero_point, const float *acc_scale, const float *y_scale,
                                    const int32_t *y_zero_point, void *y, int32_t y_storage, float *range,
                                    int32_t *scratch, int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o,
                                    int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                    int32_t pad_left, int32_t pad_bottom, int32_t pad_right)
{
    const int32_t oh = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const size_t spatial = (size_t)h * (size_t)w_;
    const size_t taps = (size_t)kh * (size_t)kw;
    const size_t esize = (size_t)o * (size_t)oh * (size_t)ow;
    int32_t *plane = scratch;
    int8_t *wc = (int8_t *)(scratch + spatial); /* w[:, ci] as an [o, 1, kh, kw] weight */
    odtc_acc_stream sink;
    odtc_acc_stream_init(&sink, 0, acc_scale, y_scale, y_zero_point, y, y_storage, range);
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t ci = 0; ci < c; ++ci) {
            for (int32_t oc = 0; oc < o; ++oc) {
                const int8_t *src = w + ((size_t)oc * (size_t)c + (size_t)ci) * taps;
                for (size_t t = 0; t < taps; ++t) {
                    wc[(size_t)oc * taps + t] = src[t];
                }
            }
            odtc_conv2d_s8_grad_input(e + (size_t)ni * esize, e_zero_point, wc, w_zero_point, 0, plane, 1, 1, h, w_,
                                      o, kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, 1);
            odtc_acc_stream_plane(&sink, plane, spatial, ((size_t)ni * (size_t)c + (size_t)ci) * spatial);
        }
    }
    odtc_acc_stream_finish(&sink);
}

void odtc_qconv2d_acc_stream_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                const float *y_scale, const int32_t *y_zero_point, void *y, int32_t y_storage,
                                float *range, int32_t relu, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w,
                                int32_t pad_top, int32_t pad_left, int32_t pad_bottom, int32_t pad_right,
                                int32_t groups)
{
    qconv2d_acc_stream(x, 0, x_zero_point, w, w_zero_point, bias, acc_scale, y_scale, y_zero_point, y, y_storage,
                       range, relu, scratch, n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left,
                       pad_bottom, pad_right, groups);
}

void odtc_qconv2d_acc_stream_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                const float *y_scale, const int32_t *y_zero_point, void *y, int32_t y_storage,
                                float *range, int32_t relu, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w,
                                int32_t pad_top, int32_t pad_left, int32_t pad_bottom, int32_t pad_right,
                                int32_t groups)
{
    qconv2d_acc_stream(x, 1, x_zero_point, w, w_zero_point, bias, acc_scale, y_scale, y_zero_point, y, y_storage,
                       range, relu, scratch, n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left,
                       pad_bottom, pad_right, groups);
}

/* fqt.qconv2d_pw_dw_stream: per (ni, ch) the ch plane of the first conv (groups 1, one
 * output channel), act1, requantized to the 8-bit plane of h, then the depthwise plane of
 * that h plane into the sink (act2). Scratch (word offsets): plane1 [h1 * w1] int32, the
 * qconv2d_acc scratch of plane 1, the 8-bit h plane (whole words), plane2 [oh * ow] int32,
 * the qconv2d_acc scratch of plane 2 (ODTC_QCONV2D_PW_DW_STREAM_SCRATCH_BYTES). */
static void qconv2d_pw_dw_stream(const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *w1,
                                 const int32_t *w1_zero_point, const float *b1, const float *acc1_scale,
                                 int32_t act1, const float *h_scale, const int32_t *h_zero_point,
                                 int32_t h_storage, const int8_t *w2, const int32_t *w2_zero_point,
                                 const float *b2, const float *acc2_scale, int32_t act2, const float *y_scale,
                                 const int32_t *y_zero_point, void *y, int32_t y_storage, float *range,
                                 int32_t *scratch, int32_t n, int32_t c, int32_t h, int32_t w_, int32_t e,
                                 int32_t kh1, int32_t kw1, int32_t stride1_h, int32_t stride1_w, int32_t pad1_top,
                                 int32_t pad1_left, int32_t pad1_bottom, int32_t pad1_right, int32_t kh2,
                                 int32_t kw2, int32_t stride2_h, int32_t stride2_w, int32_t pad2_top,
                                 int32_t pad2_left, int32_t pad2_bottom, int32_t pad2_right)
{
    const int32_t h1 = odtc_conv_out_size(h, kh1, stride1_h, pad1_top, pad1_bottom);
    const int32_t w1n = odtc_conv_out_size(w_, kw1, stride1_w, pad1_left, pad1_right);
    const int32_t oh = odtc_conv_out_size(h1, kh2, stride2_h, pad2_top, pad2_bottom);
    const int32_t ow = odtc_conv_out_size(w1n, kw2, stride2_w, pad2_left, pad2_right);
    const size_t hsize = (size_t)h1 * (size_t)w1n;
    const size_t spatial = (size_t)oh * (size_t)ow;
    const size_t xsize = (size_t)c * (size_t)h * (size_t)w_; /* bytes per sample (8-bit) */
    const size_t w1size = (size_t)c * (size_t)kh1 * (size_t)kw1;
    const size_t w2size = (size_t)kh2 * (size_t)kw2;
    const int32_t h_is_u8 = h_storage == ODTC_U8;
    int32_t *plane1 = scratch;
    int32_t *acc1_scratch = plane1 + hsize;
    int8_t *hplane = (int8_t *)(void *)(acc1_scratch + ODTC_QCONV2D_ACC_SCRATCH_BYTES(c, 1, kh1, kw1, 1) / 4u);
    int32_t *plane2 = (int32_t *)(void *)hplane + (hsize + 3u) / 4u;
    int32_t *acc2_scratch = plane2 + spatial;
    odtc_acc_stream sink;
    odtc_acc_stream_init(&sink, act2, acc2_scale, y_scale, y_zero_point, y, y_storage, range);
    for (int32_t ni = 0; ni < n; ++ni) {
        const int8_t *xn = (const int8_t *)x + (size_t)ni * xsize;
        for (int32_t ch = 0; ch < e; ++ch) {
            qconv2d_acc(xn, is_u8, x_zero_point, w1 + (size_t)ch * w1size, w1_zero_point, 0,
                        b1 != NULL ? b1 + ch : NULL, acc1_scale, plane1, acc1_scratch, 1, c, h, w_, 1, kh1, kw1,
                        stride1_h, stride1_w, pad1_top, pad1_left, pad1_bottom, pad1_right, 1);
            if (act1 == 2) {
                odtc_acc_relu6(plane1, acc1_scale, plane1, hsize);
            } else if (act1) {
                odtc_acc_relu(plane1, plane1, hsize);
            }
            odtc_requantize_acc(plane1, hplane, h_storage, hsize, acc1_scale, h_scale, h_zero_point);
            qconv2d_acc(hplane, h_is_u8, h_zero_point, w2 + (size_t)ch * w2size, w2_zero_point, 0,
                        b2 != NULL ? b2 + ch : NULL, acc2_scale, plane2, acc2_scratch, 1, 1, h1, w1n, 1, kh2, kw2,
                        stride2_h, stride2_w, pad2_top, pad2_left, pad2_bottom, pad2_right, 1);
            odtc_acc_stream_plane(&sink, plane2, spatial, ((size_t)ni * (size_t)e + (size_t)ch) * spatial);
        }
    }
    odtc_acc_stream_finish(&sink);
}

void odtc_qconv2d_pw_dw_stream_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w1,
                                  const int32_t *w1_zero_point, const float *b1, const float *acc1_scale,
                                  int32_t act1, const float *h_scale, const int32_t *h_zero_point,
                                  int32_t h_storage, const int8_t *w2, const int32_t *w2_zero_point,
                                  const float *b2, const float *acc2_scale, int32_t act2, const float *y_scale,
                                  const int32_t *y_zero_point, void *y, int32_t y_storage, float *range,
                                  int32_t *scratch, int32_t n, int32_t c, int32_t h, int32_t w_, int32_t e,
                                  int32_t kh1, int32_t kw1, int32_t stride1_h, int32_t stride1_w,
                                  int32_t pad1_top, int32_t pad1_left, int32_t pad1_bottom, int32_t pad1_right,
                                  int32_t kh2, int32_t kw2, int32_t stride2_h, int32_t stride2_w,
                                  int32_t pad2_top, int32_t pad2_left, int32_t pad2_bottom, int32_t pad2_right)
{
    qconv2d_pw_dw_stream(x, 0, x_zero_point, w1, w1_zero_point, b1, acc1_scale, act1, h_scale, h_zero_point,
                         h_storage, w2, w2_zero_point, b2, acc2_scale, act2, y_scale, y_zero_point, y, y_storage,
                         range, scratch, n, c, h, w_, e, kh1, kw1, stride1_h, stride1_w, pad1_top, pad1_left,
                         pad1_bottom, pad1_right, kh2, kw2, stride2_h, stride2_w, pad2_top, pad2_left,
                         pad2_bottom, pad2_right);
}

void odtc_qconv2d_pw_dw_stream_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w1,
                                  const int32_t *w1_zero_point, const float *b1, const float *acc1_scale,
                                  int32_t act1, const float *h_scale, const int32_t *h_zero_point,
                                  int32_t h_storage, const int8_t *w2, const int32_t *w2_zero_point,
                                  const float *b2, const float *acc2_scale, int32_t act2, const float *y_scale,
                                  const int32_t *y_zero_point, void *y, int32_t y_storage, float *range,
                                  int32_t *scratch, int32_t n, int32_t c, int32_t h, int32_t w_, int32_t e,
                                  int32_t kh1, int32_t kw1, int32_t stride1_h, int32_t stride1_w,
                                  int32_t pad1_top, int32_t pad1_left, int32_t pad1_bottom, int32_t pad1_right,
                                  int32_t kh2, int32_t kw2, int32_t stride2_h, int32_t stride2_w,
                                  int32_t pad2_top, int32_t pad2_left, int32_t pad2_bottom, int32_t pad2_right)
{
    qconv2d_pw_dw_stream(x, 1, x_zero_point, w1, w1_zero_point, b1, acc1_scale, act1, h_scale, h_zero_point,
                         h_storage, w2, w2_zero_point, b2, acc2_scale, act2, y_scale, y_zero_point, y, y_storage,
                         range, scratch, n, c, h, w_, e, kh1, kw1, stride1_h, stride1_w, pad1_top, pad1_left,
                         pad1_bottom, pad1_right, kh2, kw2, stride2_h, stride2_w, pad2_top, pad2_left,
                         pad2_bottom, pad2_right);
}

/* ---- backward ---------------------------------------------------------------------------- */

void odtc_qrelu_grad(const void *e, int32_t e_storage, const int32_t *e_zero_point,
                     const void *y, int32_t y_storage, const int32_t *y_zero_point,
                     void *dx, size_t numel)
{
    const int32_t ze = *e_zero_point;
    const int32_t zy = *y_zero_point;
    for (size_t i = 0; i < numel; ++i) {
        const int32_t v = fqt_load_q(y, y_storage, i) > zy ? fqt_load_q(e, e_storage, i) : ze;
        fqt_store_q(dx, e_storage, i, v);
    }
}

void odtc_qrelu6_grad(const void *e, int32_t e_storage, const int32_t *e_zero_point,
                      const void *y, int32_t y_storage, const int32_t *y_zero_point, const float *y_scale,
                      void *dx, size_t numel)
{
    const int32_t ze = *e_zero_point;
    const int32_t zy = *y_zero_point;
    const float t = rintf(6.0f / *y_scale); /* zy + t: where relu6's 6 lands on y's grid */
    for (size_t i = 0; i < numel; ++i) {
        const int32_t yv = fqt_load_q(y, y_storage, i);
        const float d = fqt_diff_f32(yv, zy); /* NaN t: no comparison holds */
        const int32_t v = (yv > zy && d < t) ? fqt_load_q(e, e_storage, i) : ze;
        fqt_store_q(dx, e_storage, i, v);
    }
}

void odtc_qrelu_mask(const void *y, int32_t y_storage, const int32_t *y_zero_point, const float *y_scale,
                     uint8_t *mask, size_t numel)
{
    const int32_t zy = *y_zero_point;
    const int32_t six = y_scale != NULL;
    const float t = six ? rintf(6.0f / *y_scale) : 0.0f; /* as odtc_qrelu6_grad */
    uint32_t bits = 0u;
    for (size_t i = 0; i < numel; ++i) {
        const int32_t yv = fqt_load_q(y, y_storage, i);
        const uint32_t keep = (yv > zy && (!six || fqt_diff_f32(yv, zy) < t)) ? 1u : 0u;
        bits |= keep << (i & 7u);
        if ((i & 7u) == 7u) {
            mask[i >> 3] = (uint8_t)bits;
            bits = 0u;
        }
    }
    if ((numel & 7u) != 0u) { /* the last partial byte, its unused high bits 0 */
        mask[numel >> 3] = (uint8_t)bits;
    }
}

void odtc_qmask_grad(const void *e, int32_t e_storage, const int32_t *e_zero_point, const uint8_t *mask, void *dx,
                     size_t numel)
{
    const int32_t ze = *e_zero_point;
    if (e_storage == ODTC_S8 || e_storage == ODTC_U8) { /* bytes: the low 8 bits, as fqt_store_q */
        const uint8_t *src = (const uint8_t *)e;
        uint8_t *dst = (uint8_t *)dx;
        const uint8_t zb = (uint8_t)ze;
        for (size_t i = 0; i < numel; ++i) {
            dst[i] = ((mask[i >> 3] >> (i & 7u)) & 1u) ? src[i] : zb;
        }
        return;
    }
    for (size_t i = 0; i < numel; ++i) {
        const int32_t v = ((mask[i >> 3] >> (i & 7u)) & 1u) ? fqt_load_q(e, e_storage, i) : ze;
        fqt_store_q(dx, e_storage, i, v);
    }
}

void odtc_qbroadcast_hw(const void *e, void *dx, int32_t n, int32_t c, int32_t spatial)
{
    const uint8_t *src = (const uint8_t *)e;
    uint8_t *dst = (uint8_t *)dx;
    const size_t plane = (size_t)spatial;
    /* backwards: plane r covers elements >= r, so e[r' < r] is still unread-and-intact when
     * dx == e */
    for (size_t r = (size_t)n * (size_t)c; r-- > 0;) {
        memset(dst + r * plane, src[r], plane);
    }
}

/* Rows >= kk of a compact gradient are 0. */
static void fqt_zero_rows(int32_t *acc, int32_t kk, int32_t rows, size_t row_len)
{
    if (kk < rows) {
        memset(acc + (size_t)kk * row_len, 0, (size_t)(rows - kk) * row_len * sizeof(int32_t));
    }
}

void odtc_qdense_grad_weight_s8(const int8_t *x, const int32_t *x_zero_point,
                                const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                const int32_t *select, const int32_t *select_count,
                                int32_t n, int32_t k, int32_t o)
{
    const int32_t kk = fqt_selected(select, select_count, o);
    if (kk > 0) {
        odtc_dense_s8_grad_weight(x, x_zero_point, e, e_zero_point, acc, select_count != NULL ? select : NULL, kk,
                                  n, k, o);
    }
    fqt_zero_rows(acc, kk, o, (size_t)k);
}

void odtc_qdense_grad_weight_u8(const uint8_t *x, const int32_t *x_zero_point,
                                const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                const int32_t *select, const int32_t *select_count,
                                int32_t n, int32_t k, int32_t o)
{
    const int32_t kk = fqt_selected(select, select_count, o);
    if (kk > 0) {
        odtc_dense_u8_grad_weight(x, x_zero_point, e, e_zero_point, acc, select_count != NULL ? select : NULL, kk,
                                  n, k, o);
    }
    fqt_zero_rows(acc, kk, o, (size_t)k);
}

void odtc_qconv2d_grad_weight_s8(const int8_t *x, const int32_t *x_zero_point,
                                 const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                 const int32_t *select, const int32_t *select_count,
                                 int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                 int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                 int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t kk = fqt_selected(select, select_count, o);
    if (kk > 0) {
        odtc_conv2d_s8_grad_weight(x, x_zero_point, e, e_zero_point, acc, select_count != NULL ? select : NULL, kk,
                                   n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom,
                                   pad_right, groups);
    }
    fqt_zero_rows(acc, kk, o, (size_t)(c / groups) * (size_t)kh * (size_t)kw);
}

void odtc_qconv2d_grad_weight_u8(const uint8_t *x, const int32_t *x_zero_point,
                                 const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                 const int32_t *select, const int32_t *select_count,
                                 int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                 int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                 int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t kk = fqt_selected(select, select_count, o);
    if (kk > 0) {
        odtc_conv2d_u8_grad_weight(x, x_zero_point, e, e_zero_point, acc, select_count != NULL ? select : NULL, kk,
                                   n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom,
                                   pad_right, groups);
    }
    fqt_zero_rows(acc, kk, o, (size_t)(c / groups) * (size_t)kh * (size_t)kw);
}

/* ---- update of quantized weights ----------------------------------------------------------- */

/* Standardisation stats of rows [0, kk). Sequential sums start from the first term, as
 * numpy's cumsum does (so an all -0.0 row keeps its sign); an empty row sums to 0. */
static ODTC_ALWAYS_INLINE void grad_stats_standardize(const void *g, int32_t g_type, float *stats, int32_t kk,
                                                      size_t row_len)
{
    const float n = (float)row_len;
    for (int32_t r = 0; r < kk; ++r) {
        const size_t base = (size_t)r * row_len;
        float s = row_len > 0 ? fqt_load_g(g, g_type, base) : 0.0f;
        for (size_t i = 1; i < row_len; ++i) {
            s = s + fqt_load_g(g, g_type, base + i);
        }
        const float mean = s / n;
        float q = 0.0f;
        for (size_t i = 0; i < row_len; ++i) {
            const float d = fqt_load_g(g, g_type, base + i) - mean;
            const float dd = d * d;
            q = i == 0 ? dd : q + dd;
        }
        const float var = q / n;
        stats[2 * (size_t)r] = mean;
        stats[2 * (size_t)r + 1] = var > 0.0f ? 1.0f / sqrtf(var) : 0.0f;
    }
}

void odtc_grad_stats(const void *g, int32_t g_type, const float *g_scale, const float *w_scale,
                     float *stats, const int32_t *select, const int32_t *select_count,
                     int32_t rows, size_t row_len, int32_t mode)
{
    const int32_t kk = fqt_selected(select, select_count, rows);
    for (int32_t r = 0; r < rows; ++r) {
        stats[2 * (size_t)r] = 0.0f;
        stats[2 * (size_t)r + 1] = 0.0f;
    }
    if (mode == ODTC_NORM_STANDARDIZE) {
        if (g_type == ODTC_F32) {
            grad_stats_standardize(g, ODTC_F32, stats, kk, row_len);
        } else {
            grad_stats_standardize(g, ODTC_S32, stats, kk, row_len);
        }
        return;
    }
    const float gs = g_scale != NULL ? *g_scale : 1.0f; /* an f32 gradient is real-valued */
    float b = gs;
    if (mode == ODTC_NORM_QAS) {
        /* TTE: the gradient of the stored weight gq = gs * sw, times sw^-2, in real units */
        const float sw = *w_scale;
        const float gq = gs * sw;
        b = (gq / (sw * sw)) * sw;
    }
    for (int32_t r = 0; r < kk; ++r) {
        stats[2 * (size_t)r + 1] = b;
    }
}

/* The update of one weight tensor: its rows are walked in order, each with its compact
 * gradient row (or none), and every element yields the updated real weight
 * v = f32(w - zw) * sw - lr * ((f32(g) - a) * b) (just the first term when the row has no
 * gradient row or its b == 0). */
typedef struct {
    const void *w;
    int32_t w_storage;
    float sw;
    int32_t zw;
    const void *g;
    const float *stats;
    const int32_t *select; /* NULL: row r is gradient row r */
    int32_t kk;
    int32_t rows;
    size_t row_len;
    float lr;
} fqt_update;

static void fqt_update_init(fqt_update *u, const void *w, int32_t w_storage, const float *w_scale,
                            const int32_t *w_zero_point, const void *g, const float *stats,
                            const int32_t *select, const int32_t *select_count, int32_t rows, size_t row_len,
                            float lr)
{
    u->w = w;
    u->w_storage = w_storage;
    u->sw = *w_scale;
    u->zw = *w_zero_point;
    u->g = g;
    u->stats = stats;
    u->select = select_count != NULL ? select : NULL;
    u->kk = fqt_selected(select, select_count, rows);
    u->rows = rows;
    u->row_len = row_len;
    u->lr = lr;
}

/* Row state: the gradient row of weight row `row` (-1: none; the selection is increasing,
 * so *next walks it once) and its (a, b). */
typedef struct {
    int32_t gr;
    float a;
    float b;
} fqt_row;

static fqt_row fqt_row_at(const fqt_update *u, int32_t row, int32_t *next)
{
    fqt_row r = {-1, 0.0f, 0.0f};
    if (u->select == NULL) {
        r.gr = row;
    } else if (*next < u->kk && u->select[*next] == row) {
        r.gr = (*next)++;
    }
    if (r.gr >= 0) {
        r.a = u->stats[2 * (size_t)r.gr];
        r.b = u->stats[2 * (size_t)r.gr + 1];
    }
    return r;
}

static ODTC_ALWAYS_INLINE float fqt_real(const fqt_update *u, int32_t g_type, const fqt_row *r, size_t i, size_t j)
{
    float v = u->sw * (float)(fqt_load_q(u->w, u->w_storage, i) - u->zw);
    if (r->gr >= 0 && r->b != 0.0f) { /* fqt.py skips b == 0 (a NaN b is applied) */
        const float gn = (fqt_load_g(u->g, g_type, (size_t)r->gr * u->row_len + j) - r->a) * r->b;
        v = v - u->lr * gn;
    }
    return v;
}

static ODTC_ALWAYS_INLINE void qsgd_range(const fqt_update *u, int32_t g_type, float *range)
{
    fqt_minmax m = {0.0f, 0.0f, 0, 0};
    int32_t next = 0;
    for (int32_t row = 0; row < u->rows; ++row) {
        const fqt_row r = fqt_row_at(u, row, &next);
        for (size_t j = 0; j < u->row_len; ++j) {
            fqt_minmax_add(&m, fqt_real(u, g_type, &r, (size_t)row * u->row_len + j, j));
        }
    }
    fqt_minmax_store(&m, range);
}

void odtc_qsgd_range(const void *w, int32_t w_storage, const float *w_scale, const int32_t *w_zero_point,
                     const void *g, int32_t g_type, const float *stats, float *range,
                     const int32_t *select, const int32_t *select_count,
                     int32_t rows, size_t row_len, float lr)
{
    fqt_update u;
    fqt_update_init(&u, w, w_storage, w_scale, w_zero_point, g, stats, select, select_count, rows, row_len, lr);
    if (g_type == ODTC_F32) {
        qsgd_range(&u, ODTC_F32, range);
    } else {
        qsgd_range(&u, ODTC_S32, range);
    }
}

uint32_t odtc_hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

static uint32_t fqt_stream_base(int32_t seed, int32_t step)
{
    return odtc_hash32((uint32_t)seed * 0x9E3779B9u + (uint32_t)step);
}

static float fqt_uniform_at(uint32_t base, uint32_t i)
{
    return (float)(odtc_hash32(base + i) >> 8) * 5.9604644775390625e-08f; /* exact: < 2^24 times 2^-24 */
}

float odtc_uniform01(int32_t seed, int32_t step, uint32_t i)
{
    return fqt_uniform_at(fqt_stream_base(seed, step), i);
}

static ODTC_ALWAYS_INLINE void qsgd_update(const fqt_update *u, int32_t g_type, void *w, float s2, int32_t z2,
                                           int32_t stochastic, uint32_t base)
{
    const int32_t qmin = fqt_storage_min(u->w_storage);
    const int32_t qmax = fqt_storage_max(u->w_storage);
    int32_t next = 0;
    for (int32_t row = 0; row < u->rows; ++row) {
        const fqt_row r = fqt_row_at(u, row, &next);
        /* stochastic rounding only where a gradient step was taken; a row that is only
         * re-expressed on the new grid rounds to nearest (no random walk of untouched rows) */
        const int32_t sr = stochastic && r.gr >= 0 && r.b != 0.0f;
        for (size_t j = 0; j < u->row_len; ++j) {
            const size_t i = (size_t)row * u->row_len + j;
            const float d = fqt_real(u, g_type, &r, i, j) / s2; /* w[i] is read before it is written */
            const float q = sr ? floorf(d + fqt_uniform_at(base, (uint32_t)i)) : rintf(d);
            fqt_store_q(w, u->w_storage, i, fqt_clamp_i64(fqt_round_to_i64(q) + z2, qmin, qmax));
        }
    }
}

void odtc_qsgd_update(void *w, int32_t w_storage, const float *w_scale, const int32_t *w_zero_point,
                      const void *g, int32_t g_type, const float *stats,
                      const float *new_scale, const int32_t *new_zero_point,
                      const int32_t *select, const int32_t *select_count, const int32_t *step,
                      int32_t rows, size_t row_len, float lr, int32_t rounding, int32_t seed)
{
    fqt_update u;
    fqt_update_init(&u, w, w_storage, w_scale, w_zero_point, g, stats, select, select_count, rows, row_len, lr);
    const int32_t stochastic = rounding == ODTC_ROUND_STOCHASTIC;
    const uint32_t base = fqt_stream_base(seed, step != NULL ? *step : 0);
    if (g_type == ODTC_F32) {
        qsgd_update(&u, ODTC_F32, w, *new_scale, *new_zero_point, stochastic, base);
    } else {
        qsgd_update(&u, ODTC_S32, w, *new_scale, *new_zero_point, stochastic, base);
    }
}

/* ---- fused row-by-row update on a held grid ---------------------------------------------- */

/* int32(trunc(t)) of t clamped to +-2^30, NaN -> 0 (fqt._to_q16; one VCVT on the M4). */
static ODTC_ALWAYS_INLINE int32_t fqt_q16(float t)
{
    if (!(t == t)) {
        return 0;
    }
    if (t >= 1073741824.0f) {
        return 1073741824;
    }
    if (t <= -1073741824.0f) {
        return -1073741824;
    }
    return (int32_t)t;
}

float odtc_update_q16_factor(float lr, const float *g_scale, const float *w_scale)
{
    const float t = -lr * *g_scale;
    return (t / *w_scale) * 65536.0f;
}

void odtc_fused_update_init(odtc_fused_update *f, int8_t *w, int32_t *row_range, const float *g_scale,
                            const float *w_scale, const int32_t *w_zero_point, int32_t w_per_channel,
                            const int32_t *step, size_t row_len, float lr, int32_t rounding, int32_t seed)
{
    f->w = w;
    f->row_range = row_range;
    f->row_len = row_len;
    f->lr = lr;
    f->g_scale = *g_scale;
    if (w_per_channel) { /* c16 and zw per row, in odtc_fused_update_row */
        f->w_scale = w_scale;
        f->w_zero_point = w_zero_point;
        f->c16 = 0.0f;
        f->zw = 0;
    } else {
        f->w_scale = NULL;
        f->w_zero_point = NULL;
        f->c16 = odtc_update_q16_factor(lr, g_scale, w_scale);
        f->zw = *w_zero_point;
    }
    f->stochastic = rounding == ODTC_ROUND_STOCHASTIC;
    f->base = fqt_stream_base(seed, step != NULL ? *step : 0);
}

/* Apply gradient row g to weight row oc. Arithmetic right shifts of negative values are
 * floor divisions here (GCC defines >> on signed values as arithmetic). */
void odtc_fused_update_row(const odtc_fused_update *f, int32_t oc, const int32_t *g)
{
    int8_t *w = f->w + (size_t)oc * f->row_len;
    const uint32_t first = (uint32_t)((size_t)oc * f->row_len);
    int32_t zw = f->zw;
    float c16 = f->c16;
    if (f->w_scale != NULL) { /* per-channel weights: row oc's own grid */
        c16 = odtc_update_q16_factor(f->lr, &f->g_scale, &f->w_scale[oc]);
        zw = f->w_zero_point[oc];
    }
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (size_t j = 0; j < f->row_len; ++j) {
        const int32_t big = fqt_q16((float)g[j] * c16);
        const int32_t u = f->stochastic ? (int32_t)(odtc_hash32(f->base + first + (uint32_t)j) >> 16) : 32768;
        const int32_t v = ((int32_t)w[j] - zw) + ((big + u) >> 16);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        const int32_t q = v + zw;
        w[j] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
    }
    f->row_range[2 * (size_t)oc] = lo;
    f->row_range[2 * (size_t)oc + 1] = hi;
}

/* Gradient row oc of int16 errors into g[0, k): the exact sums over n, saturated to int32
 * (fqt.qdense_grad_weight of int16 e), ODTC_E16_TILE columns at a time with their int64
 * sums on the stack. */
static ODTC_ALWAYS_INLINE void qdense_grad_row_e16(const void *x, int32_t is_u8, int32_t zx, const int16_t *e,
                                                   int32_t ze, int32_t oc, int32_t *g, int32_t n, int32_t k,
                                                   int32_t o)
{
    int64_t s[ODTC_E16_TILE];
    for (int32_t j0 = 0; j0 < k; j0 += ODTC_E16_TILE) {
        const int32_t len = k - j0 < ODTC_E16_TILE ? k - j0 : ODTC_E16_TILE;
        for (int32_t j = 0; j < len; ++j) {
            s[j] = 0;
        }
        for (int32_t ni = 0; ni < n; ++ni) {
            const int32_t d = (int32_t)e[(size_t)ni * o + oc] - ze;
            if (d == 0) {
                continue;
            }
            const size_t xr = (size_t)ni * k + (size_t)j0;
            if (is_u8) {
                const uint8_t *xp = (const uint8_t *)x + xr;
                for (int32_t j = 0; j < len; ++j) {
                    s[j] += (int64_t)d * ((int32_t)xp[j] - zx);
                }
            } else {
                const int8_t *xp = (const int8_t *)x + xr;
                for (int32_t j = 0; j < len; ++j) {
                    s[j] += (int64_t)d * ((int32_t)xp[j] - zx);
                }
            }
        }
        for (int32_t j = 0; j < len; ++j) {
            g[j0 + j] = odtc_sat_i32(s[j]);
        }
    }
}

/* The fused dense step; e16 == 0: int8 errors, int32 sums; else int16 errors through
 * qdense_grad_row_e16. e16 is a constant at each call (the int8 kernels compile as before). */
static ODTC_ALWAYS_INLINE void qdense_grad_weight_sgd(const void *x, int32_t is_u8, const int32_t *x_zero_point,
                                                      const void *e, int32_t e16, const int32_t *e_zero_point,
                                                      const odtc_fused_update *f, const int32_t *select,
                                                      const int32_t *select_count, int32_t *g, int32_t n, int32_t k,
                                                      int32_t o)
{
    const int32_t kk = fqt_selected(select, select_count, o);
    const int32_t zx = *x_zero_point;
    const int32_t ze = *e_zero_point;
    for (int32_t r = 0; r < kk; ++r) {
        const int32_t oc = select_count != NULL && select != NULL ? select[r] : r;
        if (e16) {
            qdense_grad_row_e16(x, is_u8, zx, (const int16_t *)e, ze, oc, g, n, k, o);
            odtc_fused_update_row(f, oc, g);
            continue;
        }
        for (int32_t j = 0; j < k; ++j) {
            g[j] = 0;
        }
        for (int32_t ni = 0; ni < n; ++ni) {
            const int32_t d = (int32_t)((const int8_t *)e)[(size_t)ni * o + oc] - ze;
            if (is_u8) {
                const uint8_t *xp = (const uint8_t *)x + (size_t)ni * k;
                for (int32_t j = 0; j < k; ++j) {
                    g[j] += d * ((int32_t)xp[j] - zx);
                }
            } else {
                const int8_t *xp = (const int8_t *)x + (size_t)ni * k;
                for (int32_t j = 0; j < k; ++j) {
                    g[j] += d * ((int32_t)xp[j] - zx);
                }
            }
        }
        odtc_fused_update_row(f, oc, g);
    }
}

void odtc_qdense_grad_weight_sgd_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                    const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                    const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                    int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                    const int32_t *step, int32_t *scratch, int32_t n, int32_t k, int32_t o,
                                    float lr, int32_t rounding, int32_t seed)
{
    odtc_fused_update f;
    odtc_fused_update_init(&f, w, row_range, g_scale, w_scale, w_zero_point, w_per_channel, step, (size_t)k, lr,
                           rounding, seed);
    qdense_grad_weight_sgd(x, 0, x_zero_point, e, 0, e_zero_point, &f, select, select_count, scratch, n, k, o);
}

void odtc_qdense_grad_weight_sgd_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                    const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                    const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                    int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                    const int32_t *step, int32_t *scratch, int32_t n, int32_t k, int32_t o,
                                    float lr, int32_t rounding, int32_t seed)
{
    odtc_fused_update f;
    odtc_fused_update_init(&f, w, row_range, g_scale, w_scale, w_zero_point, w_per_channel, step, (size_t)k, lr,
                           rounding, seed);
    qdense_grad_weight_sgd(x, 1, x_zero_point, e, 0, e_zero_point, &f, select, select_count, scratch, n, k, o);
}

void odtc_qdense_grad_weight_sgd_s8_e16(const int8_t *x, const int32_t *x_zero_point, const int16_t *e,
                                        const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                        const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                        int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                        const int32_t *step, int32_t *scratch, int32_t n, int32_t k, int32_t o,
                                        float lr, int32_t rounding, int32_t seed)
{
    odtc_fused_update f;
    odtc_fused_update_init(&f, w, row_range, g_scale, w_scale, w_zero_point, w_per_channel, step, (size_t)k, lr,
                           rounding, seed);
    qdense_grad_weight_sgd(x, 0, x_zero_point, e, 1, e_zero_point, &f, select, select_count, scratch, n, k, o);
}

void odtc_qdense_grad_weight_sgd_u8_e16(const uint8_t *x, const int32_t *x_zero_point, const int16_t *e,
                                        const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                        const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                        int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                        const int32_t *step, int32_t *scratch, int32_t n, int32_t k, int32_t o,
                                        float lr, int32_t rounding, int32_t seed)
{
    odtc_fused_update f;
    odtc_fused_update_init(&f, w, row_range, g_scale, w_scale, w_zero_point, w_per_channel, step, (size_t)k, lr,
                           rounding, seed);
    qdense_grad_weight_sgd(x, 1, x_zero_point, e, 1, e_zero_point, &f, select, select_count, scratch, n, k, o);
}

/* The fused conv2d step; e16 == 0: int8 errors through odtc_conv2d_{s8,u8}_grad_weight (its
 * DSP path included), else int16 errors through odtc_conv2d_q8_s16_grad_weight (portable). */
static ODTC_ALWAYS_INLINE void qconv2d_grad_weight_sgd(const void *x, int32_t is_u8, const int32_t *x_zero_point,
                                                       const void *e, int32_t e16, const int32_t *e_zero_point,
                                                       const float *g_scale, const float *w_scale,
                                                       const int32_t *w_zero_point, int32_t w_per_channel,
                                                       int8_t *w, int32_t *row_range, const int32_t *select,
                                                       const int32_t *select_count, const int32_t *step,
                                                       int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                                       int32_t w_, int32_t o, int32_t kh, int32_t kw,
                                                       int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                                       int32_t pad_left, int32_t pad_bottom, int32_t pad_right,
                                                       int32_t groups, float lr, int32_t rounding, int32_t seed)
{
    const size_t row_len = (size_t)(c / groups) * (size_t)kh * (size_t)kw;
    odtc_fused_update f;
    odtc_fused_update_init(&f, w, row_range, g_scale, w_scale, w_zero_point, w_per_channel, step, row_len, lr,
                           rounding, seed);
    const int32_t kk = fqt_selected(select, select_count, o);
    for (int32_t r = 0; r < kk; ++r) {
        const int32_t oc = select_count != NULL && select != NULL ? select[r] : r;
        if (e16) {
            odtc_conv2d_q8_s16_grad_weight(x, is_u8, x_zero_point, (const int16_t *)e, e_zero_point, scratch, &oc, 1,
                                           n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left,
                                           pad_bottom, pad_right, groups);
        } else if (is_u8) {
            odtc_conv2d_u8_grad_weight((const uint8_t *)x, x_zero_point, (const int8_t *)e, e_zero_point, scratch,
                                       &oc, 1, n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left,
                                       pad_bottom, pad_right, groups);
        } else {
            odtc_conv2d_s8_grad_weight((const int8_t *)x, x_zero_point, (const int8_t *)e, e_zero_point, scratch,
                                       &oc, 1, n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left,
                                       pad_bottom, pad_right, groups);
        }
        odtc_fused_update_row(&f, oc, scratch);
    }
}

void odtc_qconv2d_grad_weight_sgd_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                     const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                     const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                     int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                     const int32_t *step, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                     int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                     int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                     int32_t pad_right, int32_t groups, float lr, int32_t rounding, int32_t seed)
{
    qconv2d_grad_weight_sgd(x, 0, x_zero_point, e, 0, e_zero_point, g_scale, w_scale, w_zero_point, w_per_channel,
                            w, row_range, select, select_count, step, scratch, n, c, h, w_, o, kh, kw, stride_h,
                            stride_w, pad_top, pad_left, pad_bottom, pad_right, groups, lr, rounding, seed);
}

void odtc_qconv2d_grad_weight_sgd_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                     const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                     const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                     int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                     const int32_t *step, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                     int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                     int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                     int32_t pad_right, int32_t groups, float lr, int32_t rounding, int32_t seed)
{
    qconv2d_grad_weight_sgd(x, 1, x_zero_point, e, 0, e_zero_point, g_scale, w_scale, w_zero_point, w_per_channel,
                            w, row_range, select, select_count, step, scratch, n, c, h, w_, o, kh, kw, stride_h,
                            stride_w, pad_top, pad_left, pad_bottom, pad_right, groups, lr, rounding, seed);
}

void odtc_qconv2d_grad_weight_sgd_s8_e16(const int8_t *x, const int32_t *x_zero_point, const int16_t *e,
                                         const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                         const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                         int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                         const int32_t *step, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                         int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                         int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                         int32_t pad_right, int32_t groups, float lr, int32_t rounding,
                                         int32_t seed)
{
    qconv2d_grad_weight_sgd(x, 0, x_zero_point, e, 1, e_zero_point, g_scale, w_scale, w_zero_point, w_per_channel,
                            w, row_range, select, select_count, step, scratch, n, c, h, w_, o, kh, kw, stride_h,
                            stride_w, pad_top, pad_left, pad_bottom, pad_right, groups, lr, rounding, seed);
}

void odtc_qconv2d_grad_weight_sgd_u8_e16(const uint8_t *x, const int32_t *x_zero_point, const int16_t *e,
                                         const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                         const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                         int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                         const int32_t *step, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                         int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                         int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                         int32_t pad_right, int32_t groups, float lr, int32_t rounding,
                                         int32_t seed)
{
    qconv2d_grad_weight_sgd(x, 1, x_zero_point, e, 1, e_zero_point, g_scale, w_scale, w_zero_point, w_per_channel,
                            w, row_range, select, select_count, step, scratch, n, c, h, w_, o, kh, kw, stride_h,
                            stride_w, pad_top, pad_left, pad_bottom, pad_right, groups, lr, rounding, seed);
}

/* rintf of x clamped to +-2^22, NaN -> 0, without a libm call: x + 1.5*2^23 lies in
 * [2^23, 2^24], where the float grid is the integers, so the addition rounds half to even. */
static ODTC_ALWAYS_INLINE int32_t fqt_round_nearest(float x)
{
    if (!(x == x)) {
        x = 0.0f;
    }
    x = x > 4194304.0f ? 4194304.0f : (x < -4194304.0f ? -4194304.0f : x);
    return (int32_t)((x + 12582912.0f) - 12582912.0f);
}

/* fqt.regrid_target of the row ranges [lo_i, hi_i] on the grid (s, z): the new grid in
 * *st, *zt; returns whether to regrid. */
static int32_t fqt_regrid_target(float s, int32_t z, int32_t lo_i, int32_t hi_i, int32_t qmin, int32_t qmax,
                                 int32_t symmetric, float headroom, float *st, int32_t *zt)
{
    const float lo = s * (float)lo_i;
    const float hi = s * (float)hi_i;
    const float lo0 = 0.0f < lo ? 0.0f : lo; /* Python min(lo, 0) */
    const float hi0 = 0.0f > hi ? 0.0f : hi; /* Python max(hi, 0) */
    const float m = (hi0 - lo0) * headroom;
    const float target[2] = {lo0 - m, hi0 + m};
    fqt_qparams(target, qmin, qmax, symmetric, st, zt);
    const int32_t expand = lo_i < qmin - z || hi_i > qmax - z;
    const int32_t shrink = *st < s * 0.5f;
    return expand || shrink;
}

/* fqt._reexpress of one row (grid (s, z) -> (st, zt)), its elements at stream indices
 * first + j; row_range[0..1] becomes the row's [min, max] of (q - zt). */
static void fqt_reexpress_row(int8_t *wr, size_t row_len, float s, int32_t z, float st, int32_t zt, int32_t qmin,
                              int32_t qmax, int32_t stochastic, uint32_t base, uint32_t first, int32_t *row_range)
{
    int32_t rlo = INT32_MAX, rhi = INT32_MIN;
    for (size_t j = 0; j < row_len; ++j) {
        const float d = (s * (float)((int32_t)wr[j] - z)) / st;
        int32_t q;
        if (stochastic) {
            q = ((fqt_q16(d * 65536.0f) + (int32_t)(odtc_hash32(base + first + (uint32_t)j) >> 16)) >> 16) + zt;
        } else {
            q = fqt_round_nearest(d) + zt;
        }
        q = q < qmin ? qmin : (q > qmax ? qmax : q);
        wr[j] = (int8_t)q;
        rlo = q - zt < rlo ? q - zt : rlo;
        rhi = q - zt > rhi ? q - zt : rhi;
    }
    row_range[0] = rlo;
    row_range[1] = rhi;
}

void odtc_qweight_regrid(int8_t *w, int32_t *row_range, const float *scale, const int32_t *zero_point,
                         float *new_scale, int32_t *new_zero_point, int32_t per_channel, int32_t rows,
                         size_t row_len, int32_t qmin, int32_t qmax, int32_t symmetric, float headroom,
                         const int32_t *step, int32_t rounding, int32_t seed)
{
    /* stochastic: unbiased re-expression (fqt.py says why), on a stream of its own */
    const int32_t stochastic = rounding == ODTC_ROUND_STOCHASTIC;
    const uint32_t base = odtc_hash32(fqt_stream_base(seed, step != NULL ? *step : 0) ^ 0x85EBCA6Bu);
    float st;
    int32_t zt;
    if (per_channel) { /* each row keeps or replaces its own grid */
        for (int32_t r = 0; r < rows; ++r) {
            const float s = scale[r]; /* read before new_scale[r] is written (they may alias) */
            const int32_t z = zero_point[r];
            int32_t *rr = row_range + 2 * (size_t)r;
            if (fqt_regrid_target(s, z, rr[0], rr[1], qmin, qmax, symmetric, headroom, &st, &zt)) {
                fqt_reexpress_row(w + (size_t)r * row_len, row_len, s, z, st, zt, qmin, qmax, stochastic, base,
                                  (uint32_t)((size_t)r * row_len), rr);
                new_scale[r] = st;
                new_zero_point[r] = zt;
            } else {
                new_scale[r] = s;
                new_zero_point[r] = z;
            }
        }
        return;
    }
    const float s = *scale;
    const int32_t z = *zero_point;
    int32_t lo_i = row_range[0], hi_i = row_range[1];
    for (int32_t r = 1; r < rows; ++r) {
        lo_i = row_range[2 * (size_t)r] < lo_i ? row_range[2 * (size_t)r] : lo_i;
        hi_i = row_range[2 * (size_t)r + 1] > hi_i ? row_range[2 * (size_t)r + 1] : hi_i;
    }
    if (!fqt_regrid_target(s, z, lo_i, hi_i, qmin, qmax, symmetric, headroom, &st, &zt)) {
        *new_scale = s;
        *new_zero_point = z;
        return;
    }
    for (int32_t r = 0; r < rows; ++r) {
        fqt_reexpress_row(w + (size_t)r * row_len, row_len, s, z, st, zt, qmin, qmax, stochastic, base,
                          (uint32_t)((size_t)r * row_len), row_range + 2 * (size_t)r);
    }
    *new_scale = st;
    *new_zero_point = zt;
}

/* ---- dynamic partial updates ---------------------------------------------------------------- */

int32_t odtc_topk_count(const float *loss, const float *loss_max, float lambda_min, float lambda_max,
                        int32_t structures)
{
    const float eps = fabsf(*loss);
    const float emax = *loss_max;
    const float ratio = emax > 0.0f ? eps / emax : 1.0f;
    float frac = lambda_min + ratio * (lambda_max - lambda_min);
    frac = 1.0f < frac ? 1.0f : frac; /* Python min(frac, 1) */
    const float t = floorf(frac * (float)structures);
    /* NaN (a NaN loss, or inf * 0): every structure (fqt.py raises in int()) */
    int64_t k = t != t ? (int64_t)structures : fqt_round_to_i64(t);
    k = k < structures ? k : structures;
    return (int32_t)(k > 1 ? k : 1);
}

/* int64 magnitudes in the scratch, through memcpy: the scratch need only be 4-byte aligned. */
static int64_t fqt_get_i64(const void *p, int32_t i)
{
    int64_t v;
    memcpy(&v, (const uint8_t *)p + (size_t)i * sizeof v, sizeof v);
    return v;
}

static void fqt_set_i64(void *p, int32_t i, int64_t v)
{
    memcpy((uint8_t *)p + (size_t)i * sizeof v, &v, sizeof v);
}

void odtc_topk_structures(const void *e, int32_t e_storage, const int32_t *e_zero_point,
                          const int32_t *count, int32_t *idx, void *scratch,
                          int32_t n, int32_t o, size_t spatial)
{
    const int32_t ze = *e_zero_point;
    for (int32_t oc = 0; oc < o; ++oc) {
        int64_t m = 0;
        for (int32_t ni = 0; ni < n; ++ni) {
            const size_t base = ((size_t)ni * o + oc) * spatial;
            int64_t part = 0;
            for (size_t s = 0; s < spatial; ++s) {
                const int32_t d = fqt_load_q(e, e_storage, base + s) - ze;
                part += d < 0 ? -d : d;
            }
            m += part;
        }
        fqt_set_i64(scratch, oc, m);
    }
    int32_t kk = *count;
    kk = kk < o ? kk : o;
    kk = kk > 1 ? kk : 1;
    /* j is selected iff fewer than kk structures beat it (larger magnitude, or equal and a
     * lower index): the kk largest, ties to the lower index; listed in increasing order.
     * The kk-th largest magnitude v is found by binary search on the value (the largest v
     * with at least kk magnitudes >= v; magnitudes are >= 0), O(o log max) instead of
     * ranking every structure against every other, O(o^2) (2.5M steps for a 1568-row
     * layer); then every magnitude > v is selected and, in index order, as many equal to v
     * as are still missing. */
    int64_t lo = 0;
    int64_t hi = 0;
    for (int32_t j = 0; j < o; ++j) {
        const int64_t mj = fqt_get_i64(scratch, j);
        hi = mj > hi ? mj : hi;
    }
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo + 1) / 2;
        int32_t at_least = 0;
        for (int32_t j = 0; j < o; ++j) {
            at_least += fqt_get_i64(scratch, j) >= mid ? 1 : 0;
        }
        if (at_least >= kk) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    int32_t above = 0;
    for (int32_t j = 0; j < o; ++j) {
        above += fqt_get_i64(scratch, j) > lo ? 1 : 0;
    }
    int32_t ties = kk - above;
    int32_t out = 0;
    for (int32_t j = 0; j < o; ++j) {
        const int64_t mj = fqt_get_i64(scratch, j);
        if (mj > lo || (mj == lo && ties-- > 0)) {
            idx[out++] = j;
        }
    }
    for (; out < o; ++out) {
        idx[out] = -1;
    }
}

size_t odtc_qconv2d_acc_scratch_bytes(int32_t c, int32_t groups, int32_t kh, int32_t kw, int32_t o)
{
    return ODTC_QCONV2D_ACC_SCRATCH_BYTES(c, groups, kh, kw, o);
}

size_t odtc_qconv2d_pw_dw_stream_scratch_bytes(int32_t c, int32_t kh1, int32_t kw1, int32_t h1, int32_t w1,
                                               int32_t kh2, int32_t kw2, int32_t oh, int32_t ow)
{
    return ODTC_QCONV2D_PW_DW_STREAM_SCRATCH_BYTES(c, kh1, kw1, h1, w1, kh2, kw2, oh, ow);
}

size_t odtc_qdense_acc_scratch_bytes(int32_t k, int32_t o)
{
    return ODTC_QDENSE_ACC_SCRATCH_BYTES(k, o);
}

size_t odtc_topk_structures_scratch_bytes(int32_t o)
{
    return ODTC_TOPK_STRUCTURES_SCRATCH_BYTES(o);
}
