/* fp32 kernels of variational autoencoders: transposed convolution, sigmoid and exp
 * (+ grads), the Gaussian PRNG and reparameterization, the KL term and the sigmoid
 * binary cross-entropy (+ grads). odtc/runtime/vae.py defines them.
 *
 * Everything but the transposed convolution is bit-exact with the `*_c_f32` /
 * standard_normal / reparameterize ports in vae.py: exp and log are odtc_expf/odtc_logf
 * (mathf.c, the same bits on every target), sqrtf is IEEE-exact everywhere, and nothing is
 * fused (-ffp-contract=off). The sign tests are written as comparisons (no fmaxf/fabsf)
 * so that no libm function but sqrtf is called. */
#include <math.h>

#include "odtc_kernels.h"

/* ---- transposed convolution ------------------------------------------------------- */

void odtc_conv_transpose2d_f32(const float *x, const float *w, const float *b, float *y,
                               int32_t n, int32_t c_in, int32_t h, int32_t w_, int32_t c_out,
                               int32_t kh, int32_t kw, int32_t oh, int32_t ow,
                               int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                               int32_t pad_bottom, int32_t pad_right)
{
    /* y is the input gradient of the convolution c_out -> c_in with weight w read as OIHW
     * (O = c_in, I = c_out) and input size oh x ow, whose floor-mode output size is
     * exactly h x w_ for 0 <= output padding < stride; (h, w_) are therefore implied by
     * (oh, ow) and only name the geometry at the call site. Output rows/columns that no
     * tap reaches (output padding beyond the bottom/right padding) are written 0 by
     * grad_input and so hold only the bias. */
    (void)h;
    (void)w_;
    odtc_conv2d_f32_grad_input(x, w, y, n, c_out, oh, ow, c_in, kh, kw, stride_h, stride_w, pad_top,
                               pad_left, pad_bottom, pad_right, 1);
    if (b == NULL) {
        return;
    }
    const size_t spatial = (size_t)oh * (size_t)ow;
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t co = 0; co < c_out; ++co) {
            float *yc = y + ((size_t)ni * (size_t)c_out + (size_t)co) * spatial;
            const float bc = b[co];
            for (size_t s = 0; s < spatial; ++s) {
                yc[s] = yc[s] + bc;
            }
        }
    }
}

/* ---- activations ------------------------------------------------------------------ */

/* One expf either way: exp(-x) <= 1 for x >= 0, exp(x) < 1 for x < 0, so nothing
 * overflows; a NaN takes the second branch and propagates. */
static float sigmoid_f32(float x)
{
    if (x >= 0.0f) {
        return 1.0f / (1.0f + odtc_expf(-x));
    }
    const float e = odtc_expf(x);
    return e / (1.0f + e);
}

void odtc_sigmoid_f32(const float *x, float *y, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        y[i] = sigmoid_f32(x[i]);
    }
}

void odtc_sigmoid_f32_grad(const float *dy, const float *y, float *dx, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        dx[i] = (dy[i] * y[i]) * (1.0f - y[i]);
    }
}

void odtc_exp_f32(const float *x, float *y, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        y[i] = odtc_expf(x[i]);
    }
}

void odtc_exp_f32_grad(const float *dy, const float *y, float *dx, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        dx[i] = dy[i] * y[i];
    }
}

/* ---- Gaussian PRNG and reparameterization ------------------------------------------ */

#define NORMAL_ATTEMPTS 64u /* P(all rejected) = (1 - pi/4)^64 ~ 1e-43 */

static uint32_t normal_stream_base(int32_t seed, int32_t step)
{
    return odtc_hash32((uint32_t)seed * 0x85EBCA6Bu + (uint32_t)step * 0x9E3779B9u + 0x27D4EB2Fu);
}

/* 2u - 1 in [-1, 1), u = f32(h >> 8) * 2^-24 (both steps exact). */
static float polar_coordinate(uint32_t h)
{
    const float u = (float)(h >> 8) * 5.9604644775390625e-08f;
    return 2.0f * u - 1.0f;
}

/* Element i of the stream (Marsaglia's polar method; counter-based, so independent of
 * every other element): attempt a reads hash32(base + c) and hash32(base + c + 1),
 * c = 2 (64 i + a) (uint32 wrap-around). */
static float normal_at(uint32_t base, size_t i)
{
    const uint32_t first = (uint32_t)i * (2u * NORMAL_ATTEMPTS);
    for (uint32_t a = 0; a < NORMAL_ATTEMPTS; ++a) {
        const uint32_t c = first + 2u * a;
        const float v1 = polar_coordinate(odtc_hash32(base + c));
        const float v2 = polar_coordinate(odtc_hash32(base + c + 1u));
        const float s = v1 * v1 + v2 * v2;
        if (s > 0.0f && s < 1.0f) {
            return v1 * sqrtf((-2.0f * odtc_logf(s)) / s);
        }
    }
    return 0.0f;
}

void odtc_standard_normal_f32(int32_t seed, int32_t step, float *eps, size_t n)
{
    const uint32_t base = normal_stream_base(seed, step);
    for (size_t i = 0; i < n; ++i) {
        eps[i] = normal_at(base, i);
    }
}

void odtc_reparameterize_f32(const float *mu, const float *logvar, float *z, size_t numel,
                             int32_t seed, int32_t step)
{
    const uint32_t base = normal_stream_base(seed, step);
    for (size_t i = 0; i < numel; ++i) {
        const float sigma = odtc_expf(0.5f * logvar[i]);
        z[i] = mu[i] + sigma * normal_at(base, i);
    }
}

void odtc_reparameterize_f32_grad_logvar(const float *dz, const float *logvar, float *dlogvar,
                                         size_t numel, int32_t seed, int32_t step)
{
    const uint32_t base = normal_stream_base(seed, step);
    for (size_t i = 0; i < numel; ++i) {
        const float sigma = odtc_expf(0.5f * logvar[i]);
        dlogvar[i] = (dz[i] * (sigma * normal_at(base, i))) * 0.5f;
    }
}

/* ---- KL divergence ------------------------------------------------------------------ */

float odtc_kl_divergence_f32(const float *mu, const float *logvar, size_t numel, float beta)
{
    float acc = 0.0f;
    for (size_t i = 0; i < numel; ++i) {
        const float lv = logvar[i];
        acc += ((1.0f + lv) - mu[i] * mu[i]) - odtc_expf(lv);
    }
    return (acc * -0.5f) * beta;
}

void odtc_kl_divergence_f32_grad_mu(const float *mu, float *dmu, size_t numel, float beta)
{
    for (size_t i = 0; i < numel; ++i) {
        dmu[i] = beta * mu[i];
    }
}

void odtc_kl_divergence_f32_grad_logvar(const float *logvar, float *dlogvar, size_t numel, float beta)
{
    const float half_beta = 0.5f * beta;
    for (size_t i = 0; i < numel; ++i) {
        dlogvar[i] = half_beta * (odtc_expf(logvar[i]) - 1.0f);
    }
}

/* ---- sigmoid binary cross-entropy ------------------------------------------------------ */

/* log(1 + e) for e in [0, 1]: u = 1 + e rounds e away when it is small, but d = u - 1 is
 * exact, and log(u) / d is accurate for the rounded u (Goldberg), so the result keeps
 * full relative precision down to e = 0. */
static float log1p_unit(float e)
{
    const float u = 1.0f + e;
    const float d = u - 1.0f;
    return d == 0.0f ? e : odtc_logf(u) * (e / d);
}

static float bce_term(float x, float t)
{
    const float relu = x > 0.0f ? x : 0.0f;
    const float neg_abs = x > 0.0f ? -x : x;
    return (relu - x * t) + log1p_unit(odtc_expf(neg_abs));
}

float odtc_sigmoid_bce_f32(const float *logits, const float *target, size_t numel)
{
    float acc = 0.0f;
    for (size_t i = 0; i < numel; ++i) {
        acc += bce_term(logits[i], target[i]);
    }
    return acc;
}

void odtc_sigmoid_bce_f32_grad(const float *logits, const float *target, float *dlogits, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        dlogits[i] = sigmoid_f32(logits[i]) - target[i];
    }
}
