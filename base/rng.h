/*
 * rng.h - seeded, reproducible random numbers (xoshiro256** seeded through
 * splitmix64), used for pairing and mixing in `tessera compose`: outputs
 * must be the same from a seed on every platform, so no libc rand().
 */
#ifndef TS_RNG_H
#define TS_RNG_H

#include <stdint.h>

struct ts_rng {
	uint64_t s[4];
};

/* Seed from four words (seed, epoch, window, job: any mix is fine). */
void ts_rng_seed(struct ts_rng *r, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
uint64_t ts_rng_next(struct ts_rng *r);
/* Uniform in [0, 1). */
double ts_rng_unit(struct ts_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t ts_rng_below(struct ts_rng *r, uint64_t n);
/* Gamma(a, 1), a > 0. */
double ts_rng_gamma(struct ts_rng *r, double a);
/* Beta(a, a); a == 1 is uniform. */
double ts_rng_beta(struct ts_rng *r, double a);

#endif
