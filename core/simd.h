/*
 * core/simd.h — run-time selected SIMD variants of hot loops.
 *
 * SIMD_CLONES before a function makes GCC compile it three times (AVX-512,
 * AVX2, baseline x86-64) and pick the best one for the CPU when the program
 * loads (an ifunc), so one binary uses the machine it runs on and still runs
 * on older ones.  The build's -march stays the portable x86-64-v2.  On
 * other compilers or architectures the macro is empty and the function is
 * compiled once, for the build's target.
 */
#ifndef CONTIMG_SIMD_H
#define CONTIMG_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 6
#define SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SIMD_CLONES
#endif

#endif
