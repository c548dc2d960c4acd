/* fp32 pooling: maxpool2d, avgpool2d, global average pool, forward and backward.
 * Windows are clipped to the real input positions (padding is -inf for max, 0 for the
 * average sum), floor-mode output sizes. The max is exact; the averages sum in float in
 * row-major window order and divide once. */
#include <math.h>

#include "odtc_kernels.h"

static int32_t max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

/* Real input rows [*lo, *hi) of the window starting at padded index o*s - pad. */
static void window(int32_t o, int32_t s, int32_t pad, int32_t k, int32_t in, int32_t *lo, int32_t *hi)
{
    const int32_t start = o * s - pad;
    *lo = max_i32(start, 0);
    *hi = max_i32(min_i32(start + k, in), *lo);
}

/* Index (into the channel plane) of the first maximal real position in row-major scan,
 * replacing only on a strictly greater value; -1 for a window without real positions. */
static int32_t argmax_window(const float *plane, int32_t w, int32_t y0, int32_t y1, int32_t x0, int32_t x1)
{
    int32_t best = -1;
    float m = 0.0f;
    for (int32_t iy = y0; iy < y1; ++iy) {
        for (int32_t ix = x0; ix < x1; ++ix) {
            const float v = plane[(size_t)iy * w + ix];
            if (best < 0 || v > m) {
                best = iy * w + ix;
                m = v;
            }
        }
    }
    return best;
}

void odtc_maxpool2d_f32(const float *x, float *y,
                        int32_t n, int32_t c, int32_t h, int32_t w, int32_t kh, int32_t kw,
                        int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                        int32_t pad_bottom, int32_t pad_right)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w, kw, stride_w, pad_left, pad_right);
    for (int32_t p = 0; p < n * c; ++p) {
        const float *plane = x + (size_t)p * h * w;
        float *yp = y + (size_t)p * oh_n * ow_n;
        for (int32_t oy = 0; oy < oh_n; ++oy) {
            int32_t y0, y1;
            window(oy, stride_h, pad_top, kh, h, &y0, &y1);
            for (int32_t ox = 0; ox < ow_n; ++ox) {
                int32_t x0, x1;
                window(ox, stride_w, pad_left, kw, w, &x0, &x1);
                const int32_t a = argmax_window(plane, w, y0, y1, x0, x1);
                yp[(size_t)oy * ow_n + ox] = a < 0 ? -INFINITY : plane[a];
            }
        }
    }
}

void odtc_maxpool2d_f32_grad(const float *dy, const float *x, float *dx,
                             int32_t n, int32_t c, int32_t h, int32_t w, int32_t kh, int32_t kw,
                             int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                             int32_t pad_bottom, int32_t pad_right)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w, kw, stride_w, pad_left, pad_right);
    for (size_t i = 0; i < (size_t)n * c * h * w; ++i) {
        dx[i] = 0.0f;
    }
    for (int32_t p = 0; p < n * c; ++p) {
        const float *plane = x + (size_t)p * h * w;
        float *dxp = dx + (size_t)p * h * w;
        const float *dyp = dy + (size_t)p * oh_n * ow_n;
        for (int32_t oy = 0; oy < oh_n; ++oy) {
            int32_t y0, y1;
            window(oy, stride_h, pad_top, kh, h, &y0, &y1);
            for (int32_t ox = 0; ox < ow_n; ++ox) {
                int32_t x0, x1;
                window(ox, stride_w, pad_left, kw, w, &x0, &x1);
                const int32_t a = argmax_window(plane, w, y0, y1, x0, x1);
                if (a >= 0) {
                    dxp[a] += dyp[(size_t)oy * ow_n + ox];
                }
            }
        }
    }
}

static float avg_count(int32_t y0, int32_t y1, int32_t x0, int32_t x1, int32_t kh, int32_t kw,
                       int32_t count_include_pad)
{
    return (float)(count_include_pad ? kh * kw : (y1 - y0) * (x1 - x0));
}

void odtc_avgpool2d_f32(const float *x, float *y,
                        int32_t n, int32_t c, int32_t h, int32_t w, int32_t kh, int32_t kw,
                        int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                        int32_t pad_bottom, int32_t pad_right, int32_t count_include_pad)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w, kw, stride_w, pad_left, pad_right);
    for (int32_t p = 0; p < n * c; ++p) {
        const float *plane = x + (size_t)p * h * w;
        float *yp = y + (size_t)p * oh_n * ow_n;
        for (int32_t oy = 0; oy < oh_n; ++oy) {
            int32_t y0, y1;
            window(oy, stride_h, pad_top, kh, h, &y0, &y1);
            for (int32_t ox = 0; ox < ow_n; ++ox) {
                int32_t x0, x1;
                window(ox, stride_w, pad_left, kw, w, &x0, &x1);
                float acc = 0.0f;
                for (int32_t iy = y0; iy < y1; ++iy) {
                    for (int32_t ix = x0; ix < x1; ++ix) {
                        acc += plane[(size_t)iy * w + ix];
                    }
                }
                yp[(size_t)oy * ow_n + ox] = acc / avg_count(y0, y1, x0, x1, kh, kw, count_include_pad);
            }
        }
    }
}

void odtc_avgpool2d_f32_grad(const float *dy, float *dx,
                             int32_t n, int32_t c, int32_t h, int32_t w, int32_t kh, int32_t kw,
                             int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                             int32_t pad_bottom, int32_t pad_right, int32_t count_include_pad)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w, kw, stride_w, pad_left, pad_right);
    for (size_t i = 0; i < (size_t)n * c * h * w; ++i) {
        dx[i] = 0.0f;
    }
    for (int32_t p = 0; p < n * c; ++p) {
        float *dxp = dx + (size_t)p * h * w;
        const float *dyp = dy + (size_t)p * oh_n * ow_n;
        for (int32_t oy = 0; oy < oh_n; ++oy) {
            int32_t y0, y1;
            window(oy, stride_h, pad_top, kh, h, &y0, &y1);
            for (int32_t ox = 0; ox < ow_n; ++ox) {
                int32_t x0, x1;
                window(ox, stride_w, pad_left, kw, w, &x0, &x1);
                const float g = dyp[(size_t)oy * ow_n + ox] / avg_count(y0, y1, x0, x1, kh, kw, count_include_pad);
                for (int32_t iy = y0; iy < y1; ++iy) {
                    for (int32_t ix = x0; ix < x1; ++ix) {
                        dxp[(size_t)iy * w + ix] += g;
                    }
                }
            }
        }
    }
}

void odtc_global_avgpool_f32(const float *x, float *y, int32_t n, int32_t c, int32_t hw)
{
    for (int32_t p = 0; p < n * c; ++p) {
        const float *plane = x + (size_t)p * hw;
        float acc = 0.0f;
        for (int32_t i = 0; i < hw; ++i) {
            acc += plane[i];
        }
        y[p] = acc / (float)hw;
    }
}

void odtc_global_avgpool_f32_grad(const float *dy, float *dx, int32_t n, int32_t c, int32_t hw)
{
    for (int32_t p = 0; p < n * c; ++p) {
        const float g = dy[p] / (float)hw;
        float *plane = dx + (size_t)p * hw;
        for (int32_t i = 0; i < hw; ++i) {
            plane[i] = g;
        }
    }
}
