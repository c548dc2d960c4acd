/* fp32 batch normalisation with running statistics (inference form, also used when the
 * statistics are frozen during training): forward, grad_input, grad_gamma, grad_beta.
 * Tensors are viewed as [n, c, hw]. */
#include <math.h>

#include "odtc_kernels.h"

void odtc_batchnorm_f32(const float *x, const float *gamma, const float *beta,
                        const float *mean, const float *var, float *y,
                        int32_t n, int32_t c, int32_t hw, float eps)
{
    for (int32_t ch = 0; ch < c; ++ch) {
        const float s = gamma[ch] / sqrtf(var[ch] + eps);
        const float mu = mean[ch];
        const float b = beta[ch];
        for (int32_t ni = 0; ni < n; ++ni) {
            const size_t base = ((size_t)ni * c + ch) * hw;
            for (int32_t i = 0; i < hw; ++i) {
                y[base + i] = (x[base + i] - mu) * s + b;
            }
        }
    }
}

void odtc_batchnorm_f32_grad_input(const float *dy, const float *gamma, const float *var,
                                   float *dx, int32_t n, int32_t c, int32_t hw, float eps)
{
    for (int32_t ch = 0; ch < c; ++ch) {
        const float s = gamma[ch] / sqrtf(var[ch] + eps);
        for (int32_t ni = 0; ni < n; ++ni) {
            const size_t base = ((size_t)ni * c + ch) * hw;
            for (int32_t i = 0; i < hw; ++i) {
                dx[base + i] = dy[base + i] * s;
            }
        }
    }
}

void odtc_batchnorm_f32_grad_gamma(const float *dy, const float *x, const float *mean,
                                   const float *var, float *dgamma,
                                   int32_t n, int32_t c, int32_t hw, float eps)
{
    for (int32_t ch = 0; ch < c; ++ch) {
        const float mu = mean[ch];
        float acc = 0.0f;
        for (int32_t ni = 0; ni < n; ++ni) {
            const size_t base = ((size_t)ni * c + ch) * hw;
            for (int32_t i = 0; i < hw; ++i) {
                acc += dy[base + i] * (x[base + i] - mu);
            }
        }
        dgamma[ch] = acc / sqrtf(var[ch] + eps);
    }
}

void odtc_batchnorm_f32_grad_beta(const float *dy, float *dbeta, int32_t n, int32_t c, int32_t hw)
{
    for (int32_t ch = 0; ch < c; ++ch) {
        float acc = 0.0f;
        for (int32_t ni = 0; ni < n; ++ni) {
            const size_t base = ((size_t)ni * c + ch) * hw;
            for (int32_t i = 0; i < hw; ++i) {
                acc += dy[base + i];
            }
        }
        dbeta[ch] = acc;
    }
}
