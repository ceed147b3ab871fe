/* tests/calib/test_stefcal.c — StEFCal against synthetic data with known gains. */
#include "tests/test.h"

#include <complex.h>
#include <errno.h>
#include <stdint.h>

#include "calib/stefcal.h"

#define NA 24
#define NS 30 /* samples per baseline (e.g. integrations of one channel) */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) { return test_urand(&rng); }
static double grand(void) { return test_grand(&rng); }

typedef struct problem {
	int nbl, a1[NA * NA], a2[NA * NA];
	double complex gtrue[NA];
	stefcal_acc acc[NA * NA];
	double info[NA]; /* Σ_q w |g_q M|²: the Fisher information of g_a */
} problem;

/* Random gains, a random model (a few Jy, different per sample), complex
 * Gaussian noise with per-baseline σ (σ per real/imag part) and weights 1/σ². */
static void make_problem(problem *P, double sigma, int phase_only, int vary_sigma)
{
	P->nbl = 0;
	for (int a = 0; a < NA; a++) {
		double amp = phase_only ? 1.0 : 0.5 + urand();
		P->gtrue[a] = amp * cexp(I * 2 * M_PI * urand());
		P->info[a] = 0;
	}
	for (int i = 0; i < NA; i++)
		for (int j = i + 1; j < NA; j++) {
			int b = P->nbl++;
			double s = vary_sigma ? sigma * (0.5 + 1.5 * urand()) : sigma;
			double w = 1.0 / (2 * s * s); /* complex variance 2σ² → unit-weight variance 1 */
			P->a1[b] = i;
			P->a2[b] = j;
			memset(&P->acc[b], 0, sizeof P->acc[b]);
			for (int k = 0; k < NS; k++) {
				double complex m = (2.0 + 3.0 * urand()) * cexp(I * 2 * M_PI * urand());
				double complex vobs = P->gtrue[i] * m * conj(P->gtrue[j]) +
						      s * (grand() + I * grand());
				stefcal_acc_add(&P->acc[b], (float complex)vobs, (float complex)m, w);
				P->info[i] += w * cabs(P->gtrue[j] * m) * cabs(P->gtrue[j] * m);
				P->info[j] += w * cabs(P->gtrue[i] * m) * cabs(P->gtrue[i] * m);
			}
		}
}

/* Normalised error of each gain after both are referred to antenna 0. */
static void compare(const problem *P, double complex *g, const uint8_t *ok, double *ret_rms,
		    double *ret_max)
{
	double complex ref = conj(P->gtrue[0]) / cabs(P->gtrue[0]);
	double ss = 0, mx = 0;
	int n = 0;

	stefcal_reference(NA, g, ok, 0);
	for (int a = 1; a < NA; a++) {
		double e;
		if (!ok[a])
			continue;
		/* σ(g_a) = sqrt(1 / info) for unit-weight complex variance 1. */
		e = cabs(g[a] - P->gtrue[a] * ref) / sqrt(1.0 / P->info[a]);
		ss += e * e;
		mx = fmax(mx, e);
		n++;
	}
	*ret_rms = sqrt(ss / n);
	*ret_max = mx;
}

static void test_amp_phase(void)
{
	static problem P;
	stefcal_params par;
	double complex g[NA] = {0};
	uint8_t ok[NA];
	double snr[NA], rms, mx;
	stefcal_result res;

	make_problem(&P, 1.0, 0, 1);
	stefcal_params_init(&par);
	CHECK_OK(stefcal_solve(&par, NA, P.nbl, P.a1, P.a2, P.acc, 1, g, ok, snr, &res), NULL);
	CHECK(res.converged && res.niter < par.max_iter, "niter %d", res.niter);
	CHECK(res.nant_ok == NA);
	compare(&P, g, ok, &rms, &mx);
	printf("# amp+phase: %d iterations, error/σ_expected rms %.3f max %.3f, chi2/dof %.3f\n",
	       res.niter, rms, mx, res.sigma2_unit);
	/* The error of a complex gain is ~ complex Gaussian with the least-squares
	 * σ; the referencing adds antenna 0's error, so rms ≈ 1.0–1.4. */
	CHECK(rms > 0.6 && rms < 1.6, "rms %.3f", rms);
	CHECK(mx < 5.0, "max %.3f", mx);
	/* Unit-weight variance is 1 by construction of the weights. */
	CHECK_NEAR(res.sigma2_unit, 1.0, 0.05);
	/* The reported SNR is |g| / σ(g). */
	for (int a = 1; a < NA; a++)
		CHECK_NEAR(snr[a] / (cabs(P.gtrue[a]) * sqrt(P.info[a])), 1.0, 0.1);
}

static void test_noiseless_exact(void)
{
	static problem P;
	stefcal_params par;
	double complex g[NA] = {0};
	uint8_t ok[NA];
	stefcal_result res;
	double complex ref;

	make_problem(&P, 1e-9, 0, 0);
	stefcal_params_init(&par);
	par.tol = 1e-10;
	par.max_iter = 500;
	CHECK_OK(stefcal_solve(&par, NA, P.nbl, P.a1, P.a2, P.acc, 1, g, ok, NULL, &res), NULL);
	CHECK(res.converged, "niter %d", res.niter);
	stefcal_reference(NA, g, ok, 3);
	ref = conj(P.gtrue[3]) / cabs(P.gtrue[3]);
	for (int a = 0; a < NA; a++)
		CHECK(cabs(g[a] - P.gtrue[a] * ref) < 1e-6, "antenna %d", a);
	CHECK(cimag(g[3]) == 0 && creal(g[3]) > 0);
}

static void test_phase_only(void)
{
	static problem P;
	stefcal_params par;
	double complex g[NA] = {0};
	uint8_t ok[NA];
	stefcal_result res;
	double rms, mx;

	make_problem(&P, 1.0, 1, 0);
	stefcal_params_init(&par);
	par.phase_only = 1;
	CHECK_OK(stefcal_solve(&par, NA, P.nbl, P.a1, P.a2, P.acc, 1, g, ok, NULL, &res), NULL);
	CHECK(res.converged);
	for (int a = 0; a < NA; a++)
		CHECK_NEAR(cabs(g[a]), 1.0, 1e-9);
	compare(&P, g, ok, &rms, &mx);
	printf("# phase-only: %d iterations, error/σ_expected rms %.3f max %.3f\n", res.niter, rms, mx);
	/* Only the phase component of the error remains: rms ≈ 0.7–1.0. */
	CHECK(rms < 1.3 && mx < 5.0, "rms %.3f max %.3f", rms, mx);
}

static void test_min_baselines_and_strided(void)
{
	/* Interleave two independent problems (stride 2) and starve antenna 5 of
	 * baselines in the first: it must come back unsolved, the rest solved. */
	static problem P, Q;
	static stefcal_acc both[2 * NA * NA];
	stefcal_params par;
	double complex g[NA] = {0};
	uint8_t ok[NA];
	stefcal_result res;
	double rms, mx;
	int kept = 0;

	make_problem(&P, 0.5, 0, 0);
	make_problem(&Q, 0.5, 0, 0);
	for (int b = 0; b < P.nbl; b++) {
		both[2 * b] = P.acc[b];
		both[2 * b + 1] = Q.acc[b];
		if (P.a1[b] == 5 || P.a2[b] == 5) {
			if (kept++ >= 3)
				memset(&both[2 * b], 0, sizeof both[2 * b]);
		}
	}
	stefcal_params_init(&par);
	par.min_bl = 4;
	CHECK_OK(stefcal_solve(&par, NA, P.nbl, P.a1, P.a2, both, 2, g, ok, NULL, &res), NULL);
	CHECK(!ok[5] && g[5] == 0);
	CHECK(res.nant_ok == NA - 1);
	memset(g, 0, sizeof g);
	CHECK_OK(stefcal_solve(&par, NA, Q.nbl, Q.a1, Q.a2, both + 1, 2, g, ok, NULL, &res), NULL);
	CHECK(res.nant_ok == NA);
	compare(&Q, g, ok, &rms, &mx);
	CHECK(rms < 1.6 && mx < 5.0, "rms %.3f max %.3f", rms, mx);
	CHECK(stefcal_solve(&par, NA, 1, (int[]){0}, (int[]){NA}, both, 1, g, ok, NULL, NULL) == -EINVAL);
}

int main(void)
{
	RUN(test_amp_phase);
	RUN(test_noiseless_exact);
	RUN(test_phase_only);
	RUN(test_min_baselines_and_strided);
	return TEST_DONE();
}
