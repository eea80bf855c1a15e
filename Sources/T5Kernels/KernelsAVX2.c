// The kernels for x86-64 with AVX2 and FMA (Haswell, Zen and later).
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define KERNEL(name) name##_avx2
#include "KernelBodies.h"
#pragma clang attribute pop
#endif
