#include "calib/stefcal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void stefcal_params_init(stefcal_params *p)
{
	p->max_iter = 100;
	p->tol = 1e-6;
	p->min_bl = 4;
	p->phase_only = 0;
}

static double cabs2(double complex z)
{
	return creal(z) * creal(z) + cimag(z) * cimag(z);
}

/* Unsolve antennas with fewer than min_bl usable baselines to solved
 * antennas; repeat until nothing changes (dropping one antenna can starve
 * another).  Returns the number of antennas left. */
static int prune_antennas(int nant, int nbl, const int *a1, const int *a2, const stefcal_acc *acc,
			  size_t stride, int min_bl, uint8_t *ok, int *count)
{
	int changed = 1, nok = 0;

	while (changed) {
		changed = 0;
		memset(count, 0, nant * sizeof *count);
		for (int b = 0; b < nbl; b++) {
			int p = a1[b], q = a2[b];
			if (p == q || !ok[p] || !ok[q] || !(acc[b * stride].mm > 0))
				continue;
			count[p]++;
			count[q]++;
		}
		nok = 0;
		for (int a = 0; a < nant; a++) {
			if (ok[a] && count[a] < min_bl) {
				ok[a] = 0;
				changed = 1;
			}
			nok += ok[a];
		}
	}
	return nok;
}

/* One StEFCal sweep: every antenna's least-squares gain with the others held
 * at g (Salvini & Wijnholds 2014, Algorithm 1, step "g_p = (z^H R_p)/(z^H z)"
 * written with per-baseline sums).  den receives Σ_q |g_q|² mm_pq. */
static void sweep(int nant, int nbl, const int *a1, const int *a2, const stefcal_acc *acc,
		  size_t stride, const uint8_t *ok, const double complex *g, double complex *num,
		  double *den)
{
	for (int a = 0; a < nant; a++) {
		num[a] = 0;
		den[a] = 0;
	}
	for (int b = 0; b < nbl; b++) {
		int p = a1[b], q = a2[b];
		const stefcal_acc *s = &acc[b * stride];
		if (p == q || !ok[p] || !ok[q] || !(s->mm > 0))
			continue;
		/* V_pq ≈ g_p M conj(g_q): for p, y = M conj(g_q), conj(y) V = g_q conj(M) V. */
		num[p] += g[q] * s->vm;
		den[p] += cabs2(g[q]) * s->mm;
		/* V_qp = conj(V_pq) ≈ g_q conj(M) conj(g_p): conj(y) V_qp = g_p conj(vm). */
		num[q] += g[p] * conj(s->vm);
		den[q] += cabs2(g[p]) * s->mm;
	}
}

int stefcal_solve(const stefcal_params *par, int nant, int nbl, const int *a1, const int *a2,
		  const stefcal_acc *acc, size_t stride, double complex *g, uint8_t *ok,
		  double *snr, stefcal_result *res)
{
	double complex *num = NULL, *gnew = NULL;
	double *den = NULL;
	int *count = NULL;
	int ret = 0, nok, it, converged = 0;
	double chi2 = 0, nsamp = 0;

	if (!par || nant <= 0 || nbl < 0 || !a1 || !a2 || (!acc && nbl) || !g || !ok || stride < 1)
		return -EINVAL;
	for (int b = 0; b < nbl; b++)
		if (a1[b] < 0 || a1[b] >= nant || a2[b] < 0 || a2[b] >= nant)
			return -EINVAL;
	num = malloc(nant * sizeof *num);
	gnew = malloc(nant * sizeof *gnew);
	den = malloc(nant * sizeof *den);
	count = malloc(nant * sizeof *count);
	if (!num || !gnew || !den || !count) {
		ret = -ENOMEM;
		goto out;
	}

	for (int a = 0; a < nant; a++)
		ok[a] = 1;
	nok = prune_antennas(nant, nbl, a1, a2, acc, stride, par->min_bl, ok, count);
	for (int a = 0; a < nant; a++) {
		if (!ok[a] || g[a] == 0 || !isfinite(creal(g[a])) || !isfinite(cimag(g[a])))
			g[a] = ok[a] ? 1.0 : 0.0;
		if (ok[a] && par->phase_only)
			g[a] /= cabs(g[a]);
	}

	for (it = 1; it <= par->max_iter && nok > 0; it++) {
		double dnum = 0, dden = 0;

		sweep(nant, nbl, a1, a2, acc, stride, ok, g, num, den);
		for (int a = 0; a < nant; a++) {
			if (!ok[a])
				continue;
			if (par->phase_only) {
				/* Least squares over the phase alone: arg Σ conj(y) V. */
				gnew[a] = cabs(num[a]) > 0 ? num[a] / cabs(num[a]) : g[a];
			} else {
				gnew[a] = den[a] > 0 ? num[a] / den[a] : g[a];
			}
			/* Every second iteration, average with the previous estimate: this
			 * damps the oscillation of the plain alternating update
			 * (Salvini & Wijnholds 2014, §3, Algorithm 1). */
			if (it % 2 == 0) {
				gnew[a] = 0.5 * (gnew[a] + g[a]);
				if (par->phase_only && cabs(gnew[a]) > 0)
					gnew[a] /= cabs(gnew[a]);
			}
		}
		for (int a = 0; a < nant; a++) {
			if (!ok[a])
				continue;
			dnum += cabs2(gnew[a] - g[a]);
			dden += cabs2(gnew[a]);
			g[a] = gnew[a];
		}
		if (dden > 0 && sqrt(dnum / dden) < par->tol) {
			converged = 1;
			break;
		}
	}
	if (it > par->max_iter)
		it = par->max_iter;
	if (nok == 0)
		it = 0;

	/* Residual at the solution and the least-squares errors of each gain. */
	sweep(nant, nbl, a1, a2, acc, stride, ok, g, num, den);
	for (int b = 0; b < nbl; b++) {
		int p = a1[b], q = a2[b];
		const stefcal_acc *s = &acc[b * stride];
		double complex c;
		if (p == q || !ok[p] || !ok[q] || !(s->mm > 0))
			continue;
		c = g[p] * conj(g[q]);
		chi2 += s->vv - 2.0 * creal(conj(c) * s->vm) + cabs2(c) * s->mm;
		nsamp += s->n;
	}
	if (chi2 < 0)
		chi2 = 0; /* rounding when the model is exact */
	{
		double dof = nsamp - nok;
		double s2 = dof > 0 ? chi2 / dof : 0;
		for (int a = 0; a < nant; a++) {
			if (!ok[a])
				g[a] = 0;
			if (!snr)
				continue;
			if (!ok[a] || !(den[a] > 0))
				snr[a] = 0;
			else if (s2 > 0)
				snr[a] = cabs(g[a]) / sqrt(s2 / den[a]);
			else
				snr[a] = INFINITY;
		}
		if (res) {
			res->niter = it;
			res->converged = converged;
			res->nant_ok = nok;
			res->chi2 = chi2;
			res->dof = dof;
			res->sigma2_unit = s2;
		}
	}
out:
	free(num);
	free(gnew);
	free(den);
	free(count);
	return ret;
}

void stefcal_reference(int nant, double complex *g, const uint8_t *ok, int ref)
{
	double complex rot;

	if (ref < 0 || ref >= nant || !ok[ref] || cabs(g[ref]) == 0)
		return;
	rot = conj(g[ref]) / cabs(g[ref]);
	for (int a = 0; a < nant; a++)
		if (ok[a])
			g[a] *= rot;
}
