#include "util/rng.h"

#include <math.h>

uint64_t ob_hash64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x) {
    return ob_hash64(*x += 0x9e3779b97f4a7c15ULL);
}

void ob_rng_seed(ObRng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t ob_rng_u64(ObRng *r) {
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double ob_rng_uniform(ObRng *r) {
    return (double)(ob_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t ob_rng_below(ObRng *r, uint64_t n) {
    return n ? ob_rng_u64(r) % n : 0;
}

float ob_rng_normal(ObRng *r) {
    double u1 = ob_rng_uniform(r), u2 = ob_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
