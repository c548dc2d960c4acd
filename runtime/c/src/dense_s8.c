/* Quantized dense layer (8-bit activations, int8 weights [o, k], int32 accumulation) and
 * the int32-accumulating backward primitives of quantized training.
 *
 * Forward, bit-exact with reference.qdense: each input row is widened once to offset
 * int16 values in the caller's scratch, then outputs are dot products with two weight
 * rows per pass (odtc_dot2_s16_s8, SMLAD on Arm DSP cores), requantized exactly like
 * odtc_conv2d_s8.
 * grad_input walks the weight matrix two rows at a time with odtc_mac2_s8 (two output
 * errors per SMLAD); grad_weight reduces over the batch, usually 1, so it stays plain. */
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

static void dense_q8_grad_weight(const void *x, int32_t is_u8, const int32_t *x_zero_point,
                                 const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                 const int32_t *channels, int32_t n_channels,
                                 int32_t n, int32_t k, int32_t o)
{
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
