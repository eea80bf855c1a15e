// The kernels for the compilation target's baseline (SSE2 on x86-64): the fallback.
// The 32-byte vectors split into SSE halves; the always-inlined helpers never pass them across a call.
#pragma clang diagnostic ignored "-Wpsabi"
#define KERNEL(name) name##_baseline
#include "KernelBodies.h"
