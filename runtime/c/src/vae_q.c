/* Fully quantized training of VAE decoders: the int32-accumulating transposed convolution
 * (qtrain.qconv_transpose2d_acc) and its int32 weight gradient
 * (qtrain.qconv_transpose2d_grad_weight). odtc/runtime/fqt_vae.py defines both, as exact
 * integers; these kernels give the same int32 values.
 *
 * Accumulation is int32 in two's complement: every subtraction, product and sum is done
 * in uint32_t (wrapping modulo 2^32, no undefined behaviour whatever the zero points) and
 * the result is read back through the int32_t view of the same storage. A sum computed
 * modulo 2^32 equals the exact integer sum whenever that sum lies in the int32 range, and
 * fqt_vae.py rejects (OverflowError) every result outside it, so int64 accumulators would
 * never change a valid result -- the same contract as fqt.c's int32 layers. (Bounds for
 * orientation: each product is at most 255 * 255 in magnitude for zero points inside the
 * 8-bit storage range, so >= 33025 taps per output are needed before a sum can leave int32.)
 *
 * Layouts (PyTorch): x [n, c_in, h, w_], w [c_in, c_out, kh, kw], acc / e [n, c_out, oh, ow],
 * dw [c_in, c_out, kh, kw]. Input row ih reaches output row ih * stride_h - pad_top + a
 * through kernel row a (taps landing outside [0, oh) are dropped), columns alike. oh / ow
 * are passed in (they carry the output padding); no scratch, no malloc, plain loops. */

#define ODTC_KERNEL_IMPL /* ODTC_ALWAYS_INLINE */
#include "odtc_kernels.h"

/* ---- helpers --------------------------------------------------------------------------- */

/* The indices i in [0, count) with 0 <= i * step + off < lim, as [*lo, *hi) (empty when
 * *lo >= *hi); step >= 1. */
static void vaeq_span(int32_t off, int32_t step, int32_t lim, int32_t count, int32_t *lo, int32_t *hi)
{
    int32_t l = off >= 0 ? 0 : (-off + step - 1) / step;
    int32_t e = lim - off > 0 ? (lim - off + step - 1) / step : 0;
    *lo = l;
    *hi = e < count ? e : count;
}

/* Element i of an int8 / uint8 tensor (is_u8 is a constant in every inlined copy). */
static ODTC_ALWAYS_INLINE uint32_t vaeq_load(const void *q, int32_t is_u8, size_t i)
{
    return is_u8 ? (uint32_t)((const uint8_t *)q)[i] : (uint32_t)(int32_t)((const int8_t *)q)[i];
}

/* ---- forward: scatter over the input pixels ---------------------------------------------- */

static ODTC_ALWAYS_INLINE void vaeq_conv_transpose2d_acc(
    const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *w, const int32_t *w_zero_point,
    const float *bias, const float *acc_scale, int32_t *acc, int32_t n, int32_t c_in, int32_t h, int32_t w_,
    int32_t c_out, int32_t kh, int32_t kw, int32_t oh, int32_t ow, int32_t stride_h, int32_t stride_w,
    int32_t pad_top, int32_t pad_left)
{
    const uint32_t zx = (uint32_t)*x_zero_point;
    const uint32_t zw = (uint32_t)*w_zero_point;
    const size_t spatial = (size_t)oh * (size_t)ow;
    const size_t taps = (size_t)kh * (size_t)kw;
    uint32_t *accu = (uint32_t *)acc; /* the same storage, wrapping arithmetic */

    /* every output starts at the quantized bias (0 without one); rows/columns no tap
     * reaches (output padding past the bottom/right padding) keep just that */
    for (int32_t co = 0; co < c_out; ++co) {
        const uint32_t bq = bias != NULL ? (uint32_t)odtc_quantize_bias(bias[co], *acc_scale) : 0u;
        for (int32_t ni = 0; ni < n; ++ni) {
            uint32_t *plane = accu + ((size_t)ni * (size_t)c_out + (size_t)co) * spatial;
            for (size_t s = 0; s < spatial; ++s) {
                plane[s] = bq;
            }
        }
    }

    for (int32_t ni = 0; ni < n; ++ni) {
        uint32_t *out_n = accu + (size_t)ni * (size_t)c_out * spatial;
        for (int32_t ci = 0; ci < c_in; ++ci) {
            const size_t xplane = ((size_t)ni * (size_t)c_in + (size_t)ci) * (size_t)h * (size_t)w_;
            const int8_t *w_ci = w + (size_t)ci * (size_t)c_out * taps;
            for (int32_t ih = 0; ih < h; ++ih) {
                const int32_t oy0 = ih * stride_h - pad_top; /* output row of tap a = 0 */
                int32_t a0, a1;
                vaeq_span(oy0, 1, oh, kh, &a0, &a1);
                for (int32_t iw = 0; iw < w_; ++iw) {
                    const uint32_t xv = vaeq_load(x, is_u8, xplane + (size_t)ih * (size_t)w_ + (size_t)iw) - zx;
                    if (xv == 0u) {
                        continue; /* contributes nothing */
                    }
                    const int32_t ox0 = iw * stride_w - pad_left;
                    int32_t b0, b1;
                    vaeq_span(ox0, 1, ow, kw, &b0, &b1);
                    for (int32_t a = a0; a < a1; ++a) {
                        const size_t row = (size_t)(oy0 + a) * (size_t)ow;
                        for (int32_t b = b0; b < b1; ++b) {
                            const size_t pos = row + (size_t)(ox0 + b);
                            const size_t tap = (size_t)a * (size_t)kw + (size_t)b;
                            for (int32_t co = 0; co < c_out; ++co) {
                                const uint32_t wv = (uint32_t)(int32_t)w_ci[(size_t)co * taps + tap] - zw;
                                out_n[(size_t)co * spatial + pos] += xv * wv;
                            }
                        }
                    }
                }
            }
        }
    }
}

void odtc_qconv_transpose2d_acc_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                   const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                   int32_t *acc, int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out,
                                   int32_t kh, int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
                                   int32_t stride_w, int32_t pad_top, int32_t pad_left)
{
    vaeq_conv_transpose2d_acc(x, 0, x_zero_point, w, w_zero_point, bias, acc_scale, acc, n, c_in, h, w_, c_out,
                              kh, kw, oh, ow, stride_h, stride_w, pad_top, pad_left);
}

void odtc_qconv_transpose2d_acc_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                   const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                   int32_t *acc, int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out,
                                   int32_t kh, int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
                                   int32_t stride_w, int32_t pad_top, int32_t pad_left)
{
    vaeq_conv_transpose2d_acc(x, 1, x_zero_point, w, w_zero_point, bias, acc_scale, acc, n, c_in, h, w_, c_out,
                              kh, kw, oh, ow, stride_h, stride_w, pad_top, pad_left);
}

/* ---- weight gradient: one sum per (ci, co, a, b) over n and the input pixels ------------ */

static ODTC_ALWAYS_INLINE void vaeq_conv_transpose2d_grad_weight(
    const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *e, const int32_t *e_zero_point,
    int32_t *dw, int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh, int32_t kw,
    int32_t oh, int32_t ow, int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left)
{
    const uint32_t zx = (uint32_t)*x_zero_point;
    const uint32_t ze = (uint32_t)*e_zero_point;
    const size_t xspatial = (size_t)h * (size_t)w_;
    const size_t espatial = (size_t)oh * (size_t)ow;
    uint32_t *dwu = (uint32_t *)dw; /* the same storage, wrapping arithmetic */
    for (int32_t ci = 0; ci < c_in; ++ci) {
        for (int32_t co = 0; co < c_out; ++co) {
            for (int32_t a = 0; a < kh; ++a) {
                /* input rows whose tap a lands inside the output */
                int32_t ih0, ih1;
                vaeq_span(a - pad_top, stride_h, oh, h, &ih0, &ih1);
                for (int32_t b = 0; b < kw; ++b) {
                    int32_t iw0, iw1;
                    vaeq_span(b - pad_left, stride_w, ow, w_, &iw0, &iw1);
                    uint32_t sum = 0u;
                    for (int32_t ni = 0; ni < n; ++ni) {
                        const size_t xplane = ((size_t)ni * (size_t)c_in + (size_t)ci) * xspatial;
                        const size_t eplane = ((size_t)ni * (size_t)c_out + (size_t)co) * espatial;
                        for (int32_t ih = ih0; ih < ih1; ++ih) {
                            const size_t xrow = xplane + (size_t)ih * (size_t)w_;
                            const size_t erow = eplane + (size_t)(ih * stride_h - pad_top + a) * (size_t)ow;
                            for (int32_t iw = iw0; iw < iw1; ++iw) {
                                const uint32_t xv = vaeq_load(x, is_u8, xrow + (size_t)iw) - zx;
                                const uint32_t ev =
                                    (uint32_t)(int32_t)e[erow + (size_t)(iw * stride_w - pad_left + b)] - ze;
                                sum += xv * ev;
                            }
                        }
                    }
                    dwu[(((size_t)ci * (size_t)c_out + (size_t)co) * (size_t)kh + (size_t)a) * (size_t)kw +
                        (size_t)b] = sum;
                }
            }
        }
    }
}

void odtc_qconv_transpose2d_grad_weight_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                           const int32_t *e_zero_point, int32_t *dw, int32_t n, int32_t c_in,
                                           int32_t h, int32_t w_, int32_t c_out, int32_t kh, int32_t kw, int32_t oh,
                                           int32_t ow, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                           int32_t pad_left)
{
    vaeq_conv_transpose2d_grad_weight(x, 0, x_zero_point, e, e_zero_point, dw, n, c_in, h, w_, c_out, kh, kw, oh,
                                      ow, stride_h, stride_w, pad_top, pad_left);
}

void odtc_qconv_transpose2d_grad_weight_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                           const int32_t *e_zero_point, int32_t *dw, int32_t n, int32_t c_in,
                                           int32_t h, int32_t w_, int32_t c_out, int32_t kh, int32_t kw, int32_t oh,
                                           int32_t ow, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                           int32_t pad_left)
{
    vaeq_conv_transpose2d_grad_weight(x, 1, x_zero_point, e, e_zero_point, dw, n, c_in, h, w_, c_out, kh, kw, oh,
                                      ow, stride_h, stride_w, pad_top, pad_left);
}
