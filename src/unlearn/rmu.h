/* RMU, representation misdirection (Li et al. 2024, the WMDP paper): at
 * block L, the hidden states of forget text are pushed to a fixed random
 * vector c u and those of retain text held at the reference's, both by mean
 * squared error; only the MLPs (gate, up, down) of blocks L-2..L train.
 *
 *   loss = gamma mean||h_L(forget) - c u||^2 + alpha mean||h_L(retain) - h_L^ref(retain)||^2
 *
 * the means over every position and width element of the batch; u is drawn
 * uniform in [0, 1) per element and normalised, as the authors do. */
#ifndef OB_RMU_H
#define OB_RMU_H

#include <stddef.h>
#include <stdint.h>

#include "model/llama.h"

/* The block RMU steers for a model of n_layers: layer when given (checked
 * by the caller), else round(7/32 of the depth) (the authors' 7 of 32). */
int rmu_layer(int n_layers, int layer);
/* The lowest block that trains: L-2, or 0. */
int rmu_lowest(int layer);

/* u (C): the fixed random direction, unit length, from seed. */
void rmu_direction(float *u, int C, uint64_t seed);

/* weight * sum over N rows of ||h_n - t_n||^2, t_n = target + n * tstride
 * (tstride 0: one target for every row); dh (N, C) = its gradient. */
double rmu_mse(const float *h, const float *target, size_t tstride, size_t N, int C, double weight,
               float *dh);

/* Zeroes every gradient of m but those of the MLP matrices of blocks
 * lo..hi (m's own, or its adapter's), so the rest never moves. */
void rmu_keep_mlp_grads(Llama *m, int lo, int hi);

#endif
