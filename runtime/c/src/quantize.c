/* Quantization arithmetic: the fixed-point multiplier (TFLite QuantizeMultiplier, frexp
 * semantics read from the float's bits), gemmlowp's SaturatingRoundingDoublingHighMul and RoundingDivideByPOT, the fused
 * activation range, and the element-wise quantize / dequantize / requantize kernels.
 *
 * Everything here is bit-exact with odtc.runtime.reference (module docstring, rules 1-7).
 * Only single-precision float and integer arithmetic is used (no double emulation on a
 * single-precision FPU): for f32 inputs every step the reference evaluates in double is
 * exact in float, or is replaced by an exact integer computation. */
#include <math.h>
#include <string.h>

#include "odtc_kernels.h"

static int32_t storage_min(int32_t storage)
{
    switch (storage) {
    case ODTC_S8: return -128;
    case ODTC_U8: return 0;
    case ODTC_S16: return -32768;
    default: return INT32_MIN;
    }
}

static int32_t storage_max(int32_t storage)
{
    switch (storage) {
    case ODTC_S8: return 127;
    case ODTC_U8: return 255;
    case ODTC_S16: return 32767;
    default: return INT32_MAX;
    }
}

static int32_t load_q(const void *q, int32_t storage, size_t i)
{
    switch (storage) {
    case ODTC_S8: return ((const int8_t *)q)[i];
    case ODTC_U8: return ((const uint8_t *)q)[i];
    case ODTC_S16: return ((const int16_t *)q)[i];
    default: return ((const int32_t *)q)[i];
    }
}

/* v is already inside the storage range. */
static void store_q(void *q, int32_t storage, size_t i, int32_t v)
{
    switch (storage) {
    case ODTC_S8: ((int8_t *)q)[i] = (int8_t)v; break;
    case ODTC_U8: ((uint8_t *)q)[i] = (uint8_t)v; break;
    case ODTC_S16: ((int16_t *)q)[i] = (int16_t)v; break;
    default: ((int32_t *)q)[i] = v; break;
    }
}

static int32_t clamp_i64(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : (int32_t)v);
}

void odtc_quantize_multiplier(float real, int32_t *multiplier, int32_t *shift)
{
    *multiplier = 0;
    *shift = 0;
    /* real = m * 2^e with m in [0.5, 1) (frexp). m has at most 24 significant bits, so
     * m * 2^31 is an exact integer below 2^31: the reference's round-half-away of that
     * product is the product itself, and its "2^31 becomes 2^30, shift + 1" case cannot
     * occur for an f32 input. Read straight from the bits: for a normal positive float,
     * e = biased exponent - 126 and m * 2^31 = (1.fraction * 2^23) << 7. 0, negative,
     * NaN and inf give (0, 0); subnormals have e < -31 and flush to (0, 0). */
    uint32_t bits;
    memcpy(&bits, &real, sizeof bits);
    const uint32_t biased = bits >> 23; /* the sign bit makes negative values > 255 */
    if (biased == 0 || biased >= 255u) {
        return;
    }
    const int32_t e = (int32_t)biased - 126;
    if (e < -31) {
        return;
    }
    *multiplier = (int32_t)(((bits & 0x007FFFFFu) | 0x00800000u) << 7);
    *shift = e;
}

int32_t odtc_saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    const int64_t t = ab + nudge;
    /* division by 2^31 truncating toward zero, without a 64-bit divide */
    const int64_t high = t >= 0 ? (t >> 31) : -((-t) >> 31);
    return (int32_t)high;
}

int32_t odtc_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t odtc_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? (shift < 31 ? shift : 31) : 0;
    const int32_t right = shift < 0 ? (shift > -31 ? -shift : 31) : 0;
    /* |x| * 2^31 <= 2^62: the left shift is exact in int64, then saturated to int32 */
    const int64_t x1 = (int64_t)x * ((int64_t)1 << left);
    const int32_t xs = clamp_i64(x1, INT32_MIN, INT32_MAX);
    return odtc_rounding_divide_by_pot(odtc_saturating_rounding_doubling_high_mul(xs, multiplier), right);
}

void odtc_activation_range(int32_t activation, float y_scale, int32_t y_zero_point,
                           int32_t qmin, int32_t qmax, int32_t *lo, int32_t *hi)
{
    *lo = qmin;
    *hi = qmax;
    if (activation == ODTC_ACT_NONE) {
        return;
    }
    *lo = y_zero_point > qmin ? y_zero_point : qmin;
    if (activation == ODTC_ACT_RELU6) {
        const float lim = 4294967296.0f; /* 2^32 > any qmax - zy: beyond it the test is decided */
        float six = rintf(6.0f / y_scale);
        six = six > lim ? lim : (six < -lim ? -lim : six);
        const int64_t s = (int64_t)six;
        if (s <= (int64_t)qmax - y_zero_point) {
            *hi = (int32_t)(y_zero_point + s);
        }
    }
}

/* clamp(rintf(x / s) + zp, qmin, qmax), the sum taken exactly; NaN -> clamp(zp). */
static int32_t quantize_value(float x, float s, int32_t zp, int32_t qmin, int32_t qmax)
{
    const float r = rintf(x / s);
    int64_t v;
    if (fabsf(r) <= 1073741824.0f) { /* 2^30: the common, fast case */
        v = (int64_t)(int32_t)r + zp;
    } else if (r != r) {
        v = zp;
    } else {
        /* beyond 2^40 the result saturates whatever zp is; below, the int64 sum is exact */
        const float lim = 1099511627776.0f;
        v = (int64_t)(r > lim ? lim : (r < -lim ? -lim : r)) + zp;
    }
    return clamp_i64(v, qmin, qmax);
}

void odtc_quantize(const float *x, void *q, int32_t storage,
                   size_t outer, size_t channels, size_t inner,
                   const float *scale, const int32_t *zero_point, int32_t per_channel)
{
    const int32_t qmin = storage_min(storage);
    const int32_t qmax = storage_max(storage);
    size_t i = 0;
    for (size_t a = 0; a < outer; ++a) {
        for (size_t ch = 0; ch < channels; ++ch) {
            const size_t p = per_channel ? ch : 0;
            const float s = scale[p];
            const int32_t zp = zero_point[p];
            for (size_t b = 0; b < inner; ++b, ++i) {
                store_q(q, storage, i, quantize_value(x[i], s, zp, qmin, qmax));
            }
        }
    }
}

void odtc_dequantize(const void *q, int32_t storage, float *x,
                     size_t outer, size_t channels, size_t inner,
                     const float *scale, const int32_t *zero_point, int32_t per_channel)
{
    size_t i = 0;
    for (size_t a = 0; a < outer; ++a) {
        for (size_t ch = 0; ch < channels; ++ch) {
            const size_t p = per_channel ? ch : 0;
            const float s = scale[p];
            const int32_t zp = zero_point[p];
            for (size_t b = 0; b < inner; ++b, ++i) {
                const int64_t d = (int64_t)load_q(q, storage, i) - zp;
                /* one rounding int -> float either way; the int32 conversion is cheaper */
                const float fd = (d >= INT32_MIN && d <= INT32_MAX) ? (float)(int32_t)d : (float)d;
                x[i] = s * fd;
            }
        }
    }
}

void odtc_requantize(const void *q, int32_t in_storage, void *y, int32_t out_storage,
                     size_t numel, const float *s_in, const int32_t *z_in,
                     const float *s_out, const int32_t *z_out)
{
    const float real = *s_in / *s_out;
    int32_t multiplier, shift;
    odtc_quantize_multiplier(real, &multiplier, &shift);
    const int32_t qmin = storage_min(out_storage);
    const int32_t qmax = storage_max(out_storage);
    const int32_t zi = *z_in;
    const int32_t zo = *z_out;
    for (size_t i = 0; i < numel; ++i) {
        /* precondition (the reference raises otherwise): q - z_in fits int32 */
        const int32_t d = (int32_t)((int64_t)load_q(q, in_storage, i) - zi);
        const int64_t v = (int64_t)odtc_multiply_by_quantized_multiplier(d, multiplier, shift) + zo;
        store_q(y, out_storage, i, clamp_i64(v, qmin, qmax));
    }
}
