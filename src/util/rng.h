/* A small seeded random generator (splitmix64 seeding xoshiro256**), so runs
 * with the same seed give the same bits on every machine. */
#ifndef OB_RNG_H
#define OB_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} ObRng;

void ob_rng_seed(ObRng *r, uint64_t seed);
uint64_t ob_rng_u64(ObRng *r);
/* Uniform in [0, 1). */
double ob_rng_uniform(ObRng *r);
/* Uniform integer in [0, n). */
uint64_t ob_rng_below(ObRng *r, uint64_t n);
/* Standard normal (Box-Muller). */
float ob_rng_normal(ObRng *r);
/* A 64-bit mixing function (splitmix64's finaliser): for counter-based
 * draws that do not depend on how many draws came before. */
uint64_t ob_hash64(uint64_t x);

#endif
