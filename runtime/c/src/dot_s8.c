/* Int8 inner-product building blocks of the quantized layers: widening an 8-bit row to
 * offset int16 values, int16 x int8 dot products (one or two weight rows against one
 * activation vector) and a two-row multiply-accumulate.
 *
 * Portable C first; with __ARM_FEATURE_DSP (Cortex-M4/M7/M33/M55) the same functions
 * use SXTB16/UXTB16 to widen four bytes at a time, SSUB16 to subtract zero-points in both
 * 16-bit lanes and SMLAD for two 16x16 multiply-accumulates per instruction; the dot
 * products read the activations in a lane order prepared once by odtc_dot_layout_s16
 * (a no-op on portable builds) so that weights need no repacking. All
 * arithmetic is exact (8-bit differences fit int16 lanes, products and sums are exact
 * int32 under the header's partial-sum precondition), so both paths give identical
 * results. ODTC_EMULATE_DSP compiles the DSP path on any host against C models of the
 * intrinsics, so the tests can check it against the portable path without an Arm core.
 * Both paths assume a little-endian target. */
#define ODTC_KERNEL_IMPL /* the DSP primitives of odtc_kernels.h */
#include "odtc_kernels.h"

#if defined(ODTC_DSP)
/* Four bytes at p widened to lanes (b0, b1) in *lo and (b2, b3) in *hi. */
static inline void widen4_s8(const int8_t *p, uint32_t *lo, uint32_t *hi)
{
    const uint32_t v = dsp_load32(p);
    const uint32_t b02 = dsp_sxtb16(v);
    const uint32_t b13 = dsp_sxtb16_ror8(v);
    *lo = dsp_pack_lo(b02, b13);
    *hi = dsp_pack_hi(b02, b13);
}
static inline void widen4_u8(const uint8_t *p, uint32_t *lo, uint32_t *hi)
{
    const uint32_t v = dsp_load32(p);
    const uint32_t b02 = dsp_uxtb16(v);
    const uint32_t b13 = dsp_uxtb16_ror8(v);
    *lo = dsp_pack_lo(b02, b13);
    *hi = dsp_pack_hi(b02, b13);
}
#endif

void odtc_offset_s8_to_s16(const int8_t *x, int32_t x_zero_point, int16_t *a, int32_t len)
{
    int32_t i = 0;
#if defined(ODTC_DSP)
    const uint32_t zz = dsp_splat16(x_zero_point);
    for (; i + 4 <= len; i += 4) {
        uint32_t lo, hi;
        widen4_s8(x + i, &lo, &hi);
        dsp_store32(a + i, dsp_ssub16(lo, zz));
        dsp_store32(a + i + 2, dsp_ssub16(hi, zz));
    }
#endif
    for (; i < len; ++i) {
        a[i] = (int16_t)(x[i] - x_zero_point);
    }
}

void odtc_offset_u8_to_s16(const uint8_t *x, int32_t x_zero_point, int16_t *a, int32_t len)
{
    int32_t i = 0;
#if defined(ODTC_DSP)
    const uint32_t zz = dsp_splat16(x_zero_point);
    for (; i + 4 <= len; i += 4) {
        uint32_t lo, hi;
        widen4_u8(x + i, &lo, &hi);
        dsp_store32(a + i, dsp_ssub16(lo, zz));
        dsp_store32(a + i + 2, dsp_ssub16(hi, zz));
    }
#endif
    for (; i < len; ++i) {
        a[i] = (int16_t)(x[i] - x_zero_point);
    }
}

void odtc_dot_layout_s16(int16_t *a, int32_t len)
{
#if defined(ODTC_DSP)
    /* (a0, a1, a2, a3) -> (a0, a2, a1, a3): SXTB16 of four weight bytes yields the lanes
     * (w0, w2) and, of the bytes rotated by 8, (w1, w3); with the activations in the same
     * lane order every SMLAD needs no repacking in the dot-product loops. */
    for (int32_t i = 0; i + 4 <= len; i += 4) {
        const uint32_t a01 = dsp_load32(a + i);
        const uint32_t a23 = dsp_load32(a + i + 2);
        dsp_store32(a + i, dsp_pack_lo(a01, a23));
        dsp_store32(a + i + 2, dsp_pack_hi(a01, a23));
    }
#else
    (void)a;
    (void)len;
#endif
}

#if defined(ODTC_DSP)
/* Lanes (w0 - z, w2 - z) and (w1 - z, w3 - z) of four weight bytes; `sub` is a constant
 * at every (inlined) call, so the symmetric case carries no subtraction. */
static ODTC_ALWAYS_INLINE void weight_lanes(const int8_t *p, uint32_t zz, int sub, uint32_t *w02, uint32_t *w13)
{
    const uint32_t v = dsp_load32(p);
    *w02 = dsp_sxtb16(v);
    *w13 = dsp_sxtb16_ror8(v);
    if (sub) {
        *w02 = dsp_ssub16(*w02, zz);
        *w13 = dsp_ssub16(*w13, zz);
    }
}

/* Full groups of four of one or two dot products; returns the number of elements done. */
static ODTC_ALWAYS_INLINE int32_t dot_quads(const int16_t *a, const int8_t *b0, uint32_t z0, const int8_t *b1,
                                            uint32_t z1, int32_t len, int sub, int two, int32_t *acc0, int32_t *acc1)
{
    int32_t i = 0;
    int32_t s0 = 0, s1 = 0;
    for (; i + 4 <= len; i += 4) {
        const uint32_t a02 = dsp_load32(a + i);
        const uint32_t a13 = dsp_load32(a + i + 2);
        uint32_t w02, w13;
        weight_lanes(b0 + i, z0, sub, &w02, &w13);
        s0 = dsp_smlad(a02, w02, s0);
        s0 = dsp_smlad(a13, w13, s0);
        if (two) {
            weight_lanes(b1 + i, z1, sub, &w02, &w13);
            s1 = dsp_smlad(a02, w02, s1);
            s1 = dsp_smlad(a13, w13, s1);
        }
    }
    *acc0 = s0;
    *acc1 = s1;
    return i;
}
#endif

int32_t odtc_dot_s16_s8(const int16_t *a, const int8_t *b, int32_t b_zero_point, int32_t len)
{
    int32_t acc = 0;
    int32_t i = 0;
#if defined(ODTC_DSP)
    int32_t unused;
    const uint32_t zz = dsp_splat16(b_zero_point);
    if (b_zero_point == 0) {
        i = dot_quads(a, b, zz, b, zz, len, 0, 0, &acc, &unused);
    } else {
        i = dot_quads(a, b, zz, b, zz, len, 1, 0, &acc, &unused);
    }
#endif
    for (; i < len; ++i) {
        acc += (int32_t)a[i] * (b[i] - b_zero_point);
    }
    return acc;
}

void odtc_dot2_s16_s8(const int16_t *a, const int8_t *b0, int32_t b0_zero_point,
                      const int8_t *b1, int32_t b1_zero_point, int32_t len, int32_t *out)
{
    int32_t acc0 = 0, acc1 = 0;
    int32_t i = 0;
#if defined(ODTC_DSP)
    const uint32_t z0 = dsp_splat16(b0_zero_point);
    const uint32_t z1 = dsp_splat16(b1_zero_point);
    if (b0_zero_point == 0 && b1_zero_point == 0) {
        i = dot_quads(a, b0, z0, b1, z1, len, 0, 1, &acc0, &acc1);
    } else {
        i = dot_quads(a, b0, z0, b1, z1, len, 1, 1, &acc0, &acc1);
    }
#endif
    for (; i < len; ++i) {
        acc0 += (int32_t)a[i] * (b0[i] - b0_zero_point);
        acc1 += (int32_t)a[i] * (b1[i] - b1_zero_point);
    }
    out[0] = acc0;
    out[1] = acc1;
}

#if defined(ODTC_DSP)
/* Full groups of four of odtc_mac2_s8; returns the number of elements done. */
static ODTC_ALWAYS_INLINE int32_t mac2_quads(int32_t *acc, const int8_t *w0, const int8_t *w1, uint32_t ee,
                                             uint32_t zz, int sub, int32_t len)
{
    int32_t k = 0;
    for (; k + 4 <= len; k += 4) {
        const uint32_t va = dsp_load32(w0 + k);
        const uint32_t vb = dsp_load32(w1 + k);
        const uint32_t a02 = dsp_sxtb16(va), a13 = dsp_sxtb16_ror8(va);
        const uint32_t b02 = dsp_sxtb16(vb), b13 = dsp_sxtb16_ror8(vb);
        /* lanes (w0[k+j] - z0, w1[k+j] - z1) for j = 0..3 */
        uint32_t p0 = dsp_pack_lo(a02, b02), p1 = dsp_pack_lo(a13, b13);
        uint32_t p2 = dsp_pack_hi(a02, b02), p3 = dsp_pack_hi(a13, b13);
        if (sub) {
            p0 = dsp_ssub16(p0, zz);
            p1 = dsp_ssub16(p1, zz);
            p2 = dsp_ssub16(p2, zz);
            p3 = dsp_ssub16(p3, zz);
        }
        acc[k] = dsp_smlad(ee, p0, acc[k]);
        acc[k + 1] = dsp_smlad(ee, p1, acc[k + 1]);
        acc[k + 2] = dsp_smlad(ee, p2, acc[k + 2]);
        acc[k + 3] = dsp_smlad(ee, p3, acc[k + 3]);
    }
    return k;
}
#endif

void odtc_mac2_s8(int32_t *acc, const int8_t *w0, int32_t z0, int32_t e0,
                  const int8_t *w1, int32_t z1, int32_t e1, int32_t len)
{
    int32_t k = 0;
#if defined(ODTC_DSP)
    const uint32_t ee = dsp_pack_lo(dsp_splat16(e0), dsp_splat16(e1)); /* lanes (e0, e1) */
    const uint32_t zz = dsp_pack_lo(dsp_splat16(z0), dsp_splat16(z1)); /* lanes (z0, z1) */
    if (z0 == 0 && z1 == 0) {
        k = mac2_quads(acc, w0, w1, ee, zz, 0, len);
    } else {
        k = mac2_quads(acc, w0, w1, ee, zz, 1, len);
    }
#endif
    for (; k < len; ++k) {
        acc[k] += e0 * (w0[k] - z0) + e1 * (w1[k] - z1);
    }
}
