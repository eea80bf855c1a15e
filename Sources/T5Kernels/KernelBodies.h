// The kernels, written once with GCC/Clang vector extensions and included by KernelsAVX2.c and
// KernelsBaseline.c, which compile them for their instruction set. KERNEL(name) gives each copy its own names.
#include <math.h>
#include <stdint.h>
#include <string.h>

// Helpers are always inlined: 32-byte vectors are then never passed by value between functions (which the
// baseline ABI would do through memory).
#define INLINE static inline __attribute__((always_inline))

typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef uint8_t u8x8 __attribute__((vector_size(8)));

INLINE f32x8 KERNEL(load)(const float *p) {
    f32x8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void KERNEL(store)(float *p, f32x8 v) { memcpy(p, &v, sizeof v); }

INLINE f32x8 KERNEL(splat)(float x) { return (f32x8){x, x, x, x, x, x, x, x}; }

INLINE float KERNEL(sum)(f32x8 v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

INLINE float KERNEL(largest)(f32x8 v) {
    float m = v[0];
    for (int i = 1; i < 8; i++) m = v[i] > m ? v[i] : m;
    return m;
}

INLINE f32x8 KERNEL(max)(f32x8 a, f32x8 b) { return __builtin_elementwise_max(a, b); }

// min(max(x, low), high) lane by lane, NaN staying NaN (comparisons with NaN are false, so it is kept).
INLINE f32x8 KERNEL(clamp)(f32x8 x, float low, float high) {
    i32x8 below = x < low, above = x > high;
    i32x8 bits = (i32x8)x;
    bits = (below & (i32x8)KERNEL(splat)(low)) | (~below & bits);
    bits = (above & (i32x8)KERNEL(splat)(high)) | (~above & bits);
    return (f32x8)bits;
}

INLINE f32x8 KERNEL(abs)(f32x8 v) { return __builtin_elementwise_abs(v); }

// Cephes expf: 2^n * poly(r) with |r| <= ln2/2, about 2 ulp; inputs clamped to the finite range.
INLINE f32x8 KERNEL(exp)(f32x8 x) {
    x = KERNEL(clamp)(x, -87.0f, 88.0f);
    const f32x8 magic = KERNEL(splat)(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
    f32x8 shifted = x * 1.44269504f + magic;
    f32x8 n = shifted - magic;
    f32x8 r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    f32x8 p = KERNEL(splat)(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    i32x8 bits = (i32x8)shifted - (i32x8)magic;
    f32x8 scale = (f32x8)((bits + 127) << 23);
    return p * scale;
}

void KERNEL(rmsnorm)(float *out, const float *in, const float *weight, long rows, long dim, float eps) {
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * dim;
        float *y = out + r * dim;
        f32x8 squares = KERNEL(splat)(0);
        long i = 0;
        for (; i + 8 <= dim; i += 8) {
            f32x8 v = KERNEL(load)(x + i);
            squares += v * v;
        }
        float total = KERNEL(sum)(squares);
        for (; i < dim; i++) total += x[i] * x[i];
        float scale = 1.0f / sqrtf(total / (float)dim + eps);
        for (i = 0; i + 8 <= dim; i += 8) KERNEL(store)(y + i, KERNEL(load)(x + i) * scale * KERNEL(load)(weight + i));
        for (; i < dim; i++) y[i] = x[i] * scale * weight[i];
    }
}

void KERNEL(softmax_row)(float *row, const float *bias, long visible) {
    f32x8 maxima = KERNEL(splat)(-INFINITY);
    float maximum = -INFINITY;
    long j = 0;
    for (; j + 8 <= visible; j += 8) {
        f32x8 x = KERNEL(load)(row + j);
        if (bias) x += KERNEL(load)(bias + j);
        KERNEL(store)(row + j, x);
        maxima = KERNEL(max)(maxima, x);
    }
    for (; j < visible; j++) {
        if (bias) row[j] += bias[j];
        maximum = row[j] > maximum ? row[j] : maximum;
    }
    float m = KERNEL(largest)(maxima);
    maximum = m > maximum ? m : maximum;
    f32x8 sums = KERNEL(splat)(0);
    for (j = 0; j + 8 <= visible; j += 8) {
        f32x8 e = KERNEL(exp)(KERNEL(load)(row + j) - maximum);
        sums += e;
        KERNEL(store)(row + j, e);
    }
    float total = KERNEL(sum)(sums);
    if (j < visible) {
        // The tail through the same vector exp, so every element is rounded alike.
        float tail[8] = {0};
        memcpy(tail, row + j, (size_t)(visible - j) * sizeof(float));
        f32x8 e = KERNEL(exp)(KERNEL(load)(tail) - maximum);
        for (long t = 0; t < visible - j; t++) {
            row[j + t] = e[t];
            total += e[t];
        }
    }
    float inverse = 1.0f / total;
    for (j = 0; j + 8 <= visible; j += 8) KERNEL(store)(row + j, KERNEL(load)(row + j) * inverse);
    for (; j < visible; j++) row[j] *= inverse;
}

INLINE f32x8 KERNEL(gelu_times)(f32x8 x, f32x8 linear) {
    // 0.5 x (1 + tanh(u)) == x * sigmoid(2u): one exp and one division per element.
    const float two_c0 = 2 * 0.7978845608028654f;  // 2 sqrt(2/pi)
    f32x8 u2 = two_c0 * (x + 0.044715f * x * x * x);
    return x / (1.0f + KERNEL(exp)(-u2)) * linear;
}

void KERNEL(gated_gelu)(float *h, long rows, long d_ff) {
    for (long r = 0; r < rows; r++) {
        float *gate = h + r * 2 * d_ff, *linear = gate + d_ff;
        long j = 0;
        for (; j + 8 <= d_ff; j += 8)
            KERNEL(store)(gate + j, KERNEL(gelu_times)(KERNEL(load)(gate + j), KERNEL(load)(linear + j)));
        if (j < d_ff) {
            float x[8] = {0}, l[8] = {0};
            memcpy(x, gate + j, (size_t)(d_ff - j) * sizeof(float));
            memcpy(l, linear + j, (size_t)(d_ff - j) * sizeof(float));
            f32x8 g = KERNEL(gelu_times)(KERNEL(load)(x), KERNEL(load)(l));
            for (long t = 0; t < d_ff - j; t++) gate[j + t] = g[t];
        }
    }
}

// max|row| / levels; 1 for a row that is zero (or below 1e-30, whose reciprocal would overflow); NaN for a row
// holding NaN or an infinity, so that its results come out NaN as they would in fp32.
INLINE float KERNEL(int8_scale)(const float *row, long cols, float levels) {
    f32x8 maxima = KERNEL(splat)(0), poison = KERNEL(splat)(0);  // poison: sum of x * 0, NaN iff some x is not finite
    float largest = 0, tail_poison = 0;
    long c = 0;
    for (; c + 8 <= cols; c += 8) {
        f32x8 v = KERNEL(load)(row + c);
        maxima = KERNEL(max)(maxima, KERNEL(abs)(v));
        poison += v * 0.0f;
    }
    for (; c < cols; c++) {
        largest = fabsf(row[c]) > largest ? fabsf(row[c]) : largest;
        tail_poison += row[c] * 0.0f;
    }
    if (KERNEL(sum)(poison) + tail_poison != 0) return NAN;
    float m = KERNEL(largest)(maxima);
    largest = m > largest ? m : largest;
    return largest > 1e-30f ? largest / levels : 1.0f;
}

// round_half_even(x) for |x| <= 2^22 (here at most 127): adding 1.5 * 2^23 rounds in the FPU's default mode,
// which is to nearest, ties to even, and leaves the integer in the low mantissa bits. Read as bits, so NaN
// gives some integer rather than undefined behaviour (its row's scale is NaN, which marks the results).
INLINE i32x8 KERNEL(round_to_int)(f32x8 x) {
    const f32x8 magic = KERNEL(splat)(12582912.0f);
    return (i32x8)(x + magic) - (i32x8)magic;
}

INLINE int32_t KERNEL(round_one)(float x) {
    float shifted = x + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    return bits - 0x4B400000;  // the bits of 1.5 * 2^23
}

void KERNEL(quantize_rows_u8)(uint8_t *out, float *scales, const float *in, long ld_in, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        const float *row = in + r * ld_in;
        uint8_t *q = out + r * cols;
        float scale = KERNEL(int8_scale)(row, cols, 127.0f);
        scales[r] = scale;
        float inverse = 1.0f / scale;
        long c = 0;
        for (; c + 8 <= cols; c += 8) {
            u8x8 v = __builtin_convertvector(KERNEL(round_to_int)(KERNEL(load)(row + c) * inverse) + 128, u8x8);
            memcpy(q + c, &v, sizeof v);
        }
        for (; c < cols; c++) q[c] = (uint8_t)(KERNEL(round_one)(row[c] * inverse) + 128);
    }
}

void KERNEL(quantize_rows_s8)(int8_t *out, float *scales, const float *in, long rows, long cols, int levels) {
    for (long r = 0; r < rows; r++) {
        const float *row = in + r * cols;
        float scale = KERNEL(int8_scale)(row, cols, (float)levels);
        scales[r] = scale;
        float inverse = 1.0f / scale;
        for (long c = 0; c < cols; c++) out[r * cols + c] = (int8_t)KERNEL(round_one)(row[c] * inverse);
    }
}

void KERNEL(dequantize_rows)(float *out, long ld_out, const int32_t *sums, const float *row_scales,
                             const float *col_scales, long rows, long cols, int accumulate) {
    for (long r = 0; r < rows; r++) {
        float *target = out + r * ld_out;
        const int32_t *source = sums + r * cols;
        float row_scale = row_scales[r];
        long c = 0;
        for (; c + 8 <= cols; c += 8) {
            i32x8 s;
            memcpy(&s, source + c, sizeof s);
            f32x8 v = __builtin_convertvector(s, f32x8) * row_scale * KERNEL(load)(col_scales + c);
            if (accumulate) v += KERNEL(load)(target + c);
            KERNEL(store)(target + c, v);
        }
        for (; c < cols; c++) {
            float v = (float)source[c] * row_scale * col_scales[c];
            target[c] = accumulate ? target[c] + v : v;
        }
    }
}
