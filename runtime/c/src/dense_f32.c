/* fp32 dense (fully connected): forward, grad_input, grad_weight, grad_bias.
 * x [n, k], w [o, k] (PyTorch layout), y [n, o]. One float accumulator per output element,
 * starting at 0.0f, in the order documented in odtc_kernels.h. */
#include "odtc_kernels.h"

void odtc_dense_f32(const float *x, const float *w, const float *b, float *y,
                    int32_t n, int32_t k, int32_t o)
{
    for (int32_t ni = 0; ni < n; ++ni) {
        const float *xr = x + (size_t)ni * k;
        for (int32_t oc = 0; oc < o; ++oc) {
            const float *wr = w + (size_t)oc * k;
            float acc = 0.0f;
            for (int32_t j = 0; j < k; ++j) {
                acc += xr[j] * wr[j];
            }
            if (b != NULL) {
                acc += b[oc];
            }
            y[(size_t)ni * o + oc] = acc;
        }
    }
}

void odtc_dense_f32_grad_input(const float *dy, const float *w, float *dx,
                               int32_t n, int32_t k, int32_t o)
{
    for (int32_t ni = 0; ni < n; ++ni) {
        const float *dyr = dy + (size_t)ni * o;
        for (int32_t j = 0; j < k; ++j) {
            float acc = 0.0f;
            for (int32_t oc = 0; oc < o; ++oc) {
                acc += dyr[oc] * w[(size_t)oc * k + j];
            }
            dx[(size_t)ni * k + j] = acc;
        }
    }
}

void odtc_dense_f32_grad_weight(const float *x, const float *dy, float *dw,
                                const int32_t *channels, int32_t n_channels,
                                int32_t n, int32_t k, int32_t o)
{
    const int32_t rows = channels != NULL ? n_channels : o;
    for (int32_t r = 0; r < rows; ++r) {
        const int32_t oc = channels != NULL ? channels[r] : r;
        for (int32_t j = 0; j < k; ++j) {
            float acc = 0.0f;
            for (int32_t ni = 0; ni < n; ++ni) {
                acc += dy[(size_t)ni * o + oc] * x[(size_t)ni * k + j];
            }
            dw[(size_t)r * k + j] = acc;
        }
    }
}

void odtc_dense_f32_grad_bias(const float *dy, float *db, int32_t n, int32_t o)
{
    for (int32_t oc = 0; oc < o; ++oc) {
        float acc = 0.0f;
        for (int32_t ni = 0; ni < n; ++ni) {
            acc += dy[(size_t)ni * o + oc];
        }
        db[oc] = acc;
    }
}
