/* fp32 element-wise ops: relu, relu6 (+ grads from the forward output), add.
 * Bit-exact with numpy: relu(-0.0) = +0.0 and NaN propagates (np.maximum/np.minimum);
 * the comparisons are written so that a NaN input falls through unchanged. */
#include "odtc_kernels.h"

void odtc_relu_f32(const float *x, float *y, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        const float v = x[i];
        y[i] = (v <= 0.0f) ? 0.0f : v;
    }
}

void odtc_relu6_f32(const float *x, float *y, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        float v = x[i];
        v = (v <= 0.0f) ? 0.0f : v;
        y[i] = (v >= 6.0f) ? 6.0f : v;
    }
}

void odtc_relu_f32_grad(const float *dy, const float *y, float *dx, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        dx[i] = (y[i] > 0.0f) ? dy[i] : 0.0f;
    }
}

void odtc_relu6_f32_grad(const float *dy, const float *y, float *dx, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        dx[i] = (y[i] > 0.0f && y[i] < 6.0f) ? dy[i] : 0.0f;
    }
}

void odtc_add_f32(const float *a, const float *b, float *y, size_t numel)
{
    for (size_t i = 0; i < numel; ++i) {
        y[i] = a[i] + b[i];
    }
}
