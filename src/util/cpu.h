/* The CPU this process runs on: its identity, the instruction sets the
 * kernels may use, and its measured arithmetic peak.
 *
 * The identity and extensions come from CPUID (and XGETBV for what the OS
 * has enabled), so they are what the chip and kernel offer, not what a
 * library guessed. The peaks are register-only loops (no memory traffic):
 * the most multiply-adds a thread can retire per second, the yardstick
 * `obliviate bench` reports training against. */
#ifndef OB_CPU_H
#define OB_CPU_H

#include <stddef.h>

enum {
    CPU_AVX2 = 1 << 0,
    CPU_FMA = 1 << 1,
    CPU_AVX512F = 1 << 2,
    CPU_AVX512BW = 1 << 3,
    CPU_AVX512VL = 1 << 4,
    CPU_AVX512DQ = 1 << 5,
    CPU_AVX512_BF16 = 1 << 6,
    CPU_AVX512_FP16 = 1 << 7,
    CPU_AVX512_VNNI = 1 << 8,
    CPU_AMX_TILE = 1 << 9,
    CPU_AMX_BF16 = 1 << 10,
};

typedef struct {
    char vendor[13];     /* "GenuineIntel", "AuthenticAMD" */
    char model_name[49]; /* the brand string, trimmed */
    int family, model;   /* display family and model (extended fields folded in) */
    int stepping;
    unsigned isa; /* CPU_* bits the chip has and the OS has enabled */
} CpuInfo;

/* This CPU, read once (thread-safe). */
const CpuInfo *cpu_info(void);

/* "avx2 fma avx512f ... amx_bf16": the CPU_* extensions in isa, space
 * separated, into buf (always terminated). */
void cpu_isa_string(unsigned isa, char *buf, size_t n);

/* Asks Linux for permission to use the AMX tile registers in this process
 * (arch_prctl ARCH_REQ_XCOMP_PERM); 0 on success, -1 if the CPU lacks AMX or
 * the kernel refuses. Idempotent. */
int cpu_amx_enable(void);

/* Measured peaks in GFLOP/s for `threads` threads running at once (one
 * multiply-add = 2 FLOPs): fp32 FMA on 512-bit (or 256-bit without AVX-512)
 * registers, bf16 pair dot products (vdpbf16ps), and AMX bf16 tile products.
 * Best of three runs of about 50 ms each; 0 when the CPU lacks the unit. */
double cpu_peak_fp32(int threads);
double cpu_peak_bf16(int threads);
double cpu_peak_amx(int threads);

#endif
