/* Quantized conv2d (8-bit activations, int8 weights, int32 accumulation) and the
 * int32-accumulating backward primitives of quantized training.
 *
 * Portable path (any core), bit-exact with reference.qconv2d: for each output position the
 * input patch is widened once to offset int16 values (x - zx, padding = 0, i.e. real zero)
 * in the caller's scratch and reused by every output channel of the group, two channels
 * per pass (odtc_dot2_s16_s8). Per-channel Q31 multipliers are formed once per call, in
 * float exactly as the reference (M[c] = f32(f32(sx * sw[c]) / sy)), then the accumulator
 * is requantized with gemmlowp rounding, offset by zy and clamped to the activation range.
 *
 * Arm DSP path (__ARM_FEATURE_DSP, or ODTC_EMULATE_DSP on a host): the forward conv and
 * the stride-1 grad_input run on the pair-row band engine below, grad_weight (stride_w 1)
 * on widened rows with a 2-channel x 3-tap tile; see the comments at each. Both paths give
 * identical results (exact int32 arithmetic); the DSP code falls back to the portable path
 * for the shapes it does not cover (documented at each entry point). */
#define ODTC_KERNEL_IMPL /* the DSP primitives of odtc_kernels.h */
#include "odtc_kernels.h"

static int32_t max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

/* One im2col patch in OIHW weight order (i, ky, kx) as offset int16 values (x - zx),
 * padding 0. Bytes are read unsigned; flip = 0x80 turns uint8 storage into the int8 value
 * x - 128 (with zx_adj = zx - 128), flip = 0 keeps int8 storage (zx_adj = zx). */
static void im2col(const uint8_t *xg, uint32_t flip, int32_t zx_adj, int16_t *patch,
                   int32_t ci, int32_t h, int32_t w_, int32_t kh, int32_t kw, int32_t iy0, int32_t ix0)
{
    const int32_t kx_lo = min_i32(max_i32(0, -ix0), kw);
    const int32_t kx_hi = max_i32(min_i32(kw, w_ - ix0), kx_lo);
    int16_t *pp = patch;
    for (int32_t i = 0; i < ci; ++i) {
        for (int32_t ky = 0; ky < kh; ++ky, pp += kw) {
            const int32_t iy = iy0 + ky;
            if (iy < 0 || iy >= h || kx_hi == kx_lo) {
                for (int32_t kx = 0; kx < kw; ++kx) {
                    pp[kx] = 0;
                }
                continue;
            }
            const uint8_t *row = xg + ((size_t)i * h + iy) * w_ + (size_t)(ix0 + kx_lo);
            int32_t kx = 0;
            for (; kx < kx_lo; ++kx) {
                pp[kx] = 0;
            }
            for (; kx < kx_hi; ++kx) {
                pp[kx] = (int16_t)((int8_t)(row[kx - kx_lo] ^ flip) - zx_adj);
            }
            for (; kx < kw; ++kx) {
                pp[kx] = 0;
            }
        }
    }
}

static void requantize_store(void *y, int32_t is_u8, size_t yi, int32_t acc, int32_t mult, int32_t shift,
                             int32_t zy, int32_t lo, int32_t hi)
{
    int64_t v = (int64_t)odtc_multiply_by_quantized_multiplier(acc, mult, shift) + zy;
    v = v < lo ? lo : (v > hi ? hi : v);
    if (is_u8) {
        ((uint8_t *)y)[yi] = (uint8_t)v;
    } else {
        ((int8_t *)y)[yi] = (int8_t)v;
    }
}

#if defined(ODTC_DSP)
/* ---- Arm DSP path: the pair-row band engine --------------------------------------------
 *
 * Forward conv and the stride-1 grad_input are both correlations of 8-bit source planes
 * with int16 weights. Their reduction rows q = plane * kh + ky (plane = input channel for
 * the forward, output channel for grad_input) are taken two at a time: pair row j = rows
 * 2j and 2j+1 (the second absent when planes * kh is odd). For one output row the *band*
 * holds, per pair row and source column, the word (xa - z, xb - z) of the two source rows
 * (0 for padding) -- packed once with SXTAB16 and read by every output channel -- and the
 * packed weights hold per output channel the word (wa, wb) of the same two rows per tap kx.
 * Then acc[oc][ox] = sum over j, kx of SMLAD(band[j][ox * sw + kx], wpk[oc][j][kx]): a pure
 * dot product with the zero-points already applied (no im2col, no unpacking, no per-element
 * offsets), 2 channels x 2 columns per pass (1 channel x 4 columns when a group has one
 * output channel). Exact int32 arithmetic: identical to the portable path.
 *
 * Layouts (32-bit words, in the workspace): band[j * bw + col] (for kw == 1
 * band[col * nrp + j], so that a column's pair rows are adjacent); weights of a channel
 * pair wpk[(j * kw + kx) * 2 + {0, 1}], of a lone channel wpk[j * kw + kx]; a row buffer of
 * 2 * tw accumulators. plan_engine sizes a block of channels' weights and a band of tw
 * output columns to the workspace. The inner loops of the common shapes (3x3 stride 1,
 * 1x1) are inline assembly on Arm (LDM/LDRD + SMLAD, every register explicit); with
 * ODTC_EMULATE_DSP the same loops run as C (tile_* below), checked against the portable
 * path by the tests, and the real cores are checked against the host under QEMU. */

typedef struct {
    const uint8_t *src; /* first source plane of the group (int8 or uint8 storage) */
    size_t plane;       /* elements between source planes */
    int32_t src_h, src_w;
    int32_t planes; /* source planes in the reduction */
    int32_t kh, kw, sh, sw, pt, pl;
    int32_t is_u8; /* source storage uint8 (else int8) */
    int32_t z;     /* source zero-point */
    int32_t out_h, out_w;
    int32_t nrp;        /* pair rows */
    int32_t tw, bw;     /* output columns per band, band columns (tw - 1) * sw + kw */
    int32_t transposed; /* band[col * nrp + j] (kw == 1) */
    uint32_t *band;
    int32_t *rowbuf; /* 2 * tw accumulators (forward) */
    int32_t *rowoff, *rowky; /* 2 * nrp entries each (band_tables) */
    const uint8_t **rowptr;  /* 2 * nrp source row pointers of the current band */
    uint8_t *zrow;           /* bw bytes equal to the zero-point (padding rows), or NULL */
} band_engine;

static int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* d[i * stride] = 0 for i < n: usually one or two words at a padding edge, which GCC would
 * otherwise turn into a memset call (the value is hidden from it). */
static ODTC_ALWAYS_INLINE void zero_words(uint32_t *d, int32_t n, int32_t stride)
{
    uint32_t zero = 0;
#if defined(__GNUC__)
    __asm__("" : "+r"(zero));
#endif
    for (int32_t i = 0; i < n; ++i) {
        d[i * stride] = zero;
    }
}

/* Four source columns of two rows to four band words: bytes (a0..a3), (b0..b3) ->
 * (a0 - z, b0 - z), ..., (a3 - z, b3 - z); nz = (-z, -z). */
static ODTC_ALWAYS_INLINE void pack4(const uint8_t *ra, const uint8_t *rb, uint32_t nz, int32_t is_u8, uint32_t *d,
                                     int32_t cs)
{
    const uint32_t a = dsp_load32(ra);
    const uint32_t b = dsp_load32(rb);
    const uint32_t t = dsp_pack_lo(a, b); /* bytes a0 a1 b0 b1 */
    const uint32_t u = dsp_pack_hi(a, b); /* bytes a2 a3 b2 b3 */
    if (is_u8) {
        d[0] = dsp_uxtab16(nz, t);
        d[cs] = dsp_uxtab16_ror8(nz, t);
        d[2 * cs] = dsp_uxtab16(nz, u);
        d[3 * cs] = dsp_uxtab16_ror8(nz, u);
    } else {
        d[0] = dsp_sxtab16(nz, t);
        d[cs] = dsp_sxtab16_ror8(nz, t);
        d[2 * cs] = dsp_sxtab16(nz, u);
        d[3 * cs] = dsp_sxtab16_ror8(nz, u);
    }
}

/* One pair row: n4 groups of four columns from source rows ra, rb (both present). */
static ODTC_ALWAYS_INLINE void pack_run(const uint8_t *ra, const uint8_t *rb, uint32_t nz, int32_t is_u8, uint32_t *d,
                                        int32_t cs, int32_t n4)
{
    for (int32_t i = 0; i < n4; ++i, ra += 4, rb += 4, d += 4 * cs) {
        pack4(ra, rb, nz, is_u8, d, cs);
    }
}

#if defined(__ARM_FEATURE_DSP) && !defined(ODTC_EMULATE_DSP)
/* Four columns of two source rows to four band words in 11 instructions (see pack4). */
#define ODTC_PACK4_LOOP(XTAB16, DST)                                    \
    "1:\n\t"                                                         \
    "ldr r12, [%[ra]], #4\n\t"                                       \
    "ldr lr, [%[rb]], #4\n\t"                                        \
    "pkhbt r8, r12, lr, lsl #16\n\t"                                 \
    "pkhtb lr, lr, r12, asr #16\n\t"                                 \
    XTAB16 " r9, %[nz], r8, ror #8\n\t"                              \
    XTAB16 " r8, %[nz], r8\n\t"                                      \
    XTAB16 " r11, %[nz], lr, ror #8\n\t"                             \
    XTAB16 " r10, %[nz], lr\n\t"                                     \
    "stmia " DST "!, {r8, r9, r10, r11}\n\t"                          \
    "subs %[n], %[n], #1\n\t"                                        \
    "bne 1b\n\t"

/* pack_run for every pair row of a row-layout band: rp holds nrp (ra, rb) pointer pairs, rows bw4 bytes apart. */
static ODTC_NOINLINE void pack_rows_all(const uint8_t *const *rp, int32_t nrp, uint32_t *d, int32_t bw, uint32_t nz, int32_t is_u8,
                          int32_t n4)
{
    if (n4 <= 0 || nrp <= 0) {
        return;
    }
    const int32_t bw4 = bw * 4;
    uint32_t jn = (uint32_t)nrp;
    const uint8_t *ra, *rb;
    uint32_t *dd;
    uint32_t n;
#define ODTC_PACK_ROWS_ALL(XTAB16)                                                    \
    "0:\n\t"                                                                          \
    "ldrd %[ra], %[rb], [%[rp]], #8\n\t"                                              \
    "mov %[dd], %[d]\n\t"                                                             \
    "ldr %[n], %[n4]\n\t" ODTC_PACK4_LOOP(XTAB16, "%[dd]") "ldr r12, %[bw4]\n\t"               \
    "add %[d], %[d], r12\n\t"                                                         \
    "subs %[jn], %[jn], #1\n\t"                                                       \
    "bne 0b\n\t"
    if (is_u8) {
        __asm__ __volatile__(ODTC_PACK_ROWS_ALL("uxtab16")
                             : [rp] "+r"(rp), [d] "+r"(d), [jn] "+r"(jn), [ra] "=&r"(ra), [rb] "=&r"(rb),
                               [dd] "=&r"(dd), [n] "=&r"(n)
                             : [nz] "r"(nz), [n4] "m"(n4), [bw4] "m"(bw4)
                             : "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
    } else {
        __asm__ __volatile__(ODTC_PACK_ROWS_ALL("sxtab16")
                             : [rp] "+r"(rp), [d] "+r"(d), [jn] "+r"(jn), [ra] "=&r"(ra), [rb] "=&r"(rb),
                               [dd] "=&r"(dd), [n] "=&r"(n)
                             : [nz] "r"(nz), [n4] "m"(n4), [bw4] "m"(bw4)
                             : "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
    }
#undef ODTC_PACK_ROWS_ALL
}
#else
static void pack_rows_all(const uint8_t *const *rp, int32_t nrp, uint32_t *d, int32_t bw, uint32_t nz, int32_t is_u8,
                          int32_t n4)
{
    for (int32_t j = 0; j < nrp; ++j, rp += 2, d += bw) {
        if (is_u8) {
            pack_run(rp[0], rp[1], nz, 1, d, 1, n4);
        } else {
            pack_run(rp[0], rp[1], nz, 0, d, 1, n4);
        }
    }
}

#endif

/* Columns [c, c_hi) of a pair row one by one; a NULL row contributes 0 lanes. */
static ODTC_NOINLINE void pack_tail(const uint8_t *ra, const uint8_t *rb, int32_t z, int32_t is_u8, uint32_t *d, int32_t cs,
                      int32_t n)
{
    for (int32_t c = 0; c < n; ++c) {
        int32_t va = 0, vb = 0;
        if (ra != NULL) {
            va = (is_u8 ? (int32_t)ra[c] : (int32_t)(int8_t)ra[c]) - z;
        }
        if (rb != NULL) {
            vb = (is_u8 ? (int32_t)rb[c] : (int32_t)(int8_t)rb[c]) - z;
        }
        d[c * cs] = ((uint32_t)va & 0xFFFFu) | ((uint32_t)vb << 16);
    }
}

/* Row tables of the reduction rows q < 2 nrp: rowoff[q] = plane * plane_stride + ky * src_w
 * and rowky[q] = ky, or rowky[q] = -1 for the absent row (q = planes * kh). */
static void band_tables(band_engine *g)
{
    const int32_t rows = g->planes * g->kh;
    for (int32_t q = 0; q < 2 * g->nrp; ++q) {
        const int32_t plane = q / g->kh, ky = q % g->kh;
        g->rowoff[q] = (int32_t)((size_t)plane * g->plane + (size_t)ky * g->src_w);
        g->rowky[q] = q < rows ? ky : -1;
    }
}

/* The band of output row oy, output columns [t0, t0 + nt): row layout (kw > 1). Rows in
 * the padding (and the absent row) read the zero row -- bytes equal to the zero-point, so
 * that every pair row takes the same path -- unless the zero-point is not a storable byte
 * (then such pair rows are packed one column at a time). */
static ODTC_NOINLINE void band_pack_rows(const band_engine *g, int32_t oy, int32_t t0, int32_t nt)
{
    const int32_t cols = (nt - 1) * g->sw + g->kw;
    const int32_t ix0 = t0 * g->sw - g->pl; /* source column of band column 0 */
    const int32_t c_lo = clamp_i32(-ix0, 0, cols);
    const int32_t c_hi = clamp_i32(g->src_w - ix0, c_lo, cols);
    const int32_t n4 = (c_hi - c_lo) / 4;
    const int32_t rest = c_hi - c_lo - 4 * n4;
    const int32_t bw = g->bw, nrp = g->nrp;
    const int32_t iy0 = oy * g->sh - g->pt;
    /* rows with ky in [ky_lo, ky_lo + ky_n) are inside the source (unsigned compare) */
    const int32_t ky_lo = -iy0 > 0 ? -iy0 : 0;
    const uint32_t ky_n = (uint32_t)clamp_i32(g->src_h - iy0 - ky_lo, 0, INT32_MAX);
    const uint8_t *src = g->src + ((ptrdiff_t)iy0 * g->src_w + ix0 + c_lo);
    const uint8_t **rp = g->rowptr;
    const int32_t rows = g->planes * g->kh;
    int32_t missing = 0;
    if (ky_lo == 0 && ky_n >= (uint32_t)g->kh) { /* every row inside */
        for (int32_t q = 0; q < rows; ++q) {
            rp[q] = src + g->rowoff[q];
        }
    } else {
        for (int32_t q = 0; q < rows; ++q) {
            if ((uint32_t)(g->rowky[q] - ky_lo) < ky_n) {
                rp[q] = src + g->rowoff[q];
            } else {
                rp[q] = g->zrow;
                missing |= g->zrow == NULL;
            }
        }
    }
    if (rows & 1) {
        rp[rows] = g->zrow;
        missing |= g->zrow == NULL;
    }
    uint32_t *band = g->band + c_lo;
    if (!missing) {
        pack_rows_all(rp, nrp, band, bw, dsp_splat16(-g->z), g->is_u8, n4);
        if (rest != 0) {
            for (int32_t j = 0; j < nrp; ++j) {
                pack_tail(rp[2 * j] + 4 * n4, rp[2 * j + 1] + 4 * n4, g->z, g->is_u8, band + (size_t)j * bw + 4 * n4,
                          1, rest);
            }
        }
    } else {
        for (int32_t j = 0; j < nrp; ++j) {
            pack_tail(rp[2 * j], rp[2 * j + 1], g->z, g->is_u8, band + (size_t)j * bw, 1, c_hi - c_lo);
        }
    }
    if (c_lo == 1 && c_hi == cols - 1) { /* the usual one padding column on each side */
        uint32_t zero = 0;
        for (int32_t j = 0; j < nrp; ++j) {
            uint32_t *d = g->band + (size_t)j * bw;
            d[0] = zero;
            d[cols - 1] = zero;
        }
    } else if (c_lo > 0 || c_hi < cols) {
        for (int32_t j = 0; j < nrp; ++j) {
            uint32_t *d = g->band + (size_t)j * bw;
            zero_words(d, c_lo, 1);
            zero_words(d + c_hi, cols - c_hi, 1);
        }
    }
}

/* The same for the transposed layout (kw == 1): band[col * nrp + j]. */
static ODTC_NOINLINE void band_pack_cols(const band_engine *g, int32_t oy, int32_t t0, int32_t nt)
{
    const int32_t cols = (nt - 1) * g->sw + g->kw;
    const int32_t ix0 = t0 * g->sw - g->pl;
    const int32_t c_lo = clamp_i32(-ix0, 0, cols);
    const int32_t c_hi = clamp_i32(g->src_w - ix0, c_lo, cols);
    const int32_t n4 = (c_hi - c_lo) / 4;
    const int32_t rest = c_hi - c_lo - 4 * n4;
    const int32_t cs = g->nrp;
    const uint32_t nz = dsp_splat16(-g->z);
    const int32_t iy0 = oy * g->sh - g->pt;
    const int32_t ky_lo = -iy0 > 0 ? -iy0 : 0;
    const uint32_t ky_n = (uint32_t)clamp_i32(g->src_h - iy0 - ky_lo, 0, INT32_MAX);
    const uint8_t *src = g->src + ((ptrdiff_t)iy0 * g->src_w + ix0 + c_lo);
    const int32_t is_u8 = g->is_u8, z = g->z;
    for (int32_t j = 0; j < g->nrp; ++j) {
        uint32_t *d = g->band + j;
        const uint8_t *ra = (uint32_t)(g->rowky[2 * j] - ky_lo) < ky_n ? src + g->rowoff[2 * j] : NULL;
        const uint8_t *rb = (uint32_t)(g->rowky[2 * j + 1] - ky_lo) < ky_n ? src + g->rowoff[2 * j + 1] : NULL;
        zero_words(d, c_lo, cs);
        zero_words(d + c_hi * cs, cols - c_hi, cs);
        d += c_lo * cs;
        if (ra != NULL && rb != NULL) {
            if (is_u8) {
                pack_run(ra, rb, nz, 1, d, cs, n4);
            } else {
                pack_run(ra, rb, nz, 0, d, cs, n4);
            }
            if (rest != 0) {
                pack_tail(ra + 4 * n4, rb + 4 * n4, z, is_u8, d + 4 * n4 * cs, cs, rest);
            }
        } else {
            pack_tail(ra, rb, z, is_u8, d, cs, c_hi - c_lo);
        }
    }
}

/* ---- tiles: acc[0..1] channel 0 at columns t, t+1; acc[2..3] channel 1 ---------------- */

#if defined(__ARM_FEATURE_DSP) && !defined(ODTC_EMULATE_DSP)
/* One pair row of a 3x3 stride-1 2x2 tile: x0..x3 in r8-r11, weights through r12/lr. */
#define ODTC_K3S1_PAIR_ROW                            \
    "ldm %[b], {r8, r9, r10, r11}\n\t"                \
    "add %[b], %[b], %[bw4]\n\t"                      \
    "ldrd r12, lr, [%[wp]], #8\n\t"                   \
    "smlad %[a0], r8, r12, %[a0]\n\t"                 \
    "smlad %[a1], r9, r12, %[a1]\n\t"                 \
    "smlad %[a2], r8, lr, %[a2]\n\t"                  \
    "smlad %[a3], r9, lr, %[a3]\n\t"                  \
    "ldrd r12, lr, [%[wp]], #8\n\t"                   \
    "smlad %[a0], r9, r12, %[a0]\n\t"                 \
    "smlad %[a1], r10, r12, %[a1]\n\t"                \
    "smlad %[a2], r9, lr, %[a2]\n\t"                  \
    "smlad %[a3], r10, lr, %[a3]\n\t"                 \
    "ldrd r12, lr, [%[wp]], #8\n\t"                   \
    "smlad %[a0], r10, r12, %[a0]\n\t"                \
    "smlad %[a1], r11, r12, %[a1]\n\t"                \
    "smlad %[a2], r10, lr, %[a2]\n\t"                 \
    "smlad %[a3], r11, lr, %[a3]\n\t"

/* 2 channels x 2 columns for np column pairs (band columns 2t.., t < np): sums start at
 * (i0, i0, i1, i1) and go to d0[2t], d0[2t + 1] (channel 0) and d1 = d0 + dstride[..]. */
static ODTC_NOINLINE void row22_k3s1(const uint32_t *band, int32_t bw, const uint32_t *wpk, int32_t nrp, int32_t np, int32_t i0,
                       int32_t i1, int32_t *d0, int32_t *d1)
{
    if (np <= 0) {
        return;
    }
    const uint32_t bw4 = (uint32_t)bw * 4u;
    const uint32_t *bnext = band;
    int32_t *dptr = d0;
    const int32_t dstride = (int32_t)((d1 - d0) * 4);
    int32_t count = np;
    int32_t a0, a1, a2, a3;
    const uint32_t *b, *wp;
    uint32_t n;
    __asm__ __volatile__("0:\n\t"
            "ldr %[a0], %[i0]\n\t"
            "mov %[a1], %[a0]\n\t"
            "ldr %[a2], %[i1]\n\t"
            "mov %[a3], %[a2]\n\t"
            "ldr %[b], %[bn]\n\t"
            "add r12, %[b], #8\n\t"
            "str r12, %[bn]\n\t"
            "ldr %[wp], %[wb]\n\t"
            "ldr %[n], %[nr]\n\t"
            "lsrs %[n], %[n], #1\n\t" /* nrp & 1 */
            "bcc 1f\n\t" ODTC_K3S1_PAIR_ROW
            "1:\n\t"
            "lsrs %[n], %[n], #1\n\t" /* nrp & 2 */
            "bcc 2f\n\t" ODTC_K3S1_PAIR_ROW ODTC_K3S1_PAIR_ROW
            "2:\n\t"
            "cmp %[n], #0\n\t"
            "beq 3f\n\t"
            "4:\n\t" ODTC_K3S1_PAIR_ROW ODTC_K3S1_PAIR_ROW ODTC_K3S1_PAIR_ROW ODTC_K3S1_PAIR_ROW
            "subs %[n], %[n], #1\n\t"
            "bne 4b\n\t"
            "3:\n\t"
            "ldr r12, %[dp]\n\t"
            "ldr lr, %[ds]\n\t"
            "strd %[a0], %[a1], [r12]\n\t"
            "add lr, lr, r12\n\t"
            "strd %[a2], %[a3], [lr]\n\t"
            "add r12, r12, #8\n\t"
            "str r12, %[dp]\n\t"
            "ldr r12, %[cnt]\n\t"
            "subs r12, r12, #1\n\t"
            "str r12, %[cnt]\n\t"
            "bne 0b\n\t"
            : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b] "=&r"(b), [wp] "=&r"(wp),
              [n] "=&r"(n), [bn] "+m"(bnext), [dp] "+m"(dptr), [cnt] "+m"(count)
            : [bw4] "r"(bw4), [i0] "m"(i0), [i1] "m"(i1), [wb] "m"(wpk), [nr] "m"(nrp), [ds] "m"(dstride)
            : "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
}

/* Two pair rows of a 1x1 2x2 tile (transposed band: b0, b1 walk the two columns). */
#define ODTC_K1_TWO_PAIR_ROWS                         \
    "ldrd r8, r9, [%[b0]], #8\n\t"                    \
    "ldrd r10, r11, [%[b1]], #8\n\t"                  \
    "ldrd r12, lr, [%[wp]], #8\n\t"                   \
    "smlad %[a0], r8, r12, %[a0]\n\t"                 \
    "smlad %[a1], r10, r12, %[a1]\n\t"                \
    "smlad %[a2], r8, lr, %[a2]\n\t"                  \
    "smlad %[a3], r10, lr, %[a3]\n\t"                 \
    "ldrd r12, lr, [%[wp]], #8\n\t"                   \
    "smlad %[a0], r9, r12, %[a0]\n\t"                 \
    "smlad %[a1], r11, r12, %[a1]\n\t"                \
    "smlad %[a2], r9, lr, %[a2]\n\t"                  \
    "smlad %[a3], r11, lr, %[a3]\n\t"

/* 1x1: 2 channels x 2 columns for np column pairs of a transposed band (column c at
 * band + c * nrp); nrp must be a multiple of 4. Output as row22_k3s1. */
static ODTC_NOINLINE void row22_k1(const uint32_t *band, int32_t sw, const uint32_t *wpk, int32_t nrp, int32_t np, int32_t i0,
                     int32_t i1, int32_t *d0, int32_t *d1)
{
    if (np <= 0) {
        return;
    }
    const uint32_t *bnext = band;
    const int32_t bstep = 8 * sw * nrp, b1off = 4 * sw * nrp, n4 = nrp / 4;
    int32_t *dptr = d0;
    const int32_t dstride = (int32_t)((d1 - d0) * 4);
    int32_t count = np;
    int32_t a0, a1, a2, a3;
    const uint32_t *b0, *b1, *wp;
    uint32_t n;
    __asm__ __volatile__("0:\n\t"
            "ldr %[a0], %[i0]\n\t"
            "mov %[a1], %[a0]\n\t"
            "ldr %[a2], %[i1]\n\t"
            "mov %[a3], %[a2]\n\t"
            "ldr %[b0], %[bn]\n\t"
            "ldr r12, %[bs]\n\t"
            "add r12, %[b0], r12\n\t"
            "str r12, %[bn]\n\t"
            "ldr %[b1], %[bo]\n\t"
            "add %[b1], %[b0], %[b1]\n\t"
            "ldr %[wp], %[wb]\n\t"
            "ldr %[n], %[nq]\n\t"
            "2:\n\t" ODTC_K1_TWO_PAIR_ROWS ODTC_K1_TWO_PAIR_ROWS
            "subs %[n], %[n], #1\n\t"
            "bne 2b\n\t"
            "ldr r12, %[dp]\n\t"
            "ldr lr, %[ds]\n\t"
            "strd %[a0], %[a1], [r12]\n\t"
            "add lr, lr, r12\n\t"
            "strd %[a2], %[a3], [lr]\n\t"
            "add r12, r12, #8\n\t"
            "str r12, %[dp]\n\t"
            "ldr r12, %[cnt]\n\t"
            "subs r12, r12, #1\n\t"
            "str r12, %[cnt]\n\t"
            "bne 0b\n\t"
            : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1),
              [wp] "=&r"(wp), [n] "=&r"(n), [bn] "+m"(bnext), [dp] "+m"(dptr), [cnt] "+m"(count)
            : [i0] "m"(i0), [i1] "m"(i1), [bs] "m"(bstep), [bo] "m"(b1off), [wb] "m"(wpk), [nq] "m"(n4),
              [ds] "m"(dstride)
            : "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
}

/* 1 channel x 4 columns (3x3 stride 1) for nq column quads (band columns 4t..): sums start at
 * i0 and go to d[4t..4t+3]. x0..x3 in r8-r11; x4 and x5 reuse r8 and r9. */
static ODTC_NOINLINE void row14_k3s1(const uint32_t *band, int32_t bw, const uint32_t *wpk, int32_t nrp, int32_t nq,
                                     int32_t i0, int32_t *d)
{
    if (nq <= 0) {
        return;
    }
    const uint32_t bw4 = (uint32_t)bw * 4u;
    const uint32_t *bnext = band;
    int32_t *dptr = d;
    int32_t count = nq;
    int32_t a0, a1, a2, a3;
    const uint32_t *b, *wp;
    uint32_t n;
    __asm__ __volatile__("0:\n\t"
                         "ldr %[a0], %[i0]\n\t"
                         "mov %[a1], %[a0]\n\t"
                         "mov %[a2], %[a0]\n\t"
                         "mov %[a3], %[a0]\n\t"
                         "ldr %[b], %[bn]\n\t"
                         "add r12, %[b], #16\n\t"
                         "str r12, %[bn]\n\t"
                         "ldr %[wp], %[wb]\n\t"
                         "ldr %[n], %[nr]\n\t"
                         "1:\n\t"
                         "ldm %[b], {r8, r9, r10, r11}\n\t"
                         "ldr r12, [%[wp]], #4\n\t"
                         "smlad %[a0], r8, r12, %[a0]\n\t"
                         "smlad %[a1], r9, r12, %[a1]\n\t"
                         "smlad %[a2], r10, r12, %[a2]\n\t"
                         "smlad %[a3], r11, r12, %[a3]\n\t"
                         "ldr r8, [%[b], #16]\n\t"
                         "ldr r12, [%[wp]], #4\n\t"
                         "smlad %[a0], r9, r12, %[a0]\n\t"
                         "smlad %[a1], r10, r12, %[a1]\n\t"
                         "smlad %[a2], r11, r12, %[a2]\n\t"
                         "smlad %[a3], r8, r12, %[a3]\n\t"
                         "ldr r9, [%[b], #20]\n\t"
                         "ldr r12, [%[wp]], #4\n\t"
                         "smlad %[a0], r10, r12, %[a0]\n\t"
                         "smlad %[a1], r11, r12, %[a1]\n\t"
                         "smlad %[a2], r8, r12, %[a2]\n\t"
                         "smlad %[a3], r9, r12, %[a3]\n\t"
                         "add %[b], %[b], %[bw4]\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b\n\t"
                         "ldr r12, %[dp]\n\t"
                         "strd %[a0], %[a1], [r12]\n\t"
                         "strd %[a2], %[a3], [r12, #8]\n\t"
                         "add r12, r12, #16\n\t"
                         "str r12, %[dp]\n\t"
                         "ldr r12, %[cnt]\n\t"
                         "subs r12, r12, #1\n\t"
                         "str r12, %[cnt]\n\t"
                         "bne 0b\n\t"
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b] "=&r"(b),
                           [wp] "=&r"(wp), [n] "=&r"(n), [bn] "+m"(bnext), [dp] "+m"(dptr), [cnt] "+m"(count)
                         : [bw4] "r"(bw4), [i0] "m"(i0), [wb] "m"(wpk), [nr] "m"(nrp)
                         : "r8", "r9", "r10", "r11", "r12", "cc", "memory");
}
#else
/* C models of the assembly tiles (same sums in the same order). */
static void row22_k3s1(const uint32_t *band, int32_t bw, const uint32_t *wpk, int32_t nrp, int32_t np, int32_t i0,
                       int32_t i1, int32_t *d0, int32_t *d1)
{
    for (int32_t t = 0; t < np; ++t) {
        int32_t a0 = i0, a1 = i0, a2 = i1, a3 = i1;
        const uint32_t *b = band + 2 * t, *wp = wpk;
        for (int32_t j = 0; j < nrp; ++j, b += bw, wp += 6) {
            for (int32_t kx = 0; kx < 3; ++kx) {
                a0 = dsp_smlad(b[kx], wp[2 * kx], a0);
                a1 = dsp_smlad(b[kx + 1], wp[2 * kx], a1);
                a2 = dsp_smlad(b[kx], wp[2 * kx + 1], a2);
                a3 = dsp_smlad(b[kx + 1], wp[2 * kx + 1], a3);
            }
        }
        d0[2 * t] = a0;
        d0[2 * t + 1] = a1;
        d1[2 * t] = a2;
        d1[2 * t + 1] = a3;
    }
}

static void row22_k1(const uint32_t *band, int32_t sw, const uint32_t *wpk, int32_t nrp, int32_t np, int32_t i0,
                     int32_t i1, int32_t *d0, int32_t *d1)
{
    for (int32_t t = 0; t < np; ++t) {
        const uint32_t *b0 = band + (size_t)2 * t * sw * nrp, *b1 = b0 + (size_t)sw * nrp, *wp = wpk;
        int32_t a0 = i0, a1 = i0, a2 = i1, a3 = i1;
        for (int32_t j = 0; j < nrp; ++j, wp += 2) {
            a0 = dsp_smlad(b0[j], wp[0], a0);
            a1 = dsp_smlad(b1[j], wp[0], a1);
            a2 = dsp_smlad(b0[j], wp[1], a2);
            a3 = dsp_smlad(b1[j], wp[1], a3);
        }
        d0[2 * t] = a0;
        d0[2 * t + 1] = a1;
        d1[2 * t] = a2;
        d1[2 * t + 1] = a3;
    }
}

static void row14_k3s1(const uint32_t *band, int32_t bw, const uint32_t *wpk, int32_t nrp, int32_t nq, int32_t i0,
                       int32_t *d)
{
    for (int32_t t = 0; t < nq; ++t, d += 4) {
        const uint32_t *b = band + 4 * t, *wp = wpk;
        int32_t acc[4] = {i0, i0, i0, i0};
        for (int32_t j = 0; j < nrp; ++j, b += bw, wp += 3) {
            for (int32_t kx = 0; kx < 3; ++kx) {
                for (int32_t p = 0; p < 4; ++p) {
                    acc[p] = dsp_smlad(b[p + kx], wp[kx], acc[p]);
                }
            }
        }
        for (int32_t p = 0; p < 4; ++p) {
            d[p] = acc[p];
        }
    }
}
#endif

/* Any kw and stride; np = 1 or 2 columns. */
static void tile2x_gen(const band_engine *g, const uint32_t *b, const uint32_t *wp, int32_t np, int32_t *acc)
{
    const int32_t js = g->transposed ? 1 : g->bw;
    const int32_t cs = g->transposed ? g->nrp : 1;
    const int32_t step = g->sw * cs;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t j = 0; j < g->nrp; ++j) {
        const uint32_t *bj = b + (size_t)j * js;
        for (int32_t kx = 0; kx < g->kw; ++kx, wp += 2) {
            const uint32_t x0 = bj[kx * cs];
            const uint32_t x1 = np > 1 ? bj[kx * cs + step] : 0u;
            a0 = dsp_smlad(x0, wp[0], a0);
            a1 = dsp_smlad(x1, wp[0], a1);
            a2 = dsp_smlad(x0, wp[1], a2);
            a3 = dsp_smlad(x1, wp[1], a3);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* 1 channel x 1 column, any kw and stride. */
static int32_t tile11_gen(const band_engine *g, const uint32_t *b, const uint32_t *wp, int32_t acc)
{
    const int32_t js = g->transposed ? 1 : g->bw;
    const int32_t cs = g->transposed ? g->nrp : 1;
    for (int32_t j = 0; j < g->nrp; ++j) {
        const uint32_t *bj = b + (size_t)j * js;
        for (int32_t kx = 0; kx < g->kw; ++kx) {
            acc = dsp_smlad(bj[kx * cs], *wp++, acc);
        }
    }
    return acc;
}

/* Sizes for `og` output channels in `words` words of workspace: the row tables
 * (4 nrp words), a block of packed weights (nrp * kw words per channel) and a band of tw
 * output columns with its row buffer. Among the even block sizes (or 1 when og == 1), the
 * one that packs the fewest band words per output row (blocks x tiles x band width), tw
 * even unless it covers the row. Returns the block size, 0 if nothing fits. */
static int32_t plan_engine(band_engine *g, int32_t og, size_t words)
{
    const size_t nrp = (size_t)g->nrp, sw = (size_t)g->sw, kw = (size_t)g->kw;
    const size_t chan = nrp * kw;
    const size_t per_col = nrp * sw + 2u;
    const size_t ptr_words = 2u * nrp * sizeof(const uint8_t *) / 4u + 1u; /* + alignment */
    const size_t fixed = 4u * nrp + ptr_words + nrp * (kw > sw ? kw - sw : 0u) + (size_t)g->out_w * sw / 4u + kw + 2u;
    const size_t ow = (size_t)g->out_w;
    size_t best_block = 0, best_tw = 0, best_cost = 0;
    for (size_t block = og == 1 ? 1u : (size_t)(og + 1) / 2u * 2u; block >= 1; block = block > 2 ? block - 2 : 0) {
        if (block * chan + fixed + per_col > words) {
            continue;
        }
        size_t tw = (words - block * chan - fixed) / per_col;
        if (tw >= ow) {
            tw = ow;
        } else if (tw > 1) {
            tw &= ~(size_t)1;
        }
        const size_t blocks = ((size_t)og + block - 1) / block;
        const size_t tiles = (ow + tw - 1) / tw;
        const size_t cost = blocks * tiles * (nrp * ((tw - 1) * sw + kw) + 8u * nrp) + (tw & 1u) * ow * chan;
        if (best_block == 0 || cost < best_cost) {
            best_block = block;
            best_tw = tw;
            best_cost = cost;
        }
    }
    if (best_block == 0) {
        return 0;
    }
    g->tw = (int32_t)best_tw;
    g->bw = (int32_t)((best_tw - 1u) * sw + kw);
    g->transposed = g->kw == 1;
    return (int32_t)best_block;
}

/* Carves the workspace planned by plan_engine: row tables, weights, row buffer, band. */
static uint32_t *carve_engine(band_engine *g, uint32_t *ws, int32_t block)
{
    g->rowoff = (int32_t *)ws;
    g->rowky = g->rowoff + 2 * g->nrp;
    uintptr_t p = (uintptr_t)(g->rowky + 2 * g->nrp);
    p = (p + sizeof(const uint8_t *) - 1u) & ~(uintptr_t)(sizeof(const uint8_t *) - 1u);
    g->rowptr = (const uint8_t **)p;
    uint32_t *zw = (uint32_t *)(void *)(g->rowptr + 2 * g->nrp);
    const size_t zwords = ((size_t)g->bw + 3u) / 4u + 1u;
    const int32_t zmin = g->is_u8 ? 0 : -128;
    g->zrow = NULL;
    if (g->z >= zmin && g->z <= zmin + 255) {
        g->zrow = (uint8_t *)zw;
        memset(g->zrow, (uint8_t)g->z, zwords * 4u);
    }
    uint32_t *wpk = zw + zwords;
    g->rowbuf = (int32_t *)(wpk + (size_t)block * g->nrp * g->kw);
    g->band = (uint32_t *)(g->rowbuf + 2 * g->tw);
    return wpk;
}

/* Where a tile's sums go: requantized to 8 bits (forward) or stored as int32. */
typedef struct {
    int32_t quant;       /* 1: forward (int8/uint8 y), 0: int32 acc */
    void *out;           /* output of this (n, group): its first channel */
    size_t ch_stride;    /* elements between output channels */
    int32_t out_w;       /* elements per output row */
    int32_t is_u8;
    const int32_t *mult; /* per group channel */
    const int32_t *shift;
    int32_t zy, lo, hi;
    int32_t *qp; /* per group channel: the fast requantization's m, rounding constant, e (0: general form) */
} tile_out;

/* Per-channel constants of emit_row for the og channels of a group (forward only). */
static void prepare_requant(tile_out *o, int32_t og)
{
    const int32_t qmax = o->is_u8 ? 255 : 127;
    for (int32_t c = 0; c < og; ++c) {
        const int32_t sh = o->shift[c];
        int32_t *q = o->qp + 3 * c;
        q[0] = o->mult[c];
        q[1] = 0;
        q[2] = 0;
        if (sh <= -1 && sh >= -20 && o->hi == qmax) {
            /* zy folded into the rounding constant: exact (a multiple of 2^e), and
             * |t| + 2^(e-1) + 255 * 2^e < 2^31 for e <= 20 */
            q[1] = (1 << (-sh - 1)) + (int32_t)((uint32_t)o->zy << -sh);
            q[2] = -sh;
        }
    }
}

#define requant_fast dsp_requant_fast /* odtc_kernels.h: exact for e >= 1, |acc| < 2^29 */

/* Requantize and store nt sums v (2 acc) of channel ch at (oy, ox0..). */
static void emit_row(const tile_out *o, int32_t ch, int32_t oy, int32_t ox0, const int32_t *v, int32_t nt)
{
    const size_t base = (size_t)ch * o->ch_stride + (size_t)oy * o->out_w + (size_t)ox0;
    const int32_t *q = o->qp + 3 * ch;
    const int32_t m = q[0], rnd = q[1], e = q[2];
    const int32_t lo = o->lo;
    if (e != 0) { /* the common case (prepare_requant); the upper bound by saturation */
        int32_t p = 0;
        if (o->is_u8) {
            uint8_t *y = (uint8_t *)o->out + base;
            for (; p + 2 <= nt; p += 2) {
                int32_t r0 = requant_fast(v[p], m, rnd, e), r1 = requant_fast(v[p + 1], m, rnd, e);
                r0 = r0 < lo ? lo : r0;
                r1 = r1 < lo ? lo : r1;
                y[p] = (uint8_t)dsp_usat8(r0);
                y[p + 1] = (uint8_t)dsp_usat8(r1);
            }
            if (p < nt) {
                const int32_t r = requant_fast(v[p], m, rnd, e);
                y[p] = (uint8_t)dsp_usat8(r < lo ? lo : r);
            }
        } else {
            int8_t *y = (int8_t *)o->out + base;
            for (; p + 2 <= nt; p += 2) {
                int32_t r0 = requant_fast(v[p], m, rnd, e), r1 = requant_fast(v[p + 1], m, rnd, e);
                r0 = r0 < lo ? lo : r0;
                r1 = r1 < lo ? lo : r1;
                y[p] = (int8_t)dsp_ssat8(r0);
                y[p + 1] = (int8_t)dsp_ssat8(r1);
            }
            if (p < nt) {
                const int32_t r = requant_fast(v[p], m, rnd, e);
                y[p] = (int8_t)dsp_ssat8(r < lo ? lo : r);
            }
        }
        return;
    }
    const int32_t sh = o->shift[ch], zy = o->zy, hi = o->hi;
    for (int32_t p = 0; p < nt; ++p) {
        int32_t r;
        if (sh <= -1) {
            r = requant_fast(v[p], m, 1 << (-sh - 1), -sh);
        } else { /* multiplier >= 1/2: the general form */
            r = odtc_multiply_by_quantized_multiplier(v[p] >> 1, m, sh);
        }
        r += zy;
        r = r < lo ? lo : (r > hi ? hi : r);
        if (o->is_u8) {
            ((uint8_t *)o->out)[base + p] = (uint8_t)r;
        } else {
            ((int8_t *)o->out)[base + p] = (int8_t)r;
        }
    }
}

/* One output row of one channel block: channel pairs (weights wpk, pair-interleaved), then
 * a lone channel (weights lone_w) if not NULL. ch0: first (group-relative) channel of the
 * block; init: per-channel initial sums. */
static void engine_row(band_engine *g, int32_t oy, const uint32_t *wpk, int32_t n_pairs, const uint32_t *lone_w,
                       int32_t ch0, const int32_t *init, const tile_out *o)
{
    const size_t pair_words = (size_t)2 * g->nrp * g->kw;
    const int32_t k3s1 = g->kw == 3 && g->sw == 1 && !g->transposed;
    const int32_t cs = g->transposed ? g->nrp : 1;
    for (int32_t t0 = 0; t0 < g->out_w; t0 += g->tw) {
        const int32_t nt = g->out_w - t0 < g->tw ? g->out_w - t0 : g->tw;
        if (g->transposed) {
            band_pack_cols(g, oy, t0, nt);
        } else {
            band_pack_rows(g, oy, t0, nt);
        }
        for (int32_t p = 0; p <= n_pairs; ++p) {
            const int32_t lone = p == n_pairs;
            if (lone && lone_w == NULL) {
                break;
            }
            const uint32_t *wp = lone ? lone_w : wpk + (size_t)p * pair_words;
            const int32_t c0 = ch0 + 2 * p;
            int32_t *d0, *d1;
            if (o->quant) {
                d0 = g->rowbuf;
                d1 = g->rowbuf + g->tw;
            } else {
                d0 = (int32_t *)o->out + (size_t)c0 * o->ch_stride + (size_t)oy * o->out_w + t0;
                d1 = d0 + o->ch_stride;
            }
            int32_t t = 0;
            if (lone) {
                if (k3s1) {
                    row14_k3s1(g->band, g->bw, wp, g->nrp, nt / 4, init[c0], d0);
                    t = nt & ~3;
                }
                for (; t < nt; ++t) {
                    d0[t] = tile11_gen(g, g->band + (size_t)t * g->sw * cs, wp, init[c0]);
                }
            } else {
                if (k3s1) {
                    row22_k3s1(g->band, g->bw, wp, g->nrp, nt / 2, init[c0], init[c0 + 1], d0, d1);
                    t = nt & ~1;
                } else if (g->transposed && (g->nrp & 3) == 0) {
                    row22_k1(g->band, g->sw, wp, g->nrp, nt / 2, init[c0], init[c0 + 1], d0, d1);
                    t = nt & ~1;
                }
                for (; t + 2 <= nt; t += 2) {
                    int32_t acc[4] = {init[c0], init[c0], init[c0 + 1], init[c0 + 1]};
                    const uint32_t *b = g->band + (size_t)t * g->sw * cs;
                    tile2x_gen(g, b, wp, 2, acc);
                    d0[t] = acc[0];
                    d0[t + 1] = acc[1];
                    d1[t] = acc[2];
                    d1[t + 1] = acc[3];
                }
                if (t < nt) {
                    int32_t acc[4] = {init[c0], 0, init[c0 + 1], 0};
                    tile2x_gen(g, g->band + (size_t)t * g->sw * cs, wp, 1, acc);
                    d0[t] = acc[0];
                    d1[t] = acc[2];
                }
            }
            if (o->quant) {
                emit_row(o, c0, oy, t0, d0, nt);
                if (!lone) {
                    emit_row(o, c0 + 1, oy, t0, d1, nt);
                }
            }
        }
    }
}
#endif /* ODTC_DSP */

#if defined(ODTC_DSP)
/* Packed weights of the forward conv for group channels [c0, c0 + nb) (absolute channel
 * of group-relative c is g * og + c): pair rows of the OIHW row of each channel, doubled
 * (see conv2d_q8_dsp), zero-points subtracted. */
static void pack_weights_fwd(const band_engine *g, const int8_t *wg, const int32_t *zwg, int32_t zw_per_channel,
                             int32_t c0, int32_t nb, uint32_t *dst)
{
    const int32_t rows = g->planes * g->kh;
    const int32_t kw = g->kw, nrp = g->nrp;
    const size_t klen = (size_t)rows * kw;
    const int32_t full = rows / 2; /* pair rows with both rows present */
    for (int32_t c = 0; c < nb; ++c) {
        const int8_t *ra = wg + (size_t)(c0 + c) * klen;
        const int32_t z = zwg[zw_per_channel ? c0 + c : 0];
        const uint32_t zz = dsp_splat16(z);
        const int32_t paired = c < nb - (nb & 1); /* the lone channel has its own layout */
        uint32_t *d = paired ? dst + (size_t)(c / 2) * 2 * nrp * kw + (c & 1) : dst + (size_t)(nb / 2) * 2 * nrp * kw;
        const int32_t step = paired ? 2 : 1;
        const int32_t n = full * kw;
        if (kw == 3) { /* rows q and q + 1 are 6 consecutive bytes */
            for (int32_t j = 0; j < full; ++j, ra += 6, d += 3 * step) {
                uint32_t v0 = dsp_ssub16(dsp_pack_lo((uint32_t)(int32_t)ra[0], (uint32_t)(int32_t)ra[3]), zz);
                uint32_t v1 = dsp_ssub16(dsp_pack_lo((uint32_t)(int32_t)ra[1], (uint32_t)(int32_t)ra[4]), zz);
                uint32_t v2 = dsp_ssub16(dsp_pack_lo((uint32_t)(int32_t)ra[2], (uint32_t)(int32_t)ra[5]), zz);
                d[0] = dsp_sadd16(v0, v0);
                d[step] = dsp_sadd16(v1, v1);
                d[2 * step] = dsp_sadd16(v2, v2);
            }
        } else if (kw == 1) { /* rows q and q + 1 are 2 consecutive bytes */
            for (int32_t j = 0; j < full; ++j, ra += 2, d += step) {
                const uint32_t v = dsp_ssub16(dsp_pack_lo((uint32_t)(int32_t)ra[0], (uint32_t)(int32_t)ra[1]), zz);
                *d = dsp_sadd16(v, v);
            }
        } else {
            for (int32_t i = 0; i < n; ++i, d += step) {
                const int8_t *r = ra + (i / kw) * 2 * kw + i % kw;
                const uint32_t v = dsp_ssub16(dsp_pack_lo((uint32_t)(int32_t)r[0], (uint32_t)(int32_t)r[kw]), zz);
                *d = dsp_sadd16(v, v);
            }
            ra += (size_t)n * 2;
        }
        if (rows & 1) { /* the last pair row has one row */
            for (int32_t kx = 0; kx < kw; ++kx, d += step) {
                *d = (uint32_t)(2 * (ra[kx] - z)) & 0xFFFFu;
            }
        }
    }
}

/* Packed weights of grad_input (stride 1) for the group's input channels [c0, c0 + nb):
 * the kernel flipped and transposed, W'[i][oc][ky][kx] = w[oc][i][kh-1-ky][kw-1-kx] - zw[oc]. */
static void pack_weights_gi(const band_engine *g, const int8_t *wg, const int32_t *zwg, int32_t zw_per_channel,
                            int32_t ci, int32_t c0, int32_t nb, uint32_t *dst)
{
    const int32_t rows = g->planes * g->kh;
    const int32_t kh = g->kh, kw = g->kw;
    const size_t tap = (size_t)kh * kw;
    for (int32_t c = 0; c < nb; ++c) {
        const int32_t paired = c < nb - (nb & 1);
        uint32_t *d = paired ? dst + (size_t)(c / 2) * 2 * g->nrp * kw + (c & 1) : dst + (size_t)(nb / 2) * 2 * g->nrp * kw;
        const int32_t step = paired ? 2 : 1;
        for (int32_t j = 0; j < g->nrp; ++j) {
            int32_t v[2][16];
            for (int32_t s = 0; s < 2; ++s) {
                const int32_t q = 2 * j + s;
                if (q >= rows) {
                    for (int32_t kx = 0; kx < kw; ++kx) {
                        v[s][kx] = 0;
                    }
                    continue;
                }
                const int32_t oc = q / kh, ky = q % kh;
                const int8_t *wr = wg + ((size_t)oc * ci + (size_t)(c0 + c)) * tap + (size_t)(kh - 1 - ky) * kw;
                const int32_t z = zwg[zw_per_channel ? oc : 0];
                for (int32_t kx = 0; kx < kw; ++kx) {
                    v[s][kx] = wr[kw - 1 - kx] - z;
                }
            }
            for (int32_t kx = 0; kx < kw; ++kx, d += step) {
                *d = ((uint32_t)v[0][kx] & 0xFFFFu) | ((uint32_t)v[1][kx] << 16);
            }
        }
    }
}

/* The forward conv on the band engine. The packed weights are 2 (w - zw), so the tiles
 * accumulate acc2 = 2 acc (the bias enters doubled), which the requantization takes
 * directly (requant_fast). Requires |acc| < 2^29 (checked from the operand ranges: any
 * realistic layer) and the doubled weights to fit int16 lanes; returns 0 (nothing done)
 * otherwise or when the workspace cannot hold even one band column. */
static int32_t conv2d_q8_dsp(const void *x, int32_t is_u8, int32_t zx, const int8_t *w, const int32_t *w_zero_point,
                             int32_t w_per_channel, const int32_t *bias, void *y, const int32_t *mult,
                             const int32_t *shift, int32_t zy, int32_t lo, int32_t hi, uint32_t *ws, size_t ws_words,
                             int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                             int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                             int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    const int64_t qmin = is_u8 ? 0 : -128, qmax = is_u8 ? 255 : 127;
    const int64_t bx = qmax - zx > zx - qmin ? qmax - zx : zx - qmin;
    int64_t bw = 0, bmax = 0;
    for (int32_t oc = 0; oc < (w_per_channel ? o : 1); ++oc) {
        const int64_t zw = w_zero_point[oc];
        const int64_t m = 127 - zw > zw + 128 ? 127 - zw : zw + 128;
        bw = m > bw ? m : bw;
    }
    for (int32_t oc = 0; bias != NULL && oc < o; ++oc) {
        const int64_t b = bias[oc] < 0 ? -(int64_t)bias[oc] : bias[oc];
        bmax = b > bmax ? b : bmax;
    }
    if (bx > 32767 || 2 * bw > 32767 || (int64_t)ci * kh * kw * bx * bw + bmax >= ((int64_t)1 << 29) || kw > 16) {
        return 0;
    }
    band_engine g;
    g.plane = (size_t)h * w_;
    g.src_h = h;
    g.src_w = w_;
    g.planes = ci;
    g.kh = kh;
    g.kw = kw;
    g.sh = stride_h;
    g.sw = stride_w;
    g.pt = pad_top;
    g.pl = pad_left;
    g.is_u8 = is_u8;
    g.z = zx;
    g.out_h = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    g.out_w = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    g.nrp = (ci * kh + 1) / 2;
    if (ws_words <= (size_t)4 * og) {
        return 0;
    }
    int32_t *init = (int32_t *)ws;
    const int32_t block = plan_engine(&g, og, ws_words - (size_t)4 * og);
    if (block == 0) {
        return 0;
    }
    uint32_t *wpk = carve_engine(&g, ws + 4 * og, block);
    tile_out to;
    to.quant = 1;
    to.ch_stride = (size_t)g.out_h * g.out_w;
    to.out_w = g.out_w;
    to.is_u8 = is_u8;
    to.zy = zy;
    to.lo = lo;
    to.hi = hi;
    to.qp = init + og;
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t gi = 0; gi < groups; ++gi) {
            g.src = (const uint8_t *)x + ((size_t)ni * c + (size_t)gi * ci) * g.plane;
            if (ni == 0 && gi == 0) {
                band_tables(&g);
            }
            to.out = (uint8_t *)y + ((size_t)ni * o + (size_t)gi * og) * to.ch_stride;
            to.mult = mult + (size_t)gi * og;
            to.shift = shift + (size_t)gi * og;
            prepare_requant(&to, og);
            for (int32_t oc = 0; oc < og; ++oc) {
                init[oc] = bias != NULL ? 2 * bias[gi * og + oc] : 0;
            }
            const int8_t *wg = w + (size_t)gi * og * ci * kh * kw;
            const int32_t *zwg = w_per_channel ? w_zero_point + (size_t)gi * og : w_zero_point;
            for (int32_t cb = 0; cb < og; cb += block) {
                const int32_t nb = og - cb < block ? og - cb : block;
                pack_weights_fwd(&g, wg, zwg, w_per_channel, cb, nb, wpk);
                const uint32_t *lone = (nb & 1) ? wpk + (size_t)(nb / 2) * 2 * g.nrp * kw : NULL;
                for (int32_t oy = 0; oy < g.out_h; ++oy) {
                    engine_row(&g, oy, wpk, nb / 2, lone, cb, init, &to);
                }
            }
        }
    }
    return 1;
}

#ifndef ODTC_DSP_STACK_BYTES
/* Stack workspace of the DSP backward kernels that take no scratch argument (band engine,
 * widened rows). Overridable when the library is compiled; results do not depend on it. */
#define ODTC_DSP_STACK_BYTES 8192
#endif

/* grad_input for stride 1 on the band engine: the correlation of the output errors
 * (padded by kh-1-pad_top rows / kw-1-pad_left columns) with the flipped, transposed
 * kernel. The int32 sums wrap like the portable ones, so any in-range result is exact. */
static int32_t conv2d_s8_grad_input_dsp(const int8_t *e, int32_t ze, const int8_t *w, const int32_t *w_zero_point,
                                        int32_t w_per_channel, int32_t *acc, int32_t n, int32_t c, int32_t h,
                                        int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                        int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                        int32_t pad_right, int32_t groups)
{
    if (stride_h != 1 || stride_w != 1 || kw > 16 || ze < -32640 || ze > 32639) {
        return 0;
    }
    for (int32_t oc = 0; oc < (w_per_channel ? o : 1); ++oc) {
        if (w_zero_point[oc] < -32640 || w_zero_point[oc] > 32639) {
            return 0;
        }
    }
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    uint32_t ws[ODTC_DSP_STACK_BYTES / 4];
    const size_t ws_words = sizeof ws / sizeof ws[0];
    band_engine g;
    g.src_h = odtc_conv_out_size(h, kh, 1, pad_top, pad_bottom);
    g.src_w = odtc_conv_out_size(w_, kw, 1, pad_left, pad_right);
    g.plane = (size_t)g.src_h * g.src_w;
    g.planes = og;
    g.kh = kh;
    g.kw = kw;
    g.sh = 1;
    g.sw = 1;
    g.pt = kh - 1 - pad_top;
    g.pl = kw - 1 - pad_left;
    g.is_u8 = 0;
    g.z = ze;
    g.out_h = h;
    g.out_w = w_;
    g.nrp = (og * kh + 1) / 2;
    if (ws_words <= (size_t)ci) {
        return 0;
    }
    int32_t *init = (int32_t *)ws;
    const int32_t block = plan_engine(&g, ci, ws_words - (size_t)ci);
    if (block == 0) {
        return 0;
    }
    for (int32_t i = 0; i < ci; ++i) {
        init[i] = 0;
    }
    uint32_t *wpk = carve_engine(&g, ws + ci, block);
    tile_out to;
    to.quant = 0;
    to.ch_stride = (size_t)h * w_;
    to.out_w = w_;
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t gi = 0; gi < groups; ++gi) {
            g.src = (const uint8_t *)(e + ((size_t)ni * o + (size_t)gi * og) * g.plane);
            if (ni == 0 && gi == 0) {
                band_tables(&g);
            }
            to.out = acc + ((size_t)ni * c + (size_t)gi * ci) * to.ch_stride;
            const int8_t *wg = w + (size_t)gi * og * ci * kh * kw;
            const int32_t *zwg = w_per_channel ? w_zero_point + (size_t)gi * og : w_zero_point;
            for (int32_t cb = 0; cb < ci; cb += block) {
                const int32_t nb = ci - cb < block ? ci - cb : block;
                pack_weights_gi(&g, wg, zwg, w_per_channel, ci, cb, nb, wpk);
                const uint32_t *lone = (nb & 1) ? wpk + (size_t)(nb / 2) * 2 * g.nrp * kw : NULL;
                for (int32_t oy = 0; oy < h; ++oy) {
                    engine_row(&g, oy, wpk, nb / 2, lone, cb, init, &to);
                }
            }
        }
    }
    return 1;
}
#endif /* ODTC_DSP */

static void conv2d_q8(const void *x, int32_t is_u8, const float *x_scale, const int32_t *x_zero_point,
                      const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                      int32_t w_per_channel, const int32_t *bias,
                      const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                      void *y, void *scratch,
                      int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                      int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                      int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    const int32_t klen = ci * kh * kw;
    int32_t *mult = (int32_t *)scratch;
    int32_t *shift = mult + o;
    int16_t *patch = (int16_t *)(shift + o);

    const float sx = *x_scale;
    const float sy = *y_scale;
    const int32_t zx = *x_zero_point;
    const int32_t zy = *y_zero_point;
    for (int32_t oc = 0; oc < o; ++oc) {
        const float sxw = sx * w_scale[w_per_channel ? oc : 0];
        odtc_quantize_multiplier(sxw / sy, &mult[oc], &shift[oc]);
    }
    int32_t lo, hi;
    odtc_activation_range(activation, sy, zy, is_u8 ? 0 : -128, is_u8 ? 255 : 127, &lo, &hi);
#if defined(ODTC_DSP)
    {
        const size_t ws_bytes = ODTC_CONV2D_Q8_SCRATCH_BYTES(c, groups, kh, kw, o) - (size_t)8u * (size_t)o;
        if (conv2d_q8_dsp(x, is_u8, zx, w, w_zero_point, w_per_channel, bias, y, mult, shift, zy, lo, hi,
                          (uint32_t *)(shift + o), ws_bytes / 4u, n, c, h, w_, o, kh, kw, stride_h, stride_w,
                          pad_top, pad_left, pad_bottom, pad_right, groups)) {
            return;
        }
    }
#endif
    const uint32_t flip = is_u8 ? 0x80u : 0u;
    const int32_t zx_adj = is_u8 ? zx - 128 : zx;

    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t g = 0; g < groups; ++g) {
            const uint8_t *xg = (const uint8_t *)x + ((size_t)ni * c + (size_t)g * ci) * h * w_;
            for (int32_t oy = 0; oy < oh_n; ++oy) {
                for (int32_t ox = 0; ox < ow_n; ++ox) {
                    im2col(xg, flip, zx_adj, patch, ci, h, w_, kh, kw, oy * stride_h - pad_top,
                           ox * stride_w - pad_left);
                    odtc_dot_layout_s16(patch, klen);
                    const size_t yi0 = (((size_t)ni * o) * oh_n + oy) * ow_n + ox;
                    const size_t ystep = (size_t)oh_n * ow_n;
                    int32_t oc = g * og;
                    for (; oc + 2 <= (g + 1) * og; oc += 2) { /* two channels per patch read */
                        int32_t acc[2];
                        odtc_dot2_s16_s8(patch, w + (size_t)oc * klen, w_zero_point[w_per_channel ? oc : 0],
                                         w + (size_t)(oc + 1) * klen, w_zero_point[w_per_channel ? oc + 1 : 0],
                                         klen, acc);
                        for (int32_t j = 0; j < 2; ++j) {
                            const int32_t a = bias != NULL ? acc[j] + bias[oc + j] : acc[j];
                            requantize_store(y, is_u8, yi0 + (size_t)(oc + j) * ystep, a, mult[oc + j],
                                             shift[oc + j], zy, lo, hi);
                        }
                    }
                    if (oc < (g + 1) * og) {
                        int32_t a = odtc_dot_s16_s8(patch, w + (size_t)oc * klen,
                                                    w_zero_point[w_per_channel ? oc : 0], klen);
                        if (bias != NULL) {
                            a += bias[oc];
                        }
                        requantize_store(y, is_u8, yi0 + (size_t)oc * ystep, a, mult[oc], shift[oc], zy, lo, hi);
                    }
                }
            }
        }
    }
}

void odtc_conv2d_s8(const int8_t *x, const float *x_scale, const int32_t *x_zero_point,
                    const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                    int32_t w_per_channel, const int32_t *bias,
                    const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                    int8_t *y, void *scratch,
                    int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                    int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                    int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    conv2d_q8(x, 0, x_scale, x_zero_point, w, w_scale, w_zero_point, w_per_channel, bias,
              y_scale, y_zero_point, activation, y, scratch, n, c, h, w_, o, kh, kw,
              stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups);
}

void odtc_conv2d_u8(const uint8_t *x, const float *x_scale, const int32_t *x_zero_point,
                    const int8_t *w, const float *w_scale, const int32_t *w_zero_point,
                    int32_t w_per_channel, const int32_t *bias,
                    const float *y_scale, const int32_t *y_zero_point, int32_t activation,
                    uint8_t *y, void *scratch,
                    int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                    int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                    int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    conv2d_q8(x, 1, x_scale, x_zero_point, w, w_scale, w_zero_point, w_per_channel, bias,
              y_scale, y_zero_point, activation, y, scratch, n, c, h, w_, o, kh, kw,
              stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups);
}

/* ---- int32-accumulating backward primitives ----------------------------------------- */

/* The portable input gradient of odtc_conv2d_s8_grad_input (int8 errors) and
 * odtc_conv2d_s16_grad_input (int16 errors), zw per tensor or per output channel: for each
 * input position, the sum over the taps that read it. e16 is a constant at each call, so
 * each caller gets its own loop: int8 errors sum in int32 (sum64 is dead code there, the
 * loop compiles as before), int16 errors sum exactly in int64 (sum stays 0) and store the
 * sum saturated to int32 (fqt.qconv2d_grad_input). */
static ODTC_ALWAYS_INLINE void conv2d_q_grad_input_portable(
    const void *e, int32_t e16, int32_t ze, const int8_t *w, const int32_t *w_zero_point, int32_t w_per_channel,
    int32_t *acc, int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
    int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    for (int32_t ni = 0; ni < n; ++ni) {
        for (int32_t ch = 0; ch < c; ++ch) {
            const int32_t g = ch / ci;
            const int32_t i = ch % ci;
            int32_t *ac = acc + ((size_t)ni * c + ch) * h * w_;
            for (int32_t iy = 0; iy < h; ++iy) {
                const int32_t ty = iy + pad_top;
                int32_t ky0, ky1;
                odtc_tap_range(ty, kh, stride_h, oh_n, &ky0, &ky1);
                for (int32_t ix = 0; ix < w_; ++ix) {
                    const int32_t tx = ix + pad_left;
                    int32_t kx0, kx1;
                    odtc_tap_range(tx, kw, stride_w, ow_n, &kx0, &kx1);
                    int32_t sum = 0;
                    int64_t sum64 = 0;
                    for (int32_t oc = g * og; oc < (g + 1) * og; ++oc) {
                        const size_t ebase = ((size_t)ni * o + oc) * oh_n * ow_n;
                        const int8_t *wo = w + ((size_t)oc * ci + i) * kh * kw;
                        const int32_t zw = w_zero_point[w_per_channel ? oc : 0];
                        for (int32_t ky = ky0; ky <= ky1; ky += stride_h) {
                            const int32_t oy = (ty - ky) / stride_h;
                            for (int32_t kx = kx0; kx <= kx1; kx += stride_w) {
                                const int32_t ox = (tx - kx) / stride_w;
                                const size_t ei = ebase + (size_t)oy * ow_n + ox;
                                const int32_t ev = e16 ? (int32_t)((const int16_t *)e)[ei] : (int32_t)((const int8_t *)e)[ei];
                                const int32_t wv = (int32_t)wo[(size_t)ky * kw + kx] - zw;
                                if (e16) {
                                    sum64 += (int64_t)(ev - ze) * wv;
                                } else {
                                    sum += (ev - ze) * wv;
                                }
                            }
                        }
                    }
                    ac[(size_t)iy * w_ + ix] = e16 ? odtc_sat_i32(sum64) : sum;
                }
            }
        }
    }
}

/* Output indices [*lo, *hi) whose kernel tap k reads inside the input. */
static void tap_range(int32_t k, int32_t pad, int32_t in, int32_t s, int32_t out,
                      int32_t *lo, int32_t *hi)
{
    const int32_t a = pad - k;
    const int32_t b = in - 1 + pad - k;
    int32_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int32_t u = b < 0 ? 0 : min_i32(b / s + 1, out);
    *lo = l > u ? u : l;
    *hi = u;
}

void odtc_conv2d_s8_grad_input(const int8_t *e, const int32_t *e_zero_point,
                               const int8_t *w, const int32_t *w_zero_point, int32_t w_per_channel,
                               int32_t *acc,
                               int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                               int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                               int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
#if defined(ODTC_DSP)
    if (conv2d_s8_grad_input_dsp(e, *e_zero_point, w, w_zero_point, w_per_channel, acc, n, c, h, w_, o, kh, kw,
                                 stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups)) {
        return;
    }
#endif
    conv2d_q_grad_input_portable(e, 0, *e_zero_point, w, w_zero_point, w_per_channel, acc, n, c, h, w_, o, kh, kw,
                                 stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups);
}

/* odtc_conv2d_s8_grad_input with int16 errors (zw per tensor or per output channel):
 * portable C, the same gather over the taps that read each input position, each sum exact
 * (int64) and saturated to int32. */
void odtc_conv2d_s16_grad_input(const int16_t *e, const int32_t *e_zero_point, const int8_t *w,
                                const int32_t *w_zero_point, int32_t w_per_channel, int32_t *acc, int32_t n,
                                int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h,
                                int32_t stride_w, int32_t pad_top, int32_t pad_left, int32_t pad_bottom,
                                int32_t pad_right, int32_t groups)
{
    conv2d_q_grad_input_portable(e, 1, *e_zero_point, w, w_zero_point, w_per_channel, acc, n, c, h, w_, o, kh, kw, stride_h,
                                 stride_w, pad_top, pad_left, pad_bottom, pad_right, groups);
}

#if defined(ODTC_DSP)
/* grad_weight on Arm DSP (stride_w == 1): the reduction over (n, oy, ox) runs along ox, two
 * columns per SMLAD. For a band of output rows, the errors of the selected channels are
 * widened once to int16 (e - ze) words (e[ox], e[ox+1]) -- interleaved per channel pair so
 * that one LDRD fetches both channels -- and, per input plane, the input rows the band reads
 * are widened to zero-padded int16 rows (x - zx); the word at int16 offset ox + kx of such a
 * row is (x[ox+kx], x[ox+kx+1]), an aligned or unaligned LDR. A 3-wide kernel then runs
 * 2 channels x 3 taps per pass, reusing each input word for the 2 channels and, across
 * consecutive column pairs, for the taps. Sums go to acc (first band) or are added to it. */

/* Widens n bytes (n even) to words (v[2i] - z, v[2i+1] - z) at dst[i * stride]. */
static void widen_words(const uint8_t *src, int32_t n, int32_t z, int32_t is_u8, uint32_t *dst, int32_t stride)
{
    const uint32_t nz = dsp_splat16(-z);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4, dst += 2 * stride) {
        const uint32_t v = dsp_load32(src + i);
        const uint32_t t = is_u8 ? dsp_uxtab16(nz, v) : dsp_sxtab16(nz, v);
        const uint32_t u = is_u8 ? dsp_uxtab16_ror8(nz, v) : dsp_sxtab16_ror8(nz, v);
        dst[0] = dsp_pack_lo(t, u);
        dst[stride] = dsp_pack_hi(t, u);
    }
    for (; i < n; i += 2, dst += stride) {
        const int32_t a = (is_u8 ? (int32_t)src[i] : (int32_t)(int8_t)src[i]) - z;
        const int32_t b = (is_u8 ? (int32_t)src[i + 1] : (int32_t)(int8_t)src[i + 1]) - z;
        dst[0] = ((uint32_t)a & 0xFFFFu) | ((uint32_t)b << 16);
    }
}

/* Widens n bytes to natural-order int16 lanes minus z at dst (int16 offset, may be odd). */
static void widen_row(const uint8_t *src, int32_t n, int32_t z, int32_t is_u8, int16_t *dst)
{
    const uint32_t nz = dsp_splat16(-z);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const uint32_t v = dsp_load32(src + i);
        const uint32_t t = is_u8 ? dsp_uxtab16(nz, v) : dsp_sxtab16(nz, v);           /* (v0, v2) */
        const uint32_t u = is_u8 ? dsp_uxtab16_ror8(nz, v) : dsp_sxtab16_ror8(nz, v); /* (v1, v3) */
        dsp_store32(dst + i, dsp_pack_lo(t, u));
        dsp_store32(dst + i + 2, dsp_pack_hi(t, u));
    }
    for (; i < n; ++i) {
        dst[i] = (int16_t)((is_u8 ? (int32_t)src[i] : (int32_t)(int8_t)src[i]) - z);
    }
}

#if defined(__ARM_FEATURE_DSP) && !defined(ODTC_EMULATE_DSP)
/* Column pairs A and B of the 2 x 3 grad_weight tile: e words in r8/r9; the input words at
 * offsets ox, ox+1, ox+2 rotate through r10/r11/r12 so that each is loaded once. */
#define ODTC_GW_PAIR(X0, X2)                          \
    "ldrd r8, r9, [%[pe]], #8\n\t"                    \
    "ldr r11, [%[px], #2]\n\t"                        \
    "ldr " X2 ", [%[px], #4]!\n\t"                    \
    "smlad %[a00], r8, " X0 ", %[a00]\n\t"            \
    "smlad %[a01], r8, r11, %[a01]\n\t"               \
    "smlad %[a02], r8, " X2 ", %[a02]\n\t"            \
    "smlad %[a10], r9, " X0 ", %[a10]\n\t"            \
    "smlad %[a11], r9, r11, %[a11]\n\t"               \
    "smlad %[a12], r9, " X2 ", %[a12]\n\t"

/* 2 channels x 3 taps over `rows` rows of `quads` x 4 columns: pe walks the interleaved
 * errors, row r of the input at x0 + r * xstride bytes. s[0..2] channel 0, s[3..5] channel 1. */
static ODTC_NOINLINE void gw_tile23_k3(const uint32_t *pe, const int16_t *x0, int32_t xstride, int32_t rows, int32_t quads,
                         int32_t *s)
{
    int32_t a00 = s[0], a01 = s[1], a02 = s[2], a10 = s[3], a11 = s[4], a12 = s[5];
    const int16_t *xnext = x0;
    int32_t rcount = rows;
    const int16_t *px;
    uint32_t n;
    __asm__ __volatile__("0:\n\t"
                         "ldr %[px], %[xn]\n\t"
                         "ldr %[n], %[xs]\n\t"
                         "add %[n], %[px], %[n]\n\t"
                         "str %[n], %[xn]\n\t"
                         "ldr %[n], %[nq]\n\t"
                         "ldr r10, [%[px]]\n\t"
                         "1:\n\t" ODTC_GW_PAIR("r10", "r12") ODTC_GW_PAIR("r12", "r10")
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b\n\t"
                         "ldr %[n], %[rc]\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "str %[n], %[rc]\n\t"
                         "bne 0b\n\t"
                         : [a00] "+r"(a00), [a01] "+r"(a01), [a02] "+r"(a02), [a10] "+r"(a10), [a11] "+r"(a11),
                           [a12] "+r"(a12), [pe] "+r"(pe), [px] "=&r"(px), [n] "=&r"(n), [xn] "+m"(xnext),
                           [rc] "+m"(rcount)
                         : [xs] "m"(xstride), [nq] "m"(quads)
                         : "r8", "r9", "r10", "r11", "r12", "cc", "memory");
    s[0] = a00;
    s[1] = a01;
    s[2] = a02;
    s[3] = a10;
    s[4] = a11;
    s[5] = a12;
}
#else
static void gw_tile23_k3(const uint32_t *pe, const int16_t *x0, int32_t xstride, int32_t rows, int32_t quads,
                         int32_t *s)
{
    for (int32_t r = 0; r < rows; ++r) {
        const int16_t *px = (const int16_t *)(const void *)((const uint8_t *)x0 + (ptrdiff_t)r * xstride);
        for (int32_t p = 0; p < 2 * quads; ++p, pe += 2, px += 2) {
            for (int32_t kx = 0; kx < 3; ++kx) {
                const uint32_t xv = dsp_load32(px + kx);
                s[kx] = dsp_smlad(pe[0], xv, s[kx]);
                s[3 + kx] = dsp_smlad(pe[1], xv, s[3 + kx]);
            }
        }
    }
}
#endif

/* Any kw (stride_w 1): nch = 1 or 2 interleaved channels, tap kx, sums s[0] (s[1]). */
static void gw_tile_gen(const uint32_t *pe, int32_t nch, const int16_t *x0, int32_t xstride, int32_t rows,
                        int32_t pairs, int32_t kx, int32_t *s)
{
    int32_t s0 = s[0], s1 = s[1];
    for (int32_t r = 0; r < rows; ++r) {
        const int16_t *px = (const int16_t *)(const void *)((const uint8_t *)x0 + (ptrdiff_t)r * xstride) + kx;
        if (nch == 2) {
            for (int32_t p = 0; p < pairs; ++p, pe += 2, px += 2) {
                const uint32_t xv = dsp_load32(px);
                s0 = dsp_smlad(pe[0], xv, s0);
                s1 = dsp_smlad(pe[1], xv, s1);
            }
        } else {
            for (int32_t p = 0; p < pairs; ++p, pe += 1, px += 2) {
                s0 = dsp_smlad(pe[0], dsp_load32(px), s0);
            }
        }
    }
    s[0] = s0;
    s[1] = s1;
}

static int32_t conv2d_q8_grad_weight_dsp(const void *x, int32_t is_u8, int32_t zx, const int8_t *e, int32_t ze,
                                         int32_t *acc, const int32_t *channels, int32_t n_channels, int32_t n,
                                         int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw,
                                         int32_t stride_h, int32_t stride_w, int32_t pad_top, int32_t pad_left,
                                         int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t oh = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    if (stride_w != 1 || ze < -32640 || ze > 32639 || zx < -32640 || zx > 32639) {
        return 0;
    }
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    const int32_t rows_total = channels != NULL ? n_channels : o;
    const int32_t ow4 = (ow + 3) / 4 * 4;           /* error row: ow4 int16, zero beyond ow */
    const int32_t xw = (ow4 + kw + 2) / 2 * 2;      /* input row: int16, zero padded */
    const size_t erow_words = (size_t)ow4 / 2;       /* per channel and output row */
    const size_t xrow_words = (size_t)xw / 2;
    const size_t klen = (size_t)ci * kh * kw;
    uint32_t ws[ODTC_DSP_STACK_BYTES / 4];
    const size_t words = sizeof ws / sizeof ws[0];
    /* rows of a band: errors of up to rb channels and the input rows of one plane */
    int32_t rb = 0;
    for (int32_t r = 0; r < rows_total; ++r) { /* widest group */
        int32_t cnt = 0;
        const int32_t g = (channels != NULL ? channels[r] : r) / og;
        while (r + cnt < rows_total && (channels != NULL ? channels[r + cnt] : r + cnt) / og == g) {
            ++cnt;
        }
        rb = cnt > rb ? cnt : rb;
        r += cnt - 1;
    }
    rb = (rb + 1) / 2 * 2;
    int32_t ob = 0;
    while (rb >= 2 || (rb == 1 && ob == 0)) {
        const size_t per_row = (size_t)rb * erow_words + (size_t)stride_h * xrow_words;
        const size_t fixed = (size_t)(kh > stride_h ? kh - stride_h : 0) * xrow_words + 2u;
        ob = words > fixed ? (int32_t)((words - fixed) / per_row) : 0;
        if (ob >= 1 || rb <= 2) {
            break;
        }
        rb -= 2;
    }
    if (ob < 1) {
        return 0;
    }
    ob = ob < oh ? ob : oh;
    ob = (oh + (oh + ob - 1) / ob - 1) / ((oh + ob - 1) / ob); /* equal bands */
    uint32_t *ebuf = ws;
    int16_t *xbuf = (int16_t *)(void *)(ws + (size_t)rb * ob * erow_words);
    const int32_t xstride = stride_h * xw * 2; /* bytes between the input rows of consecutive output rows */

    for (int32_t r0 = 0; r0 < rows_total;) {
        /* a run of channels of one group, at most rb */
        const int32_t g = (channels != NULL ? channels[r0] : r0) / og;
        int32_t nr = 0;
        while (r0 + nr < rows_total && nr < rb && (channels != NULL ? channels[r0 + nr] : r0 + nr) / og == g) {
            ++nr;
        }
        for (int32_t ni = 0; ni < n; ++ni) {
            const uint8_t *xg = (const uint8_t *)x + ((size_t)ni * c + (size_t)g * ci) * h * w_;
            for (int32_t oy0 = 0; oy0 < oh; oy0 += ob) {
                const int32_t nb = oh - oy0 < ob ? oh - oy0 : ob;
                const int32_t first = ni == 0 && oy0 == 0;
                /* errors: pairs interleaved [pair][oy][ox pair][2], a lone channel [oy][ox pair] */
                for (int32_t k = 0; k < nr; ++k) {
                    const int32_t oc = channels != NULL ? channels[r0 + k] : r0 + k;
                    const int32_t paired = k < nr - (nr & 1);
                    const int32_t stride = paired ? 2 : 1;
                    uint32_t *d = ebuf + (size_t)(k / 2) * 2 * nb * erow_words + (paired ? (k & 1) : 0);
                    const int8_t *er = e + (((size_t)ni * o + oc) * oh + oy0) * ow;
                    for (int32_t oy = 0; oy < nb; ++oy, er += ow, d += (size_t)stride * erow_words) {
                        const int32_t even = ow & ~1;
                        widen_words((const uint8_t *)er, even, ze, 0, d, stride);
                        int32_t q = even / 2;
                        if (ow & 1) {
                            d[(size_t)q * stride] = (uint32_t)(er[even] - ze) & 0xFFFFu;
                            ++q;
                        }
                        for (; q < ow4 / 2; ++q) {
                            d[(size_t)q * stride] = 0;
                        }
                    }
                }
                const int32_t iy_first = oy0 * stride_h - pad_top;
                const int32_t xrows = (nb - 1) * stride_h + kh;
                for (int32_t i = 0; i < ci; ++i) {
                    /* input rows iy_first .. iy_first + xrows - 1 of plane i, padded */
                    /* int16 offset k of a row holds input column k - pad_left */
                    const int32_t k0 = pad_left < xw ? pad_left : xw;
                    int32_t len = w_ < xw - k0 ? w_ : xw - k0;
                    for (int32_t rr = 0; rr < xrows; ++rr) {
                        int16_t *xr = xbuf + (size_t)rr * xw;
                        const int32_t iy = iy_first + rr;
                        if (iy < 0 || iy >= h) {
                            zero_words((uint32_t *)(void *)xr, xw / 2, 1);
                            continue;
                        }
                        for (int32_t k = 0; k < k0; ++k) {
                            xr[k] = 0;
                        }
                        widen_row(xg + ((size_t)i * h + iy) * w_, len, zx, is_u8, xr + k0);
                        for (int32_t k = k0 + len; k < xw; ++k) {
                            xr[k] = 0;
                        }
                    }
                    for (int32_t k = 0; k < nr; k += 2) {
                        const int32_t two = k + 1 < nr;
                        const uint32_t *pe = ebuf + (size_t)(k / 2) * 2 * nb * erow_words;
                        for (int32_t ky = 0; ky < kh; ++ky) {
                            int32_t s[6] = {0, 0, 0, 0, 0, 0};
                            int32_t *a0 = acc + ((size_t)(r0 + k) * klen + (size_t)i * kh * kw + (size_t)ky * kw);
                            int32_t *a1 = a0 + klen;
                            const int16_t *xr = xbuf + (size_t)ky * xw;
                            if (two && kw == 3) {
                                gw_tile23_k3(pe, xr, xstride, nb, ow4 / 4, s);
                                for (int32_t kx = 0; kx < 3; ++kx) {
                                    a0[kx] = first ? s[kx] : a0[kx] + s[kx];
                                    a1[kx] = first ? s[3 + kx] : a1[kx] + s[3 + kx];
                                }
                                continue;
                            }
                            for (int32_t kx = 0; kx < kw; ++kx) {
                                s[0] = s[1] = 0;
                                gw_tile_gen(pe, two ? 2 : 1, xr, xstride, nb, ow4 / 2, kx, s);
                                a0[kx] = first ? s[0] : a0[kx] + s[0];
                                if (two) {
                                    a1[kx] = first ? s[1] : a1[kx] + s[1];
                                }
                            }
                        }
                    }
                }
            }
        }
        r0 += nr;
    }
    return 1;
}
#endif /* ODTC_DSP */

/* The portable weight gradient of odtc_conv2d_{s8,u8}_grad_weight (int8 errors) and
 * odtc_conv2d_q8_s16_grad_weight (int16 errors): for each weight tap, the sum over the
 * outputs that read it. e16 is a constant at each call, so each caller gets its own loop:
 * int8 errors sum in int32 (sum64 is dead code there, the loop compiles as before), int16
 * errors sum exactly in int64 and store the sum saturated to int32
 * (fqt.qconv2d_grad_weight). */
static ODTC_ALWAYS_INLINE void conv2d_q_grad_weight_portable(
    const void *x, int32_t is_u8, const int32_t *x_zero_point, const void *e, int32_t e16,
    const int32_t *e_zero_point, int32_t *acc, const int32_t *channels, int32_t n_channels, int32_t n, int32_t c,
    int32_t h, int32_t w_, int32_t o, int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
    int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    const int32_t oh_n = odtc_conv_out_size(h, kh, stride_h, pad_top, pad_bottom);
    const int32_t ow_n = odtc_conv_out_size(w_, kw, stride_w, pad_left, pad_right);
    const int32_t ci = c / groups;
    const int32_t og = o / groups;
    const int32_t rows = channels != NULL ? n_channels : o;
    const int32_t zx = *x_zero_point;
    const int32_t ze = *e_zero_point;
    for (int32_t r = 0; r < rows; ++r) {
        const int32_t oc = channels != NULL ? channels[r] : r;
        const int32_t g = oc / og;
        int32_t *ar = acc + (size_t)r * ci * kh * kw;
        for (int32_t i = 0; i < ci; ++i) {
            for (int32_t ky = 0; ky < kh; ++ky) {
                int32_t oy_lo, oy_hi;
                tap_range(ky, pad_top, h, stride_h, oh_n, &oy_lo, &oy_hi);
                for (int32_t kx = 0; kx < kw; ++kx) {
                    int32_t ox_lo, ox_hi;
                    tap_range(kx, pad_left, w_, stride_w, ow_n, &ox_lo, &ox_hi);
                    int32_t sum = 0;
                    int64_t sum64 = 0;
                    for (int32_t ni = 0; ni < n; ++ni) {
                        const size_t xc = ((size_t)ni * c + (size_t)g * ci + i) * h * w_;
                        const size_t eo = ((size_t)ni * o + oc) * oh_n * ow_n;
                        for (int32_t oy = oy_lo; oy < oy_hi; ++oy) {
                            const size_t xr = xc + (size_t)(oy * stride_h - pad_top + ky) * w_;
                            const size_t er = eo + (size_t)oy * ow_n;
                            for (int32_t ox = ox_lo; ox < ox_hi; ++ox) {
                                const size_t xi = xr + (size_t)(ox * stride_w - pad_left + kx);
                                const int32_t xv = is_u8 ? (int32_t)((const uint8_t *)x)[xi]
                                                         : (int32_t)((const int8_t *)x)[xi];
                                const int32_t ev = e16 ? (int32_t)((const int16_t *)e)[er + ox]
                                                     : (int32_t)((const int8_t *)e)[er + ox];
                                if (e16) {
                                    sum64 += (int64_t)(ev - ze) * (xv - zx);
                                } else {
                                    sum += (ev - ze) * (xv - zx);
                                }
                            }
                        }
                    }
                    ar[((size_t)i * kh + ky) * kw + kx] = e16 ? odtc_sat_i32(sum64) : sum;
                }
            }
        }
    }
}


static void conv2d_q8_grad_weight(const void *x, int32_t is_u8, const int32_t *x_zero_point,
                                  const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                  const int32_t *channels, int32_t n_channels,
                                  int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                  int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                  int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
#if defined(ODTC_DSP)
    if (conv2d_q8_grad_weight_dsp(x, is_u8, *x_zero_point, e, *e_zero_point, acc, channels, n_channels, n, c, h, w_,
                                  o, kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups)) {
        return;
    }
#endif
    conv2d_q_grad_weight_portable(x, is_u8, x_zero_point, e, 0, e_zero_point, acc, channels, n_channels, n, c, h, w_,
                                  o, kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups);
}

void odtc_conv2d_q8_s16_grad_weight(const void *x, int32_t is_u8, const int32_t *x_zero_point, const int16_t *e,
                                    const int32_t *e_zero_point, int32_t *acc, const int32_t *channels,
                                    int32_t n_channels, int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o,
                                    int32_t kh, int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                    int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    conv2d_q_grad_weight_portable(x, is_u8, x_zero_point, e, 1, e_zero_point, acc, channels, n_channels, n, c, h, w_,
                                  o, kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, groups);
}

void odtc_conv2d_s8_grad_weight(const int8_t *x, const int32_t *x_zero_point,
                                const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                const int32_t *channels, int32_t n_channels,
                                int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    conv2d_q8_grad_weight(x, 0, x_zero_point, e, e_zero_point, acc, channels, n_channels,
                          n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left,
                          pad_bottom, pad_right, groups);
}

void odtc_conv2d_u8_grad_weight(const uint8_t *x, const int32_t *x_zero_point,
                                const int8_t *e, const int32_t *e_zero_point, int32_t *acc,
                                const int32_t *channels, int32_t n_channels,
                                int32_t n, int32_t c, int32_t h, int32_t w_, int32_t o, int32_t kh,
                                int32_t kw, int32_t stride_h, int32_t stride_w, int32_t pad_top,
                                int32_t pad_left, int32_t pad_bottom, int32_t pad_right, int32_t groups)
{
    conv2d_q8_grad_weight(x, 1, x_zero_point, e, e_zero_point, acc, channels, n_channels,
                          n, c, h, w_, o, kh, kw, stride_h, stride_w, pad_top, pad_left,
                          pad_bottom, pad_right, groups);
}

size_t odtc_conv2d_q8_scratch_bytes(int32_t c, int32_t groups, int32_t kh, int32_t kw, int32_t o)
{
    return ODTC_CONV2D_Q8_SCRATCH_BYTES(c, groups, kh, kw, o);
}
