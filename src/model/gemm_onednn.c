#include "model/gemm_onednn.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "util/cpu.h"

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_impl[64];

/* One primitive per product shape, strides, beta and thread count (oneDNN
 * fixes its work split when it creates a primitive): a training step has a
 * dozen distinct shapes, generation a few more per prompt length. The
 * oldest entry makes room when the table is full. */
enum { CACHE_SLOTS = 64 };
typedef struct {
    int M, N, K;
    long rsa, csa, rsb, csb, ldc;
    float beta;
    int threads;
} Key;
static struct {
    Key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t ad, bd, cd;
    int used;
} g_cache[CACHE_SLOTS];
static int g_next;

/* The descriptors of a product; 0 when oneDNN accepts them. */
static int make_primitive(const Key *k, dnnl_primitive_t *prim, dnnl_memory_desc_t *ad,
                          dnnl_memory_desc_t *bd, dnnl_memory_desc_t *cd, char *impl, size_t n) {
    dnnl_dims_t da = {k->M, k->K}, sa = {k->rsa, k->csa}, db = {k->K, k->N}, sb = {k->rsb, k->csb};
    dnnl_dims_t dc = {k->M, k->N}, sc = {k->ldc, 1};
    if (dnnl_memory_desc_init_by_strides(ad, 2, da, dnnl_bf16, sa) ||
        dnnl_memory_desc_init_by_strides(bd, 2, db, dnnl_bf16, sb) ||
        dnnl_memory_desc_init_by_strides(cd, 2, dc, dnnl_f32, sc))
        return -1;
    dnnl_matmul_desc_t md;
    if (dnnl_matmul_desc_init(&md, ad, bd, NULL, cd)) return -1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    int rc = -1;
    if (dnnl_primitive_attr_create(&attr)) return -1;
    /* beta * C arrives as a sum post-op: dst = A B + beta * dst. */
    if (k->beta != 0.0f && (dnnl_post_ops_create(&po) || dnnl_post_ops_append_sum(po, k->beta) ||
                            dnnl_primitive_attr_set_post_ops(attr, po)))
        goto out;
    dnnl_primitive_desc_t pd;
    if (dnnl_primitive_desc_create(&pd, &md, attr, g_engine, NULL)) goto out;
    if (impl) {
        const char *s = NULL;
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s);
        snprintf(impl, n, "%s", s ? s : "");
    }
    rc = dnnl_primitive_create(prim, pd) ? -1 : 0;
    dnnl_primitive_desc_destroy(pd);
out:
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    return rc;
}

static void engine_init(void) {
    cpu_amx_enable(); /* oneDNN asks too; asking first costs nothing */
    if (dnnl_engine_create(&g_engine, dnnl_cpu, 0)) {
        g_engine = NULL;
        return;
    }
    if (dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags)) {
        dnnl_engine_destroy(g_engine);
        g_engine = NULL;
        return;
    }
    /* The implementation a typical layer product gets, for reports. */
    Key k = {256, 256, 256, 256, 1, 1, 256, 256, 0.0f, 1};
    dnnl_primitive_t p;
    dnnl_memory_desc_t ad, bd, cd;
    if (!make_primitive(&k, &p, &ad, &bd, &cd, g_impl, sizeof g_impl)) dnnl_primitive_destroy(p);
}

int gemm_onednn_available(char *impl, size_t n) {
    pthread_once(&g_once, engine_init);
    if (impl && n) snprintf(impl, n, "%s", g_engine ? g_impl : "");
    return g_engine != NULL;
}

static int key_eq(const Key *a, const Key *b) {
    return a->M == b->M && a->N == b->N && a->K == b->K && a->rsa == b->rsa && a->csa == b->csa &&
           a->rsb == b->rsb && a->csb == b->csb && a->ldc == b->ldc && a->beta == b->beta &&
           a->threads == b->threads;
}

int gemm_onednn_bf16(int M, int N, int K, const uint16_t *a, long rsa, long csa, const uint16_t *b,
                     long rsb, long csb, float beta, float *c, long ldc) {
    if (!gemm_onednn_available(NULL, 0) || M <= 0 || N <= 0 || K <= 0) return -1;
#ifdef _OPENMP
    int threads = omp_get_max_threads();
#else
    int threads = 1;
#endif
    Key key = {M, N, K, rsa, csa, rsb, csb, ldc, beta, threads};
    pthread_mutex_lock(&g_lock);
    int slot = -1;
    for (int i = 0; i < CACHE_SLOTS && slot < 0; i++)
        if (g_cache[i].used && key_eq(&g_cache[i].key, &key)) slot = i;
    if (slot < 0) {
        slot = g_next;
        g_next = (g_next + 1) % CACHE_SLOTS;
        if (g_cache[slot].used) dnnl_primitive_destroy(g_cache[slot].prim);
        g_cache[slot].used = 0;
        if (make_primitive(&key, &g_cache[slot].prim, &g_cache[slot].ad, &g_cache[slot].bd,
                           &g_cache[slot].cd, NULL, 0)) {
            pthread_mutex_unlock(&g_lock);
            return -1;
        }
        g_cache[slot].key = key;
        g_cache[slot].used = 1;
    }
    dnnl_memory_t am = NULL, bm = NULL, cm = NULL;
    int rc = -1;
    if (!dnnl_memory_create(&am, &g_cache[slot].ad, g_engine, (void *)a) &&
        !dnnl_memory_create(&bm, &g_cache[slot].bd, g_engine, (void *)b) &&
        !dnnl_memory_create(&cm, &g_cache[slot].cd, g_engine, c)) {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
        rc = dnnl_primitive_execute(g_cache[slot].prim, g_stream, 3, args) ||
                     dnnl_stream_wait(g_stream)
                 ? -1
                 : 0;
    }
    if (am) dnnl_memory_destroy(am);
    if (bm) dnnl_memory_destroy(bm);
    if (cm) dnnl_memory_destroy(cm);
    pthread_mutex_unlock(&g_lock);
    return rc;
}
