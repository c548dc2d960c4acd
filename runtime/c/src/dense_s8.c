/* Quantized dense layer (8-bit activations, int8 weights [o, k], int32 accumulation) and
 * the int32-accumulating backward primitives of quantized training.
 *
 * Portable path, bit-exact with reference.qdense: each input row is widened once to offset
 * int16 values in the caller's scratch, then outputs are dot products with two weight
 * rows per pass (odtc_dot2_s16_s8), requantized exactly like odtc_conv2d_s8.
 * grad_input walks the weight matrix two rows at a time (odtc_mac2_s8); grad_weight
 * reduces over the batch. The Arm DSP paths are described below. */
#define ODTC_KERNEL_IMPL /* the DSP primitives of odtc_kernels.h */
#include "odtc_kernels.h"

static void requantize_store(void *y, int32_t is_u8, size_t yi, int32_t acc, int32_t mult, int32_t shift,
                             int32_t zy, int32_t lo, int32_t hi)
{
    int64_t v = (int64_t)odtc_multiply_by_quantized_multiplier(acc, mult, shift) + zy;
    v = v < lo ? lo : (v > hi ? hi : v);
    if (is_u8) {
        ((uint8_t *)y)[yi] = (uint8_t)v;
    } else {
        ((int8_t *)y)[yi] = (int8_t)v;
    }
}

#if defined(ODTC_DSP)
/* ---- Arm DSP paths ----------------------------------------------------------------------
 * Forward: the input row is widened once (x - zx, the lane order of odtc_dot_layout_s16)
 * and its sum S taken; each pair of weight rows is then a pure SMLAD dot product of raw
 * weights (SXTB16 widens four bytes into the two lane pairs the row words hold), 8 inputs x
 * 2 rows per loop pass, and the weight zero-point enters once: sum a (w - zw) = sum a w -
 * zw S. Each weight is used once per sample, so LDR + SXTB16 + SMLAD bound this at ~0.8
 * MACs per instruction for a single sample.
 * grad_input: acc[k] = sum_o e_o w[o][k] - sum_o e_o zw[o]; four weight rows per pass over
 * k, each pair of rows byte-interleaved (PKHBT/PKHTB) so that one SXTB16 yields the lane
 * pair (w[o][k], w[o+1][k]) for SMLAD with (e_o, e_o+1).
 * grad_weight, one sample: the outer product e_r (x - zx) with SMULBB/SMULTB, eight
 * outputs per LDM/STM pair. */

#if defined(__ARM_FEATURE_DSP) && !defined(ODTC_EMULATE_DSP)
#define ODTC_DOT_ROW_8(ACC, P, LOAD)                  \
    LOAD(P)                                           \
    "sxtb16 %[t], r12\n\t"                            \
    "smlad " ACC ", r8, %[t], " ACC "\n\t"            \
    "sxtb16 %[t], r12, ror #8\n\t"                    \
    "smlad " ACC ", r9, %[t], " ACC "\n\t"            \
    "sxtb16 %[t], lr\n\t"                             \
    "smlad " ACC ", r10, %[t], " ACC "\n\t"           \
    "sxtb16 %[t], lr, ror #8\n\t"                     \
    "smlad " ACC ", r11, %[t], " ACC "\n\t"

/* Eight weight bytes into r12/lr: LDRD when the rows are word aligned, else two LDR. */
#define ODTC_LOAD8_ALIGNED(P) "ldrd r12, lr, [" P "], #8\n\t"
#define ODTC_LOAD8_UNALIGNED(P) "ldr lr, [" P ", #4]\n\t" "ldr r12, [" P "], #8\n\t"
#define ODTC_DOT2_LOOP(LOAD)                                                                   \
    "1:\n\t"                                                                                   \
    "ldm %[pa]!, {r8, r9, r10, r11}\n\t" ODTC_DOT_ROW_8("%[a0]", "%[p0]", LOAD)                \
        ODTC_DOT_ROW_8("%[a1]", "%[p1]", LOAD) "subs %[n], %[n], #1\n\t"                        \
                                               "bne 1b\n\t"

/* out[0..1] += the first 8 * n8 terms of a . w0 and a . w1 (a in dot layout, raw weights). */
static ODTC_NOINLINE void dot2_raw(const int16_t *a, const int8_t *w0, const int8_t *w1, int32_t n8, int32_t *out)
{
    int32_t a0 = out[0], a1 = out[1];
    uint32_t t;
    if (n8 > 0 && (((uintptr_t)w0 | (uintptr_t)w1) & 3u) == 0) {
        __asm__ __volatile__(ODTC_DOT2_LOOP(ODTC_LOAD8_ALIGNED)
                             : [a0] "+r"(a0), [a1] "+r"(a1), [pa] "+r"(a), [p0] "+r"(w0), [p1] "+r"(w1), [n] "+r"(n8),
                               [t] "=&r"(t)
                             :
                             : "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
    } else if (n8 > 0) {
        __asm__ __volatile__(ODTC_DOT2_LOOP(ODTC_LOAD8_UNALIGNED)
                             : [a0] "+r"(a0), [a1] "+r"(a1), [pa] "+r"(a), [p0] "+r"(w0), [p1] "+r"(w1), [n] "+r"(n8),
                               [t] "=&r"(t)
                             :
                             : "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
    }
    out[0] = a0;
    out[1] = a1;
}

#define ODTC_GI_PAIR(P, E)                            \
    "ldr lr, [" P ", %[rk]]\n\t"                      \
    "ldr r12, [" P "], #4\n\t"                        \
    "pkhbt %[t], r12, lr, lsl #16\n\t"                \
    "pkhtb lr, lr, r12, asr #16\n\t"                  \
    "sxtb16 r12, %[t]\n\t"                            \
    "smlad r8, " E ", r12, r8\n\t"                    \
    "sxtb16 r12, %[t], ror #8\n\t"                    \
    "smlad r9, " E ", r12, r9\n\t"                    \
    "sxtb16 r12, lr\n\t"                              \
    "smlad r10, " E ", r12, r10\n\t"                  \
    "sxtb16 r12, lr, ror #8\n\t"                      \
    "smlad r11, " E ", r12, r11\n\t"

/* acc[0 .. 4 n4) += e01 . (w[0][k], w[1][k]) + e23 . (w[2][k], w[3][k]); rows k bytes apart. */
static ODTC_NOINLINE void gi_rows4(int32_t *acc, const int8_t *w, int32_t k, uint32_t e01, uint32_t e23, int32_t n4)
{
    const int8_t *p0 = w, *p2 = w + 2 * (size_t)k;
    uint32_t t;
    if (n4 > 0) {
        __asm__ __volatile__("1:\n\t"
                             "ldm %[pa], {r8, r9, r10, r11}\n\t" ODTC_GI_PAIR("%[p0]", "%[e01]")
                                 ODTC_GI_PAIR("%[p2]", "%[e23]")
                             "stmia %[pa]!, {r8, r9, r10, r11}\n\t"
                             "subs %[n], %[n], #1\n\t"
                             "bne 1b\n\t"
                             : [pa] "+r"(acc), [p0] "+r"(p0), [p2] "+r"(p2), [n] "+r"(n4), [t] "=&r"(t)
                             : [rk] "r"(k), [e01] "r"(e01), [e23] "r"(e23)
                             : "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
    }
}

/* acc[0 .. 8 n8) = e * x[0 .. 8 n8) (x natural-order int16, e in the low lane). */
static ODTC_NOINLINE void gw_outer(int32_t *acc, const int16_t *x, uint32_t e, int32_t n8)
{
    if (n8 > 0) {
        __asm__ __volatile__("1:\n\t"
                             "ldm %[px]!, {r4, r6, r8, r10}\n\t"
                             "smultb r5, r4, %[e]\n\t"
                             "smulbb r4, r4, %[e]\n\t"
                             "smultb r7, r6, %[e]\n\t"
                             "smulbb r6, r6, %[e]\n\t"
                             "smultb r9, r8, %[e]\n\t"
                             "smulbb r8, r8, %[e]\n\t"
                             "smultb r11, r10, %[e]\n\t"
                             "smulbb r10, r10, %[e]\n\t"
                             "stmia %[pa]!, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
                             "subs %[n], %[n], #1\n\t"
                             "bne 1b\n\t"
                             : [pa] "+r"(acc), [px] "+r"(x), [n] "+r"(n8)
                             : [e] "r"(e)
                             : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
    }
}
#else
/* C models of the assembly loops (same sums in the same order). */
static void dot2_raw(const int16_t *a, const int8_t *w0, const int8_t *w1, int32_t n8, int32_t *out)
{
    for (int32_t i = 0; i < 4 * n8; ++i, a += 2) {
        const uint32_t av = dsp_load32(a);
        const int8_t *p0 = w0 + 4 * (i / 2), *p1 = w1 + 4 * (i / 2);
        const uint32_t v0 = dsp_load32(p0), v1 = dsp_load32(p1);
        out[0] = dsp_smlad(av, (i & 1) ? dsp_sxtb16_ror8(v0) : dsp_sxtb16(v0), out[0]);
        out[1] = dsp_smlad(av, (i & 1) ? dsp_sxtb16_ror8(v1) : dsp_sxtb16(v1), out[1]);
    }
}

static void gi_rows4(int32_t *acc, const int8_t *w, int32_t k, uint32_t e01, uint32_t e23, int32_t n4)
{
    for (int32_t q = 0; q < n4; ++q, acc += 4) {
        for (int32_t r = 0; r < 2; ++r) {
            const int8_t *p = w + 2 * (size_t)r * k + 4 * q;
            const uint32_t a = dsp_load32(p), b = dsp_load32(p + k);
            const uint32_t t = dsp_pack_lo(a, b), u = dsp_pack_hi(a, b);
            const uint32_t ee = r ? e23 : e01;
            acc[0] = dsp_smlad(ee, dsp_sxtb16(t), acc[0]);
            acc[1] = dsp_smlad(ee, dsp_sxtb16_ror8(t), acc[1]);
            acc[2] = dsp_smlad(ee, dsp_sxtb16(u), acc[2]);
            acc[3] = dsp_smlad(ee, dsp_sxtb16_ror8(u), acc[3]);
        }
    }
}

static void gw_outer(int32_t *acc, const int16_t *x, uint32_t e, int32_t n8)
{
    for (int32_t i = 0; i < 8 * n8; ++i) {
        acc[i] = dsp_smlabb((uint32_t)(int32_t)x[i], e, 0);
    }
}
#endif
#endif /* ODTC_DSP */

#if defined(ODTC_DSP)
/* The widest |x - zx| and |w - zw| and |bias| of a call: decide whether the accumulators
 * stay below 2^29 (the fast requantization's range). */
static int64_t max_abs_diff(int32_t lo, int32_t hi, int32_t z) { return (int64_t)hi - z > (int64_t)z - lo ? (int64_t)hi - z : (int64_t)z - lo; }

static int32_t dense_q8_dsp(const void *x, int32_t is_u8, int32_t zx, const int8_t *w, const int32_t *w_zero_point,
                            int32_t w_per_channel, const int32_t *bias, void *y, const int32_t *mult,
                            const int32_t *shift, int32_t zy, int32_t lo, int32_t hi, int16_t *row, int32_t n,
                            int32_t k, int32_t o)
{
    const int64_t bx = max_abs_diff(is_u8 ? 0 : -128, is_u8 ? 255 : 127, zx);
    int64_t bw = 0, bmax = 0;
    for (int32_t oc = 0; oc < (w_per_channel ? o : 1); ++oc) {
        const int64_t m = max_abs_diff(-128, 127, w_zero_point[oc]);
        bw = m > bw ? m : bw;
    }
    for (int32_t oc = 0; bias != NULL && oc < o; ++oc) {
        const int64_t b = bias[oc] < 0 ? -(int64_t)bias[oc] : bias[oc];
        bmax = b > bmax ? b : bmax;
    }
    if (bx > 32767) {
        return 0;
    }
    const int32_t fast = (int64_t)k * bx * bw + bmax < ((int64_t)1 << 29);
    const int32_t n8 = k / 8;
    for (int32_t ni = 0; ni < n; ++ni) {
        if (is_u8) {
            odtc_offset_u8_to_s16((const uint8_t *)x + (size_t)ni * k, zx, row, k);
        } else {
            odtc_offset_s8_to_s16((const int8_t *)x + (size_t)ni * k, zx, row, k);
        }
        uint32_t sum = 0;
        for (int32_t i = 0; i < k; ++i) {
            sum += (uint32_t)(int32_t)row[i];
        }
        odtc_dot_layout_s16(row, k);
        for (int32_t oc = 0; oc < o; oc += 2) {
            const int32_t oc1 = oc + 1 < o ? oc + 1 : oc;
            const int8_t *w0 = w + (size_t)oc * k, *w1 = w + (size_t)oc1 * k;
            int32_t s[2] = {0, 0};
            dot2_raw(row, w0, w1, n8, s);
            int32_t i = 8 * n8;
            if (i + 4 <= k) { /* one more full quad, in dot layout */
                const uint32_t a02 = dsp_load32(row + i), a13 = dsp_load32(row + i + 2);
                const uint32_t v0 = dsp_load32(w0 + i), v1 = dsp_load32(w1 + i);
                s[0] = dsp_smlad(a13, dsp_sxtb16_ror8(v0), dsp_smlad(a02, dsp_sxtb16(v0), s[0]));
                s[1] = dsp_smlad(a13, dsp_sxtb16_ror8(v1), dsp_smlad(a02, dsp_sxtb16(v1), s[1]));
                i += 4;
            }
            for (; i < k; ++i) {
                s[0] += row[i] * w0[i];
                s[1] += row[i] * w1[i];
            }
            for (int32_t j = 0; j < 2 && oc + j < o; ++j) {
                const int32_t c = oc + j;
                const uint32_t zw = (uint32_t)w_zero_point[w_per_channel ? c : 0];
                const int32_t acc = (int32_t)((uint32_t)s[j] - zw * sum + (bias != NULL ? (uint32_t)bias[c] : 0u));
                int32_t r;
                if (fast && shift[c] <= -1) {
                    r = dsp_requant_fast(2 * acc, mult[c], 1 << (-shift[c] - 1), -shift[c]);
                } else {
                    r = odtc_multiply_by_quantized_multiplier(acc, mult[c], shift[c]);
                }
                r += zy;
                r = r < lo ? lo : (r > hi ? hi : r);
                if (is_u8) {
                    ((uint8_t *)y)[(size_t)ni * o + c] = (uint8_t)r;
                } else {
                    ((int8_t *)y)[(size_t)ni * o + c] = (int8_t)r;
                }
            }
        }
    }
    return 1;
}

static int32_t dense_s8_grad_input_dsp(const int8_t *e, int32_t ze, const int8_t *w, const int32_t *w_zero_point,
                                       int32_t w_per_channel, int32_t *acc, int32_t n, int32_t k, int32_t o)
{
    if (ze < -32640 || ze > 32639) {
        return 0;
    }
    const int32_t n4 = k / 4;
    for (int32_t ni = 0; ni < n; ++ni) {
        const int8_t *er = e + (size_t)ni * o;
        int32_t *ar = acc + (size_t)ni * k;
        uint32_t corr = 0; /* sum_o (e_o - ze) zw[o], subtracted from every output */
        for (int32_t oc = 0; oc < o; ++oc) {
            corr += (uint32_t)(er[oc] - ze) * (uint32_t)w_zero_point[w_per_channel ? oc : 0];
        }
        for (int32_t j = 0; j < k; ++j) {
            ar[j] = (int32_t)(0u - corr);
        }
        int32_t oc = 0;
        for (; oc + 4 <= o; oc += 4) {
            const int32_t d0 = er[oc] - ze, d1 = er[oc + 1] - ze, d2 = er[oc + 2] - ze, d3 = er[oc + 3] - ze;
            const int8_t *wr = w + (size_t)oc * k;
            gi_rows4(ar, wr, k, dsp_pack_lo((uint32_t)d0, (uint32_t)d1), dsp_pack_lo((uint32_t)d2, (uint32_t)d3), n4);
            for (int32_t j = 4 * n4; j < k; ++j) {
                ar[j] = (int32_t)((uint32_t)ar[j] + (uint32_t)(d0 * wr[j] + d1 * wr[k + j]) +
                                  (uint32_t)(d2 * wr[2 * (size_t)k + j] + d3 * wr[3 * (size_t)k + j]));
            }
        }
        for (; oc < o; ++oc) {
            const int32_t d = er[oc] - ze;
            const int8_t *wr = w + (size_t)oc * k;
            for (int32_t j = 0; j < k; ++j) {
                ar[j] = (int32_t)((uint32_t)ar[j] + (uint32_t)(d * wr[j]));
            }
        }
    }
    return 1;
}

#ifndef ODTC_DSP_DENSE_CHUNK
#define ODTC_DSP_DENSE_CHUNK 512 /* inputs widened at a time by grad_weight (2 bytes each, on the stack) */
#endif

/* One sample: the outer product; larger batches take the portable path. */
static int32_t dense_q8_grad_weight_dsp(const void *x, int32_t is_u8, int32_t zx, const int8_t *e, int32_t ze,
                                        int32_t *acc, const int32_t *channels, int32_t n_channels, int32_t n,
                                        int32_t k, int32_t o)
{
    if (n != 1 || zx < -32640 || zx > 32639 || ze < -32640 || ze > 32639) {
        return 0;
    }
    uint32_t words[ODTC_DSP_DENSE_CHUNK / 2];
    int16_t *xb = (int16_t *)(void *)words;
    const int32_t rows = channels != NULL ? n_channels : o;
    for (int32_t k0 = 0; k0 < k; k0 += ODTC_DSP_DENSE_CHUNK) {
        const int32_t len = k - k0 < ODTC_DSP_DENSE_CHUNK ? k - k0 : ODTC_DSP_DENSE_CHUNK;
        if (is_u8) {
            odtc_offset_u8_to_s16((const uint8_t *)x + k0, zx, xb, len);
        } else {
            odtc_offset_s8_to_s16((const int8_t *)x + k0, zx, xb, len);
        }
        for (int32_t r = 0; r < rows; ++r) {
            const int32_t d = e[channels != NULL ? channels[r] : r] - ze;
            int32_t *ar = acc + (size_t)r * k + k0;
            gw_outer(ar, xb, (uint32_t)d & 0xFFFFu, len / 8);
            for (int32_t j = len / 8 * 8; j < len; ++j) {
                ar[j] = d * xb[j];
            }
        }
    }
    return 1;
}
#endif /* ODTC_DSP */

static void dense_q8(const void *x, int32_t is_u8, const float *x_scale, const int32_t *x_zero_point,
                     const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                     int32_t w_per_channel, const int32_t *bias,
                     const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                     void *y, void *scratch, int32_t n, int32_t k, int32_t o)
{
    int32_t *mult = (int32_t *)scratch;
    int32_t *shift = mult + o;
    int16_t *row = (int16_t *)(shift + o);
    const float sx = *x_scale;
    const float sy = *y_scale;
    const int32_t zx = *x_zero_point;
    const int32_t zy = *y_zero_point;
    for (int32_t oc = 0; oc < o; ++oc) {
        const float sxw = sx * w_scale[w_per_channel ? oc : 0];
        odtc_quantize_multiplier(sxw / sy, &mult[oc], &shift[oc]);
    }
    int32_t lo, hi;
    odtc_activation_range(activation, sy, zy, is_u8 ? 0 : -128, is_u8 ? 255 : 127, &lo, &hi);
#if defined(ODTC_DSP)
    if (dense_q8_dsp(x, is_u8, zx, w, w_zero_point, w_per_channel, bias, y, mult, shift, zy, lo, hi, row, n, k, o)) {
        return;
    }
#endif
    for (int32_t ni = 0; ni < n; ++ni) {
        if (is_u8) {
            odtc_offset_u8_to_s16((const uint8_t *)x + (size_t)ni * k, zx, row, k);
        } else {
            odtc_offset_s8_to_s16((const int8_t *)x + (size_t)ni * k, zx, row, k);
        }
        odtc_dot_layout_s16(row, k);
        int32_t oc = 0;
        for (; oc + 2 <= o; oc += 2) { /* two outputs per pass over the input row */
            int32_t acc[2];
            odtc_dot2_s16_s8(row, w + (size_t)oc * k, w_zero_point[w_per_channel ? oc : 0],
                             w + (size_t)(oc + 1) * k, w_zero_point[w_per_channel ? oc + 1 : 0], k, acc);
            for (int32_t j = 0; j < 2; ++j) {
                const int32_t a = bias != NULL ? acc[j] + bias[oc + j] : acc[j];
                requantize_store(y, is_u8, (size_t)ni * o + oc + j, a, mult[oc + j], shift[oc + j], zy, lo, hi);
            }
        }
        if (oc < o) {
            int32_t a = odtc_dot_s16_s8(row, w + (size_t)oc * k, w_zero_point[w_per_channel ? oc : 0], k);
            if (bias != NULL) {
                a += bias[oc];
            }
            requantize_store(y, is_u8, (size_t)ni * o + oc, a, mult[oc], shift[oc], zy, lo, hi);
        }
    }
}

void odtc_dense_s8(const int8_t *x, const float *x_scale, const int32_t *x_zero_point,
                   const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                   int32_t w_per_channel, const int32_t *bias,
                   const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                   int8_t *y, void *scratch, int32_t n, int32_t k, int32_t o)
{
    dense_q8(x, 0, x_scale, x_zero_point, w, w_scale, w_zero_point, w_per_channel, bias,
             y_scale, y_zero_point, activation, y, scratch, n, k, o);
}

void odtc_dense_u8(const uint8_t *x, const float *x_scale, const int32_t *x_zero_point,
                   const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                   int32_t w_per_channel, const int32_t *bias,
                   const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                   uint8_t *y, void *scratch, int32_t n, int32_t k, int32_t o)
{
    dense_q8(x, 1, x_scale, x_zero_point, w, w_scale, w_zero_point, w_per_channel, bias,
             y_scale, y_zero_point, activation, y, scratch, n, k, o);
}

/* ---- int32-accumulating backward primitives ----------------------------------------- */

void odtc_dense_s8_grad_input(const int8_t *e, const int32_t *e_zero_point,
                              const int8_t *w, const int32_t *w_zero_point, int32_t w_per_channel,
                              int32_t *acc, int32_t n, int32_t k, int32_t o)
{
#if defined(ODTC_DSP)
    if (dense_s8_grad_input_dsp(e, *e_zero_point, w, w_zero_point, w_per_channel, acc, n, k, o)) {
        return;
    }
#endif
    const int32_t ze = *e_zero_point;
    for (int32_t ni = 0; ni < n; ++ni) {
        const int8_t *er = e + (size_t)ni * o;
        int32_t *ar = acc + (size_t)ni * k;
        for (int32_t j = 0; j < k; ++j) {
            ar[j] = 0;
        }
        int32_t oc = 0;
        for (; oc + 2 <= o; oc += 2) {
            odtc_mac2_s8(ar, w + (size_t)oc * k, w_zero_point[w_per_channel ? oc : 0], er[oc] - ze,
                         w + (size_t)(oc + 1) * k, w_zero_point[w_per_channel ? oc + 1 : 0],
                         er[oc + 1] - ze, k);
        }
        if (oc < o) { /* odd row: pair it with itself at zero weight */
            const int8_t *wr = w + (size_t)oc * k;
            const int32_t zw = w_zero_point[w_per_channel ? oc : 0];
            odtc_mac2_s8(ar, wr, zw, er[oc] - ze, wr, zw, 0, k);
        }
    }
}

/* int16 errors (16-bit FQT error tensors): portable C, zw per tensor or per row o. Each
 * element is the exact sum saturated to int32 (fqt.qdense_grad_input): the row of acc is
 * done ODTC_E16_TILE columns at a time, their int64 sums on the stack. */
void odtc_dense_s16_grad_input(const int16_t *e, const int32_t *e_zero_point, const int8_t *w,
                               const int32_t *w_zero_point, int32_t w_per_channel, int32_t *acc, int32_t n, int32_t k,
                               int32_t o)
{
    const int32_t ze = *e_zero_point;
    const int32_t zw0 = *w_zero_point; /* per tensor: read once */
    int64_t s[ODTC_E16_TILE];
    for (int32_t ni = 0; ni < n; ++ni) {
        const int16_t *er = e + (size_t)ni * o;
        int32_t *ar = acc + (size_t)ni * k;
        for (int32_t j0 = 0; j0 < k; j0 += ODTC_E16_TILE) {
            const int32_t len = k - j0 < ODTC_E16_TILE ? k - j0 : ODTC_E16_TILE;
            for (int32_t j = 0; j < len; ++j) {
                s[j] = 0;
            }
            for (int32_t oc = 0; oc < o; ++oc) {
                const int32_t d = (int32_t)er[oc] - ze;
                if (d == 0) {
                    continue;
                }
                const int8_t *wr = w + (size_t)oc * k + j0;
                const int32_t zw = w_per_channel ? w_zero_point[oc] : zw0;
                for (int32_t j = 0; j < len; ++j) {
                    s[j] += (int64_t)d * ((int32_t)wr[j] - zw);
                }
            }
            for (int32_t j = 0; j < len; ++j) {
                ar[j0 + j] = odtc_sat_i32(s[j]);
            }
        }
    }
}

static void dense_q8_grad_weight(const void *x, int32_t is_u8, const int32_t *x_zero_point,
                                 const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                 const int32_t *channels, int32_t n_channels,
                                 int32_t n, int32_t k, int32_t o)
{
#if defined(ODTC_DSP)
    if (dense_q8_grad_weight_dsp(x, is_u8, *x_zero_point, e, *e_zero_point, acc, channels, n_channels, n, k, o)) {
        return;
    }
#endif
    const int32_t rows = channels != NULL ? n_channels : o;
    const int32_t zx = *x_zero_point;
    const int32_t ze = *e_zero_point;
    for (int32_t r = 0; r < rows; ++r) {
        const int32_t oc = channels != NULL ? channels[r] : r;
        int32_t *ar = acc + (size_t)r * k;
        for (int32_t j = 0; j < k; ++j) {
            ar[j] = 0;
        }
        for (int32_t ni = 0; ni < n; ++ni) {
            const int32_t ev = e[(size_t)ni * o + oc] - ze;
            const size_t xr = (size_t)ni * k;
            if (is_u8) {
                const uint8_t *xp = (const uint8_t *)x + xr;
                for (int32_t j = 0; j < k; ++j) {
                    ar[j] += ev * (xp[j] - zx);
                }
            } else {
                const int8_t *xp = (const int8_t *)x + xr;
                for (int32_t j = 0; j < k; ++j) {
                    ar[j] += ev * (xp[j] - zx);
                }
            }
        }
    }
}

void odtc_dense_s8_grad_weight(const int8_t *x, const int32_t *x_zero_point,
                               const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                               const int32_t *channels, int32_t n_channels,
                               int32_t n, int32_t k, int32_t o)
{
    dense_q8_grad_weight(x, 0, x_zero_point, e, e_zero_point, acc, channels, n_channels, n, k, o);
}

void odtc_dense_u8_grad_weight(const uint8_t *x, const int32_t *x_zero_point,
                               const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                               const int32_t *channels, int32_t n_channels,
                               int32_t n, int32_t k, int32_t o)
{
    dense_q8_grad_weight(x, 1, x_zero_point, e, e_zero_point, acc, channels, n_channels, n, k, o);
}

size_t odtc_dense_q8_scratch_bytes(int32_t k, int32_t o)
{
    return ODTC_DENSE_Q8_SCRATCH_BYTES(k, o);
}
