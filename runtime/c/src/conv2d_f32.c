/* fp32 conv2d: forward, grad_input, grad_weight (and fused with SGD), grad_bias (NCHW x
 * OIHW, groups).
 *
 * Every output element is one float accumulator starting at 0.0f, summed in the order
 * documented in odtc_kernels.h; the reference sums in double, so results agree within a
 * relative tolerance, and are identical between host and Cortex-M (-ffp-contract=off). */
#define ODTC_KERNEL_IMPL /* odtc_tap_range */
#include "odtc_kernels.h"

int32_t odtc_conv_out_size(int32_t in, int32_t k, int32_t stride, int32_t pad_before, int32_t pad_after)
{
    return (in + pad_before + pad_after - k) / stride + 1;
}

static int32_t max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

/* Output indices [*lo, *hi) whose kernel tap k reads inside the input:
 * 0 <= o*s - pad + k < in. */
static void tap_range(int32_t k, int32_t pad, int32_t in, int32_t s, int32_t out,
                      int32_t *lo, int32_t *hi)
{
    const int32_t a = pad - k;          /* o*s >= a */
    const int32_t b = in - 1 + pad - k; /* o*s <= b */
    int32_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int32_t u = b < 0 ? 0 : min_i32(b / s + 1, out);
    if (l > u) {
        l = u;
    }
    *lo = l;
    *hi = u;
}

void odtc_conv2d_f32(const float *x, const float *w, const float *b, float *y,
                     int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                     int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                     int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const int32_t ci = c / groups; /* input channels per group */
    const int32_t og = o / groups; /* output channels per group */
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t oc = 0; oc < o; ++oc) {
            const float *xg = x + ((size_t)ni * c + (size_t)(oc / og) * ci) * h * w_;
            const float *wo = w + (size_t)oc * ci * kh * kw;
            float *yo = y + ((size_t)ni * o + oc) * oh_n * ow_n;
            for (int32_t oy = 0; oy < oh_n; ++oy) {
                const int32_t iy0 = oy * stride_h - pad_top;
                const int32_t ky_lo = max_i32(0, -iy0);
                const int32_t ky_hi = min_i32(kh, h - iy0);
                for (int32_t ox = 0; ox < ow_n; ++ox) {
                    const int32_t ix0 = ox * stride_w - pad_left;
                    const int32_t kx_lo = max_i32(0, -ix0);
                    const int32_t kx_hi = min_i32(kw, w_ - ix0);
                    float acc = 0.0f;
                    for (int32_t i = 0; i < ci; ++i) {
                        for (int32_t ky = ky_lo; ky < ky_hi; ++ky) {
                            const float *xr = xg + ((size_t)i * h + (size_t)(iy0 + ky)) * w_;
                            const float *wr = wo + ((size_t)i * kh + ky) * kw;
                            for (int32_t kx = kx_lo; kx < kx_hi; ++kx) {
                                acc += xr[ix0 + kx] * wr[kx];
                            }
                        }
                    }
                    if (b != NULL) {
                        acc += b[oc];
                    }
                    yo[(size_t)oy * ow_n + ox] = acc;
                }
            }
        }
    }
}

/* Gather form: each input position sums the taps that read it, so dx needs no clearing
 * and every element has one accumulator in a fixed order. */
void odtc_conv2d_f32_grad_input(const float *dy, const float *w, float *dx,
                                int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t ch = 0; ch < c; ++ch) {
            const int32_t g = ch / ci;
            const int32_t i = ch % ci;
            float *dxc = dx + ((size_t)ni * c + ch) * h * w_;
            for (int32_t iy = 0; iy < h; ++iy) {
                /* taps ky with oy = (iy + pad_top - ky) / stride_h integral, in [0, oh_n) */
                const int32_t ty = iy + pad_top;
                int32_t ky0, ky1;
                odtc_tap_range(ty, kh, stride_h, oh_n, &ky0, &ky1);
                for (int32_t ix = 0; ix < w_; ++ix) {
                    const int32_t tx = ix + pad_left;
                    int32_t kx0, kx1;
                    odtc_tap_range(tx, kw, stride_w, ow_n, &kx0, &kx1);
                    float acc = 0.0f;
                    for (int32_t oc = g * og; oc < (g + 1) * og; ++oc) {
                        const float *dyo = dy + ((size_t)ni * o + oc) * oh_n * ow_n;
                        const float *wo = w + ((size_t)oc * ci + i) * kh * kw;
                        for (int32_t ky = ky0; ky <= ky1; ky += stride_h) {
                            const int32_t oy = (ty - ky) / stride_h;
                            for (int32_t kx = kx0; kx <= kx1; kx += stride_w) {
                                const int32_t ox = (tx - kx) / stride_w;
                                acc += dyo[(size_t)oy * ow_n + ox] * wo[(size_t)ky * kw + kx];
                            }
                        }
                    }
                    dxc[(size_t)iy * w_ + ix] = acc;
                }
            }
        }
    }
}

/* The one accumulation of dW that grad_weight and grad_weight_sgd share (see dense_f32.c):
 * with dw != NULL, dW row r goes to dw; otherwise each element g is applied to the
 * parameter row o_r at once as w = w - lr * g, the expression of odtc_sgd_update_f32. */
static void conv_dw_rows(const float *x, const float *dy, float *dw, float *w, float lr,
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
    const size_t row_len = (size_t)ci * kh * kw;
    for (int32_t r = 0; r < rows; ++r) {
        const int32_t oc = channels != NULL ? channels[r] : r;
        const int32_t g = oc / og;
        float *dwr = dw != NULL ? dw + (size_t)r * row_len : NULL;
        float *wr = dw != NULL ? NULL : w + (size_t)oc * row_len;
        for (int32_t i = 0; i < ci; ++i) {
            for (int32_t ky = 0; ky < kh; ++ky) {
                int32_t oy_lo, oy_hi;
                tap_range(ky, pad_top, h, stride_h, oh_n, &oy_lo, &oy_hi);
                for (int32_t kx = 0; kx < kw; ++kx) {
                    int32_t ox_lo, ox_hi;
                    tap_range(kx, pad_left, w_, stride_w, ow_n, &ox_lo, &ox_hi);
                    float acc = 0.0f;
                    for (int32_t ni = 0; ni < n; ++ni) {
                        const float *xc = x + ((size_t)ni * c + (size_t)g * ci + i) * h * w_;
                        const float *dyo = dy + ((size_t)ni * o + oc) * oh_n * ow_n;
                        for (int32_t oy = oy_lo; oy < oy_hi; ++oy) {
                            const float *xr = xc + (size_t)(oy * stride_h - pad_top + ky) * w_;
                            const float *dyr = dyo + (size_t)oy * ow_n;
                            for (int32_t ox = ox_lo; ox < ox_hi; ++ox) {
                                acc += dyr[ox] * xr[ox * stride_w - pad_left + kx];
                            }
                        }
                    }
                    const size_t e = ((size_t)i * kh + ky) * kw + kx;
                    if (dwr != NULL) {
                        dwr[e] = acc;
                    } else {
                        wr[e] = wr[e] - lr * acc;
                    }
                }
            }
        }
    }
}

void odtc_conv2d_f32_grad_weight(const float *x, const float *dy, float *dw,
                                 const int32_t *channels, int32_t n_channels,
                                 int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                 int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                 int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    conv_dw_rows(x, dy, dw, NULL, 0.0f, channels, n_channels, n, c, h, w_, o, kh, kw, stride_h, stride_w,
                 pad_top, pad_left, pad_bottom, pad_right, groups);
}

void odtc_conv2d_f32_grad_weight_sgd(const float *x, const float *dy, float *w,
                                     const int32_t *channels, int32_t n_channels,
                                     int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                     int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                     int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups,
                                     float lr)
{
    conv_dw_rows(x, dy, NULL, w, lr, channels, n_channels, n, c, h, w_, o, kh, kw, stride_h, stride_w,
                 pad_top, pad_left, pad_bottom, pad_right, groups);
}

void odtc_conv2d_f32_grad_bias(const float *dy, float *db, int32_t n, int32_t o, int32_t spatial)
{
    for (int32_t oc = 0; oc < o; ++oc) {
        float acc = 0.0f;
        for (int32_t ni = 0; ni < n; ++ni) {
            const float *p = dy + ((size_t)ni * o + oc) * spatial;
            for (int32_t s = 0; s < spatial; ++s) {
                acc += p[s];
            }
        }
        db[oc] = acc;
    }
}
