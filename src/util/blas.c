#include "util/blas.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cpu.h"
#include "util/log.h"

/* OpenBLAS's own calls. The two that re-select the core exist only in
 * DYNAMIC_ARCH builds, so they are weak: another BLAS still links, and then
 * nothing is switched. */
char *openblas_get_corename(void) __attribute__((weak));
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));

const char *blas_core_name(void) {
    return openblas_get_corename ? openblas_get_corename() : "unknown";
}

/* The widest vector extension a core's kernels use: 3 AVX-512, 2 AVX2,
 * 1 AVX, 0 SSE (OpenBLAS 0.3.21's x86-64 DYNAMIC_ARCH cores). */
static int core_level(const char *core) {
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *const avx2[] = {"Haswell", "Zen", "Excavator"};
    static const char *const avx[] = {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller"};
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
        if (!strcasecmp(core, avx512[i])) return 3;
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
        if (!strcasecmp(core, avx2[i])) return 2;
    for (size_t i = 0; i < sizeof avx / sizeof *avx; i++)
        if (!strcasecmp(core, avx[i])) return 1;
    return 0;
}

/* The core this CPU should run and its level. Intel AVX-512 chips get the
 * AVX-512 kernels, and so do AMD chips from Zen 5 (family 26) on, which
 * execute 512-bit operations at full width: on an EPYC Zen 5 OpenBLAS 0.3.21
 * picks Haswell, and Cooperlake's sgemm ran 1.7x faster (training d288:
 * 171-194 -> 297-321 GFLOP/s, 2 threads). Zen 4 (family 25) splits 512-bit
 * operations into two halves and keeps OpenBLAS's Zen kernels. */
int blas_wanted_core(const CpuInfo *c, char *name, size_t n) {
    unsigned avx512 = CPU_AVX512F | CPU_AVX512BW | CPU_AVX512VL | CPU_AVX512DQ;
    int amd = !strcmp(c->vendor, "AuthenticAMD");
    int has2 = (c->isa & CPU_AVX2) && (c->isa & CPU_FMA);
    if (has2 && (c->isa & avx512) == avx512 && (!amd || c->family >= 26)) {
        snprintf(name, n, "%s", c->isa & CPU_AVX512_BF16 ? "Cooperlake" : "SkylakeX");
        return 3;
    }
    if (has2) {
        snprintf(name, n, "%s", amd ? "Zen" : "Haswell");
        return 2;
    }
    if (n) name[0] = 0;
    return -1; /* nothing to ask for */
}

int blas_force_core(const char *core) {
    if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return -1;
    /* gotoblas_dynamic_init reads OPENBLAS_CORETYPE; set it for the call and
     * put the user's value (or its absence) back afterwards. */
    const char *old = getenv("OPENBLAS_CORETYPE");
    char saved[64];
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("OPENBLAS_CORETYPE", core, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    if (old)
        setenv("OPENBLAS_CORETYPE", saved, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    return strcasecmp(blas_core_name(), core) ? -1 : 0;
}

void blas_check(BlasInfo *info) {
    memset(info, 0, sizeof *info);
    const CpuInfo *cpu = cpu_info();
    const char *user = getenv("OPENBLAS_CORETYPE");
    info->user_coretype = user && *user;
    snprintf(info->detected, sizeof info->detected, "%s", blas_core_name());
    int want = blas_wanted_core(cpu, info->wanted, sizeof info->wanted);
    if (!info->user_coretype && openblas_get_corename && want > core_level(info->detected) &&
        !blas_force_core(info->wanted))
        info->corrected = 1;
    snprintf(info->core, sizeof info->core, "%s", blas_core_name());
    if (!openblas_get_corename || want <= core_level(info->core)) return;
    info->below_cpu = 1;
    if (info->user_coretype)
        snprintf(
            info->note, sizeof info->note,
            "OPENBLAS_CORETYPE=%.40s runs OpenBLAS's %.31s kernels on a CPU that can run %.31s "
            "ones (unset it for full speed)",
            user, info->core, info->wanted);
    else
        snprintf(info->note, sizeof info->note,
                 "OpenBLAS runs its generic %.31s kernels on this CPU and could not be switched to "
                 "%.31s; set OPENBLAS_CORETYPE=%.31s for full speed",
                 info->core, info->wanted, info->wanted);
}

static BlasInfo g_blas;
static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;

/* A BLAS left on narrower kernels than the CPU has is said once, through
 * the log, when the first product needs it (a command that fails before any
 * product keeps its one-line error). */
static void blas_once(void) {
    blas_check(&g_blas);
    if (g_blas.note[0]) ob_logf("blas: %s\n", g_blas.note);
}

const BlasInfo *blas_init(void) {
    pthread_once(&g_blas_once, blas_once);
    return &g_blas;
}
