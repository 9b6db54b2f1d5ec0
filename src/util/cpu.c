#include "util/cpu.h"

#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/progress.h"

static CpuInfo g_cpu;
static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static void cpu_read(void) {
    CpuInfo *c = &g_cpu;
    unsigned a = 0, b = 0, cx = 0, d = 0, max = 0;
    if (!__get_cpuid(0, &max, &b, &cx, &d)) return;
    memcpy(c->vendor, &b, 4), memcpy(c->vendor + 4, &d, 4), memcpy(c->vendor + 8, &cx, 4);
    __get_cpuid(1, &a, &b, &cx, &d);
    int fam = (a >> 8) & 15, mod = (a >> 4) & 15;
    c->family = fam == 15 ? fam + (int)((a >> 20) & 255) : fam;
    c->model = fam == 6 || fam == 15 ? mod | (int)((a >> 16) & 15) << 4 : mod;
    c->stepping = a & 15;
    int fma = (cx >> 12) & 1, osxsave = (cx >> 27) & 1;
    /* Registers the OS saves: YMM needs XCR0 bits 1-2, ZMM also 5-7, AMX 17-18. */
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm = (xcr0 & 0x6) == 0x6, zmm = ymm && (xcr0 & 0xe0) == 0xe0;
    int tiles = (xcr0 & 0x60000) == 0x60000;
    unsigned isa = 0;
    if (ymm && fma) isa |= CPU_FMA;
    if (max >= 7) {
        unsigned b7, c7, d7, a71 = 0, x;
        __cpuid_count(7, 0, a, b7, c7, d7);
        if (a >= 1) __cpuid_count(7, 1, a71, x, x, x);
        if (ymm && (b7 >> 5 & 1)) isa |= CPU_AVX2;
        if (zmm) {
            isa |= (b7 >> 16 & 1) ? CPU_AVX512F : 0;
            isa |= (b7 >> 17 & 1) ? CPU_AVX512DQ : 0;
            isa |= (b7 >> 30 & 1) ? CPU_AVX512BW : 0;
            isa |= (b7 >> 31 & 1) ? CPU_AVX512VL : 0;
            isa |= (c7 >> 11 & 1) ? CPU_AVX512_VNNI : 0;
            isa |= (d7 >> 23 & 1) ? CPU_AVX512_FP16 : 0;
            isa |= (a71 >> 5 & 1) ? CPU_AVX512_BF16 : 0;
        }
        if (tiles) {
            isa |= (d7 >> 24 & 1) ? CPU_AMX_TILE : 0;
            isa |= (d7 >> 22 & 1) ? CPU_AMX_BF16 : 0;
        }
    }
    c->isa = isa;
    unsigned brand[12] = {0};
    __get_cpuid(0x80000000, &a, &b, &cx, &d);
    if (a >= 0x80000004)
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2],
                        &brand[4 * i + 3]);
    char raw[49];
    memcpy(raw, brand, 48);
    raw[48] = 0;
    const char *s = raw;
    while (*s == ' ') s++;
    snprintf(c->model_name, sizeof c->model_name, "%s", *s ? s : "unknown CPU");
    for (size_t n = strlen(c->model_name); n && c->model_name[n - 1] == ' ';)
        c->model_name[--n] = 0;
}

const CpuInfo *cpu_info(void) {
    pthread_once(&g_cpu_once, cpu_read);
    return &g_cpu;
}

void cpu_isa_string(unsigned isa, char *buf, size_t n) {
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{CPU_AVX2, "avx2"},
                 {CPU_FMA, "fma"},
                 {CPU_AVX512F, "avx512f"},
                 {CPU_AVX512BW, "avx512bw"},
                 {CPU_AVX512VL, "avx512vl"},
                 {CPU_AVX512DQ, "avx512dq"},
                 {CPU_AVX512_VNNI, "avx512_vnni"},
                 {CPU_AVX512_BF16, "avx512_bf16"},
                 {CPU_AVX512_FP16, "avx512_fp16"},
                 {CPU_AMX_TILE, "amx_tile"},
                 {CPU_AMX_BF16, "amx_bf16"}};
    size_t len = 0;
    if (n) buf[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && len < n; i++)
        if (isa & names[i].bit)
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? " " : "", names[i].name);
}

int cpu_amx_enable(void) {
    if (!(cpu_info()->isa & CPU_AMX_TILE)) return -1;
    /* ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA; asking again is harmless. */
    return syscall(SYS_arch_prctl, 0x1023, 18) ? -1 : 0;
}

/* The loops: 16 independent accumulators (enough to cover the latency of two
 * FMA ports), every operand in a register, written as assembly so that no
 * compiler keeps them in memory. Each returns after n iterations. */
#define REP16(op)                                                                                  \
    op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11) op(12) op(13) op(14) \
        op(15)
#define ZERO(i) "vpxord %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
#define FMA512(i) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #i "\n\t"
#define DPBF16(i) "vdpbf16ps %%zmm30, %%zmm31, %%zmm" #i "\n\t"
#define YZERO(i) "vpxor %%ymm" #i ", %%ymm" #i ", %%ymm" #i "\n\t"
#define FMA256(i) "vfmadd231ps %%ymm14, %%ymm15, %%ymm" #i "\n\t"
#define REP12(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11)
#define ZCLOBBER                                                                                   \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",       \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm30", "xmm31", "cc"

/* A loop of 16 independent `OP zmm30, zmm31, zmmI` per iteration. */
#define ZMM_LOOP(name, isa, OP)                                                                    \
    __attribute__((target(isa))) static void name(long n) {                                        \
        __asm__ volatile(REP16(ZERO) "vpxord %%zmm30, %%zmm30, %%zmm30\n\t"                        \
                                     "vpxord %%zmm31, %%zmm31, %%zmm31\n\t"                        \
                                     "1:\n\t" REP16(OP) "dec %0\n\t"                               \
                                                        "jnz 1b\n\t"                               \
                         : "+r"(n)                                                                 \
                         :                                                                         \
                         : ZCLOBBER);                                                              \
    }
ZMM_LOOP(loop_fma512, "avx512f", FMA512)
ZMM_LOOP(loop_dpbf16, "avx512f,avx512bf16", DPBF16)

__attribute__((target("avx2,fma"))) static void loop_fma256(long n) {
    __asm__ volatile(REP12(YZERO) "vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
                                  "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
                                  "1:\n\t" REP12(FMA256) "dec %0\n\t"
                                                         "jnz 1b\n\t"
                     : "+r"(n)
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
}

/* The AMX tile configuration (palette 1): 8 tiles of 16 rows x 64 bytes. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) TileConfig;

/* Four independent 16 x 16 fp32 accumulators (tiles 0-3) fed by two A and
 * two B tiles: each tdpbf16ps is 16 x 16 x 32 multiply-adds. */
__attribute__((target("amx-tile,amx-bf16"))) static void loop_amx(long n) {
    static const uint16_t ones[512] __attribute__((aligned(64))) = {0};
    /* A static table: GCC 12 does not see that ldtilecfg reads its operand
     * and dropped the stores of a configuration built on the stack. */
    static const TileConfig cfg = {.palette = 1,
                                   .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
                                   .rows = {16, 16, 16, 16, 16, 16, 16, 16}};
    _tile_loadconfig(&cfg);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, ones, 64);
    _tile_loadd(5, ones, 64);
    _tile_loadd(6, ones, 64);
    _tile_loadd(7, ones, 64);
    for (long i = 0; i < n; i++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_release();
}

/* Runs loop(n) on `threads` threads at once, n chosen for ~50 ms; returns
 * the best GFLOP/s of three runs. */
static double peak(void (*loop)(long), double flops_per_iter, int threads) {
    if (threads < 1) threads = 1;
    double t0 = ob_now();
    long probe = 20000;
    loop(probe);
    double dt = ob_now() - t0;
    long n = dt > 0 ? (long)(probe * 0.05 / dt) : probe;
    if (n < probe) n = probe;
    double best = 0.0;
    for (int r = 0; r < 3; r++) {
        double s = ob_now();
#pragma omp parallel num_threads(threads)
        loop(n);
        double g = threads * (double)n * flops_per_iter / (ob_now() - s) / 1e9;
        if (g > best) best = g;
    }
    return best;
}

double cpu_peak_fp32(int threads) {
    unsigned isa = cpu_info()->isa;
    if (isa & CPU_AVX512F) return peak(loop_fma512, 16 * 32.0, threads);
    if ((isa & CPU_AVX2) && (isa & CPU_FMA)) return peak(loop_fma256, 12 * 16.0, threads);
    return 0.0;
}

double cpu_peak_bf16(int threads) {
    unsigned need = CPU_AVX512F | CPU_AVX512_BF16;
    return (cpu_info()->isa & need) == need ? peak(loop_dpbf16, 16 * 64.0, threads) : 0.0;
}

/* Each thread needs the kernel's permission before touching the tiles; the
 * permission is per process, so asking once here covers them all. */
double cpu_peak_amx(int threads) {
    unsigned need = CPU_AMX_TILE | CPU_AMX_BF16;
    if ((cpu_info()->isa & need) != need || cpu_amx_enable()) return 0.0;
    return peak(loop_amx, 4 * 16 * 16 * 32 * 2.0, threads);
}
