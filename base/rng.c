/*
 * rng.c - the seeded random numbers of compositions (see rng.h): splitmix64
 * seeding, xoshiro256**, an unbiased bounded draw, Gamma by Marsaglia and
 * Tsang, Beta from two Gammas.  Integer arithmetic and the C library's
 * log/sqrt/cos/pow only, so a seed gives the same draws on every platform
 * tessera builds on (IEEE doubles, glibc or musl).
 */
#include "base/rng.h"

#include <math.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif


static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void ts_rng_seed(struct ts_rng *r, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	uint64_t x = a ^ (b * 0xd1b54a32d192ed03ULL) ^ (c * 0xabc98388fb8fac03ULL) ^ (d * 0x8cb92ba72f3d8dd7ULL);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t ts_rng_next(struct ts_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Uniform in [0, 1). */
double ts_rng_unit(struct ts_rng *r)
{
	return (double)(ts_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n) (n > 0), without modulo bias. */
uint64_t ts_rng_below(struct ts_rng *r, uint64_t n)
{
	uint64_t lim = UINT64_MAX - UINT64_MAX % n, v;
	do
		v = ts_rng_next(r);
	while (v >= lim);
	return v % n;
}

/* Gamma(a, 1) by Marsaglia and Tsang (a < 1: boosted with U^(1/a)); the
 * normal deviate by Box-Muller. */
double ts_rng_gamma(struct ts_rng *r, double a)
{
	if (a < 1) {
		double u = ts_rng_unit(r);
		return ts_rng_gamma(r, a + 1) * pow(u > 0 ? u : 0x1.0p-53, 1 / a);
	}
	double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
	for (;;) {
		double u1 = ts_rng_unit(r), u2 = ts_rng_unit(r);
		double x = sqrt(-2 * log(u1 > 0 ? u1 : 0x1.0p-53)) * cos(2 * M_PI * u2);
		double v = 1 + c * x;
		if (v <= 0)
			continue;
		v = v * v * v;
		double u = ts_rng_unit(r);
		if (u < 1 - 0.0331 * x * x * x * x || log(u > 0 ? u : 0x1.0p-53) < 0.5 * x * x + d * (1 - v + log(v)))
			return d * v;
	}
}

/* Beta(a, a): X / (X + Y) with X, Y ~ Gamma(a); a == 1 is uniform. */
double ts_rng_beta(struct ts_rng *r, double a)
{
	if (a == 1.0)
		return ts_rng_unit(r);
	double x = ts_rng_gamma(r, a), y = ts_rng_gamma(r, a);
	return x + y > 0 ? x / (x + y) : 0.5;
}

