/* util/blas.h and util/cpu.h: the generic-kernel fallback forced on purpose
 * is corrected (or, when the user chose it, reported in one line), products
 * stay right after the switch, and the measured peaks are plausible. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "check.h"
#include "util/blas.h"
#include "util/cpu.h"

/* sgemm against a plain triple loop, on whichever core is in use. */
static int sgemm_agrees(void) {
    enum { M = 37, N = 53, K = 71 };
    static float a[M * K], b[K * N], c[M * N];
    for (int i = 0; i < M * K; i++) a[i] = (float)((i * 7919) % 23 - 11) / 8.0f;
    for (int i = 0; i < K * N; i++) b[i] = (float)((i * 104729) % 19 - 9) / 4.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f; /* small integers over 32: every sum is exact */
            for (int k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j];
            if (c[i * N + j] != s) return 0;
        }
    return 1;
}

static int cpu_wants_more_than_sse(void) {
    unsigned isa = cpu_info()->isa;
    return (isa & CPU_AVX2) && (isa & CPU_FMA);
}

static void test_cpu_info(void) {
    const CpuInfo *c = cpu_info();
    char isa[256];
    cpu_isa_string(c->isa, isa, sizeof isa);
    fprintf(stderr, "  %s (%s family %d model %d): %s\n", c->model_name, c->vendor, c->family,
            c->model, isa);
    CHECK(c->vendor[0] && c->model_name[0], "no CPU identity");
    CHECK(c->family > 0, "family %d", c->family);
    /* what CPUID says must agree with the compiler's own view of the CPU */
    __builtin_cpu_init();
    CHECK(!!(c->isa & CPU_AVX2) == !!__builtin_cpu_supports("avx2"), "avx2 disagrees");
    CHECK(!!(c->isa & CPU_AVX512F) == !!__builtin_cpu_supports("avx512f"), "avx512f disagrees");
    CHECK(!!(c->isa & CPU_AVX512_BF16) == !!__builtin_cpu_supports("avx512bf16"),
          "avx512_bf16 disagrees");
}

/* The situation of Debian's OpenBLAS on Emerald Rapids, made on purpose:
 * the generic core selected without the user asking for it. */
static void test_generic_core_corrected(void) {
    if (!cpu_wants_more_than_sse()) {
        fprintf(stderr, "  skipped: this CPU has no AVX2, so the generic kernels are its own\n");
        return;
    }
    unsetenv("OPENBLAS_CORETYPE");
    if (blas_force_core("Prescott")) {
        fprintf(stderr, "  skipped: this OpenBLAS cannot switch cores (not DYNAMIC_ARCH)\n");
        return;
    }
    CHECK(!strcmp(blas_core_name(), "Prescott"), "forcing Prescott gave %s", blas_core_name());
    BlasInfo info;
    blas_check(&info);
    CHECK(!strcmp(info.detected, "Prescott"), "detected %s", info.detected);
    CHECK(info.corrected, "the generic core was left in place");
    CHECK(!info.below_cpu && !info.note[0], "still below the CPU: %s", info.note);
    CHECK(!strcasecmp(info.core, info.wanted), "core %s, wanted %s", info.core, info.wanted);
    CHECK(!strcasecmp(blas_core_name(), info.wanted), "OpenBLAS reports %s", blas_core_name());
    CHECK(getenv("OPENBLAS_CORETYPE") == NULL, "the environment was left changed");
    CHECK(sgemm_agrees(), "sgemm wrong after the switch");
}

/* A core the user chose is kept, and a narrower one than the CPU's is
 * reported in one line that names the variable. */
static void test_user_coretype_reported(void) {
    if (!cpu_wants_more_than_sse()) {
        fprintf(stderr, "  skipped: this CPU has no AVX2\n");
        return;
    }
    setenv("OPENBLAS_CORETYPE", "Prescott", 1);
    if (blas_force_core("Prescott")) {
        fprintf(stderr, "  skipped: this OpenBLAS cannot switch cores (not DYNAMIC_ARCH)\n");
        unsetenv("OPENBLAS_CORETYPE");
        return;
    }
    BlasInfo info;
    blas_check(&info);
    CHECK(info.user_coretype && !info.corrected, "the user's core was overridden");
    CHECK(!strcmp(blas_core_name(), "Prescott"), "core now %s", blas_core_name());
    CHECK(info.below_cpu, "a generic core on this CPU was not flagged");
    CHECK(strstr(info.note, "OPENBLAS_CORETYPE=Prescott") && !strchr(info.note, '\n'), "note: '%s'",
          info.note);
    CHECK(sgemm_agrees(), "sgemm wrong on the generic core");
    /* and once the user's variable is gone, the next check corrects it */
    unsetenv("OPENBLAS_CORETYPE");
    blas_check(&info);
    CHECK(info.corrected && !info.below_cpu, "not corrected after unsetting the variable");
}

/* The core asked for, by CPU identity: AVX-512 kernels on Intel and on AMD
 * from Zen 5 (full-width 512-bit units), Zen kernels on Zen 4 (512-bit split
 * in halves), nothing asked of a CPU without AVX2. */
static void test_wanted_core(void) {
    unsigned v2 = CPU_AVX2 | CPU_FMA;
    unsigned v512 = v2 | CPU_AVX512F | CPU_AVX512BW | CPU_AVX512VL | CPU_AVX512DQ;
    struct {
        const char *vendor;
        int family;
        unsigned isa;
        const char *core;
        int level;
    } cases[] = {
        {"GenuineIntel", 6, v512 | CPU_AVX512_BF16, "Cooperlake", 3},
        {"GenuineIntel", 6, v512, "SkylakeX", 3},
        {"GenuineIntel", 6, v2, "Haswell", 2},
        {"AuthenticAMD", 25, v512 | CPU_AVX512_BF16, "Zen", 2},        /* Zen 4 */
        {"AuthenticAMD", 26, v512 | CPU_AVX512_BF16, "Cooperlake", 3}, /* Zen 5 */
        {"AuthenticAMD", 23, v2, "Zen", 2},
        {"AuthenticAMD", 26, v2, "Zen", 2},    /* AVX-512 switched off */
        {"GenuineIntel", 6, CPU_AVX2, "", -1}, /* no FMA */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CpuInfo c;
        memset(&c, 0, sizeof c);
        snprintf(c.vendor, sizeof c.vendor, "%s", cases[i].vendor);
        c.family = cases[i].family;
        c.isa = cases[i].isa;
        char name[32];
        int level = blas_wanted_core(&c, name, sizeof name);
        CHECK(level == cases[i].level && !strcmp(name, cases[i].core),
              "case %zu: %s family %d -> %s (level %d), expected %s (%d)", i, cases[i].vendor,
              cases[i].family, name, level, cases[i].core, cases[i].level);
    }
}

/* The peaks: positive where the unit exists, AMX far above the vector
 * units, two threads at least 1.3x one (the cores are separate). */
static void test_peaks(void) {
    unsigned isa = cpu_info()->isa;
    double f1 = cpu_peak_fp32(1), b1 = cpu_peak_bf16(1), x1 = cpu_peak_amx(1);
    fprintf(stderr, "  1 thread: fp32 %.0f, bf16 %.0f, amx %.0f GFLOP/s\n", f1, b1, x1);
    CHECK(f1 > 1.0 || !(isa & CPU_AVX2), "fp32 peak %.1f", f1);
    CHECK((b1 > 1.0) == !!(isa & CPU_AVX512_BF16), "bf16 peak %.1f", b1);
    int amx = (isa & CPU_AMX_TILE) && (isa & CPU_AMX_BF16);
    CHECK(!amx || x1 > 2.0 * b1, "AMX peak %.0f not above the bf16 vector peak %.0f", x1, b1);
    CHECK(amx || x1 == 0.0, "AMX peak %.0f on a CPU without AMX", x1);
}

int main(void) {
    RUN(test_cpu_info);
    RUN(test_generic_core_corrected);
    RUN(test_user_coretype_reported);
    RUN(test_wanted_core);
    RUN(test_peaks);
    return check_main_end("blas");
}
