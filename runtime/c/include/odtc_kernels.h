/*
 * odtc_kernels.h -- the odtc runtime kernel library (forward, backward and optimizer
 * kernels; fp32 and 8-bit quantized) that generated training code calls.
 *
 * Numeric contract: odtc/runtime/reference.py (its module docstring) defines every op;
 * the fully-quantized-training kernels (fqt.c) follow odtc/runtime/fqt.py, bit for bit.
 *   - Integer and quantized kernels, element-wise fp32 kernels (relu, relu6, add,
 *     maxpool forward, the gradient selections) and the optimizer updates are
 *     BIT-EXACT with the reference (build with -ffp-contract=off).
 *   - fp32 reductions (conv, dense, pooling sums, batchnorm, losses and all their
 *     gradients) accumulate in float in the fixed order documented at each kernel; the
 *     reference sums in double, so they agree within a small relative tolerance.
 *
 * Conventions shared by every kernel:
 *   - Plain C11, no malloc, no global state, no I/O. Sizes are arguments. Inputs are
 *     `const`; outputs are written completely (gradient outputs are overwritten, not
 *     accumulated into, unless a kernel says otherwise). Outputs must not alias inputs
 *     except where a kernel says "in place allowed".
 *   - Layouts are the IR's: activations NCHW, conv weights OIHW (I = C / groups), dense
 *     weights [out, in], padding [top, left, bottom, right], floor-mode output sizes
 *     OH = (H + pad_top + pad_bottom - KH) / stride_h + 1 (see odtc_conv_out_size).
 *   - Argument order: input buffers, output buffers, optional channel list, sizes,
 *     attributes. "Conv geometry" below always means the 14 int32_t values
 *       n, c, h, w, o, kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom,
 *       pad_right, groups
 *     and "pool geometry" the 12 values n, c, h, w, kh, kw, stride_h, stride_w,
 *     pad_top, pad_left, pad_bottom, pad_right.
 *   - Channel lists (sparse updates): `channels` is NULL (all output channels, in order)
 *     or an increasing list of `n_channels` output-channel indices; the gradient/row
 *     buffer then has one row per listed channel, in the listed order.
 *   - Quantization parameters are passed by pointer (they are run-time state buffers):
 *     scales `const float *`, zero-points `const int32_t *`; a per-channel parameter
 *     (flag `*_per_channel` != 0) holds one value per output channel, otherwise one.
 *   - Every int32 partial sum of a quantized kernel must fit in int32 (the reference
 *     requires the final accumulator to; this holds whenever K * 255 * 255 + |bias| <
 *     2^31, K = reduction length), and the zero-points of 8-bit tensors keep q - zp
 *     within int16 (true for any zero-point inside the storage range). Right shifts of
 *     negative values are arithmetic (true for GCC, Clang and Arm Compiler).
 *   - In the prototypes the input width is spelled `w_` where `w` names the weights.
 *
 * Arm DSP: when __ARM_FEATURE_DSP is defined (Cortex-M4/M7/M33/M55) every quantized
 * layer and backward primitive has a SIMD path (SXTB16/SXTAB16/PKH* to widen 8-bit data,
 * SMLAD for 2 MACs per instruction, SMMLAR for the requantization; the hot loops are
 * inline assembly): conv2d forward and stride-1 grad_input, conv2d grad_weight with
 * stride_w 1, dense forward, grad_input and single-sample grad_weight. Results are
 * identical to the portable path (exact int32 arithmetic); other shapes (e.g. strided
 * grad_input) and out-of-range operands take the portable path. Defining ODTC_EMULATE_DSP
 * on a host compiles the same algorithms against C models of the instructions (for
 * testing); ODTC_NO_DSP forces the portable path. The backward conv/dense kernels, which
 * take no scratch, use up to ODTC_DSP_STACK_BYTES (default 8192; -D to change when
 * compiling the library, smaller means more re-packing, not different results) plus
 * about 1 KiB of stack. Buffers passed to the quantized kernels (scratch, int32 outputs)
 * must be 4-byte aligned. Everything else is portable C with single-precision float only,
 * except the per-call double scalars of Adam.
 */
#ifndef ODTC_KERNELS_H
#define ODTC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fused activation of the quantized layers (reference.activation_range). */
#define ODTC_ACT_NONE 0
#define ODTC_ACT_RELU 1
#define ODTC_ACT_RELU6 2

/* Storage type of a quantized tensor (quantize / dequantize / requantize). */
#define ODTC_S8 0  /* int8_t,  [-128, 127] */
#define ODTC_U8 1  /* uint8_t, [0, 255] */
#define ODTC_S16 2 /* int16_t, [-32768, 32767] */
#define ODTC_S32 3 /* int32_t, [INT32_MIN, INT32_MAX] */
#define ODTC_F32 4 /* float: only where a kernel says so (the FQT gradient operands) */

/* Scratch sizes in bytes of the quantized layers (4-byte aligned buffers).
 * conv: the per-output-channel multipliers and shifts (2 x o int32) followed by a
 * workspace of max(ODTC_Q8_WORKSPACE_BYTES, one im2col patch of I*KH*KW int16 (portable
 * path), the minimum of the DSP band engine: 4 * (4 o/groups + kw + 16 + P * (3 kw + 8))
 * with P = ceil(I*KH / 2) pair rows) -- 8 KiB for any usual layer. The DSP path fits a block of
 * packed weights and a band of input rows into the workspace (see conv2d_s8.c); a bigger
 * fixed size means fewer re-packed bands, not a different result.
 * dense: multipliers and shifts (2 x o int32) and one input row of k int16.
 * odtc_conv2d_q8_scratch_bytes / odtc_dense_q8_scratch_bytes return the same values. */
#define ODTC_Q8_WORKSPACE_BYTES ((size_t)8192u)
#define ODTC_Q8_MAX_(a, b) ((a) > (b) ? (a) : (b))
#define ODTC_CONV2D_Q8_SCRATCH_BYTES(c, groups, kh, kw, o)                                              \
    ((size_t)8u * (size_t)(o) +                                                                          \
     ODTC_Q8_MAX_(ODTC_Q8_MAX_(ODTC_Q8_WORKSPACE_BYTES,                                                  \
                               (size_t)2u * (size_t)((c) / (groups)) * (size_t)(kh) * (size_t)(kw)),    \
                  (size_t)4u * ((size_t)4u * (size_t)((o) / (groups)) + (size_t)(kw) + 16u +              \
                                ((size_t)((c) / (groups)) * (size_t)(kh) + 1u) / 2u * (3u * (size_t)(kw) + 8u))))
#define ODTC_DENSE_Q8_SCRATCH_BYTES(k, o) ((size_t)8u * (size_t)(o) + (size_t)2u * (size_t)(k))
size_t odtc_conv2d_q8_scratch_bytes(int32_t c, int32_t groups, int32_t kh, int32_t kw, int32_t o);
size_t odtc_dense_q8_scratch_bytes(int32_t k, int32_t o);

/* Floor-mode output size (in + before + after - k) / stride + 1 (>= 1 for valid shapes). */
int32_t odtc_conv_out_size(int32_t in, int32_t k, int32_t stride, int32_t pad_before, int32_t pad_after);

/* =====================================================================================
 * fp32 conv2d (conv2d_f32.c)
 * Sum order: every output/gradient element is a float sum starting at 0.0f over its
 * terms in the order given, each term a float product; the bias is added last.
 * ===================================================================================== */

/* y[n,o,oh,ow] = (sum over i, kh, kw ascending of x * w) + b[o]; b may be NULL.
 * Padded positions are skipped (zero padding). */
void odtc_conv2d_f32(const float *x, const float *w, const float *b, float *y,
                     int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                     int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                     int32_t pad_bottom, int32_t pad_right, int32_t groups);

/* dx[n,c,h,w] = sum over o in c's group (ascending), then kh, kw (ascending) of the taps
 * that read (h, w): dy[n,o,oh,ow] * w[o,i,kh,kw]. Unread positions get 0. */
void odtc_conv2d_f32_grad_input(const float *dy, const float *w, float *dx,
                                int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups);

/* dw[r,i,kh,kw] = sum over n, oh, ow (ascending) of dy[n,o_r,oh,ow] * x[n,g*I+i,ih,iw]
 * (padded positions skipped); o_r = channels[r] or r. dw has n_channels (or o) rows. */
void odtc_conv2d_f32_grad_weight(const float *x, const float *dy, float *dw,
                                 const int32_t *channels, int32_t n_channels,
                                 int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                 int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                 int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups);

/* grad_weight fused with plain SGD (qtrain.conv2d_grad_weight_sgd): each dW element, summed
 * exactly as odtc_conv2d_f32_grad_weight sums it, is applied at once to the parameter row
 * o_r as w = w - lr * dW (odtc_sgd_update_f32's expression), so no dW buffer exists.
 * w is the full [o, I, kh, kw] parameter; only the rows o_r change. Bit-identical to
 * grad_weight followed by odtc_sgd_update_f32 (no accumulation) with the same channels. */
void odtc_conv2d_f32_grad_weight_sgd(const float *x, const float *dy, float *w,
                                     const int32_t *channels, int32_t n_channels,
                                     int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                     int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                     int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups,
                                     float lr);

/* db[o] = sum over n, then the `spatial` = OH*OW positions, of dy[n,o,...]. */
void odtc_conv2d_f32_grad_bias(const float *dy, float *db, int32_t n, int32_t o, int32_t spatial);

/* =====================================================================================
 * fp32 dense (dense_f32.c), x [n, k], w [o, k]
 * ===================================================================================== */

/* y[n,o] = (sum over k ascending of x[n,k] * w[o,k]) + b[o]; b may be NULL. */
void odtc_dense_f32(const float *x, const float *w, const float *b, float *y,
                    int32_t n, int32_t k, int32_t o);
/* dx[n,k] = sum over o ascending of dy[n,o] * w[o,k]. */
void odtc_dense_f32_grad_input(const float *dy, const float *w, float *dx,
                               int32_t n, int32_t k, int32_t o);
/* dw[r,k] = sum over n ascending of dy[n,o_r] * x[n,k]; o_r = channels[r] or r. */
void odtc_dense_f32_grad_weight(const float *x, const float *dy, float *dw,
                                const int32_t *channels, int32_t n_channels,
                                int32_t n, int32_t k, int32_t o);
/* grad_weight fused with plain SGD (qtrain.dense_grad_weight_sgd): each dW element, summed
 * as odtc_dense_f32_grad_weight sums it, is applied at once as w[o_r,k] = w[o_r,k] - lr * dW
 * (odtc_sgd_update_f32's expression); w is the full [o, k] parameter. Bit-identical to
 * grad_weight followed by odtc_sgd_update_f32 (no accumulation) with the same channels. */
void odtc_dense_f32_grad_weight_sgd(const float *x, const float *dy, float *w,
                                    const int32_t *channels, int32_t n_channels,
                                    int32_t n, int32_t k, int32_t o, float lr);
/* db[o] = sum over n ascending of dy[n,o]. */
void odtc_dense_f32_grad_bias(const float *dy, float *db, int32_t n, int32_t o);

/* =====================================================================================
 * fp32 element-wise (activation_f32.c); exact, in place allowed (y == x, dx == dy)
 * ===================================================================================== */

void odtc_relu_f32(const float *x, float *y, size_t numel);            /* max(x, 0); NaN stays */
void odtc_relu6_f32(const float *x, float *y, size_t numel);           /* min(max(x, 0), 6) */
/* dx = dy where the forward OUTPUT y > 0 (relu) / 0 < y < 6 (relu6), else +0.0f. */
void odtc_relu_f32_grad(const float *dy, const float *y, float *dx, size_t numel);
void odtc_relu6_f32_grad(const float *dy, const float *y, float *dx, size_t numel);
void odtc_add_f32(const float *a, const float *b, float *y, size_t numel); /* a + b */

/* =====================================================================================
 * fp32 pooling (pool_f32.c), NCHW, floor mode
 * Pool geometry: n, c, h, w, kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom,
 * pad_right.
 * ===================================================================================== */

/* Max over the window's real positions (padding never wins; an all-padding window
 * gives -inf). Exact. */
void odtc_maxpool2d_f32(const float *x, float *y,
                        int32_t n, int32_t c, int32_t h, int32_t w, int32_t kh, int32_t kw,
                        int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                        int32_t pad_bottom, int32_t pad_right);
/* dx = 0, then for each output (n, c, oh, ow ascending) dx[first max of the window in a
 * row-major scan of the real positions, replaced only on a strictly greater value]
 * += dy. Exact when windows do not overlap. */
void odtc_maxpool2d_f32_grad(const float *dy, const float *x, float *dx,
                             int32_t n, int32_t c, int32_t h, int32_t w, int32_t kh, int32_t kw,
                             int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                             int32_t pad_bottom, int32_t pad_right);
/* (sum over the real positions, row-major) / count; count = kh*kw if count_include_pad,
 * else the number of real positions. */
void odtc_avgpool2d_f32(const float *x, float *y,
                        int32_t n, int32_t c, int32_t h, int32_t w, int32_t kh, int32_t kw,
                        int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                        int32_t pad_bottom, int32_t pad_right, int32_t count_include_pad);
/* dx = 0, then for each output (ascending) g = dy / count is added to every real position
 * of its window. */
void odtc_avgpool2d_f32_grad(const float *dy, float *dx,
                             int32_t n, int32_t c, int32_t h, int32_t w, int32_t kh, int32_t kw,
                             int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                             int32_t pad_bottom, int32_t pad_right, int32_t count_include_pad);
/* y[n,c] = (sum over the hw positions) / hw;  dx[n,c,:] = dy[n,c] / hw. */
void odtc_global_avgpool_f32(const float *x, float *y, int32_t n, int32_t c, int32_t hw);
void odtc_global_avgpool_f32_grad(const float *dy, float *dx, int32_t n, int32_t c, int32_t hw);

/* =====================================================================================
 * fp32 batchnorm, inference form with running statistics (batchnorm_f32.c)
 * x is [n, c, hw] (hw = H*W for NCHW, 1 for [n, c]).
 * ===================================================================================== */

/* s = gamma[c] / sqrtf(var[c] + eps); y = (x - mean[c]) * s + beta[c]. */
void odtc_batchnorm_f32(const float *x, const float *gamma, const float *beta,
                        const float *mean, const float *var, float *y,
                        int32_t n, int32_t c, int32_t hw, float eps);
/* dx = dy * (gamma[c] / sqrtf(var[c] + eps)). In place allowed. */
void odtc_batchnorm_f32_grad_input(const float *dy, const float *gamma, const float *var,
                                   float *dx, int32_t n, int32_t c, int32_t hw, float eps);
/* dgamma[c] = (sum over n, hw of dy * (x - mean[c])) / sqrtf(var[c] + eps). */
void odtc_batchnorm_f32_grad_gamma(const float *dy, const float *x, const float *mean,
                                   const float *var, float *dgamma,
                                   int32_t n, int32_t c, int32_t hw, float eps);
/* dbeta[c] = sum over n, hw of dy. */
void odtc_batchnorm_f32_grad_beta(const float *dy, float *dbeta, int32_t n, int32_t c, int32_t hw);

/* =====================================================================================
 * Portable transcendental functions (mathf.c): IEEE +, -, *, / and bit manipulation only,
 * so they return the same bits on the host and on every Cortex-M target (libm does not:
 * newlib's Cortex-M4 expf/logf differ from glibc in the last bits). Every kernel uses
 * these instead of libm; only sqrtf/sqrt (IEEE-exact everywhere) come from libm.
 * ===================================================================================== */

/* e^x within 1 ulp; exp(-inf) = 0, exp(+inf) = inf, overflow -> inf, gradual underflow,
 * NaN -> NaN. */
float odtc_expf(float x);
/* ln x within 1.2 ulp; log(+-0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN -> NaN. */
float odtc_logf(float x);
/* base^n for n >= 0 (n < 0 gives 1): double-double binary exponentiation rounded once,
 * i.e. the correctly rounded double. (glibc pow, hence Python's float ** int, misrounds
 * rare values within ~0.01 ulp of a boundary: one double ulp apart, same f32 results.) */
double odtc_powi(double base, int32_t n);

/* =====================================================================================
 * fp32 losses (loss_f32.c); logits [n, classes], labels int32 in [0, classes)
 * exp/log are odtc_expf/odtc_logf: identical results on every target.
 * ===================================================================================== */

/* Mean over rows of (m + logf(sum_j expf(l_j - m))) - l_label, m = row max. */
float odtc_softmax_cross_entropy_f32(const float *logits, const int32_t *labels,
                                     int32_t n, int32_t classes);
/* dl[n,j] = (expf(l_j - m) / s - (j == label)) / n, s = sum_j expf(l_j - m). */
void odtc_softmax_cross_entropy_f32_grad(const float *logits, const int32_t *labels,
                                         float *dlogits, int32_t n, int32_t classes);
/* (sum of (p - t)^2) / numel;  grad: (2 * (p - t)) / numel. */
float odtc_mse_f32(const float *pred, const float *target, size_t numel);
void odtc_mse_f32_grad(const float *pred, const float *target, float *dpred, size_t numel);

/* =====================================================================================
 * Optimizer updates, in place (optim_f32.c) -- bit-exact with the reference
 *
 * The gradient g has `rows` rows of `row_len` floats; row r updates parameter row
 * channels[r] (channels != NULL, sparse update) or row r. Optimizer state (v, m) has
 * the parameter's shape and only the updated rows change.
 *
 * Mini-batch accumulation: with acc != NULL (shape of g), acc += g; unless
 * batch_pos == every - 1 nothing else happens. At batch_pos == every - 1 the update is
 * applied with the mean gradient (acc + g) / (float)every and acc is cleared to 0.
 * With acc == NULL, batch_pos and every are ignored and g is applied directly.
 * ===================================================================================== */

/* w = w - lr * g */
void odtc_sgd_update_f32(float *w, const float *g, float *acc, const int32_t *channels,
                         int32_t rows, size_t row_len, int32_t batch_pos, int32_t every, float lr);
/* v = momentum * v + g; w = w - lr * v   (PyTorch SGD momentum, no dampening) */
void odtc_momentum_update_f32(float *w, float *v, const float *g, float *acc,
                              const int32_t *channels, int32_t rows, size_t row_len,
                              int32_t batch_pos, int32_t every, float lr, float momentum);
/* Adam (PyTorch), exactly reference.adam_update: *step += 1 = t;
 * double bc1 = 1 - pow(beta1, t), bc2 = 1 - pow(beta2, t) (pow = odtc_powi),
 * step_size = lr / bc1;
 * m = f32(beta1) * m + f32(1 - beta1) * g;  v = f32(beta2) * v + (f32(1 - beta2) * g) * g;
 * denom = sqrtf(v) / f32(sqrt(bc2)) + f32(eps);  w = w - (f32(step_size) * m) / denom.
 * (The double arithmetic is scalar, once per call.) */
void odtc_adam_update_f32(float *w, float *m, float *v, int32_t *step, const float *g,
                          float *acc, const int32_t *channels, int32_t rows, size_t row_len,
                          int32_t batch_pos, int32_t every,
                          double lr, double beta1, double beta2, double eps);
/* *counter = (*counter + 1) % modulo */
void odtc_counter_step(int32_t *counter, int32_t modulo);

/* =====================================================================================
 * Quantization arithmetic (quantize.c) -- bit-exact with the reference
 * ===================================================================================== */

/* reference.quantize_multiplier for an f32 real multiplier >= 0 (frexpf based):
 * real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31). 0, negative, non-finite
 * and too small (shift < -31) give (0, 0). */
void odtc_quantize_multiplier(float real, int32_t *multiplier, int32_t *shift);
/* gemmlowp/TFLM MultiplyByQuantizedMultiplier with saturating left shift:
 * RoundingDivideByPOT(SRDHM(sat32(x << max(shift, 0)), multiplier), max(-shift, 0)). */
int32_t odtc_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);
int32_t odtc_saturating_rounding_doubling_high_mul(int32_t a, int32_t b);
int32_t odtc_rounding_divide_by_pot(int32_t x, int32_t exponent); /* exponent in [0, 31] */
/* Clamp range of a fused activation (ODTC_ACT_*): none [qmin, qmax]; relu
 * [max(qmin, zy), qmax]; relu6 additionally hi = min(qmax, zy + rintf(6.0f / y_scale)). */
void odtc_activation_range(int32_t activation, float y_scale, int32_t y_zero_point,
                           int32_t qmin, int32_t qmax, int32_t *lo, int32_t *hi);

/* q = clamp(rintf(x / scale) + zp, qmin, qmax) (f32 division, ties to even; NaN -> zp),
 * storage ODTC_S8/U8/S16/S32. The tensor is viewed as [outer, channels, inner]; with
 * per_channel the parameters are indexed by the channel, else scale[0], zero_point[0]. */
void odtc_quantize(const float *x, void *q, int32_t storage,
                   size_t outer, size_t channels, size_t inner,
                   const float *scale, const int32_t *zero_point, int32_t per_channel);
/* x = scale * (float)(q - zp) (exact integer difference, one f32 multiply). */
void odtc_dequantize(const void *q, int32_t storage, float *x,
                     size_t outer, size_t channels, size_t inner,
                     const float *scale, const int32_t *zero_point, int32_t per_channel);
/* Per tensor: y = clamp(MBQM(q - z_in, M) + z_out, storage range), M = f32(s_in / s_out).
 * q - z_in must fit int32. in_storage and out_storage may differ. */
void odtc_requantize(const void *q, int32_t in_storage, void *y, int32_t out_storage,
                     size_t numel, const float *s_in, const int32_t *z_in,
                     const float *s_out, const int32_t *z_out);

/* =====================================================================================
 * Quantized layers (conv2d_s8.c, dense_s8.c) -- bit-exact with reference.qconv2d/qdense
 *
 * _s8: int8 activations (x, y) and qmin/qmax = -128/127; _u8: uint8 activations and
 * 0/255. Weights are int8 in both. acc[c] = bias[c] + sum (x - zx)(w - zw[c]) (padding
 * contributes 0); M[c] = f32(f32(sx * sw[c]) / sy) -> odtc_quantize_multiplier;
 * y = clamp(MBQM(acc, M[c]) + zy, odtc_activation_range(...)). bias may be NULL.
 * scratch: ODTC_CONV2D_Q8_SCRATCH_BYTES / ODTC_DENSE_Q8_SCRATCH_BYTES bytes.
 * ===================================================================================== */

void odtc_conv2d_s8(const int8_t *x, const float *x_scale, const int32_t *x_zero_point,
                    const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                    int32_t w_per_channel, const int32_t *bias,
                    const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                    int8_t *y, void *scratch,
                    int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                    int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                    int32_t pad_bottom, int32_t pad_right, int32_t groups);
void odtc_conv2d_u8(const uint8_t *x, const float *x_scale, const int32_t *x_zero_point,
                    const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                    int32_t w_per_channel, const int32_t *bias,
                    const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                    uint8_t *y, void *scratch,
                    int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                    int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                    int32_t pad_bottom, int32_t pad_right, int32_t groups);

void odtc_dense_s8(const int8_t *x, const float *x_scale, const int32_t *x_zero_point,
                   const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                   int32_t w_per_channel, const int32_t *bias,
                   const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                   int8_t *y, void *scratch, int32_t n, int32_t k, int32_t o);
void odtc_dense_u8(const uint8_t *x, const float *x_scale, const int32_t *x_zero_point,
                   const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                   int32_t w_per_channel, const int32_t *bias,
                   const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                   uint8_t *y, void *scratch, int32_t n, int32_t k, int32_t o);

/* -------------------------------------------------------------------------------------
 * Int32-accumulating backward primitives for quantized training (no requantization:
 * the caller rescales acc, e.g. with odtc_requantize from ODTC_S32). Output errors e are
 * int8 with zero-point *e_zero_point. acc is overwritten.
 * ------------------------------------------------------------------------------------- */

/* acc[n,k] = sum over o of (e[n,o] - ze) * (w[o,k] - zw[o]).  DSP: 4 rows of w per pass. */
void odtc_dense_s8_grad_input(const int8_t *e, const int32_t *e_zero_point,
                              const int8_t *w, const int32_t *w_zero_point, int32_t w_per_channel,
                              int32_t *acc, int32_t n, int32_t k, int32_t o);
/* acc[r,k] = sum over n of (e[n,o_r] - ze) * (x[n,k] - zx); o_r = channels[r] or r.
 * DSP: n == 1 (an outer product); larger batches take the portable path. */
void odtc_dense_s8_grad_weight(const int8_t *x, const int32_t *x_zero_point,
                               const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                               const int32_t *channels, int32_t n_channels,
                               int32_t n, int32_t k, int32_t o);
void odtc_dense_u8_grad_weight(const uint8_t *x, const int32_t *x_zero_point,
                               const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                               const int32_t *channels, int32_t n_channels,
                               int32_t n, int32_t k, int32_t o);

/* acc[n,c,h,w] = sum over o in c's group, kh, kw of the taps reading (h, w):
 * (e[n,o,oh,ow] - ze) * (w[o,i,kh,kw] - zw[o]); unread positions get 0. */
void odtc_conv2d_s8_grad_input(const int8_t *e, const int32_t *e_zero_point,
                               const int8_t *w, const int32_t *w_zero_point, int32_t w_per_channel,
                               int32_t *acc,
                               int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                               int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                               int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups);
/* acc[r,i,kh,kw] = sum over n, oh, ow of (e[n,o_r,oh,ow] - ze) * (x[n,g*I+i,ih,iw] - zx)
 * (padded positions contribute 0); o_r = channels[r] or r. */
void odtc_conv2d_s8_grad_weight(const int8_t *x, const int32_t *x_zero_point,
                                const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                const int32_t *channels, int32_t n_channels,
                                int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups);
void odtc_conv2d_u8_grad_weight(const uint8_t *x, const int32_t *x_zero_point,
                                const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                const int32_t *channels, int32_t n_channels,
                                int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups);

/* 16-bit errors (FQT with si16 error tensors, ODTC_S16): e is int16 with zero-point
 * *e_zero_point, w int8 with the zero-point zw[o] = w_zero_point[o] of output channel / row
 * o when w_per_channel != 0, else *w_zero_point for every o; acc is overwritten.
 * Each acc element is the exact integer sum (accumulated in int64) saturated to
 * [INT32_MIN, INT32_MAX], as fqt.py: |e - ze| up to 65535 times |v - zv| up to 255 can
 * exceed int32 after 129 products. Portable C on every target (no DSP path); no heap, a
 * bounded stack (dense: 256 bytes of int64 partial sums).
 * odtc_dense_s16_grad_input: acc[n,k] = sum over o of (e[n,o] - ze) * (w[o,k] - zw[o])
 * (fqt.qdense_grad_input). */
void odtc_dense_s16_grad_input(const int16_t *e, const int32_t *e_zero_point, const int8_t *w,
                               const int32_t *w_zero_point, int32_t w_per_channel, int32_t *acc, int32_t n,
                               int32_t k, int32_t o);
/* odtc_conv2d_{s8,u8}_grad_weight (is_u8 selects x's storage) with int16 errors
 * (fqt.qconv2d_grad_weight): portable C, each acc element the exact int64 sum saturated to
 * int32. */
void odtc_conv2d_q8_s16_grad_weight(const void *x, int32_t is_u8, const int32_t *x_zero_point, const int16_t *e,
                                    const int32_t *e_zero_point, int32_t *acc, const int32_t *channels,
                                    int32_t n_channels, int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o,
                                    int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                    int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups);
/* odtc_conv2d_s8_grad_input with int16 e (fqt.qconv2d_grad_input), zw per tensor or, with
 * w_per_channel, w_zero_point[o] for output channel o: acc [n, c, h, w_] is the input
 * gradient, e [n, o, oh, ow], w [o, c / groups, kh, kw]; each element the exact int64 sum
 * saturated to int32. */
void odtc_conv2d_s16_grad_input(const int16_t *e, const int32_t *e_zero_point, const int8_t *w,
                                const int32_t *w_zero_point, int32_t w_per_channel, int32_t *acc, int32_t n,
                                int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                int32_t pad_right, int32_t groups);

/* =====================================================================================
 * Fully quantized training (fqt.c) -- BIT-EXACT with odtc/runtime/fqt.py
 *
 * The ops of dialects/qtrain_fqt.py. Every float operation is one f32 operation in the
 * order fqt.py states (build with -ffp-contract=off); float reductions are sequential sums
 * in index order; rounding is rintf (ties to even) or floorf. Scalars (scales, zero-points,
 * counts, the step) are passed by pointer like the other quantization parameters; a range
 * is float[2] = {min, max}, EMPTY when min > max (the initial [1, -1]).
 * Accumulators are int32 with zero-point 0 (real = scale * acc).
 * Selections (dynamic partial updates): `select` is int32[rows] whose first *select_count
 * entries are increasing row indices in [0, rows) (qtrain.topk_structures); select == NULL
 * or select_count == NULL means all rows. A gradient computed under a selection is
 * COMPACT: row r < k holds structure select[r], rows >= k are 0, and the stats/update
 * kernels read it that way (stats row r belongs to structure select[r]).
 * Gradients of the update kernels are int32 accumulators (g_type ODTC_S32) or float
 * (ODTC_F32, the mixed variant); row r of a weight / gradient is its dimension-0 slice of
 * row_len elements.
 * ===================================================================================== */

/* Normalisation modes of odtc_grad_stats and roundings of odtc_qsgd_update. */
#define ODTC_NORM_STANDARDIZE 0
#define ODTC_NORM_QAS 1
#define ODTC_NORM_NONE 2
#define ODTC_ROUND_NEAREST 0
#define ODTC_ROUND_STOCHASTIC 1

/* Scratch sizes in bytes (4-byte aligned buffers).
 * qconv2d_acc / qdense_acc: the int32 bias of each output channel (o int32), then one
 * int16 im2col patch of I*KH*KW (I = c / groups) or one int16 input row of k, rounded up
 * to whole words. topk_structures: one int64 magnitude per structure (8 o). */
#define ODTC_QCONV2D_ACC_SCRATCH_BYTES(c, groups, kh, kw, o)                                            \
    ((size_t)4u * (size_t)(o) + (size_t)4u * (((size_t)((c) / (groups)) * (size_t)(kh) * (size_t)(kw) + 1u) / 2u))
#define ODTC_QDENSE_ACC_SCRATCH_BYTES(k, o) ((size_t)4u * (size_t)(o) + (size_t)4u * (((size_t)(k) + 1u) / 2u))
#define ODTC_TOPK_STRUCTURES_SCRATCH_BYTES(o) ((size_t)8u * (size_t)(o))
/* The same values as functions (for tools and tests). */
size_t odtc_qconv2d_acc_scratch_bytes(int32_t c, int32_t groups, int32_t kh, int32_t kw, int32_t o);
size_t odtc_qdense_acc_scratch_bytes(int32_t k, int32_t o);
size_t odtc_topk_structures_scratch_bytes(int32_t o);

/* The int32 bias of an accumulating layer (fqt.quantize_bias): clamp(rintf(b / s)) to
 * int32, NaN -> 0, +-inf -> the int32 bounds. Shared by the qconv2d/qdense and the
 * conv-transpose accumulators, so a bias means the same integer everywhere. */
int32_t odtc_quantize_bias(float b, float s);

/* --- scalars and ranges --- */

/* f32(*a * *b): the scale of an accumulator of two quantized operands. */
float odtc_scale_mul(const float *a, const float *b);
/* y[i] = f32(a[0] * b[i]) for i < n (fqt.scale_mul with per-channel weight scales b [n]):
 * the [n] scales of a per-channel accumulator. */
void odtc_scale_mul_channels(const float *a, const float *b, float *y, int32_t n);
/* The largest of s[0..n) (fqt.scale_max): a NaN anywhere gives NaN; ties keep the first;
 * n < 1 gives 1. */
float odtc_scale_max(const float *s, int32_t n);
/* f32(*s / f32(divisor)) (fqt.scale_div; divisor rounded to f32 to nearest): the scale of a
 * sum of `divisor` values read as their mean (the global average pool, divisor = H * W). */
float odtc_scale_div(const float *s, int32_t divisor);
/* range = [min, max] of x, numpy semantics: a NaN anywhere gives [NaN, NaN]; ties (e.g.
 * -0.0 / +0.0) keep the first extreme; numel == 0 gives the empty range [1, -1]. */
void odtc_minmax_f32(const float *x, float *range, size_t numel);
/* range = [s * f32(min acc), s * f32(max acc)], s = *scale (numel == 0: [1, -1]). */
void odtc_minmax_acc(const int32_t *acc, const float *scale, float *range, size_t numel);
/* The range of a per-channel accumulator acc [n, c, spatial] (fqt.minmax with a vector
 * scale [c]): lo_c = f32(scale[ch] * f32(min of channel ch over n and spatial)), hi_c the
 * same with the max; range = [min over ch of lo_c, max over ch of hi_c] (a NaN term makes
 * its end NaN; ties keep the first). An empty accumulator gives [1, -1]. */
void odtc_minmax_acc_channels(const int32_t *acc, const float *scale, float *range, int32_t n, int32_t c,
                              int32_t spatial);
/* Moving average: range = old + alpha * (observed - old) per element; an empty old range
 * takes the observation. range may alias old. */
void odtc_ema_range(const float *old, const float *observed, float *range, float alpha);
/* max(*old, fabsf(*value)) as Python's max: *old unless |value| > *old. */
float odtc_running_max(const float *old, const float *value);
/* Quantization parameters of a range (fqt.qparams) for the storage range [qmin, qmax]:
 * an empty range counts as [0, 0]; lo = min(r0, 0), hi = max(r1, 0);
 * symmetric: s = max(-lo, hi) / f32(qmax), z = 0;
 * asymmetric: s = (hi - lo) / f32(qmax - qmin), z = clamp(qmin - rintf(lo / s), qmin, qmax);
 * s that is not a normal positive finite float becomes 1. (A NaN or -inf lower bound,
 * which fqt.py rejects, gives z = qmin or qmax.) */
float odtc_range_scale(const float *range, int32_t qmin, int32_t qmax, int32_t symmetric);
int32_t odtc_range_zero_point(const float *range, int32_t qmin, int32_t qmax, int32_t symmetric);

/* --- forward layers accumulating in int32 ---
 * Weights per tensor (w_per_channel == 0: one zero-point *w_zero_point, one accumulator
 * scale *acc_scale) or per channel (w_per_channel != 0: zw[o] = w_zero_point[o] and
 * s[o] = acc_scale[o] for output channel / row o, e.g. odtc_scale_mul_channels of the input
 * scale and the weight scales). The streamed variants (odtc_*_acc_stream_*,
 * odtc_qconv2d_pw_dw_stream_*, odtc_qconv2d_grad_input_stream) are per tensor only. */

/* acc[n,o,oh,ow] = bq[o] + sum over i, kh, kw of (x - zx) * (w - zw[o]) (padding
 * contributes 0); bq[o] = odtc_quantize_bias(bias[o], s[o]) = clamp(rintf(bias[o] / s[o]))
 * to int32 (NaN -> 0), or 0 when bias is NULL (acc_scale is then not read). _s8: int8 x,
 * _u8: uint8 x; w int8 [o, c/groups, kh, kw]. Conv geometry as above. scratch:
 * ODTC_QCONV2D_ACC_SCRATCH_BYTES. */
void odtc_qconv2d_acc_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                         const int32_t *w_zero_point, int32_t w_per_channel, const float *bias,
                         const float *acc_scale, int32_t *acc, void *scratch,
                         int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                         int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                         int32_t pad_bottom, int32_t pad_right, int32_t groups);
void odtc_qconv2d_acc_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                         const int32_t *w_zero_point, int32_t w_per_channel, const float *bias,
                         const float *acc_scale, int32_t *acc, void *scratch,
                         int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                         int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                         int32_t pad_bottom, int32_t pad_right, int32_t groups);
/* acc[n,o] = bq[o] + sum over k of (x[n,k] - zx) * (w[o,k] - zw[o]); x [n, k], w [o, k].
 * scratch: ODTC_QDENSE_ACC_SCRATCH_BYTES. */
void odtc_qdense_acc_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                        const int32_t *w_zero_point, int32_t w_per_channel, const float *bias,
                        const float *acc_scale, int32_t *acc, void *scratch, int32_t n, int32_t k, int32_t o);
void odtc_qdense_acc_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                        const int32_t *w_zero_point, int32_t w_per_channel, const float *bias,
                        const float *acc_scale, int32_t *acc, void *scratch, int32_t n, int32_t k, int32_t o);
/* y = max(acc, 0). In place allowed. */
void odtc_acc_relu(const int32_t *acc, int32_t *y, size_t numel);
/* The largest accumulator value relu6 keeps (fqt.relu6_bound): q = floorf(6.0f / *acc_scale)
 * (f32 division); q >= 2^31 or +inf (a +0 or tiny scale) gives INT32_MAX; NaN, -inf and
 * q <= 0 (a negative or -0 scale, a scale above 6) give 0; else (int32_t)q. */
int32_t odtc_relu6_bound(const float *acc_scale);
/* y = clamp(acc, 0, odtc_relu6_bound(acc_scale)) (fqt.relu6_acc): relu6 of the real value
 * *acc_scale * acc on the accumulator's own grid. In place allowed. */
void odtc_acc_relu6(const int32_t *acc, const float *acc_scale, int32_t *y, size_t numel);
/* Per-channel accumulator acc [n, c, spatial] (fqt.relu6_acc with a vector scale [c]):
 * each (n, ch) plane as odtc_acc_relu6 with &acc_scale[ch], i.e. clamp(acc, 0,
 * odtc_relu6_bound(&acc_scale[ch])). In place allowed. */
void odtc_acc_relu6_channels(const int32_t *acc, const float *acc_scale, int32_t *y, int32_t n, int32_t c,
                             int32_t spatial);
/* y = clamp(z + MBQM(acc, M), storage range), M = f32(*acc_scale / *y_scale): odtc_requantize
 * from ODTC_S32 with input zero-point 0 (y_storage ODTC_S8 / ODTC_U8 / ODTC_S16). */
void odtc_requantize_acc(const int32_t *acc, void *y, int32_t y_storage, size_t numel,
                         const float *acc_scale, const float *y_scale, const int32_t *y_zero_point);
/* Per-channel accumulator acc [n, c, spatial] (fqt.requantize_acc with a vector acc_scale
 * [c]): each (n, ch) plane as odtc_requantize_acc with &acc_scale[ch] into the same plane
 * of y [n, c, spatial] (y_storage ODTC_S8 / ODTC_U8 / ODTC_S16); y_scale and y_zero_point
 * are per tensor. */
void odtc_requantize_acc_channels(const int32_t *acc, void *y, int32_t y_storage, int32_t n, int32_t c,
                                  int32_t spatial, const float *acc_scale, const float *y_scale,
                                  const int32_t *y_zero_point);

/* --- residual add and global average pool (fqt.qadd*, fqt.qavgpool_acc, fqt.qbroadcast_hw) ---
 * The real sum of two quantized tensors, element by element (fqt.qadd_real):
 *   r[i] = f32(*a_scale * f32(a[i] - *a_zero_point)) + f32(*b_scale * f32(b[i] - *b_zero_point)),
 * each term exactly odtc_dequantize's (one f32 multiply), then one f32 addition. a, b in
 * a_storage / b_storage (ODTC_S8 / ODTC_U8 / ODTC_S16; they may differ). No f32 tensor is stored. */
/* range = [min, max] of r over numel elements, folded exactly as odtc_minmax_f32 folds an
 * f32 tensor (a NaN anywhere gives [NaN, NaN]; numel == 0 gives [1, -1]) (fqt.qadd_range). */
void odtc_qadd_range(const void *a, int32_t a_storage, const float *a_scale, const int32_t *a_zero_point,
                     const void *b, int32_t b_storage, const float *b_scale, const int32_t *b_zero_point,
                     float *range, size_t numel);
/* y = clamp(rintf(r / *y_scale) + *y_zero_point, y_storage range) with NaN -> the zero-point,
 * i.e. odtc_quantize of r (fqt.qadd; y_storage ODTC_S8 / ODTC_U8 / ODTC_S16): the residual add
 * and the sum of the two errors of a value used twice. In place allowed (y == a or y == b)
 * when that operand's storage has y's element size (so the element offsets agree).
 * Uses 128 bytes of stack. */
void odtc_qadd(const void *a, int32_t a_storage, const float *a_scale, const int32_t *a_zero_point,
               const void *b, int32_t b_storage, const float *b_scale, const int32_t *b_zero_point,
               void *y, int32_t y_storage, const float *y_scale, const int32_t *y_zero_point, size_t numel);
/* acc[n, c] = sum over spatial of (x[n, c, :] - *x_zero_point), exact int32 (fqt.qavgpool_acc;
 * x [n, c, spatial] in x_storage ODTC_S8 / ODTC_U8, spatial = H * W): the global average
 * pool's sum, whose real value is odtc_scale_div(sx, spatial) * acc. Results outside int32,
 * which fqt.py rejects, wrap. */
void odtc_qavgpool_acc(const void *x, int32_t x_storage, const int32_t *x_zero_point, int32_t *acc,
                       int32_t n, int32_t c, int32_t spatial);

/* db[oc] = the sequential f32 sum over (n, spatial), from +0.0f, of *scale * f32(e - *zero_point)
 * (e [n, o, spatial] in e_storage ODTC_S8 / ODTC_U8 / ODTC_S16): odtc_dequantize then
 * odtc_conv2d_f32_grad_bias / odtc_dense_f32_grad_bias (spatial 1), bit for bit. */
void odtc_qgrad_bias(const void *e, int32_t e_storage, const float *scale, const int32_t *zero_point, float *db,
                     int32_t n, int32_t o, int32_t spatial);

/* --- streamed accumulators (qtrain-stream-accumulators) ---
 * A layer's int32 accumulator, one output channel plane at a time, goes through a sink:
 * acc_relu when relu == 1 (odtc_acc_relu6 with acc_scale when relu == 2), then either its range (range != NULL: after the last plane,
 * odtc_acc_stream_finish writes odtc_minmax_acc's [s * f32(min), s * f32(max)],
 * s = *acc_scale) or odtc_requantize_acc of the plane into y at the plane's element offset
 * (y_storage ODTC_S8 / ODTC_U8). Planes may be overwritten by the sink. */
typedef struct {
    int32_t relu;
    const float *acc_scale;
    const float *y_scale;
    const int32_t *y_zero_point;
    void *y;
    int32_t y_storage;
    float *range;
    int32_t lo, hi;
    size_t seen;
} odtc_acc_stream;
void odtc_acc_stream_init(odtc_acc_stream *s, int32_t relu, const float *acc_scale, const float *y_scale,
                          const int32_t *y_zero_point, void *y, int32_t y_storage, float *range);
void odtc_acc_stream_plane(odtc_acc_stream *s, int32_t *plane, size_t numel, size_t offset);
void odtc_acc_stream_finish(odtc_acc_stream *s);
/* odtc_qconv2d_acc_* streamed through the sink above, one (n, o) plane at a time (fqt.py
 * acc_stream of qconv2d_acc with the same groups; the conv geometry ends with groups, which
 * must divide c and o). Output channel oc belongs to group g = oc / (o / groups) and is the
 * groups-1 convolution of input channels g * (c / groups) .. (g + 1) * (c / groups) - 1
 * with its filter w[oc] ([c / groups, kh, kw]); groups == c == o is depthwise.
 * scratch: ODTC_QCONV2D_ACC_STREAM_SCRATCH_BYTES(c / groups, kh, kw, oh, ow) -- the macro's
 * `c` argument is the number of input channels PER GROUP (c / groups), the channels of one
 * filter, not the layer's c.
 * In place: with groups == c == o (depthwise) and oh * ow <= h * w_, y may be x (the same
 * buffer, y_storage the 8-bit storage of x): output plane (ni, oc) depends only on input
 * plane (ni, oc), which is read completely into the int32 plane (scratch) before the sink
 * writes y's plane at element offset (ni * o + oc) * oh * ow; that plane ends at or before
 * the start of input plane (ni, oc + 1), so no input plane still to be read is overwritten.
 * (The DSP dot products read only the int16 patch in scratch and w, never x.) Other
 * groupings need distinct buffers. */
#define ODTC_QCONV2D_ACC_STREAM_SCRATCH_BYTES(c, kh, kw, oh, ow)                                          \
    ((size_t)4u * (size_t)(oh) * (size_t)(ow) + ODTC_QCONV2D_ACC_SCRATCH_BYTES(c, 1, kh, kw, 1))
void odtc_qconv2d_acc_stream_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                const float *y_scale, const int32_t *y_zero_point, void *y, int32_t y_storage,
                                float *range, int32_t relu, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w,
                                int32_t pad_top, int32_t pad_left, int32_t pad_bottom, int32_t pad_right,
                                int32_t groups);
/* odtc_conv2d_s8_grad_input (groups 1, per-tensor zw) streamed through the sink, one (n, c)
 * input-channel plane at a time: w[:, c] is copied to scratch and the plane computed there
 * (fqt.py acc_stream of qconv2d_grad_input). scratch:
 * ODTC_QCONV2D_GRAD_INPUT_STREAM_SCRATCH_BYTES. */
#define ODTC_QCONV2D_GRAD_INPUT_STREAM_SCRATCH_BYTES(h, w_, o, kh, kw)                                    \
    ((size_t)4u * (size_t)(h) * (size_t)(w_) + (size_t)4u * (((size_t)(o) * (size_t)(kh) * (size_t)(kw) + 3u) / 4u))
void odtc_qconv2d_grad_input_stream(const int8_t *e, const int32_t *e_zero_point, const int8_t *w,
                                    const int32_t *w_zero_point, const float *acc_scale, const float *y_scale,
                                    const int32_t *y_zero_point, void *y, int32_t y_storage, float *range,
                                    int32_t *scratch, int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o,
                                    int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                    int32_t pad_left, int32_t pad_bottom, int32_t pad_right);
void odtc_qconv2d_acc_stream_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                const float *y_scale, const int32_t *y_zero_point, void *y, int32_t y_storage,
                                float *range, int32_t relu, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w,
                                int32_t pad_top, int32_t pad_left, int32_t pad_bottom, int32_t pad_right,
                                int32_t groups);
/* A conv (groups 1) whose 8-bit output h feeds only a depthwise conv, fused channel by
 * channel so that h is never stored whole (fqt.qconv2d_pw_dw_stream):
 *   x [n, c, h, w_] (_s8: int8, _u8: uint8; zero-point *x_zero_point);
 *   conv 1: w1 int8 [e, c, kh1, kw1] (zero-point *w1_zero_point), groups 1, bias b1[e] at
 *     *acc1_scale (NULL: none; acc1_scale is always read), geometry kh1 .. pad1_right; its
 *     output plane is h1 x w1 = odtc_conv_out_size of (h, kh1, ...) and (w_, kw1, ...);
 *   act1 (0 none, 1 odtc_acc_relu, 2 odtc_acc_relu6 with acc1_scale) on the int32 plane,
 *     then odtc_requantize_acc to h: h_storage ODTC_S8 / ODTC_U8, *h_scale, *h_zero_point;
 *   conv 2: depthwise, w2 int8 [e, 1, kh2, kw2] (zero-point *w2_zero_point) on channel ch of
 *     h (zero-point *h_zero_point), bias b2[e] at *acc2_scale (NULL: none), geometry
 *     kh2 .. pad2_right, output oh x ow = odtc_conv_out_size of (h1, kh2, ...) and (w1, kw2, ...);
 *   the sink of odtc_acc_stream with relu = act2 and acc2_scale: range != NULL gives only
 *     the range of the whole output (y, y_scale, y_zero_point, y_storage unused, may be
 *     NULL / 0); else plane (ni, ch) is requantized into y [n, e, oh, ow] (y_storage
 *     ODTC_S8 / ODTC_U8, *y_scale, *y_zero_point) at element offset (ni * e + ch) * oh * ow.
 * Loop order ni, then ch in 0 .. e-1; the result does not depend on it. Bit for bit what
 * the unfused odtc_qconv2d_acc -> acc_relu/relu6 -> odtc_requantize_acc ->
 * odtc_qconv2d_acc_stream (groups e) give.
 * scratch (4-byte aligned) of ODTC_QCONV2D_PW_DW_STREAM_SCRATCH_BYTES(c, kh1, kw1, h1, w1,
 * kh2, kw2, oh, ow) bytes, in this order (all word offsets): the int32 plane of conv 1
 * (4 h1 w1), the qconv2d_acc scratch of one conv-1 channel
 * (ODTC_QCONV2D_ACC_SCRATCH_BYTES(c, 1, kh1, kw1, 1) = 4 + 4 ((c kh1 kw1 + 1) / 2)), the 8-bit
 * h plane in whole words (4 ((h1 w1 + 3) / 4)), the int32 plane of conv 2 (4 oh ow), the
 * qconv2d_acc scratch of one depthwise channel (4 + 4 ((kh2 kw2 + 1) / 2)). */
#define ODTC_QCONV2D_PW_DW_STREAM_SCRATCH_BYTES(c, kh1, kw1, h1, w1, kh2, kw2, oh, ow)                     \
    ((size_t)4u * (size_t)(h1) * (size_t)(w1) + ODTC_QCONV2D_ACC_SCRATCH_BYTES(c, 1, kh1, kw1, 1) +          \
     (size_t)4u * (((size_t)(h1) * (size_t)(w1) + 3u) / 4u) + (size_t)4u * (size_t)(oh) * (size_t)(ow) +     \
     ODTC_QCONV2D_ACC_SCRATCH_BYTES(1, 1, kh2, kw2, 1))
size_t odtc_qconv2d_pw_dw_stream_scratch_bytes(int32_t c, int32_t kh1, int32_t kw1, int32_t h1, int32_t w1,
                                               int32_t kh2, int32_t kw2, int32_t oh, int32_t ow);
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
                                  int32_t pad2_top, int32_t pad2_left, int32_t pad2_bottom, int32_t pad2_right);
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
                                  int32_t pad2_top, int32_t pad2_left, int32_t pad2_bottom, int32_t pad2_right);

/* --- backward --- (the int32 grad_input of dense / conv2d is odtc_dense_s8_grad_input /
 * odtc_conv2d_s8_grad_input; with 16-bit errors odtc_dense_s16_grad_input /
 * odtc_conv2d_s16_grad_input; w_per_channel as the layer's weights) */

/* The error e [n, c, spatial] of a per-channel-weight layer put on one scale for its input
 * gradient (fqt.qrescale_channels; channels = the layer's output channels, on axis 1):
 * f[ch] = f32(f32(w_scale[ch] / m) * 2^shift), m = odtc_scale_max(w_scale, c) (the power-of-
 * two product is exact), y = clamp(rintf(f32(e - *e_zero_point) * f[ch]), -32768, 32767)
 * (int16; a NaN product, from a 0 or non-finite scale, gives 0). e in e_storage ODTC_S8 /
 * ODTC_U8 / ODTC_S16. 0 <= shift <= 15 (clamped to [0, 30]). The input gradient at scale
 * f32(se * m) / 2^shift is then odtc_{dense,conv2d}_s16_grad_input of y (zero-point 0)
 * with the per-channel zero-points. No buffer: f is recomputed per (n, ch) plane. */
void odtc_qrescale_channels(const void *e, int32_t e_storage, const int32_t *e_zero_point, const float *w_scale,
                            int16_t *y, int32_t n, int32_t c, int32_t spatial, int32_t shift);

/* dx = e where the saved forward output y > zy (real value > 0), else ze; e, dx in
 * e_storage (ODTC_S8 / ODTC_U8 / ODTC_S16), y in y_storage (ODTC_S8 / ODTC_U8). In place
 * allowed (dx == e). */
void odtc_qrelu_grad(const void *e, int32_t e_storage, const int32_t *e_zero_point,
                     const void *y, int32_t y_storage, const int32_t *y_zero_point,
                     void *dx, size_t numel);
/* relu6 backward from the saved relu6 output y (fqt.qrelu6_grad): dx = e where zy < y and
 * f32(y - zy) < rintf(6.0f / *y_scale) (f32 division; strictly inside (0, 6) on y's grid),
 * else ze (real 0); a NaN quotient passes nothing, +inf everything above zy. e, dx in
 * e_storage (ODTC_S8 / ODTC_U8 / ODTC_S16), y in y_storage (ODTC_S8 / ODTC_U8). In place
 * allowed (dx == e). */
void odtc_qrelu6_grad(const void *e, int32_t e_storage, const int32_t *e_zero_point,
                      const void *y, int32_t y_storage, const int32_t *y_zero_point, const float *y_scale,
                      void *dx, size_t numel);
/* The saved activation's backward mask, one bit per element (fqt.relu_mask): y_scale ==
 * NULL: relu, bit = y > zy; else relu6, bit = zy < y and f32(y - zy) < rintf(6.0f / *y_scale)
 * (f32 division) -- exactly where odtc_qrelu_grad / odtc_qrelu6_grad pass the error. y in
 * y_storage (ODTC_S8 / ODTC_U8). Bits packed little-endian: element i is bit i % 8 of
 * mask[i / 8]; mask has (numel + 7) / 8 bytes, all written, the unused high bits of the
 * last partial byte 0. */
void odtc_qrelu_mask(const void *y, int32_t y_storage, const int32_t *y_zero_point, const float *y_scale,
                     uint8_t *mask, size_t numel);
/* dx = e where the mask bit of the element is set, else ze (fqt.qmask_grad): odtc_qrelu_grad
 * / odtc_qrelu6_grad from the packed mask of odtc_qrelu_mask instead of the 8-bit output.
 * e, dx in e_storage (ODTC_S8 / ODTC_U8 / ODTC_S16). In place allowed (dx == e). */
void odtc_qmask_grad(const void *e, int32_t e_storage, const int32_t *e_zero_point, const uint8_t *mask,
                     void *dx, size_t numel);
/* dx[n, c, s] = e[n, c] for every s < spatial (fqt.qbroadcast_hw): the global average pool's
 * input error, a byte copy of 8-bit e (ODTC_S8 / ODTC_U8; dx has e's storage, zero-point
 * ze and scale odtc_scale_div(se, spatial)). In place allowed (dx == e, a buffer of
 * n * c * spatial bytes). */
void odtc_qbroadcast_hw(const void *e, void *dx, int32_t n, int32_t c, int32_t spatial);
/* int32 weight gradients with an optional selection: the rows r < k of acc are those of
 * odtc_{dense,conv2d}_{s8,u8}_grad_weight with channels = select, n_channels = k
 * (all o rows without a selection), rows >= k are set to 0. acc has o rows. */
void odtc_qdense_grad_weight_s8(const int8_t *x, const int32_t *x_zero_point,
                                const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                const int32_t *select, const int32_t *select_count,
                                int32_t n, int32_t k, int32_t o);
void odtc_qdense_grad_weight_u8(const uint8_t *x, const int32_t *x_zero_point,
                                const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                const int32_t *select, const int32_t *select_count,
                                int32_t n, int32_t k, int32_t o);
void odtc_qconv2d_grad_weight_s8(const int8_t *x, const int32_t *x_zero_point,
                                 const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                 const int32_t *select, const int32_t *select_count,
                                 int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                 int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                 int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups);
void odtc_qconv2d_grad_weight_u8(const uint8_t *x, const int32_t *x_zero_point,
                                 const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                 const int32_t *select, const int32_t *select_count,
                                 int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                 int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                 int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups);

/* --- update of quantized weights --- */

/* Per-row normalisation stats[r] = (a, b) of a gradient g [rows, row_len] (g_type
 * ODTC_S32 / ODTC_F32); the update direction of row r is (f32(g[r]) - a) * b.
 * ODTC_NORM_STANDARDIZE: a = mean = S(g) / f32(row_len), b = 1 / sqrtf(var) with
 *   var = S((g - mean)^2) / f32(row_len) (sequential f32 sums), b = 0 when !(var > 0);
 * ODTC_NORM_QAS: a = 0, b = ((gs * sw) / (sw * sw)) * sw (Tiny Training Engine's QAS in
 *   real units), gs = *g_scale, sw = *w_scale;
 * ODTC_NORM_NONE: a = 0, b = gs.
 * g_scale NULL (an f32 gradient) counts as gs = 1. Rows r >= k of a selection get (0, 0).
 * g_scale / w_scale are read only by the modes that need them. */
void odtc_grad_stats(const void *g, int32_t g_type, const float *g_scale, const float *w_scale,
                     float *stats, const int32_t *select, const int32_t *select_count,
                     int32_t rows, size_t row_len, int32_t mode);
/* The updated real weight of element i in row `row`, with gradient row r (row = select[r],
 * or r without a selection): v = *w_scale * f32(w[i] - zw), then, when row has a gradient
 * row and its b != 0, v = v - lr * ((f32(g[r][j]) - a[r]) * b[r]).
 * odtc_qsgd_range: range = [min, max] of v over the weight (odtc_minmax_f32 semantics).
 * odtc_qsgd_update: w[i] = clamp(R(v / *new_scale) + *new_zero_point, storage range) in
 * place, R = rintf (ODTC_ROUND_NEAREST) or floorf(d + odtc_uniform01(seed, *step, i))
 * (ODTC_ROUND_STOCHASTIC; i the row-major element index; step NULL counts as 0); R NaN
 * counts as 0. w_storage ODTC_S8 / ODTC_U8. */
void odtc_qsgd_range(const void *w, int32_t w_storage, const float *w_scale, const int32_t *w_zero_point,
                     const void *g, int32_t g_type, const float *stats, float *range,
                     const int32_t *select, const int32_t *select_count,
                     int32_t rows, size_t row_len, float lr);
void odtc_qsgd_update(void *w, int32_t w_storage, const float *w_scale, const int32_t *w_zero_point,
                      const void *g, int32_t g_type, const float *stats,
                      const float *new_scale, const int32_t *new_zero_point,
                      const int32_t *select, const int32_t *select_count, const int32_t *step,
                      int32_t rows, size_t row_len, float lr, int32_t rounding, int32_t seed);
/* --- fused row-by-row update on a held grid (qtrain-quantize update=fused) ---
 * odtc_q{dense,conv2d}_grad_weight_sgd_{s8,u8}: for each selected row oc (select NULL: all
 * rows; else the first *select_count entries of select), the int32 gradient row is
 * computed into scratch (ODTC_QGRAD_WEIGHT_SGD_SCRATCH_BYTES) and applied at once on the
 * grid of row oc, odtc/runtime/fqt.py qgrad_weight_sgd_apply bit for bit: the grid is
 * (sw, z) = (*w_scale, *w_zero_point) for every row, or with w_per_channel != 0 row oc's own
 * (w_scale[oc], w_zero_point[oc]);
 * t = (float)g * c16 (c16 = odtc_update_q16_factor(lr, g_scale, &sw)), T = t clamped to
 * +-2^30 (NaN 0) and truncated, n = (T + u) >> 16, u = odtc_hash32(base + i) >> 16
 * (ODTC_ROUND_STOCHASTIC, i the row-major element index, base as odtc_uniform01) or 32768
 * (ODTC_ROUND_NEAREST); v = (w - z) + n; row_range[2 oc..] = [min v, max v];
 * w = clamp(v + z, -128, 127). Unselected rows and their row_range entries are not touched.
 * Weights are int8; g_scale is per tensor.
 * odtc_qweight_regrid: reads only row_range ([rows][2] int32) to decide (fqt.py
 * qweight_regrid; ODTC_ROUND_STOCHASTIC: unbiased, its own stream, element j of row r at
 * index r * row_len + j). per_channel == 0: one grid (*scale, *zero_point), decided on the
 * min / max over all rows; it is kept (*new_scale, *new_zero_point = the old ones, nothing
 * else written) or every weight is re-expressed on the new one and row_range recomputed.
 * per_channel != 0: scale, zero_point, new_scale, new_zero_point are [rows] arrays and each
 * row r is decided on its own row_range[r] and grid (scale[r], zero_point[r]): a row that
 * keeps its grid is not touched (new_scale[r], new_zero_point[r] = the old values), the
 * others are re-expressed with their row_range entries recomputed. new_scale /
 * new_zero_point may be scale / zero_point (in place). */
#define ODTC_QGRAD_WEIGHT_SGD_SCRATCH_BYTES(row_len) ((size_t)4u * (size_t)(row_len))
float odtc_update_q16_factor(float lr, const float *g_scale, const float *w_scale);
/* The fused step's per-row rule, for kernels that compute their gradient rows themselves
 * (odtc_qconv_transpose2d_grad_weight_sgd_*, per tensor): init once per call, then
 * odtc_fused_update_row(f, row, g) applies int32 gradient row g to weight row `row`
 * (row_len int8 values) and writes row_range[2 row..], exactly as above. Per tensor
 * (w_per_channel == 0) c16 and zw are computed once by the init; per channel
 * (w_scale / w_zero_point kept, non-NULL) each row computes its own. The pointers passed
 * to the init must stay valid while rows are applied. */
typedef struct {
    int8_t *w;
    int32_t *row_range;
    size_t row_len;
    float c16;
    int32_t zw;
    int32_t stochastic;
    uint32_t base;
    float lr;
    float g_scale;
    const float *w_scale;        /* per channel: [rows]; NULL per tensor */
    const int32_t *w_zero_point; /* per channel: [rows]; NULL per tensor */
} odtc_fused_update;
void odtc_fused_update_init(odtc_fused_update *f, int8_t *w, int32_t *row_range, const float *g_scale,
                            const float *w_scale, const int32_t *w_zero_point, int32_t w_per_channel,
                            const int32_t *step, size_t row_len, float lr, int32_t rounding, int32_t seed);
void odtc_fused_update_row(const odtc_fused_update *f, int32_t row, const int32_t *g);
void odtc_qdense_grad_weight_sgd_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                    const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                    const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                    int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                    const int32_t *step, int32_t *scratch, int32_t n, int32_t k, int32_t o,
                                    float lr, int32_t rounding, int32_t seed);
void odtc_qdense_grad_weight_sgd_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                    const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                    const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                    int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                    const int32_t *step, int32_t *scratch, int32_t n, int32_t k, int32_t o,
                                    float lr, int32_t rounding, int32_t seed);
void odtc_qconv2d_grad_weight_sgd_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                     const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                     const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                     int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                     const int32_t *step, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                     int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                     int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                     int32_t pad_right, int32_t groups, float lr, int32_t rounding, int32_t seed);
void odtc_qconv2d_grad_weight_sgd_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                     const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                     const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                     int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                     const int32_t *step, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                     int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                     int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                     int32_t pad_right, int32_t groups, float lr, int32_t rounding, int32_t seed);
/* The fused steps with 16-bit errors (e int16 with zero-point *e_zero_point, ODTC_S16):
 * every parameter and the semantics (gradient row, update arithmetic, stochastic-rounding
 * stream, row_range, selection) exactly those of the int8-error kernels above, with the
 * same scratch (ODTC_QGRAD_WEIGHT_SGD_SCRATCH_BYTES(row_len)), except the gradient: each
 * element is the exact integer sum (accumulated in int64) saturated to [INT32_MIN,
 * INT32_MAX] (fqt.q{dense,conv2d}_grad_weight of int16 errors), and that saturated int32 row
 * is what the update consumes. Portable C on every target. */
void odtc_qdense_grad_weight_sgd_s8_e16(const int8_t *x, const int32_t *x_zero_point, const int16_t *e,
                                        const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                        const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                        int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                        const int32_t *step, int32_t *scratch, int32_t n, int32_t k, int32_t o,
                                        float lr, int32_t rounding, int32_t seed);
void odtc_qdense_grad_weight_sgd_u8_e16(const uint8_t *x, const int32_t *x_zero_point, const int16_t *e,
                                        const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                        const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                        int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                        const int32_t *step, int32_t *scratch, int32_t n, int32_t k, int32_t o,
                                        float lr, int32_t rounding, int32_t seed);
void odtc_qconv2d_grad_weight_sgd_s8_e16(const int8_t *x, const int32_t *x_zero_point, const int16_t *e,
                                         const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                         const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                         int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                         const int32_t *step, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                         int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                         int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                         int32_t pad_right, int32_t groups, float lr, int32_t rounding,
                                         int32_t seed);
void odtc_qconv2d_grad_weight_sgd_u8_e16(const uint8_t *x, const int32_t *x_zero_point, const int16_t *e,
                                         const int32_t *e_zero_point, const float *g_scale, const float *w_scale,
                                         const int32_t *w_zero_point, int32_t w_per_channel, int8_t *w,
                                         int32_t *row_range, const int32_t *select, const int32_t *select_count,
                                         const int32_t *step, int32_t *scratch, int32_t n, int32_t c, int32_t h,
                                         int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                         int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                         int32_t pad_right, int32_t groups, float lr, int32_t rounding,
                                         int32_t seed);
void odtc_qweight_regrid(int8_t *w, int32_t *row_range, const float *scale, const int32_t *zero_point,
                         float *new_scale, int32_t *new_zero_point, int32_t per_channel, int32_t rows,
                         size_t row_len, int32_t qmin, int32_t qmax, int32_t symmetric, float headroom,
                         const int32_t *step, int32_t rounding, int32_t seed);
/* lowbias32: x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16. */
uint32_t odtc_hash32(uint32_t x);
/* The stochastic-rounding stream: u_i = f32(hash32(base + i) >> 8) * 2^-24 in [0, 1),
 * base = hash32(seed * 0x9E3779B9 + step) (uint32 wrap-around arithmetic). */
float odtc_uniform01(int32_t seed, int32_t step, uint32_t i);

/* --- dynamic partial updates --- */

/* k = max(min(floorf(min(lmin + r * (lmax - lmin), 1) * f32(structures)), structures), 1),
 * r = fabsf(*loss) / *loss_max, or 1 when !(*loss_max > 0); a NaN fraction gives
 * structures. All f32. */
int32_t odtc_topk_count(const float *loss, const float *loss_max, float lambda_min, float lambda_max,
                        int32_t structures);
/* The kk = clamp(*count, 1, o) structures (axis 1 of the error e [n, o, spatial],
 * e_storage ODTC_S8 / ODTC_U8 / ODTC_S16) with the largest sum of |e - ze| (exact int64), ties to the
 * lower index: idx[0..kk) in increasing order, idx[kk..o) = -1. O(o log max |e - ze| sum).
 * scratch: ODTC_TOPK_STRUCTURES_SCRATCH_BYTES. */
void odtc_topk_structures(const void *e, int32_t e_storage, const int32_t *e_zero_point,
                          const int32_t *count, int32_t *idx, void *scratch,
                          int32_t n, int32_t o, size_t spatial);

/* =====================================================================================
 * Int8 dot-product building blocks (dot_s8.c), shared by the quantized layers
 * ===================================================================================== */

/* Reorder an int16 activation vector in place into the lane order the dot products read
 * (DSP builds: each full group of four (a0, a1, a2, a3) becomes (a0, a2, a1, a3); portable
 * builds: no change). Prepare once, then reuse for any number of weight rows. */
void odtc_dot_layout_s16(int16_t *a, int32_t len);
/* sum over i < len of a[i] * (b[i] - b_zero_point); a int16 (already offset, natural order
 * passed through odtc_dot_layout_s16), b int8 (|b - zb| <= 32767). */
int32_t odtc_dot_s16_s8(const int16_t *a, const int8_t *b, int32_t b_zero_point, int32_t len);
/* The same against two weight rows at once: out[0] with b0, out[1] with b1. */
void odtc_dot2_s16_s8(const int16_t *a, const int8_t *b0, int32_t b0_zero_point,
                      const int8_t *b1, int32_t b1_zero_point, int32_t len, int32_t *out);
/* a[i] = (int16_t)(x[i] - x_zero_point) for an int8 / uint8 row (|result| <= 32767). */
void odtc_offset_s8_to_s16(const int8_t *x, int32_t x_zero_point, int16_t *a, int32_t len);
void odtc_offset_u8_to_s16(const uint8_t *x, int32_t x_zero_point, int16_t *a, int32_t len);
/* acc[i] += e0 * (w0[i] - z0) + e1 * (w1[i] - z1) for i < len (two rows of an int8 matrix
 * scaled by two int8 errors e0, e1 that are already offset: |e| <= 32767). */
void odtc_mac2_s8(int32_t *acc, const int8_t *w0, int32_t z0, int32_t e0,
                  const int8_t *w1, int32_t z1, int32_t e1, int32_t len);

/* =====================================================================================
 * fp32 variational-autoencoder kernels (vae_f32.c), odtc/runtime/vae.py
 * All but the transposed convolution are BIT-EXACT with vae.py (standard_normal,
 * reparameterize*, and the *_c_f32 ports); exp/log are odtc_expf/odtc_logf, sums are
 * float accumulators starting at 0.0f in index order. The operation order is as written.
 * ===================================================================================== */

/* PyTorch conv_transpose2d (groups 1): x [n, c_in, h, w_], w [c_in, c_out, kh, kw] (PyTorch
 * ConvTranspose2d layout), y [n, c_out, oh, ow], b [c_out] or NULL, with
 * oh = (h - 1) * stride_h - pad_top - pad_bottom + kh + oph, 0 <= oph < stride_h (same for
 * ow). y = odtc_conv2d_f32_grad_input(dy = x, w, c = c_out, h x w = oh x ow, o = c_in,
 * same stride and padding, groups 1) (its sum order), then y += b[co]. Rows/columns no
 * tap reaches (output padding beyond pad_bottom/pad_right) hold just b[co]. Backward
 * needs no kernel of its own:
 *   dx = odtc_conv2d_f32(dy, w, NULL, dx, n, c_out, oh, ow, c_in, kh, kw, stride, pads, 1)
 *   dw = odtc_conv2d_f32_grad_weight(x = dy, dy = x, dw, NULL, 0, n, c_out, oh, ow, c_in,
 *        kh, kw, stride, pads, 1);   db = odtc_conv2d_f32_grad_bias(dy, db, n, c_out, oh*ow) */
void odtc_conv_transpose2d_f32(const float *x, const float *w, const float *b, float *y,
                               int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out,
                               int32_t kh, int32_t kw, int32_t oh, int32_t ow,
                               int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                               int32_t pad_bottom, int32_t pad_right);

/* y = x >= 0 ? 1.0f / (1.0f + expf(-x)) : e / (1.0f + e), e = expf(x) (NaN: second branch).
 * grad from the forward output: dx = (dy * y) * (1.0f - y). In place allowed. */
void odtc_sigmoid_f32(const float *x, float *y, size_t numel);
void odtc_sigmoid_f32_grad(const float *dy, const float *y, float *dx, size_t numel);
/* y = expf(x);  grad from the forward output: dx = dy * y. In place allowed. */
void odtc_exp_f32(const float *x, float *y, size_t numel);
void odtc_exp_f32_grad(const float *dy, const float *y, float *dx, size_t numel);

/* Standard normal samples (Marsaglia polar method, counter-based: eps[i] depends only on
 * seed, step and i): base = hash32(seed * 0x85EBCA6B + step * 0x9E3779B9 + 0x27D4EB2F);
 * for attempt a = 0..63: c = 2 * (64 i + a), v_k = 2.0f * (f32(hash32(base + c + k) >> 8)
 * * 2^-24) - 1.0f (k = 0, 1), s = (v0 * v0) + (v1 * v1); the first s with 0 < s < 1 gives
 * eps[i] = v0 * sqrtf((-2.0f * logf(s)) / s); none gives 0.0f. uint32 wrap-around. */
void odtc_standard_normal_f32(int32_t seed, int32_t step, float *eps, size_t n);
/* z = mu + sigma * eps[i], sigma = expf(0.5f * logvar), eps as odtc_standard_normal_f32
 * (element i of the flat tensor; generated on the fly, no buffer). dmu = dz needs no kernel. */
void odtc_reparameterize_f32(const float *mu, const float *logvar, float *z, size_t numel,
                             int32_t seed, int32_t step);
/* dlogvar = (dz * (sigma * eps[i])) * 0.5f, sigma and eps as in the forward. */
void odtc_reparameterize_f32_grad_logvar(const float *dz, const float *logvar, float *dlogvar,
                                         size_t numel, int32_t seed, int32_t step);

/* beta * KL(N(mu, exp(logvar)) || N(0, I)) summed over all elements:
 * (sum of ((1.0f + lv) - mu * mu) - expf(lv)) * -0.5f, then * beta.
 * grads: dmu = beta * mu;  dlogvar = (0.5f * beta) * (expf(lv) - 1.0f). */
float odtc_kl_divergence_f32(const float *mu, const float *logvar, size_t numel, float beta);
void odtc_kl_divergence_f32_grad_mu(const float *mu, float *dmu, size_t numel, float beta);
void odtc_kl_divergence_f32_grad_logvar(const float *logvar, float *dlogvar, size_t numel, float beta);

/* Sum over all elements of (relu - x * t) + log1p(e), relu = x > 0 ? x : 0.0f,
 * e = expf(x > 0 ? -x : x), log1p(e) = d == 0.0f ? e : logf(u) * (e / d) with u = 1.0f + e,
 * d = u - 1.0f (PyTorch binary_cross_entropy_with_logits, reduction 'sum').
 * grad: dlogits = sigmoid(x) - t (sigmoid as odtc_sigmoid_f32). */
float odtc_sigmoid_bce_f32(const float *logits, const float *target, size_t numel);
void odtc_sigmoid_bce_f32_grad(const float *logits, const float *target, float *dlogits, size_t numel);

/* =====================================================================================
 * Fully quantized VAE kernels (vae_q.c), odtc/runtime/fqt_vae.py: the int32-accumulating
 * transposed convolution and its int32 weight gradient, exact integers (sums wrap in
 * two's complement; fqt_vae.py rejects results outside int32). No scratch. Zero points
 * are pointers to one int32, as in the other FQT kernels.
 * ===================================================================================== */

/* acc[n, co, oh, ow] = bq[co] + sum over the (ci, kh, kw) taps of the transposed
 * convolution that land on (oh, ow) of (x - zx) * (w - zw); bq as in odtc_qconv2d_acc
 * (clamp(rintf(bias[co] / *acc_scale)) to int32, NaN -> 0; 0 when bias is NULL, acc_scale
 * then not read). x [n, c_in, h, w_] (int8 for _s8, uint8 for _u8), w int8
 * [c_in, c_out, kh, kw] (PyTorch ConvTranspose2d layout), acc int32 [n, c_out, oh, ow];
 * output row of input row ih and tap a: ih * stride_h - pad_top + a (skipped when outside
 * [0, oh)), same for columns. oh / ow carry the output padding (rows / columns no tap
 * reaches hold just bq[co]). Input gradient: odtc_qconv2d_acc of the error with w read as
 * OIHW. */
void odtc_qconv_transpose2d_acc_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                   const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                   int32_t *acc, int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out,
                                   int32_t kh, int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
                                   int32_t stride_w, int32_t pad_top, int32_t pad_left);
void odtc_qconv_transpose2d_acc_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                   const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                   int32_t *acc, int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out,
                                   int32_t kh, int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
                                   int32_t stride_w, int32_t pad_top, int32_t pad_left);

/* dw[ci, co, a, b] = sum over n, ih, iw of (x[n, ci, ih, iw] - zx) *
 * (e[n, co, ih * stride_h - pad_top + a, iw * stride_w - pad_left + b] - ze), taps outside
 * [0, oh) x [0, ow) skipped; x as above, e int8 [n, c_out, oh, ow], dw int32
 * [c_in, c_out, kh, kw] (every element written). */
void odtc_qconv_transpose2d_grad_weight_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                           const int32_t *e_zero_point, int32_t *dw, int32_t n, int32_t c_in,
                                           int32_t h, int32_t w_, int32_t c_out, int32_t kh, int32_t kw, int32_t oh,
                                           int32_t ow, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                           int32_t pad_left);
void odtc_qconv_transpose2d_grad_weight_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                           const int32_t *e_zero_point, int32_t *dw, int32_t n, int32_t c_in,
                                           int32_t h, int32_t w_, int32_t c_out, int32_t kh, int32_t kw, int32_t oh,
                                           int32_t ow, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                           int32_t pad_left);

/* odtc_qconv_transpose2d_grad_weight fused with the quantized SGD step of w (int8
 * [c_in, c_out, kh, kw]), row ci by row ci: the row's c_out * kh * kw int32 gradient goes to
 * scratch (ODTC_QGRAD_WEIGHT_SGD_SCRATCH_BYTES(c_out * kh * kw)) and is applied at once as
 * in odtc_qconv2d_grad_weight_sgd_* (every row; fqt_vae.py qconv_transpose2d_grad_weight_sgd). */
void odtc_qconv_transpose2d_grad_weight_sgd_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                               const int32_t *e_zero_point, const float *g_scale,
                                               const float *w_scale, const int32_t *w_zero_point, int8_t *w,
                                               int32_t *row_range, const int32_t *step, int32_t *scratch, int32_t n,
                                               int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh,
                                               int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
                                               int32_t stride_w, int32_t pad_top, int32_t pad_left, float lr,
                                               int32_t rounding, int32_t seed);
void odtc_qconv_transpose2d_grad_weight_sgd_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *e,
                                               const int32_t *e_zero_point, const float *g_scale,
                                               const float *w_scale, const int32_t *w_zero_point, int8_t *w,
                                               int32_t *row_range, const int32_t *step, int32_t *scratch, int32_t n,
                                               int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh,
                                               int32_t kw, int32_t oh, int32_t ow, int32_t stride_h,
                                               int32_t stride_w, int32_t pad_top, int32_t pad_left, float lr,
                                               int32_t rounding, int32_t seed);

/* odtc_qconv_transpose2d_acc_* streamed through odtc_acc_stream, one (n, c_out) plane at a
 * time (fqt.py acc_stream). scratch: ODTC_QCONV_TRANSPOSE2D_ACC_STREAM_SCRATCH_BYTES. */
#define ODTC_QCONV_TRANSPOSE2D_ACC_STREAM_SCRATCH_BYTES(oh, ow) ((size_t)4u * (size_t)(oh) * (size_t)(ow))
void odtc_qconv_transpose2d_acc_stream_s8(const int8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                          const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                          const float *y_scale, const int32_t *y_zero_point, void *y,
                                          int32_t y_storage, float *range, int32_t relu, int32_t *scratch,
                                          int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh,
                                          int32_t kw, int32_t oh, int32_t ow, int32_t stride_h, int32_t stride_w,
                                          int32_t pad_top, int32_t pad_left);
void odtc_qconv_transpose2d_acc_stream_u8(const uint8_t *x, const int32_t *x_zero_point, const int8_t *w,
                                          const int32_t *w_zero_point, const float *bias, const float *acc_scale,
                                          const float *y_scale, const int32_t *y_zero_point, void *y,
                                          int32_t y_storage, float *range, int32_t relu, int32_t *scratch,
                                          int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out, int32_t kh,
                                          int32_t kw, int32_t oh, int32_t ow, int32_t stride_h, int32_t stride_w,
                                          int32_t pad_top, int32_t pad_left);

#ifdef __cplusplus
}
#endif

/* =====================================================================================
 * Library-internal: the Arm DSP primitives shared by the quantized kernel sources
 * (compiled only when a kernel source defines ODTC_KERNEL_IMPL before including this
 * header; generated code never sees it).
 *
 * ODTC_DSP is defined when the SIMD code paths are compiled: on cores with
 * __ARM_FEATURE_DSP (real instructions; inline asm where GCC's ACLE has no intrinsic or
 * does not fuse the operand rotation/packing), or on any host with -DODTC_EMULATE_DSP
 * (C models with the ARMv7E-M semantics, for testing). -DODTC_NO_DSP forces the portable
 * path (benchmark baseline). Lanes: "(a, b)" is a 32-bit word with a in bits 0..15 and b
 * in bits 16..31; little-endian targets only.
 * ===================================================================================== */
#if defined(ODTC_KERNEL_IMPL)
#include <string.h>

/* The kernel taps k in [*k0, k1] that reach input position t of a strided, padded
 * correlation: t = o * stride + k - pad with the output index o in [0, out_n); tp = t + pad.
 * Shared by the fp32 and int8 grad-input kernels so both walk the same taps. */
static inline void odtc_tap_range(int32_t tp, int32_t k, int32_t stride, int32_t out_n, int32_t *k0,
                                  int32_t *k1)
{
    int32_t lo = tp - (out_n - 1) * stride;
    lo = lo > 0 ? lo : 0;
    lo += (tp - lo) % stride;
    *k0 = lo;
    *k1 = k - 1 < tp ? k - 1 : tp;
}

/* The int32 result of an exact int64 sum: v clamped to [INT32_MIN, INT32_MAX] (the
 * int16-error kernels; fqt.py's saturating _to_int32). */
static inline int32_t odtc_sat_i32(int64_t v)
{
    return v < INT32_MIN ? INT32_MIN : (v > INT32_MAX ? INT32_MAX : (int32_t)v);
}

/* The int64 partial sums an int16-error kernel keeps on the stack at a time (a tile of an
 * output row): 32 * 8 = 256 bytes. */
#define ODTC_E16_TILE 32

#if defined(__GNUC__)
#define ODTC_ALWAYS_INLINE inline __attribute__((always_inline))
#define ODTC_NOINLINE __attribute__((noinline))
#else
#define ODTC_ALWAYS_INLINE inline
#define ODTC_NOINLINE
#endif

#if defined(__ARM_FEATURE_DSP) && !defined(ODTC_NO_DSP) && !defined(ODTC_EMULATE_DSP)
#include <arm_acle.h>
#define ODTC_DSP 1
/* bytes 0 and 2 sign-extended to lanes: (b0, b2); of x rotated right by 8: (b1, b3) */
static ODTC_ALWAYS_INLINE uint32_t dsp_sxtb16(uint32_t x) { return (uint32_t)__sxtb16((int8x4_t)x); }
static ODTC_ALWAYS_INLINE uint32_t dsp_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
static ODTC_ALWAYS_INLINE uint32_t dsp_uxtb16(uint32_t x) { return (uint32_t)__uxtb16((uint8x4_t)x); }
static ODTC_ALWAYS_INLINE uint32_t dsp_uxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
/* lane-wise a - b */
static ODTC_ALWAYS_INLINE uint32_t dsp_ssub16(uint32_t a, uint32_t b)
{
    return (uint32_t)__ssub16((int16x2_t)a, (int16x2_t)b);
}
/* acc + a.lo * b.lo + a.hi * b.hi (wrapping) */
static ODTC_ALWAYS_INLINE int32_t dsp_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad((int16x2_t)a, (int16x2_t)b, acc);
}
/* (a.lo, b.lo): PKHBT */
static ODTC_ALWAYS_INLINE uint32_t dsp_pack_lo(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
/* (a.hi, b.hi): PKHTB */
static ODTC_ALWAYS_INLINE uint32_t dsp_pack_hi(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
/* c + ((a * b + 2^31) >> 32): SMMLAR */
static ODTC_ALWAYS_INLINE int32_t dsp_smmlar(int32_t a, int32_t b, int32_t c)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
}
/* lo lane of a times lo/hi lane of b, plus acc: SMLABB / SMLABT */
static ODTC_ALWAYS_INLINE int32_t dsp_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlabb((int32_t)a, (int32_t)b, acc);
}
static ODTC_ALWAYS_INLINE int32_t dsp_smlabt(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlabt((int32_t)a, (int32_t)b, acc);
}
/* a + (b0, b2) and a + (b1, b3) lane-wise, bytes sign- / zero-extended: SXTAB16 / UXTAB16 */
static ODTC_ALWAYS_INLINE uint32_t dsp_sxtab16(uint32_t a, uint32_t x)
{
    return (uint32_t)__sxtab16((int16x2_t)a, (int8x4_t)x);
}
static ODTC_ALWAYS_INLINE uint32_t dsp_sxtab16_ror8(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}
static ODTC_ALWAYS_INLINE uint32_t dsp_uxtab16(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("uxtab16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(x));
    return r;
}
static ODTC_ALWAYS_INLINE uint32_t dsp_uxtab16_ror8(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("uxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}
/* lane-wise a + b (wrapping) */
static ODTC_ALWAYS_INLINE uint32_t dsp_sadd16(uint32_t a, uint32_t b)
{
    return (uint32_t)__sadd16((int16x2_t)a, (int16x2_t)b);
}
#define dsp_ssat8(v) __ssat((v), 8)
#define dsp_usat8(v) __usat((v), 8)
#elif defined(ODTC_EMULATE_DSP) && !defined(ODTC_NO_DSP)
#define ODTC_DSP 1
static inline uint32_t dsp_lanes(int32_t lo, int32_t hi) { return ((uint32_t)lo & 0xFFFFu) | (((uint32_t)hi & 0xFFFFu) << 16); }
static inline int32_t dsp_lo(uint32_t x) { return (int16_t)(x & 0xFFFFu); }
static inline int32_t dsp_hi(uint32_t x) { return (int16_t)(x >> 16); }
static inline uint32_t dsp_sxtb16(uint32_t x) { return dsp_lanes((int8_t)(x & 0xFFu), (int8_t)((x >> 16) & 0xFFu)); }
static inline uint32_t dsp_sxtb16_ror8(uint32_t x) { return dsp_sxtb16((x >> 8) | (x << 24)); }
static inline uint32_t dsp_uxtb16(uint32_t x) { return x & 0x00FF00FFu; }
static inline uint32_t dsp_uxtb16_ror8(uint32_t x) { return ((x >> 8) | (x << 24)) & 0x00FF00FFu; }
static inline uint32_t dsp_ssub16(uint32_t a, uint32_t b) { return dsp_lanes(dsp_lo(a) - dsp_lo(b), dsp_hi(a) - dsp_hi(b)); }
static inline int32_t dsp_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    /* the hardware adds modulo 2^32 (setting Q on overflow) */
    return (int32_t)((uint32_t)acc + (uint32_t)(dsp_lo(a) * dsp_lo(b)) + (uint32_t)(dsp_hi(a) * dsp_hi(b)));
}
static inline uint32_t dsp_pack_lo(uint32_t a, uint32_t b) { return (a & 0xFFFFu) | (b << 16); }
static inline uint32_t dsp_pack_hi(uint32_t a, uint32_t b) { return (b & 0xFFFF0000u) | (a >> 16); }
static inline int32_t dsp_smmlar(int32_t a, int32_t b, int32_t c)
{
    const uint64_t v = ((uint64_t)(uint32_t)c << 32) + (uint64_t)((int64_t)a * b) + 0x80000000u;
    return (int32_t)(uint32_t)(v >> 32);
}
static inline int32_t dsp_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(dsp_lo(a) * dsp_lo(b)));
}
static inline int32_t dsp_smlabt(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(dsp_lo(a) * dsp_hi(b)));
}
static inline uint32_t dsp_sxtab16(uint32_t a, uint32_t x) { return dsp_lanes(dsp_lo(a) + (int8_t)(x & 0xFFu), dsp_hi(a) + (int8_t)((x >> 16) & 0xFFu)); }
static inline uint32_t dsp_sxtab16_ror8(uint32_t a, uint32_t x) { return dsp_sxtab16(a, (x >> 8) | (x << 24)); }
static inline uint32_t dsp_uxtab16(uint32_t a, uint32_t x) { return dsp_lanes(dsp_lo(a) + (int32_t)(x & 0xFFu), dsp_hi(a) + (int32_t)((x >> 16) & 0xFFu)); }
static inline uint32_t dsp_uxtab16_ror8(uint32_t a, uint32_t x) { return dsp_uxtab16(a, (x >> 8) | (x << 24)); }
static inline uint32_t dsp_sadd16(uint32_t a, uint32_t b) { return dsp_lanes(dsp_lo(a) + dsp_lo(b), dsp_hi(a) + dsp_hi(b)); }
static inline int32_t dsp_ssat8(int32_t v) { return v < -128 ? -128 : (v > 127 ? 127 : v); }
static inline int32_t dsp_usat8(int32_t v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }
#endif

#if defined(ODTC_DSP)
/* Unaligned word access (LDR/STR handle it on ARMv7E-M; a plain memcpy on hosts). */
static ODTC_ALWAYS_INLINE uint32_t dsp_load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static ODTC_ALWAYS_INLINE void dsp_store32(void *p, uint32_t v) { memcpy(p, &v, sizeof v); }
/* (v, v) */
static ODTC_ALWAYS_INLINE uint32_t dsp_splat16(int32_t v) { return ((uint32_t)v & 0xFFFFu) * 0x00010001u; }

/* gemmlowp MultiplyByQuantizedMultiplier(acc, m, -e) for e >= 1 and |acc| < 2^29, taking
 * acc2 = 2 acc and rnd = 2^(e-1) (plus any multiple of 2^e, which passes through the shift
 * exactly): SMMLAR(acc2, m, rnd) = SaturatingRoundingDoublingHighMul(acc, m) + rnd, since
 * (2 acc m + 2^31) >> 32 = (acc m + 2^30) >> 31 is gemmlowp's nudged truncation; then
 * RoundingDivideByPOT(t, e) = (t + 2^(e-1) - (t < 0)) >> e, where t < 0 may be replaced by
 * acc < 0 (they differ only when t = 0, and then both give 0 for e >= 1). */
static ODTC_ALWAYS_INLINE int32_t dsp_requant_fast(int32_t acc2, int32_t m, int32_t rnd, int32_t e)
{
    return (dsp_smmlar(acc2, m, rnd) + (acc2 >> 31)) >> e;
}
#endif
#endif /* ODTC_KERNEL_IMPL */

#endif /* ODTC_KERNELS_H */
