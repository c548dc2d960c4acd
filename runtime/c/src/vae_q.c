/* Fully quantized training of VAE decoders: the int32-accumulating transposed convolution
 * (qtrain.qconv_transpose2d_acc) and its int32 weight gradient
 * (qtrain.qconv_transpose2d_grad_weight, and its fused SGD form
 * qtrain.qconv_transpose2d_grad_weight_sgd). odtc/runtime/fqt_vae.py defines them, as exact
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
 * are passed in (they carry the output padding); no malloc, plain loops, no scratch except
 * the fused form's one int32 gradient row. */

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

/* Output channels [co0, co1) only: acc holds n x (co1 - co0) planes of oh x ow. */
static ODTC_ALWAYS_INLINE void vaeq_conv_transpose2d_acc(
    const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *w, const int32_t *w_zero_point,
    const float *bias, const float *acc_scale, int32_t *acc, int32_t n, int32_t c_in, int32_t h, int32_t w_,
    int32_t c_out, int32_t co0, int32_t co1, int32_t kh, int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
    int32_t stride_w, int32_t pad_top, int32_t pad_left)
{
    const uint32_t zx = (uint32_t)*x_zero_point;
    const uint32_t zw = (uint32_t)*w_zero_point;
    const size_t spatial = (size_t)oh * (size_t)ow;
    const size_t taps = (size_t)kh * (size_t)kw;
    const size_t planes = (size_t)(co1 - co0);
    uint32_t *accu = (uint32_t *)acc; /* the same storage, wrapping arithmetic */

    /* every output starts at the quantized bias (0 without one); rows/columns no tap
     * reaches (output padding past the bottom/right padding) keep just that */
    for (int32_t co = co0; co < co1; ++co) {
        const uint32_t bq = bias != NULL ? (uint32_t)odtc_quantize_bias(bias[co], *acc_scale) : 0u;
        for (int32_t ni = 0; ni < n; ++ni) {
            uint32_t *plane = accu + ((size_t)ni * planes + (size_t)(co - co0)) * spatial;
            for (size_t s = 0; s < spatial; ++s) {
                plane[s] = bq;
            }
        }
    }

    for (int32_t ni = 0; ni < n; ++ni) {
        uint32_t *out_n = accu + (size_t)ni * planes * spatial;
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
                            for (int32_t co = co0; co < co1; ++co) {
                                const uint32_t wv = (uint32_t)(int32_t)w_ci[(size_t)co * taps + tap] - zw;
                                out_n[(size_t)(co - co0) * spatial + pos] += xv * wv;
                            }
                        }
                    }
                }
            }
        }
    }
}

/* The streamed form: one (n, co) plane at a time into odtc_acc_stream. */
static ODTC_ALWAYS_INLINE void vaeq_conv_transpose2d_acc_stream(
    const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *w, const int32_t *w_zero_point,
    const float *bias, const float *acc_scale, const float *y_scale, const int32_t *y_zero_point, void *y,
    int32_t y_storage, float *range, int32_t relu, int32_t *scratch, int32_t n, int32_t c_in, int32_t h,
    int32_t w_, int32_t c_out, int32_t kh, int32_t kw, int32_t oh, int32_t ow, int32_t stride_h, int32_t stride_w,
    int32_t pad_top, int32_t pad_left)
{
    const size_t spatial = (size_t)oh * (size_t)ow;
    const size_t xsize = (size_t)c_in * (size_t)h * (size_t)w_; /* bytes per sample (8-bit) */
    odtc_acc_stream sink;
    odtc_acc_stream_init(&sink, relu, acc_scale, y_scale, y_zero_point, y, y_storage, range);
    for (int32_t ni = 0; ni < n; ++ni) {
        const void *xn = (const int8_t *)x + (size_t)ni * xsize;
        for (int32_t co = 0; co < c_out; ++co) {
            vaeq_conv_transpose2d_acc(xn, is_u8, x_zero_point, w, w_zero_point, bias, acc_scale, scratch, 1, c_in, h,
                                      w_, c_out, co, co + 1, kh, kw, oh, ow, stride_h, stride_w, pad_top, pad_left);
            odtc_acc_stream_plane(&sink, scratch, spatial, ((size_t)ni * (size_t)c_out + (size_t)co) * spatial);
        }
    }
    odtc_acc_stream_finish(&sink);
}

void odtc_qconv_transpose2d_acc_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                   const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                   int32_t *acc, int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out,
                                   int32_t kh, int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
                                   int32_t stride_w, int32_t pad_top, int32_t pad_left)
{
    vaeq_conv_transpose2d_acc(x, 0, x_zero_point, w, w_zero_point, bias, acc_scale, acc, n, c_in, h, w_, c_out,
                              0, c_out, kh, kw, oh, ow, stride_h, stride_w, pad_top, pad_left);
}

void odtc_qconv_transpose2d_acc_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                   const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                   int32_t *acc, int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out,
                                   int32_t kh, int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
                                   int32_t stride_w, int32_t pad_top, int32_t pad_left)
{
    vaeq_conv_transpose2d_acc(x, 1, x_zero_point, w, w_zero_point, bias, acc_scale, acc, n, c_in, h, w_, c_out,
                              0, c_out, kh, kw, oh, ow, stride_h, stride_w, pad_top, pad_left);
}

/* ---- weight gradient: one sum per (ci, co, a, b) over n and the input pixels ------------ */

/* Row ci of the weight gradient: dw_row[co, a, b] for every co, a, b. */
static ODTC_ALWAYS_INLINE void vaeq_conv_transpose2d_grad_weight_row(
    const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *e, const int32_t *e_zero_point,
    int32_t *dw_row, int32_t ci, int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh,
    int32_t kw, int32_t oh, int32_t ow, int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left)
{
    const uint32_t zx = (uint32_t)*x_zero_point;
    const uint32_t ze = (uint32_t)*e_zero_point;
    const size_t xspatial = (size_t)h * (size_t)w_;
    const size_t espatial = (size_t)oh * (size_t)ow;
    uint32_t *dwu = (uint32_t *)dw_row; /* the same storage, wrapping arithmetic */
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
                dwu[((size_t)co * (size_t)kh + (size_t)a) * (size_t)kw + (size_t)b] = sum;
            }
        }
    }
}

static ODTC_ALWAYS_INLINE void vaeq_conv_transpose2d_grad_weight(
    const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *e, const int32_t *e_zero_point,
    int32_t *dw, int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh, int32_t kw,
    int32_t oh, int32_t ow, int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left)
{
    const size_t row_len = (size_t)c_out * (size_t)kh * (size_t)kw;
    for (int32_t ci = 0; ci < c_in; ++ci) {
        vaeq_conv_transpose2d_grad_weight_row(x, is_u8, x_zero_point, e, e_zero_point, dw + (size_t)ci * row_len, ci,
                                              n, c_in, h, w_, c_out, kh, kw, oh, ow, stride_h, stride_w, pad_top,
                                              pad_left);
    }
}

/* The fused form: each row's gradient in scratch, applied at once (odtc_fused_update_row). */
static ODTC_ALWAYS_INLINE void vaeq_conv_transpose2d_grad_weight_sgd(
    const void *x, int32_t is_u8, const int32_t *x_zero_point, const int8_t *e, const int32_t *e_zero_point,
    const float *g_scale, const float *w_scale, const int32_t *w_zero_point, int8_t *w, int32_t *row_range,
    const int32_t *step, int32_t *scratch, int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out,
    int32_t kh, int32_t kw, int32_t oh, int32_t ow, int32_t stride_h, int32_t stride_w, int32_t pad_top,
    int32_t pad_left, float lr, int32_t rounding, int32_t seed)
{
    odtc_fused_update f;
    odtc_fused_update_init(&f, w, row_range, g_scale, w_scale, w_zero_point, 0, step,
                           (size_t)c_out * (size_t)kh * (size_t)kw, lr, rounding, seed);
    for (int32_t ci = 0; ci < c_in; ++ci) {
        vaeq_conv_transpose2d_grad_weight_row(x, is_u8, x_zero_point, e, e_zero_point, scratch, ci, n, c_in, h, w_,
                                              c_out, kh, kw, oh, ow, stride_h, stride_w, pad_top, pad_left);
        odtc_fused_update_row(&f, ci, scratch);
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

void odtc_qconv_transpose2d_grad_weight_sgd_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                               const int32_t *e_zero_point, const float *g_scale,
                                               const float *w_scale, const int32_t *w_zero_point, int8_t *w,
                                               int32_t *row_range, const int32_t *step, int32_t *scratch, int32_t n,
                                               int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh,
                                               int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
                                               int32_t stride_w, int32_t pad_top, int32_t pad_left, float lr,
                                               int32_t rounding, int32_t seed)
{
    vaeq_conv_transpose2d_grad_weight_sgd(x, 0, x_zero_point, e, e_zero_point, g_scale, w_scale, w_zero_point, w,
                                          row_range, step, scratch, n, c_in, h, w_, c_out, kh, kw, oh, ow, stride_h,
                                          stride_w, pad_top, pad_left, lr, rounding, seed);
}

void odtc_qconv_transpose2d_grad_weight_sgd_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                               const int32_t *e_zero_point, const float *g_scale,
                                               const float *w_scale, const int32_t *w_zero_point, int8_t *w,
                                               int32_t *row_range, const int32_t *step, int32_t *scratch, int32_t n,
                                               int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh,
                                               int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
                                               int32_t stride_w, int32_t pad_top, int32_t pad_left, float lr,
                                               int32_t rounding, int32_t seed)
{
    vaeq_conv_transpose2d_grad_weight_sgd(x, 1, x_zero_point, e, e_zero_point, g_scale, w_scale, w_zero_point, w,
                                          row_range, step, scratch, n, c_in, h, w_, c_out, kh, kw, oh, ow, stride_h,
                                          stride_w, pad_top, pad_left, lr, rounding, seed);
}

void odtc_qconv_transpose2d_acc_stream_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                          const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                          const float *y_scale, const int32_t *y_zero_point, void *y,
                                          int32_t y_storage, float *range, int32_t relu, int32_t *scratch,
                                          int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh,
                                          int32_t kw, int32_t oh, int32_t ow, int32_t stride_h, int32_t stride_w,
                                          int32_t pad_top, int32_t pad_left)
{
    vaeq_conv_transpose2d_acc_stream(x, 0, x_zero_point, w, w_zero_point, bias, acc_scale, y_scale, y_zero_point, y,
                                     y_storage, range, relu, scratch, n, c_in, h, w_, c_out, kh, kw, oh, ow,
                                     stride_h, stride_w, pad_top, pad_left);
}

void odtc_qconv_transpose2d_acc_stream_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                          const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                          const float *y_scale, const int32_t *y_zero_point, void *y,
                                          int32_t y_storage, float *range, int32_t relu, int32_t *scratch,
                                          int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh,
                                          int32_t kw, int32_t oh, int32_t ow, int32_t stride_h, int32_t stride_w,
                                          int32_t pad_top, int32_t pad_left)
{
    vaeq_conv_transpose2d_acc_stream(x, 1, x_zero_point, w, w_zero_point, bias, acc_scale, y_scale, y_zero_point, y,
                                     y_storage, range, relu, scratch, n, c_in, h, w_, c_out, kh, kw, oh, ow,
                                     stride_h, stride_w, pad_top, pad_left);
}
