#include "T5Kernels.h"

#include <stdlib.h>
#include <string.h>

#define DECLARE(suffix)                                                                                       \
    void rmsnorm_##suffix(float *, const float *, const float *, long, long, float);                         \
    void softmax_row_##suffix(float *, const float *, long);                                                  \
    void gated_gelu_##suffix(float *, long, long);                                                           \
    void quantize_rows_u8_##suffix(uint8_t *, float *, const float *, long, long, long);                     \
    void quantize_rows_s8_##suffix(int8_t *, float *, const float *, long, long, int);                                \
    void dequantize_rows_##suffix(float *, long, const int32_t *, const float *, const float *, long, long, int);

DECLARE(baseline)
#if defined(__x86_64__)
DECLARE(avx2)
#endif

// Decided once, before any kernel runs (a constructor), so every call of the process uses the same arithmetic.
static int use_avx2;

__attribute__((constructor)) static void choose_kernels(void) {
#if defined(__x86_64__)
    const char *forced = getenv("RERANK_KERNELS");
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               !(forced && strcmp(forced, "baseline") == 0);
#endif
}

#if defined(__x86_64__)
#define DISPATCH(name, ...) (use_avx2 ? name##_avx2(__VA_ARGS__) : name##_baseline(__VA_ARGS__))
#else
#define DISPATCH(name, ...) name##_baseline(__VA_ARGS__)
#endif

const char *t5_kernels_isa(void) { return use_avx2 ? "avx2+fma" : "baseline"; }

void t5_rmsnorm(float *out, const float *in, const float *weight, long rows, long dim, float eps) {
    DISPATCH(rmsnorm, out, in, weight, rows, dim, eps);
}

void t5_softmax_row(float *row, const float *bias, long visible) { DISPATCH(softmax_row, row, bias, visible); }

void t5_gated_gelu(float *h, long rows, long d_ff) { DISPATCH(gated_gelu, h, rows, d_ff); }

void t5_quantize_rows_u8(uint8_t *out, float *scales, const float *in, long ld_in, long rows, long cols) {
    DISPATCH(quantize_rows_u8, out, scales, in, ld_in, rows, cols);
}

void t5_quantize_rows_s8(int8_t *out, float *scales, const float *in, long rows, long cols, int levels) {
    DISPATCH(quantize_rows_s8, out, scales, in, rows, cols, levels);
}

void t5_dequantize_rows(float *out, long ld_out, const int32_t *sums, const float *row_scales, const float *col_scales,
                        long rows, long cols, int accumulate) {
    DISPATCH(dequantize_rows, out, ld_out, sums, row_scales, col_scales, rows, cols, accumulate);
}
