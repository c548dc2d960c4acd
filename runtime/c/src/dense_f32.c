/* fp32 dense (fully connected): forward, grad_input, grad_weight (and fused with SGD),
 * grad_bias.
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

/* The one accumulation of dW that grad_weight and grad_weight_sgd share, so the fused
 * update applies exactly the value grad_weight would have stored: with dw != NULL, dW row r
 * goes to dw; otherwise each element g is applied to the parameter row o_r at once as
 * w = w - lr * g, the expression of odtc_sgd_update_f32. */
static void dense_dw_rows(const float *x, const float *dy, float *dw, float *w, float lr,
                          const int32_t *channels, int32_t n_channels, int32_t n, int32_t k, int32_t o)
{
    const int32_t rows = channels != NULL ? n_channels : o;
    for (int32_t r = 0; r < rows; ++r) {
        const int32_t oc = channels != NULL ? channels[r] : r;
        for (int32_t j = 0; j < k; ++j) {
            float acc = 0.0f;
            for (int32_t ni = 0; ni < n; ++ni) {
                acc += dy[(size_t)ni * o + oc] * x[(size_t)ni * k + j];
            }
            if (dw != NULL) {
                dw[(size_t)r * k + j] = acc;
            } else {
                float *wj = w + (size_t)oc * k + j;
                *wj = *wj - lr * acc;
            }
        }
    }
}

void odtc_dense_f32_grad_weight(const float *x, const float *dy, float *dw,
                                const int32_t *channels, int32_t n_channels,
                                int32_t n, int32_t k, int32_t o)
{
    dense_dw_rows(x, dy, dw, NULL, 0.0f, channels, n_channels, n, k, o);
}

void odtc_dense_f32_grad_weight_sgd(const float *x, const float *dy, float *w,
                                    const int32_t *channels, int32_t n_channels,
                                    int32_t n, int32_t k, int32_t o, float lr)
{
    dense_dw_rows(x, dy, NULL, w, lr, channels, n_channels, n, k, o);
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
