/* fp32 losses: softmax cross-entropy (mean over the batch, integer labels) and mean
 * squared error, with their gradients. The softmax is max-shifted, so no exp overflows.
 * exp and log are odtc_expf/odtc_logf (mathf.c), not libm's: they give the same bits on
 * the host and on every Cortex-M target, so losses and gradients do too. */
#include "odtc_kernels.h"

static float row_max(const float *l, int32_t classes)
{
    float m = l[0];
    for (int32_t j = 1; j < classes; ++j) {
        if (l[j] > m) {
            m = l[j];
        }
    }
    return m;
}

static float row_expsum(const float *l, int32_t classes, float m)
{
    float s = 0.0f;
    for (int32_t j = 0; j < classes; ++j) {
        s += odtc_expf(l[j] - m);
    }
    return s;
}

float odtc_softmax_cross_entropy_f32(const float *logits, const int32_t *labels,
                                     int32_t n, int32_t classes)
{
    float total = 0.0f;
    for (int32_t ni = 0; ni < n; ++ni) {
        const float *l = logits + (size_t)ni * classes;
        const float m = row_max(l, classes);
        const float lse = m + odtc_logf(row_expsum(l, classes, m));
        total += lse - l[labels[ni]];
    }
    return total / (float)n;
}

void odtc_softmax_cross_entropy_f32_grad(const float *logits, const int32_t *labels,
                                         float *dlogits, int32_t n, int32_t classes)
{
    const float fn = (float)n;
    for (int32_t ni = 0; ni < n; ++ni) {
        const float *l = logits + (size_t)ni * classes;
        float *d = dlogits + (size_t)ni * classes;
        const float m = row_max(l, classes);
        const float s = row_expsum(l, classes, m);
        for (int32_t j = 0; j < classes; ++j) {
            float p = odtc_expf(l[j] - m) / s;
            if (j == labels[ni]) {
                p = p - 1.0f;
            }
            d[j] = p / fn;
        }
    }
}

float odtc_mse_f32(const float *pred, const float *target, size_t numel)
{
    float acc = 0.0f;
    for (size_t i = 0; i < numel; ++i) {
        const float d = pred[i] - target[i];
        acc += d * d;
    }
    return acc / (float)numel;
}

void odtc_mse_f32_grad(const float *pred, const float *target, float *dpred, size_t numel)
{
    const float fn = (float)numel;
    for (size_t i = 0; i < numel; ++i) {
        dpred[i] = (2.0f * (pred[i] - target[i])) / fn;
    }
}
