/*
 * photometry/ese.c — ESE scoring with a Gaussian plasma lens model (ese.h,
 * docs/ese.md).
 */
#include "photometry/ese.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "photometry/variability.h"

/* Lens strengths and source sizes tabulated (docs/ese.md explains the range:
 * α from weak 10 % dips to strong lenses with caustics; spikes for α < 0). */
static const double alphas[] = { -0.6, -0.3, -0.15, 0.12, 0.25, 0.5, 1.0, 2.0, 4.0 };
static const double sizes[] = { 0.1, 0.3 };
#define NALPHA ((int)(sizeof alphas / sizeof alphas[0]))
#define NSIZE ((int)(sizeof sizes / sizeof sizes[0]))
#define UMAX 6.0
#define NU 1201                 /* u grid: -UMAX..UMAX step 0.01 */
#define DU (2 * UMAX / (NU - 1))

static double gain_tab[NALPHA][NSIZE][NU];
/* |u| beyond which |G − 1| < 1e-4: the fit treats the gain as 1 there, which
 * halves the points a wide lens has to evaluate. */
static double u_eff[NALPHA][NSIZE];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

/* Clegg, Fey & Lazio (1998) eq. 6–9 in our units: a ray through lens-plane
 * position x reaches the observer plane at u = x (1 + α exp(−x²)); the gain at
 * u is the density of rays there relative to no lens (ray shooting counts all
 * images, including the extra ones between the caustics of a strong lens).
 * A Gaussian source of width s then smooths the caustics. */
static void build_tables(void)
{
	const double xmax = 2 * UMAX;
	const long nray = 1200000;
	const double dx = 2 * xmax / nray;
	static double raw[NU];
	for (int a = 0; a < NALPHA; a++) {
		memset(raw, 0, sizeof raw);
		for (long r = 0; r < nray; r++) {
			double x = -xmax + (r + 0.5) * dx;
			double u = x * (1 + alphas[a] * exp(-x * x));
			double fi = (u + UMAX) / DU + 0.5;
			if (fi < 0 || fi >= NU)
				continue;
			raw[(int)fi] += dx / DU;
		}
		for (int s = 0; s < NSIZE; s++) {
			double sig = sizes[s];
			int h = (int)ceil(4 * sig / DU);
			for (int i = 0; i < NU; i++) {
				double acc = 0, wsum = 0;
				for (int j = -h; j <= h; j++) {
					double wgt = exp(-0.5 * (j * DU / sig) * (j * DU / sig));
					int k = i + j;
					/* outside the table the lens has no effect: gain 1 */
					double g = k < 0 || k >= NU ? 1.0 : raw[k];
					acc += wgt * g;
					wsum += wgt;
				}
				gain_tab[a][s][i] = acc / wsum;
			}
			u_eff[a][s] = 0;
			for (int i = 0; i < NU; i++)
				if (fabs(gain_tab[a][s][i] - 1) >= 1e-4)
					u_eff[a][s] = fmax(u_eff[a][s], fabs(-UMAX + i * DU) + DU);
		}
	}
}

static double gain_idx(int a, int s, double u)
{
	double fi = (u + UMAX) / DU;
	if (!(fi >= 0) || fi >= NU - 1)
		return 1.0;
	int i = (int)fi;
	double t = fi - i;
	return gain_tab[a][s][i] * (1 - t) + gain_tab[a][s][i + 1] * t;
}

double ese_lens_gain(double alpha, double s, double u)
{
	pthread_once(&tab_once, build_tables);
	for (int a = 0; a < NALPHA; a++)
		for (int k = 0; k < NSIZE; k++)
			if (alphas[a] == alpha && sizes[k] == s)
				return gain_idx(a, k, u);
	return NAN;
}

const double *ese_lens_alphas(int *ret_n)
{
	*ret_n = NALPHA;
	return alphas;
}

const double *ese_lens_sizes(int *ret_n)
{
	*ret_n = NSIZE;
	return sizes;
}

void ese_params_default(ese_params *p)
{
	p->min_epochs = 20;
	p->gate_chi2_nu = 3;
	p->gate_v = 0.05;
	p->tmin_days = 14;
	p->tmax_days = 180;
	p->candidate_score = 0.6;
}

static double smoothstep(double x, double a, double b)
{
	double t = (x - a) / (b - a);
	if (!(t > 0))
		return 0;
	if (t >= 1)
		return 1;
	return t * t * (3 - 2 * t);
}

typedef struct pt {
	double t, f, w;
} pt;

static int cmp_pt(const void *a, const void *b)
{
	double x = ((const pt *)a)->t, y = ((const pt *)b)->t;
	return (x > y) - (x < y);
}

/* Prefix sums over the time-sorted data: outside |u| < UMAX the gain is 1,
 * so only the points under the lens need the table. */
typedef struct sums {
	const pt *d;
	size_t n;
	const double *cw, *cwf; /* cw[i] = Σ_{j<i} w_j, cwf[i] = Σ_{j<i} w_j f_j */
	double sff;
} sums;

static size_t lower_bound_t(const pt *d, size_t n, double t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (d[mid].t < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* χ² of F0·G((t − t0)/T) with F0 fitted linearly; *ret_f0 gets F0. */
static double lens_chi2(const sums *S, int a, int s, double t0, double T, double *ret_f0)
{
	size_t i0 = lower_bound_t(S->d, S->n, t0 - u_eff[a][s] * T);
	size_t i1 = lower_bound_t(S->d, S->n, t0 + u_eff[a][s] * T);
	double sgg = S->cw[S->n] - (S->cw[i1] - S->cw[i0]);
	double sfg = S->cwf[S->n] - (S->cwf[i1] - S->cwf[i0]);
	for (size_t i = i0; i < i1; i++) {
		const pt *q = &S->d[i];
		double g = gain_idx(a, s, (q->t - t0) / T);
		sgg += q->w * g * g;
		sfg += q->w * q->f * g;
	}
	*ret_f0 = sfg / sgg;
	return S->sff - sfg * sfg / sgg;
}

static int find_index(const double *v, int n, double x)
{
	for (int i = 0; i < n; i++)
		if (v[i] == x)
			return i;
	return -1;
}

double ese_model_flux(const ese_result *r, double mjd)
{
	if (!r->scored || !isfinite(r->t_days))
		return NAN;
	int a = find_index(alphas, NALPHA, r->alpha), s = find_index(sizes, NSIZE, r->src_size);
	if (a < 0 || s < 0)
		return NAN;
	pthread_once(&tab_once, build_tables);
	return r->f0 * gain_idx(a, s, (mjd - r->t0_mjd) / r->t_days);
}

int ese_score(const double *mjd, const double *flux, const double *err, size_t n,
	      const ese_params *p, ese_result *r)
{
	pt *d = NULL;
	double *fv = NULL, *ev = NULL, *cw = NULL, *cwf = NULL;
	int rc = 0;
	memset(r, 0, sizeof *r);
	r->score = NAN;
	r->amplitude = r->timescale_days = r->asymmetry = r->coverage = NAN;
	r->f0 = r->t0_mjd = r->t_days = r->alpha = r->src_size = NAN;
	r->chi2_const = r->chi2_line = r->chi2_model = r->dbic = r->explained = NAN;
	r->s_bic = r->s_expl = r->s_time = r->s_amp = r->s_cov = r->s_sym = NAN;

	d = malloc((n ? n : 1) * sizeof *d);
	fv = malloc((n ? n : 1) * sizeof *fv);
	ev = malloc((n ? n : 1) * sizeof *ev);
	cw = malloc((n + 1) * sizeof *cw);
	cwf = malloc((n + 1) * sizeof *cwf);
	if (!d || !fv || !ev || !cw || !cwf) {
		rc = -ENOMEM;
		goto out;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(mjd[i]) || !isfinite(flux[i]) || !isfinite(err[i]) || !(err[i] > 0))
			continue;
		d[k].t = mjd[i];
		d[k].f = flux[i];
		d[k].w = 1.0 / (err[i] * err[i]);
		fv[k] = flux[i];
		ev[k] = err[i];
		k++;
	}
	if (k <= (size_t)p->min_epochs)
		goto out; /* too few epochs to say anything: score stays NAN */
	var_stats vs;
	var_batch(fv, ev, k, VAR_VS_MIN, &vs);
	r->score = 0;
	if (!(vs.chi2_nu > p->gate_chi2_nu) && !(vs.v > p->gate_v))
		goto out; /* not variable enough to be an ESE */
	r->scored = 1;
	pthread_once(&tab_once, build_tables);
	qsort(d, k, sizeof *d, cmp_pt);
	double ta = d[0].t, tb = d[k - 1].t, span = tb - ta;
	if (!(span > 0)) {
		r->scored = 0;
		goto out;
	}

	/* alternatives: weighted constant and straight line */
	double sw = 0, swt = 0, swf = 0, sff = 0;
	for (size_t i = 0; i < k; i++) {
		sw += d[i].w;
		swt += d[i].w * d[i].t;
		swf += d[i].w * d[i].f;
	}
	double tm = swt / sw, fm = swf / sw, stt = 0, stf = 0;
	for (size_t i = 0; i < k; i++) {
		sff += d[i].w * d[i].f * d[i].f;
		stt += d[i].w * (d[i].t - tm) * (d[i].t - tm);
		stf += d[i].w * (d[i].t - tm) * (d[i].f - fm);
	}
	double chi2_c = 0, slope = stt > 0 ? stf / stt : 0, chi2_l = 0;
	for (size_t i = 0; i < k; i++) {
		double dc = d[i].f - fm, dl = d[i].f - fm - slope * (d[i].t - tm);
		chi2_c += d[i].w * dc * dc;
		chi2_l += d[i].w * dl * dl;
	}

	cw[0] = cwf[0] = 0;
	for (size_t i = 0; i < k; i++) {
		cw[i + 1] = cw[i] + d[i].w;
		cwf[i + 1] = cwf[i] + d[i].w * d[i].f;
	}
	sums S = { d, k, cw, cwf, sff };

	/* lens model: grid over α, s, T (log-spaced 1.5–150 d) and t0 */
	double best = INFINITY, bf0 = NAN, bt0 = NAN, bT = NAN;
	int ba = 0, bs = 0;
	const int nT = 18;
	/* coarse pass with the larger source size only, then every (α, s) at the
	 * best (T, t0), a finer T/t0 search, and every (α, s) again.  (A coarse
	 * pass over a subset of α was tried: it lands in local minima.) */
	for (int it = 0; it < nT; it++) {
		double T = 1.5 * pow(100.0, it / (double)(nT - 1));
		double step = fmax(fmin(T / 3, 1.0), (span + 2 * T) / 80);
		for (double t0 = ta - T; t0 <= tb + T; t0 += step)
			for (int a = 0; a < NALPHA; a++) {
				double f0, c2 = lens_chi2(&S, a, NSIZE - 1, t0, T, &f0);
				if (c2 < best && f0 > 0) {
					best = c2;
					bf0 = f0;
					bt0 = t0;
					bT = T;
					ba = a;
					bs = NSIZE - 1;
				}
			}
	}
	for (int a = 0; a < NALPHA && isfinite(best); a++)
		for (int s = 0; s < NSIZE; s++) {
			double f0, c2 = lens_chi2(&S, a, s, bt0, bT, &f0);
			if (c2 < best && f0 > 0) {
				best = c2;
				bf0 = f0;
				ba = a;
				bs = s;
			}
		}
	if (!isfinite(best)) {
		r->scored = 0;
		goto out;
	}
	/* refine T and t0 around the best grid point */
	{
		double T0 = bT, c0 = bt0, step = fmax(fmin(T0 / 3, 1.0), (span + 2 * T0) / 80);
		for (int i = -10; i <= 10; i++)
			for (int j = -10; j <= 10; j++) {
				double T = T0 * pow(1.22, i / 10.0), t0 = c0 + step * j / 10.0;
				double f0, c2 = lens_chi2(&S, ba, bs, t0, T, &f0);
				if (c2 < best && f0 > 0) {
					best = c2;
					bf0 = f0;
					bt0 = t0;
					bT = T;
				}
			}
	}
	for (int a = 0; a < NALPHA; a++)
		for (int s = 0; s < NSIZE; s++) {
			double f0, c2 = lens_chi2(&S, a, s, bt0, bT, &f0);
			if (c2 < best && f0 > 0) {
				best = c2;
				bf0 = f0;
				ba = a;
				bs = s;
			}
		}
	r->f0 = bf0;
	r->t0_mjd = bt0;
	r->t_days = bT;
	r->alpha = alphas[ba];
	r->src_size = sizes[bs];
	r->chi2_const = chi2_c;
	r->chi2_line = chi2_l;
	r->chi2_model = best;

	double lnn = log((double)k);
	double bic_c = chi2_c + 1 * lnn, bic_l = chi2_l + 2 * lnn, bic_m = best + 5 * lnn;
	double chi2_alt = bic_c <= bic_l ? chi2_c : chi2_l;
	int k_alt = bic_c <= bic_l ? 1 : 2;
	r->dbic = fmin(bic_c, bic_l) - bic_m;
	double excess = chi2_alt - (double)(k - k_alt);
	r->explained = excess > 0 ? (chi2_alt - best) / excess : 0;
	if (r->explained > 1)
		r->explained = 1;
	if (r->explained < 0)
		r->explained = 0;

	/* characterisation */
	double gmax = 0, gmin = INFINITY;
	for (int i = 0; i < NU; i++) {
		double g = gain_tab[ba][bs][i];
		gmax = fmax(gmax, g);
		gmin = fmin(gmin, g);
	}
	r->amplitude = (gmax - gmin) / gmax;
	r->timescale_days = 2 * bT;
	double lo = fmax(ta, bt0 - 1.5 * bT), hi = fmin(tb, bt0 + 1.5 * bT);
	r->coverage = hi > lo ? (hi - lo) / (3 * bT) : 0;
	double db = 0, da = 0;
	int nb = 0, na = 0;
	for (size_t i = 0; i < k; i++) {
		double dt = d[i].t - bt0, dev = fabs(d[i].f - bf0);
		if (dt < 0 && dt >= -2 * bT) {
			db += dev;
			nb++;
		} else if (dt > 0 && dt <= 2 * bT) {
			da += dev;
			na++;
		}
	}
	db = nb ? db / nb : 0;
	da = na ? da / na : 0;
	r->asymmetry = db + da > 0 ? (db - da) / (db + da) : 0;

	/* score (docs/ese.md) */
	r->s_bic = smoothstep(r->dbic, 0, 25);
	r->s_expl = smoothstep(r->explained, 0.3, 0.8);
	if (r->timescale_days < p->tmin_days) {
		double x = log(r->timescale_days / p->tmin_days) / 0.3;
		r->s_time = exp(-0.5 * x * x);
	} else if (r->timescale_days > p->tmax_days) {
		double x = log(r->timescale_days / p->tmax_days) / 0.3;
		r->s_time = exp(-0.5 * x * x);
	} else {
		r->s_time = 1;
	}
	r->s_amp = smoothstep(r->amplitude, 0.02, 0.08);
	r->s_cov = smoothstep(r->coverage, 0.5, 0.9);
	r->s_sym = 1 - 0.5 * fabs(r->asymmetry);
	r->score = r->s_bic * r->s_expl * r->s_time * r->s_amp * r->s_cov * r->s_sym;
out:
	free(d);
	free(fv);
	free(ev);
	free(cw);
	free(cwf);
	return rc;
}
