#include "util/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef OB_MPI
#include <mpi.h>

/* MPI_SUCCESS, or err filled with the call's name and MPI's message. */
static int mpi_check(int rc, const char *what, ObErr *err) {
    if (rc == MPI_SUCCESS) return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return ob_errf(err, "%s failed: %.*s", what, len, msg);
}

static int mpi_up(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int dist_init(int *argc, char ***argv, ObErr *err) {
    /* Only the main thread calls MPI; OpenMP workers never do. */
    int provided;
    if (mpi_check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init", err))
        return -1;
    return mpi_check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
                     "MPI_Comm_set_errhandler", err);
}

void dist_finalize(void) {
    if (mpi_up()) MPI_Finalize();
}

void dist_abort(int code) {
    if (mpi_up()) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
}

int dist_rank(void) {
    int r = 0;
    if (mpi_up()) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int dist_size(void) {
    int s = 1;
    if (mpi_up()) MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

static int allreduce(void *x, size_t n, size_t elem, MPI_Datatype t, ObErr *err) {
    if (dist_size() == 1) return 0;
    for (size_t i = 0; i < n; i += OB_DIST_BUCKET) {
        int c = (int)(n - i < OB_DIST_BUCKET ? n - i : OB_DIST_BUCKET);
        if (mpi_check(
                MPI_Allreduce(MPI_IN_PLACE, (char *)x + i * elem, c, t, MPI_SUM, MPI_COMM_WORLD),
                "MPI_Allreduce", err))
            return -1;
    }
    return 0;
}

int dist_allreduce_sum_f32(float *x, size_t n, ObErr *err) {
    return allreduce(x, n, sizeof(float), MPI_FLOAT, err);
}

int dist_allreduce_sum_f64(double *x, size_t n, ObErr *err) {
    return allreduce(x, n, sizeof(double), MPI_DOUBLE, err);
}

#define CHUNK_BYTES ((size_t)1 << 30) /* under INT_MAX bytes per call */

int dist_bcast(void *buf, size_t bytes, int root, ObErr *err) {
    if (dist_size() == 1) return 0;
    for (size_t i = 0; i < bytes; i += CHUNK_BYTES) {
        int c = (int)(bytes - i < CHUNK_BYTES ? bytes - i : CHUNK_BYTES);
        if (mpi_check(MPI_Bcast((char *)buf + i, c, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast",
                      err))
            return -1;
    }
    return 0;
}

int dist_barrier(ObErr *err) {
    if (dist_size() == 1) return 0;
    return mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier", err);
}

int dist_send(const void *buf, size_t bytes, int to, ObErr *err) {
    for (size_t i = 0; i < bytes; i += CHUNK_BYTES) {
        int c = (int)(bytes - i < CHUNK_BYTES ? bytes - i : CHUNK_BYTES);
        if (mpi_check(MPI_Send((const char *)buf + i, c, MPI_BYTE, to, 0, MPI_COMM_WORLD),
                      "MPI_Send", err))
            return -1;
    }
    return 0;
}

int dist_recv(void *buf, size_t bytes, int from, ObErr *err) {
    for (size_t i = 0; i < bytes; i += CHUNK_BYTES) {
        int c = (int)(bytes - i < CHUNK_BYTES ? bytes - i : CHUNK_BYTES);
        if (mpi_check(
                MPI_Recv((char *)buf + i, c, MPI_BYTE, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                "MPI_Recv", err))
            return -1;
    }
    return 0;
}

#else /* one process */

int dist_init(int *argc, char ***argv, ObErr *err) {
    (void)argc, (void)argv, (void)err;
    return 0;
}
void dist_finalize(void) {}
void dist_abort(int code) {
    (void)code;
}
int dist_rank(void) {
    return 0;
}
int dist_size(void) {
    return 1;
}
int dist_allreduce_sum_f32(float *x, size_t n, ObErr *err) {
    (void)x, (void)n, (void)err;
    return 0;
}
int dist_allreduce_sum_f64(double *x, size_t n, ObErr *err) {
    (void)x, (void)n, (void)err;
    return 0;
}
int dist_bcast(void *buf, size_t bytes, int root, ObErr *err) {
    (void)buf, (void)bytes, (void)root, (void)err;
    return 0;
}
int dist_barrier(ObErr *err) {
    (void)err;
    return 0;
}
int dist_send(const void *buf, size_t bytes, int to, ObErr *err) {
    (void)buf, (void)bytes;
    return ob_errf(err, "send to rank %d: this build has no MPI", to);
}
int dist_recv(void *buf, size_t bytes, int from, ObErr *err) {
    (void)buf, (void)bytes;
    return ob_errf(err, "receive from rank %d: this build has no MPI", from);
}

#endif

int dist_allgather_items(void *items, size_t item_bytes, size_t n, ObErr *err) {
    size_t P = (size_t)dist_size();
    if (P == 1 || n == 0) return 0;
    /* One broadcast per rank of the items it owns, packed. */
    size_t per = (n + P - 1) / P;
    char *buf = ob_malloc(per * item_bytes, "gathered items", err), *base = items;
    if (!buf) return -1;
    int rc = 0;
    for (size_t r = 0; r < P && !rc; r++) {
        size_t k = 0;
        if ((size_t)dist_rank() == r)
            for (size_t i = r; i < n; i += P, k++)
                memcpy(buf + k * item_bytes, base + i * item_bytes, item_bytes);
        size_t count = n > r ? (n - r + P - 1) / P : 0;
        rc = dist_bcast(buf, count * item_bytes, (int)r, err);
        k = 0;
        for (size_t i = r; !rc && i < n; i += P, k++)
            memcpy(base + i * item_bytes, buf + k * item_bytes, item_bytes);
    }
    free(buf);
    return rc;
}
