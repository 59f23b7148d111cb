/*
 * The AVX-512 instantiation of vmath.inc.c (16 lanes), linked into the x86-64-v3 library only
 * and called only where the cpu has AVX-512 F, DQ, BW and VL (kernels.c: use_avx512). The
 * baseline build compiles this file to nothing.
 */
#if defined(__AVX2__) && defined(__FMA__) && defined(__x86_64__)
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl")
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "opcodes.h"

#define VL 16
#define VMATH_API
#define VMATH_NAME(f) f##_avx512
#include "vmath.inc.c"
#else
typedef int vmath512_unused; /* ISO C wants at least one declaration */
#endif
