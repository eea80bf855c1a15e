#ifndef T5_KERNELS_H
#define T5_KERNELS_H

#include <stdint.h>

// The elementwise work of the T5 forward pass over flat row-major buffers. Each kernel is compiled twice, for
// AVX2+FMA and for the x86-64 baseline (or the target's default elsewhere); the process picks the version this
// CPU runs when it starts (t5_kernels_isa says which). Every row is computed on its own, so a row's result never depends
// on the other rows of a call.

/// "avx2+fma" or "baseline": the version the kernels run. RERANK_KERNELS=baseline forces the baseline.
const char *t5_kernels_isa(void);

/// out[r, :] = in[r, :] * rsqrt(mean(in[r, :]^2) + eps) * weight; out may alias in.
void t5_rmsnorm(float *out, const float *in, const float *weight, long rows, long dim, float eps);

/// row[0..<visible] = softmax(row + bias) in place (bias may be NULL).
void t5_softmax_row(float *row, const float *bias, long visible);

/// FLAN-T5's gated GELU over h = [rows, 2 * d_ff] (wi_0 x | wi_1 x): h[r, j] = gelu_tanh(h[r, j]) * h[r, d_ff + j],
/// written in place into the first d_ff columns.
void t5_gated_gelu(float *h, long rows, long d_ff);

/// Per-row symmetric int8 quantisation: scales[r] = max|in[r, :]| / 127 (1 for a zero row, NaN for a row with
/// a NaN or an infinity) and out[r * cols + c] = round_half_even(in[r * ld_in + c] * (1 / scales[r])) + 128,
/// as unsigned bytes.
void t5_quantize_rows_u8(uint8_t *out, float *scales, const float *in, long ld_in, long rows, long cols);

/// out[r * ld_out + c] (+)= sums[r * cols + c] * row_scales[r] * col_scales[c].
void t5_dequantize_rows(float *out, long ld_out, const int32_t *sums, const float *row_scales,
                        const float *col_scales, long rows, long cols, int accumulate);

/// Per-row symmetric quantisation of a weight matrix to the signed levels -levels...levels (at most 127):
/// scales[r] = max|in[r, :]| / levels (as above), out[r * cols + c] = round_half_even(in * (1 / scales[r])).
void t5_quantize_rows_s8(int8_t *out, float *scales, const float *in, long rows, long cols, int levels);

#endif
