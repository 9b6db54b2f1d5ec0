/* Which kernels the BLAS runs, checked against what the CPU offers.
 *
 * OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels by CPU model
 * at load time. A model it does not know falls back to generic SSE3 kernels
 * ("Prescott"): Debian's 0.3.21 does this on Intel Emerald Rapids, where
 * sgemm then runs 5-7x slower (on AMD Zen 5 the AVX2 kernels, should it fall
 * back to them, run 1.7x slower than its AVX-512 ones). blas_init() compares
 * the core OpenBLAS chose with the CPU's extensions (CPUID) and, when
 * OpenBLAS fell back below them on its own, switches it to the kernels the
 * CPU can run before the first product. A core the user chose with OPENBLAS_CORETYPE is kept and,
 * when it is below the CPU, reported in `note` and said once through the log (util/log.h) when the
 * first product runs. */
#ifndef OB_BLAS_H
#define OB_BLAS_H

#include <stddef.h>

#include "util/cpu.h"

typedef struct {
    char detected[32]; /* the core OpenBLAS chose at load (or the user's choice) */
    char core[32];     /* the core in use now */
    char wanted[32];   /* the core this CPU should run ("" when it offers no AVX2) */
    int user_coretype; /* OPENBLAS_CORETYPE was set */
    int corrected;     /* blas_init switched detected -> core */
    int below_cpu;     /* the core in use still runs narrower kernels than the CPU has */
    char note[256];    /* one line when below_cpu, else "" */
} BlasInfo;

/* Checks (and where needed corrects) the BLAS once per process, thread-safe;
 * every later call returns the same record. The products in model/ops.c call
 * it before their first sgemm. */
const BlasInfo *blas_init(void);

/* The same check done now, for tests that change the core themselves: fills
 * *info from the current state, switching the core as blas_init does. */
void blas_check(BlasInfo *info);

/* Makes OpenBLAS re-select its core as if OPENBLAS_CORETYPE were `core` at
 * load ("Prescott" forces the generic fallback). 0 on success, -1 if this
 * OpenBLAS cannot switch (not a DYNAMIC_ARCH build) or does not know the
 * name. For tests and blas_check only: not safe while products run. */
int blas_force_core(const char *core);

/* The OpenBLAS core CPU c should run, into name (n bytes): Cooperlake or
 * SkylakeX on AVX-512 Intel and AMD Zen 5 on, Zen on other AMD AVX2 chips,
 * Haswell on other AVX2 ones. Returns its level (3 AVX-512, 2 AVX2), or -1
 * and "" when the CPU has no AVX2 and FMA (its generic core is its own). */
int blas_wanted_core(const CpuInfo *c, char *name, size_t n);

/* The core name OpenBLAS reports now ("Prescott", "SkylakeX", ...). */
const char *blas_core_name(void);

#endif
