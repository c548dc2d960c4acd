/* Transcendental functions that give the same bits on every target.
 *
 * libm is not bit-identical across platforms: glibc (host) and newlib agree on the
 * Cortex-M7/M55 but newlib's single-precision-FPU build for the Cortex-M4 differs in the
 * last bits of expf/logf/powf, and a training step must produce the same losses and
 * weights everywhere. These routines use only IEEE-754 +, -, *, / (correctly rounded on
 * every target; build with -ffp-contract=off so that nothing is fused) and integer bit
 * manipulation, so their results depend on nothing but their argument.
 *
 * odtc_expf: x = k ln2 + r, |r| <= ln2/2 (Cody-Waite, ln2 split so that k * LN2_HI is
 *   exact), e^r = 1 + r + r^2 P(r) with a degree-4 P fitted (Lawson-weighted least
 *   squares) to relative error 2^-28, then scaled by 2^k through the exponent field.
 * odtc_logf: x = 2^k m, m in [sqrt(1/2), sqrt(2)), f = m - 1, s = f / (2 + f);
 *   log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)) with a degree-4 R fitted to relative
 *   error 2^-37; + k ln2 in two parts.
 * Both are within 1 ulp of the exact result over the whole float range (the tests sweep
 * it densely against float64), with the IEEE special cases: exp(-inf) = 0,
 * exp(+inf) = inf, overflow to inf, gradual underflow; log(0) = -inf, log(x < 0) = NaN,
 * log(inf) = inf, NaN in -> NaN out.
 *
 * odtc_powi: base^n for an integer n >= 0 by binary exponentiation in double-double
 *   arithmetic (Dekker products, no fma), rounded once: the correctly rounded double
 *   (barring exact values within ~2^-100 relative of a rounding boundary). glibc's pow,
 *   which the reference's Python float ** int calls, is correctly rounded too except for
 *   values within ~0.01 ulp of a boundary (about 1 in 4000 in the tests), where the two
 *   differ by one double ulp -- far below the f32 rounding of Adam's bias-corrected
 *   scalars, which stay identical. */
#include <string.h>

#include "odtc_kernels.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

#define LN2_HI 0.693359375f          /* 355/512: k * LN2_HI is exact for |k| < 2^15 */
#define LN2_LO (-2.121944417e-4f)     /* ln2 - LN2_HI */
#define INV_LN2 1.442695022f
#define ROUND_MAGIC 12582912.0f      /* 1.5 * 2^23: (v + M) - M rounds v to an integer */

float odtc_expf(float x)
{
    if (!(x == x)) {
        return x + x; /* NaN */
    }
    if (x > 89.0f) {
        return from_bits(0x7F800000u); /* overflow (and +inf) */
    }
    if (x < -104.0f) {
        return 0.0f; /* below half the smallest subnormal (and -inf) */
    }
    const float kf = (x * INV_LN2 + ROUND_MAGIC) - ROUND_MAGIC;
    const int32_t k = (int32_t)kf;
    const float r = (x - kf * LN2_HI) - kf * LN2_LO;
    float q = 1.381453942e-3f;
    q = q * r + 8.368745446e-3f;
    q = q * r + 4.166838899e-2f;
    q = q * r + 1.666652113e-1f;
    q = q * r + 4.999999404e-1f;
    const float p = 1.0f + (r + (r * r) * q); /* e^r in [0.707, 1.415] */
    /* p * 2^k: exact power-of-two scalings, so the only rounding of a subnormal result is
     * the last multiply; k = 128 (x just below the overflow threshold) goes in two steps. */
    if (k > 127) {
        return (p * 2.0f) * from_bits((uint32_t)(k - 1 + 127) << 23);
    }
    if (k < -126) {
        return (p * from_bits((uint32_t)(k + 64 + 127) << 23)) * from_bits((uint32_t)(127 - 64) << 23);
    }
    return p * from_bits((uint32_t)(k + 127) << 23);
}

float odtc_logf(float x)
{
    uint32_t ix = to_bits(x);
    int32_t k = 0;
    if (ix >= 0x7F800000u || ix < 0x00800000u) { /* negative, zero, subnormal, inf, NaN */
        if ((ix & 0x7FFFFFFFu) == 0) {
            return from_bits(0xFF800000u); /* log(+-0) = -inf */
        }
        if (ix == 0x7F800000u) {
            return x; /* +inf */
        }
        if ((ix & 0x7FFFFFFFu) > 0x7F800000u) {
            return x + x; /* NaN */
        }
        if (ix >> 31) {
            return from_bits(0x7FC00000u); /* negative: NaN */
        }
        ix = to_bits(x * 8388608.0f); /* subnormal: scale by 2^23 (exact) */
        k = -23;
    }
    /* m in [sqrt(1/2), sqrt(2)): offset the bits so the exponent steps at sqrt(1/2) */
    ix += 0x3F800000u - 0x3F3504F3u;
    k += (int32_t)(ix >> 23) - 127;
    const float m = from_bits((ix & 0x007FFFFFu) + 0x3F3504F3u);
    const float f = m - 1.0f; /* exact (Sterbenz) */
    const float s = f / (2.0f + f);
    const float z = s * s;
    float r = 2.358147353e-1f;
    r = r * z + 2.853734791e-1f;
    r = r * z + 4.000033438e-1f;
    r = r * z + 6.666666269e-1f;
    r = r * z;
    const float hfsq = 0.5f * f * f;
    const float kf = (float)k;
    /* small terms first; k * LN2_HI is exact and added last */
    return kf * LN2_HI + ((f - hfsq) + (s * (hfsq + r) + kf * LN2_LO));
}

/* ---- double-double helpers (exact without fma, given no overflow or underflow) ------- */

/* p + e = a * b exactly (Dekker/Veltkamp splitting). */
static void two_prod(double a, double b, double *p, double *e)
{
    const double split = 134217729.0; /* 2^27 + 1 */
    double t = split * a;
    const double ah = t - (t - a);
    const double al = a - ah;
    t = split * b;
    const double bh = t - (t - b);
    const double bl = b - bh;
    *p = a * b;
    *e = ((ah * bh - *p) + ah * bl + al * bh) + al * bl;
}

/* (*hi, *lo) = (ah, al) * (bh, bl), renormalised (|lo| <= ulp(hi) / 2). */
static void dd_mul(double ah, double al, double bh, double bl, double *hi, double *lo)
{
    double p, e;
    two_prod(ah, bh, &p, &e);
    e += ah * bl + al * bh;
    *hi = p + e;
    *lo = e - (*hi - p);
}

double odtc_powi(double base, int32_t n)
{
    double rh = 1.0, rl = 0.0;
    double bh = base, bl = 0.0;
    uint32_t u = n < 0 ? 0u : (uint32_t)n;
    while (u != 0) {
        if (u & 1u) {
            dd_mul(rh, rl, bh, bl, &rh, &rl);
        }
        u >>= 1;
        if (u != 0) {
            dd_mul(bh, bl, bh, bl, &bh, &bl);
        }
    }
    return rh; /* rh = fl(rh + rl) */
}
