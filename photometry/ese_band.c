/*
 * photometry/ese_band.c — the joint sub-band lens fit (ese.h, "joint
 * sub-band lens fit").
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "photometry/ese.h"

/* Gain table over u in [−UMAX, UMAX] in steps of DU. */
#define UMAX 8.0
#define DU 0.02
#define NB ((int)(2 * UMAX / DU) + 1)
#define DX 0.0005

/* G(u) of the Gaussian lens u = x (1 + α e^{−x²}) (Clegg et al. 1998):
 * rays spaced DX in the lens plane, each carrying DX/DU into the bin of
 * its u (the sum over images of |dx/du|), then smoothed by a Gaussian
 * source of width s (in units of the lens width). */
static void gain_table(double alpha, double s, double *tab, double *tmp)
{
	double xmax = UMAX + 6;
	for (int b = 0; b < NB; b++)
		tmp[b] = 0;
	for (double x = -xmax; x <= xmax; x += DX) {
		double u = x * (1 + alpha * exp(-x * x));
		int b = (int)lround((u + UMAX) / DU);
		if (b >= 0 && b < NB)
			tmp[b] += DX / DU;
	}
	int h = (int)ceil(4 * s / DU);
	for (int b = 0; b < NB; b++) {
		double acc = 0, wsum = 0;
		for (int j = -h; j <= h; j++) {
			double w = exp(-0.5 * (j * DU / s) * (j * DU / s));
			int q = b + j;
			/* Outside the table the lens has no effect: gain 1. */
			acc += w * (q >= 0 && q < NB ? tmp[q] : 1.0);
			wsum += w;
		}
		tab[b] = acc / wsum;
	}
	/* The outermost bins lack the rays from beyond xmax's image: 1 there. */
	for (int b = 0; b < NB; b++) {
		double u = -UMAX + b * DU;
		if (fabs(u) > UMAX - 4 * s - 0.5)
			tab[b] = 1;
	}
}

static double gain_at(const double *tab, double u)
{
	if (!(fabs(u) < UMAX - DU))
		return 1;
	double p = (u + UMAX) / DU;
	int b = (int)p;
	double f = p - b;
	return tab[b] * (1 - f) + tab[b + 1] * f;
}

double ese_band_gain(double alpha, double s, double u)
{
	double *tab = malloc(2 * NB * sizeof *tab), g;
	if (!tab || !(alpha >= 0) || !(s > 0)) {
		free(tab);
		return NAN;
	}
	gain_table(alpha, s, tab, tab + NB);
	g = gain_at(tab, u);
	free(tab);
	return g;
}

static const double alphas[] = { 0.5, 1, 1.5, 2, 3, 4, 6, 8 };
static const double sizes[] = { 0.2, 0.5, 1.0 };
#define NA ((int)(sizeof alphas / sizeof alphas[0]))
#define NS ((int)(sizeof sizes / sizeof sizes[0]))
#define NT0 80
#define NTT 16

/* Σ_k min over F0_k of Σ_i w (f − F0_k g)²: the linear amplitude per
 * sub-band solved in closed form. */
static double chi2_model(const double *t, size_t n, int nsub, const double *f, const double *w,
			 const double *const *tabs, double t0, double T)
{
	double chi2 = 0;
	for (int k = 0; k < nsub; k++) {
		double sfg = 0, sgg = 0, sff = 0;
		for (size_t i = 0; i < n; i++) {
			double g = gain_at(tabs[k], (t[i] - t0) / T), wi = w[i * nsub + k];
			double fi = f[i * nsub + k];
			sfg += wi * fi * g;
			sgg += wi * g * g;
			sff += wi * fi * fi;
		}
		chi2 += sff - (sgg > 0 ? sfg * sfg / sgg : 0);
	}
	return chi2;
}

int ese_score_subband(const double *mjd, size_t n, int nsub, const double *freq_hz,
		      const double *flux, const double *err, ese_band_result *ret)
{
	double *t = NULL, *f = NULL, *w = NULL, *tabs = NULL, *tmp = NULL;
	size_t m = 0;
	int rc = 0;

	memset(ret, 0, sizeof *ret);
	ret->consistency = ret->dchi2 = ret->alpha_ref = ret->t0_mjd = ret->t_days = NAN;
	ret->chi2_chromatic = ret->chi2_achromatic = ret->chi2_const = NAN;
	ret->overdispersion = ret->src_size = ret->ref_freq_hz = NAN;
	ret->nsub = nsub;
	if (nsub < 2 || nsub > ESE_BAND_MAX)
		return -EINVAL;
	for (int k = 0; k < nsub; k++)
		if (!(freq_hz[k] > 0))
			return -EINVAL;
	t = malloc((n ? n : 1) * sizeof *t);
	f = malloc((n ? n : 1) * nsub * sizeof *f);
	w = malloc((n ? n : 1) * nsub * sizeof *w);
	/* Tables: [alpha][size][nsub + 1] (the last: the achromatic lens). */
	tabs = malloc((size_t)NA * NS * (nsub + 1) * NB * sizeof *tabs);
	tmp = malloc(NB * sizeof *tmp);
	if (!t || !f || !w || !tabs || !tmp) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int ok = isfinite(mjd[i]);
		for (int k = 0; k < nsub && ok; k++)
			ok = isfinite(flux[i * nsub + k]) && err[i * nsub + k] > 0 &&
			     isfinite(err[i * nsub + k]);
		if (!ok)
			continue;
		t[m] = mjd[i];
		for (int k = 0; k < nsub; k++) {
			f[m * nsub + k] = flux[i * nsub + k];
			w[m * nsub + k] = 1 / (err[i * nsub + k] * err[i * nsub + k]);
		}
		m++;
	}
	ret->n = (int)m;
	double flo = freq_hz[0], fhi = freq_hz[0];
	for (int k = 1; k < nsub; k++) {
		flo = flo < freq_hz[k] ? flo : freq_hz[k];
		fhi = fhi > freq_hz[k] ? fhi : freq_hz[k];
	}
	double nu_ref = sqrt(flo * fhi);
	ret->ref_freq_hz = nu_ref;
	if (m < ESE_BAND_MIN_EPOCHS)
		goto out;
	double tlo = t[0], thi = t[0];
	for (size_t i = 1; i < m; i++) {
		tlo = tlo < t[i] ? tlo : t[i];
		thi = thi > t[i] ? thi : t[i];
	}
	if (!(thi > tlo))
		goto out;

	for (int a = 0; a < NA; a++)
		for (int s = 0; s < NS; s++) {
			double *base = tabs + ((size_t)a * NS + s) * (nsub + 1) * NB;
			for (int k = 0; k < nsub; k++) {
				double c = (nu_ref / freq_hz[k]) * (nu_ref / freq_hz[k]);
				gain_table(alphas[a] * c, sizes[s], base + (size_t)k * NB, tmp);
			}
			gain_table(alphas[a], sizes[s], base + (size_t)nsub * NB, tmp);
		}

	/* Constant per sub-band. */
	double c0 = 0;
	for (int k = 0; k < nsub; k++) {
		double sw = 0, swf = 0, swff = 0;
		for (size_t i = 0; i < m; i++) {
			sw += w[i * nsub + k];
			swf += w[i * nsub + k] * f[i * nsub + k];
			swff += w[i * nsub + k] * f[i * nsub + k] * f[i * nsub + k];
		}
		c0 += swff - swf * swf / sw;
	}
	ret->chi2_const = c0;

	/* Grid search: t0 across the data span, T (days) log-spaced over the
	 * plausible crossing times, α_ref and s over the tables. */
	double best_c = INFINITY, best_a = INFINITY;
	const double *tk[ESE_BAND_MAX];
	for (int it = 0; it < NT0; it++) {
		double t0 = tlo + (thi - tlo) * it / (NT0 - 1);
		for (int jt = 0; jt < NTT; jt++) {
			double T = 4.0 * pow(120.0 / 4.0, (double)jt / (NTT - 1));
			for (int a = 0; a < NA; a++)
				for (int s = 0; s < NS; s++) {
					const double *base =
						tabs + ((size_t)a * NS + s) * (nsub + 1) * NB;
					for (int k = 0; k < nsub; k++)
						tk[k] = base + (size_t)k * NB;
					double cc = chi2_model(t, m, nsub, f, w, tk, t0, T);
					if (cc < best_c) {
						best_c = cc;
						ret->alpha_ref = alphas[a];
						ret->src_size = sizes[s];
						ret->t0_mjd = t0;
						ret->t_days = T;
					}
					for (int k = 0; k < nsub; k++)
						tk[k] = base + (size_t)nsub * NB;
					double ca = chi2_model(t, m, nsub, f, w, tk, t0, T);
					if (ca < best_a)
						best_a = ca;
				}
		}
	}
	/* Parameters: nsub amplitudes + t0, T, α, s. */
	int dof = (int)(m * nsub) - nsub - 4;
	double best = best_c < best_a ? best_c : best_a;
	double chat = dof > 0 ? fmax(1, best / dof) : 1;
	ret->chi2_chromatic = best_c;
	ret->chi2_achromatic = best_a;
	ret->overdispersion = chat;
	ret->dchi2 = (best_a - best_c) / chat;
	ret->consistency = 1 / (1 + exp(-0.5 * ret->dchi2));
	ret->decisive = (c0 - best) / chat >= ESE_BAND_EVENT && fabs(ret->dchi2) >= ESE_BAND_DECISIVE;
	ret->scored = 1;
out:
	free(t);
	free(f);
	free(w);
	free(tabs);
	free(tmp);
	return rc;
}
