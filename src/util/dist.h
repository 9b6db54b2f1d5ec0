/* The processes of one job (data-parallel training, sharded labels and
 * evaluation). Built with OB_MPI (`make MPI=1`) these are MPI calls on
 * MPI_COMM_WORLD with MPI_ERRORS_RETURN, so a failed call becomes an ObErr;
 * otherwise the job is one process, rank 0 of 1, and every collective is a
 * no-op that succeeds. The only state is MPI's own; the command line starts
 * and ends it (dist_init, dist_finalize, dist_abort).
 *
 * Work is split round-robin: item i belongs to rank i % size. Every rank
 * must make the same sequence of collective calls. */
#ifndef OB_DIST_H
#define OB_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Starts MPI when built with it (once, before any other call). */
int dist_init(int *argc, char ***argv, ObErr *err);
void dist_finalize(void);
/* Ends every process of the job with status code (MPI_Abort); without MPI
 * it returns and the caller exits. Command line only. */
void dist_abort(int code);

int dist_rank(void); /* 0 without MPI or before dist_init */
int dist_size(void); /* 1 without MPI or before dist_init */
static inline int dist_owns(uint64_t item) {
    return item % (uint64_t)dist_size() == (uint64_t)dist_rank();
}

/* Element-wise sums over all ranks, in place; every rank gets the same
 * result. Sent in buckets of at most OB_DIST_BUCKET elements (MPI counts are
 * int, and a 7B model has more floats than that). */
#define OB_DIST_BUCKET (1 << 22)
int dist_allreduce_sum_f32(float *x, size_t n, ObErr *err);
int dist_allreduce_sum_f64(double *x, size_t n, ObErr *err);
/* bytes of buf from root to every rank. */
int dist_bcast(void *buf, size_t bytes, int root, ObErr *err);
int dist_barrier(ObErr *err);
/* items[i] (item_bytes each, n in all) is filled by rank i % size; afterwards
 * every rank holds all n, in order. */
int dist_allgather_items(void *items, size_t item_bytes, size_t n, ObErr *err);
/* Point to point, for streaming results to rank 0 in order. */
int dist_send(const void *buf, size_t bytes, int to, ObErr *err);
int dist_recv(void *buf, size_t bytes, int from, ObErr *err);

#endif
