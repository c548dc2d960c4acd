/* Optimizer updates in place: SGD, SGD with momentum, Adam -- each with an optional
 * channel-row list (sparse update) and optional mini-batch gradient accumulation.
 *
 * Bit-exact with odtc.runtime.reference: every element-wise expression is evaluated in
 * float in the reference's order (build with -ffp-contract=off so that no multiply-add is
 * fused); Adam's bias corrections are double scalars computed once per call: beta^t with
 * odtc_powi (mathf.c: correctly rounded like the reference's Python float ** int, and
 * identical on every target, unlike libm pow), sqrt from libm (IEEE-exact everywhere). */
#include <math.h>

#include "odtc_kernels.h"

/* Accumulation phase. Returns 0 when the update must be skipped (acc += g done), 1 when
 * the update is to be applied now (no accumulation, or the last sample of the batch). */
static int accumulate_or_apply(float *acc, const float *g, size_t count, int32_t batch_pos, int32_t every)
{
    if (acc == NULL || batch_pos == every - 1) {
        return 1;
    }
    for (size_t i = 0; i < count; ++i) {
        acc[i] = acc[i] + g[i];
    }
    return 0;
}

/* The gradient to apply at element j: g[j], or the batch mean (acc[j] + g[j]) / every
 * (clearing acc[j]) on the last sample of an accumulated mini-batch. */
static float grad_at(const float *g, float *acc, size_t j, float every)
{
    if (acc == NULL) {
        return g[j];
    }
    const float mean = (acc[j] + g[j]) / every;
    acc[j] = 0.0f;
    return mean;
}

static size_t param_row(const int32_t *channels, int32_t r)
{
    return (size_t)(channels != NULL ? channels[r] : r);
}

void odtc_sgd_update_f32(float *w, const float *g, float *acc, const int32_t *channels,
                         int32_t rows, size_t row_len, int32_t batch_pos, int32_t every, float lr)
{
    if (!accumulate_or_apply(acc, g, (size_t)rows * row_len, batch_pos, every)) {
        return;
    }
    const float fevery = (float)every;
    for (int32_t r = 0; r < rows; ++r) {
        float *wr = w + param_row(channels, r) * row_len;
        const size_t gbase = (size_t)r * row_len;
        for (size_t i = 0; i < row_len; ++i) {
            const float gi = grad_at(g, acc, gbase + i, fevery);
            wr[i] = wr[i] - lr * gi;
        }
    }
}

void odtc_momentum_update_f32(float *w, float *v, const float *g, float *acc,
                              const int32_t *channels, int32_t rows, size_t row_len,
                              int32_t batch_pos, int32_t every, float lr, float momentum)
{
    if (!accumulate_or_apply(acc, g, (size_t)rows * row_len, batch_pos, every)) {
        return;
    }
    const float fevery = (float)every;
    for (int32_t r = 0; r < rows; ++r) {
        const size_t pbase = param_row(channels, r) * row_len;
        const size_t gbase = (size_t)r * row_len;
        for (size_t i = 0; i < row_len; ++i) {
            const float gi = grad_at(g, acc, gbase + i, fevery);
            const float vi = momentum * v[pbase + i] + gi;
            v[pbase + i] = vi;
            w[pbase + i] = w[pbase + i] - lr * vi;
        }
    }
}

void odtc_adam_update_f32(float *w, float *m, float *v, int32_t *step, const float *g,
                          float *acc, const int32_t *channels, int32_t rows, size_t row_len,
                          int32_t batch_pos, int32_t every,
                          double lr, double beta1, double beta2, double eps)
{
    if (!accumulate_or_apply(acc, g, (size_t)rows * row_len, batch_pos, every)) {
        return;
    }
    const int32_t t = *step + 1;
    *step = t;
    const double bc1 = 1.0 - odtc_powi(beta1, t);
    const double bc2 = 1.0 - odtc_powi(beta2, t);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float b1 = (float)beta1;
    const float omb1 = (float)(1.0 - beta1);
    const float b2 = (float)beta2;
    const float omb2 = (float)(1.0 - beta2);
    const float feps = (float)eps;
    const float fevery = (float)every;
    for (int32_t r = 0; r < rows; ++r) {
        const size_t pbase = param_row(channels, r) * row_len;
        const size_t gbase = (size_t)r * row_len;
        for (size_t i = 0; i < row_len; ++i) {
            const size_t p = pbase + i;
            const float gi = grad_at(g, acc, gbase + i, fevery);
            const float mi = b1 * m[p] + omb1 * gi;
            const float vi = b2 * v[p] + (omb2 * gi) * gi;
            const float denom = sqrtf(vi) / bc2_sqrt + feps;
            m[p] = mi;
            v[p] = vi;
            w[p] = w[p] - (step_size * mi) / denom;
        }
    }
}

void odtc_counter_step(int32_t *counter, int32_t modulo)
{
    *counter = (*counter + 1) % modulo;
}
