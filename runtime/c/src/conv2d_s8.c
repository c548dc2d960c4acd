/* Quantized conv2d (8-bit activations, int8 weights, int32 accumulation) and the
 * int32-accumulating backward primitives of quantized training.
 *
 * Forward, bit-exact with reference.qconv2d: for each output position the input patch
 * is widened once to offset int16 values (x - zx, padding = 0, i.e. real zero) in the
 * caller's scratch and reused by every output channel of the group, two channels per
 * pass (odtc_dot2_s16_s8: SMLAD on Arm DSP cores, see dot_s8.c). Per-channel Q31
 * multipliers are formed once per call, in float exactly as the reference
 * (M[c] = f32(f32(sx * sw[c]) / sy)), then the accumulator is requantized with
 * gemmlowp rounding, offset by zy and clamped to the activation range. */
#include "odtc_kernels.h"

static int32_t max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

/* One im2col patch in OIHW weight order (i, ky, kx) as offset int16 values (x - zx),
 * padding 0. Bytes are read unsigned; flip = 0x80 turns uint8 storage into the int8 value
 * x - 128 (with zx_adj = zx - 128), flip = 0 keeps int8 storage (zx_adj = zx). */
static void im2col(const uint8_t *xg, uint32_t flip, int32_t zx_adj, int16_t *patch,
                   int32_t ci, int32_t h, int32_t w_, int32_t kh, int32_t kw, int32_t iy0, int32_t ix0)
{
    const int32_t kx_lo = min_i32(max_i32(0, -ix0), kw);
    const int32_t kx_hi = max_i32(min_i32(kw, w_ - ix0), kx_lo);
    int16_t *pp = patch;
    for (int32_t i = 0; i < ci; ++i) {
        for (int32_t ky = 0; ky < kh; ++ky, pp += kw) {
            const int32_t iy = iy0 + ky;
            if (iy < 0 || iy >= h || kx_hi == kx_lo) {
                for (int32_t kx = 0; kx < kw; ++kx) {
                    pp[kx] = 0;
                }
                continue;
            }
            const uint8_t *row = xg + ((size_t)i * h + iy) * w_ + (size_t)(ix0 + kx_lo);
            int32_t kx = 0;
            for (; kx < kx_lo; ++kx) {
                pp[kx] = 0;
            }
            for (; kx < kx_hi; ++kx) {
                pp[kx] = (int16_t)((int8_t)(row[kx - kx_lo] ^ flip) - zx_adj);
            }
            for (; kx < kw; ++kx) {
                pp[kx] = 0;
            }
        }
    }
}

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

static void conv2d_q8(const void *x, int32_t is_u8, const float *x_scale, const int32_t *x_zero_point,
                      const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                      int32_t w_per_channel, const int32_t *bias,
                      const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                      void *y, void *scratch,
                      int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                      int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                      int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    const int32_t klen = ci * kh * kw;
    int32_t *mult = (int32_t *)scratch;
    int32_t *shift = mult + o;
    int16_t *patch = (int16_t *)(shift + o);

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
    const uint32_t flip = is_u8 ? 0x80u : 0u;
    const int32_t zx_adj = is_u8 ? zx - 128 : zx;

    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t g = 0; g < groups; ++g) {
            const uint8_t *xg = (const uint8_t *)x + ((size_t)ni * c + (size_t)g * ci) * h * w_;
            for (int32_t oy = 0; oy < oh_n; ++oy) {
                for (int32_t ox = 0; ox < ow_n; ++ox) {
                    im2col(xg, flip, zx_adj, patch, ci, h, w_, kh, kw, oy * stride_h - pad_top,
                           ox * stride_w - pad_left);
                    odtc_dot_layout_s16(patch, klen);
                    const size_t yi0 = (((size_t)ni * o) * oh_n + oy) * ow_n + ox;
                    const size_t ystep = (size_t)oh_n * ow_n;
                    int32_t oc = g * og;
                    for (; oc + 2 <= (g + 1) * og; oc += 2) { /* two channels per patch read */
                        int32_t acc[2];
                        odtc_dot2_s16_s8(patch, w + (size_t)oc * klen, w_zero_point[w_per_channel ? oc : 0],
                                         w + (size_t)(oc + 1) * klen, w_zero_point[w_per_channel ? oc + 1 : 0],
                                         klen, acc);
                        for (int32_t j = 0; j < 2; ++j) {
                            const int32_t a = bias != NULL ? acc[j] + bias[oc + j] : acc[j];
                            requantize_store(y, is_u8, yi0 + (size_t)(oc + j) * ystep, a, mult[oc + j],
                                             shift[oc + j], zy, lo, hi);
                        }
                    }
                    if (oc < (g + 1) * og) {
                        int32_t a = odtc_dot_s16_s8(patch, w + (size_t)oc * klen,
                                                    w_zero_point[w_per_channel ? oc : 0], klen);
                        if (bias != NULL) {
                            a += bias[oc];
                        }
                        requantize_store(y, is_u8, yi0 + (size_t)oc * ystep, a, mult[oc], shift[oc], zy, lo, hi);
                    }
                }
            }
        }
    }
}

void odtc_conv2d_s8(const int8_t *x, const float *x_scale, const int32_t *x_zero_point,
                    const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                    int32_t w_per_channel, const int32_t *bias,
                    const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                    int8_t *y, void *scratch,
                    int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                    int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                    int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    conv2d_q8(x, 0, x_scale, x_zero_point, w, w_scale, w_zero_point, w_per_channel, bias,
              y_scale, y_zero_point, activation, y, scratch, n, c, h, w_, o, kh, kw,
              stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups);
}

void odtc_conv2d_u8(const uint8_t *x, const float *x_scale, const int32_t *x_zero_point,
                    const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                    int32_t w_per_channel, const int32_t *bias,
                    const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                    uint8_t *y, void *scratch,
                    int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                    int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                    int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    conv2d_q8(x, 1, x_scale, x_zero_point, w, w_scale, w_zero_point, w_per_channel, bias,
              y_scale, y_zero_point, activation, y, scratch, n, c, h, w_, o, kh, kw,
              stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups);
}

/* ---- int32-accumulating backward primitives ----------------------------------------- */

/* Output indices [*lo, *hi) whose kernel tap k reads inside the input. */
static void tap_range(int32_t k, int32_t pad, int32_t in, int32_t s, int32_t out,
                      int32_t *lo, int32_t *hi)
{
    const int32_t a = pad - k;
    const int32_t b = in - 1 + pad - k;
    int32_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int32_t u = b < 0 ? 0 : min_i32(b / s + 1, out);
    *lo = l > u ? u : l;
    *hi = u;
}

void odtc_conv2d_s8_grad_input(const int8_t *e, const int32_t *e_zero_point,
                               const int8_t *w, const int32_t *w_zero_point, int32_t w_per_channel,
                               int32_t *acc,
                               int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                               int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                               int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    const int32_t ze = *e_zero_point;
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t ch = 0; ch < c; ++ch) {
            const int32_t g = ch / ci;
            const int32_t i = ch % ci;
            int32_t *ac = acc + ((size_t)ni * c + ch) * h * w_;
            for (int32_t iy = 0; iy < h; ++iy) {
                const int32_t ty = iy + pad_top;
                int32_t ky0 = max_i32(0, ty - (oh_n - 1) * stride_h);
                ky0 += (ty - ky0) % stride_h;
                const int32_t ky1 = min_i32(kh - 1, ty);
                for (int32_t ix = 0; ix < w_; ++ix) {
                    const int32_t tx = ix + pad_left;
                    int32_t kx0 = max_i32(0, tx - (ow_n - 1) * stride_w);
                    kx0 += (tx - kx0) % stride_w;
                    const int32_t kx1 = min_i32(kw - 1, tx);
                    int32_t sum = 0;
                    for (int32_t oc = g * og; oc < (g + 1) * og; ++oc) {
                        const int8_t *eo = e + ((size_t)ni * o + oc) * oh_n * ow_n;
                        const int8_t *wo = w + ((size_t)oc * ci + i) * kh * kw;
                        const int32_t zw = w_zero_point[w_per_channel ? oc : 0];
                        for (int32_t ky = ky0; ky <= ky1; ky += stride_h) {
                            const int32_t oy = (ty - ky) / stride_h;
                            for (int32_t kx = kx0; kx <= kx1; kx += stride_w) {
                                const int32_t ox = (tx - kx) / stride_w;
                                sum += (eo[(size_t)oy * ow_n + ox] - ze) * (wo[(size_t)ky * kw + kx] - zw);
                            }
                        }
                    }
                    ac[(size_t)iy * w_ + ix] = sum;
                }
            }
        }
    }
}

static void conv2d_q8_grad_weight(const void *x, int32_t is_u8, const int32_t *x_zero_point,
                                  const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                  const int32_t *channels, int32_t n_channels,
                                  int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                  int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                  int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    const int32_t rows = channels != NULL ? n_channels : o;
    const int32_t zx = *x_zero_point;
    const int32_t ze = *e_zero_point;
    for (int32_t r = 0; r < rows; ++r) {
        const int32_t oc = channels != NULL ? channels[r] : r;
        const int32_t g = oc / og;
        int32_t *ar = acc + (size_t)r * ci * kh * kw;
        for (int32_t i = 0; i < ci; ++i) {
            for (int32_t ky = 0; ky < kh; ++ky) {
                int32_t oy_lo, oy_hi;
                tap_range(ky, pad_top, h, stride_h, oh_n, &oy_lo, &oy_hi);
                for (int32_t kx = 0; kx < kw; ++kx) {
                    int32_t ox_lo, ox_hi;
                    tap_range(kx, pad_left, w_, stride_w, ow_n, &ox_lo, &ox_hi);
                    int32_t sum = 0;
                    for (int32_t ni = 0; ni < n; ++ni) {
                        const size_t xc = ((size_t)ni * c + (size_t)g * ci + i) * h * w_;
                        const int8_t *eo = e + ((size_t)ni * o + oc) * oh_n * ow_n;
                        for (int32_t oy = oy_lo; oy < oy_hi; ++oy) {
                            const size_t xr = xc + (size_t)(oy * stride_h - pad_top + ky) * w_;
                            const int8_t *er = eo + (size_t)oy * ow_n;
                            for (int32_t ox = ox_lo; ox < ox_hi; ++ox) {
                                const size_t xi = xr + (size_t)(ox * stride_w - pad_left + kx);
                                const int32_t xv = is_u8 ? (int32_t)((const uint8_t *)x)[xi]
                                                         : (int32_t)((const int8_t *)x)[xi];
                                sum += (er[ox] - ze) * (xv - zx);
                            }
                        }
                    }
                    ar[((size_t)i * kh + ky) * kw + kx] = sum;
                }
            }
        }
    }
}

void odtc_conv2d_s8_grad_weight(const int8_t *x, const int32_t *x_zero_point,
                                const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                const int32_t *channels, int32_t n_channels,
                                int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    conv2d_q8_grad_weight(x, 0, x_zero_point, e, e_zero_point, acc, channels, n_channels,
                          n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left,
                          pad_bottom, pad_right, groups);
}

void odtc_conv2d_u8_grad_weight(const uint8_t *x, const int32_t *x_zero_point,
                                const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                const int32_t *channels, int32_t n_channels,
                                int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    conv2d_q8_grad_weight(x, 1, x_zero_point, e, e_zero_point, acc, channels, n_channels,
                          n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left,
                          pad_bottom, pad_right, groups);
}
