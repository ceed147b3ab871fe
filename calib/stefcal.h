/*
 * calib/stefcal.h — StEFCal: per-antenna complex gains for one polarisation.
 *
 * Salvini & Wijnholds 2014, A&A 571, A97 ("Fast gain calibration in radio
 * astronomy using alternating direction implicit methods"), Algorithm 1:
 * solve V_ab ≈ g_a · M_ab · conj(g_b) for diagonal gains by alternating
 * least-squares updates of every antenna with the others held fixed, and
 * averaging the new and previous estimates every second iteration.
 *
 * Because the gains are constant across the samples of one solution interval
 * (all integrations of a channel for a bandpass, or all channels and the
 * integrations of a solint for gains), the least-squares cost depends on the
 * samples of baseline b only through four sums, accumulated once:
 *
 *     vm = Σ w conj(M) V,   mm = Σ w |M|²,   vv = Σ w |V|²,   n = Σ 1
 *
 * So callers accumulate their data/model/weight block into one stefcal_acc
 * per baseline (stefcal_acc_add), with whatever grouping of samples they
 * need, and the solver iterates on the sums.  That makes an iteration cost
 * O(nbl) regardless of how many samples were combined.
 *
 * Conventions: V_obs(a1,a2) = g[a1] · V_model · conj(g[a2]) for baseline
 * (a1, a2), i.e. V_corrected = V_obs / (g[a1] · conj(g[a2])) (docs/calibration.md).
 * Autocorrelations must not be accumulated (the solver ignores a1 == a2).
 */
#ifndef CONTIMG_STEFCAL_H
#define CONTIMG_STEFCAL_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

/* Sufficient statistics of one baseline's samples (see above). */
typedef struct stefcal_acc {
	double complex vm; /* Σ w conj(M) V */
	double mm;         /* Σ w |M|² */
	double vv;         /* Σ w |V|² */
	double n;          /* number of complex samples (degrees of freedom) */
} stefcal_acc;

/* Add one unflagged sample (data v, model m, weight w > 0) to a baseline's sums. */
static inline void stefcal_acc_add(stefcal_acc *a, float complex v, float complex m, double w)
{
	double complex vd = v, md = m;
	a->vm += w * conj(md) * vd;
	a->mm += w * (creal(md) * creal(md) + cimag(md) * cimag(md));
	a->vv += w * (creal(vd) * creal(vd) + cimag(vd) * cimag(vd));
	a->n += 1.0;
}

typedef struct stefcal_params {
	int max_iter;    /* iteration cap (default 100) */
	double tol;      /* stop when ||g_i − g_{i−1}|| / ||g_i|| < tol (default 1e-6) */
	int min_bl;      /* an antenna needs this many baselines with data (default 4) */
	int phase_only;  /* 1: |g| = 1, only phases are solved (default 0) */
} stefcal_params;

/* Fill the defaults listed above. */
void stefcal_params_init(stefcal_params *p);

/* Outcome of one solve. */
typedef struct stefcal_result {
	int niter;          /* iterations run */
	int converged;      /* relative change fell below tol */
	int nant_ok;        /* antennas with a solution */
	double chi2;        /* Σ w |V − g_a M conj(g_b)|² at the solution */
	double dof;         /* Σ n − nant_ok (complex samples minus complex gains) */
	double sigma2_unit; /* chi2 / dof: complex noise variance at unit weight */
} stefcal_result;

/*
 * Solve for nant gains from nbl baselines.  a1/a2 are antenna INDICES in
 * [0, nant); acc[b * stride] holds baseline b's sums (stride in elements, so
 * the sums of several (channel, pol) blocks can be interleaved).
 *
 * g [nant]: on input the starting gains (entries equal to 0 start at 1); on
 * output the solution, 0 where an antenna has no solution.  ok [nant]: output,
 * 1 where solved.  snr [nant] (may be NULL): |g| / σ(g), with σ(g)² =
 * sigma2_unit / Σ_q |g_q|² mm_aq, the least-squares standard error.
 * The phase reference is arbitrary; use stefcal_reference() afterwards.
 *
 * An antenna is left unsolved when it has fewer than min_bl baselines with
 * mm > 0 to other solved antennas (applied repeatedly until stable).
 * Returns 0 (also when some antennas are unsolved, or the iteration cap is hit:
 * see res->converged), -EINVAL on bad arguments, -ENOMEM.  res may be NULL.
 */
int stefcal_solve(const stefcal_params *par, int nant, int nbl, const int *a1, const int *a2,
		  const stefcal_acc *acc, size_t stride, double complex *g, uint8_t *ok,
		  double *snr, stefcal_result *res);

/* Rotate all gains so that g[ref] is real and positive (phase reference).
 * Does nothing when ok[ref] is 0 or g[ref] is 0. */
void stefcal_reference(int nant, double complex *g, const uint8_t *ok, int ref);

#endif
