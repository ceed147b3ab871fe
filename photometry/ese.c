/*
 * photometry/ese.c — ESE scoring: a Gaussian plasma lens against the
 * alternatives real sources offer (ese.h, docs/ese.md).
 */
#include "photometry/ese.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>


/* Lens strengths and source sizes tabulated (docs/ese.md explains the range:
 * α from weak ~10 % dips to strong lenses with caustics; spikes for α < 0).
 * The values of earlier versions are kept so that stored candidates still
 * draw (ese_model_flux). */
static const double alphas[] = { -0.6, -0.3, -0.15, 0.12, 0.18, 0.25, 0.35, 0.5, 0.7, 1.0,
				 2.0, 4.0 };
static const double sizes[] = { 0.1, 0.3, 0.6 };
#define NALPHA ((int)(sizeof alphas / sizeof alphas[0]))
#define NSIZE ((int)(sizeof sizes / sizeof sizes[0]))
#define COARSE_S 1              /* the source size of the coarse search */
#define UMAX 6.0
#define NU 1201                 /* u grid: -UMAX..UMAX step 0.01 */
#define DU (2 * UMAX / (NU - 1))
#define BPT 4                   /* coarse bins per lens time T */
#define KMAX 24                 /* UMAX · BPT: the widest coarse lens window */
#define FKMAX 28                /* 7 · BPT: the widest coarse flare window (FRED decay) */
#define NT 16                   /* coarse T grid: 3..150 d, log-spaced */
#define TMIN_D 3.0
#define TMAX_D 150.0
#define PMIN_D 20.0             /* shortest sinusoid period */

static double gain_tab[NALPHA][NSIZE][NU];
/* |u| beyond which |G − 1| < 1e-4: the fit treats the gain as 1 there. */
static double u_eff[NALPHA][NSIZE];
/* |u| of the outer quarter-depth (quarter-height) crossing: the event lasts
 * D = 2 u_half T (from ingress to egress as the eye sees it). */
static double u_half[NALPHA][NSIZE];
/* The gain at the coarse bin offsets u = j / BPT, j = −KMAX..KMAX. */
static double kern[NALPHA][NSIZE][2 * KMAX + 1];
static int kwin[NALPHA][NSIZE];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static const char *const alt_names[ESE_NALT] = {
	"constant", "line", "step", "outlier", "dropout", "fred", "symmetric_flare", "sinusoid",
	"sinusoid_trend"
};
/* Free parameters of each alternative (a discrete choice counts as one). */
static const int alt_k[ESE_NALT] = { 1, 2, 3, 3, 4, 5, 4, 4, 5 };
#define K_LENS 6 /* Fe, Fc, t0, T, α, s */

const char *ese_alt_name(int alt)
{
	return alt >= 0 && alt < ESE_NALT ? alt_names[alt] : "";
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
			static double wgts[2 * NU + 1];
			for (int j = -h; j <= h; j++)
				wgts[j + h] = exp(-0.5 * (j * DU / sig) * (j * DU / sig));
			for (int i = 0; i < NU; i++) {
				double acc = 0, wsum = 0;
				for (int j = -h; j <= h; j++) {
					double wgt = wgts[j + h];
					int k = i + j;
					/* outside the table the lens has no effect: gain 1 */
					double g = k < 0 || k >= NU ? 1.0 : raw[k];
					acc += wgt * g;
					wsum += wgt;
				}
				gain_tab[a][s][i] = acc / wsum;
			}
			double gmin = INFINITY, gmax = 0;
			u_eff[a][s] = 0;
			for (int i = 0; i < NU; i++) {
				double g = gain_tab[a][s][i];
				if (fabs(g - 1) >= 1e-4)
					u_eff[a][s] = fmax(u_eff[a][s], fabs(-UMAX + i * DU) + DU);
				gmin = fmin(gmin, g);
				gmax = fmax(gmax, g);
			}
			double lvl = alphas[a] > 0 ? 1 - 0.25 * (1 - gmin) : 1 + 0.25 * (gmax - 1);
			u_half[a][s] = DU;
			for (int i = 0; i < NU; i++) {
				double g = gain_tab[a][s][i];
				if (alphas[a] > 0 ? g <= lvl : g >= lvl)
					u_half[a][s] = fmax(u_half[a][s], fabs(-UMAX + i * DU));
			}
			kwin[a][s] = (int)ceil(u_eff[a][s] * BPT);
			if (kwin[a][s] > KMAX)
				kwin[a][s] = KMAX;
			for (int j = -KMAX; j <= KMAX; j++)
				kern[a][s][j + KMAX] = gain_idx(a, s, (double)j / BPT);
		}
	}
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
	p->min_epochs = 12;
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

/* The time-sorted data with prefix sums (c*[i] = Σ_{j<i}), and a coarse
 * binning of it (bins of width bw centred on ta + b·bw) for the grid
 * searches: a model evaluated at the bin centres only needs each bin's Σw
 * and Σwf, and its χ² differs from the exact one by the small change of the
 * model within a bin. */
typedef struct fit {
	const pt *d;
	size_t n;
	const double *cw, *cwf, *cwff;
	double sw, swf, sff, ta, tb;
	/* bins */
	double bw;
	int nb;
	double *W, *WF, *PW, *PWF; /* PW[b] = Σ_{c<b} W[c] */
} fit;

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

static void bin_data(fit *F, double bw)
{
	F->bw = bw;
	F->nb = (int)floor((F->tb - F->ta) / bw + 0.5) + 1;
	memset(F->W, 0, (size_t)F->nb * sizeof *F->W);
	memset(F->WF, 0, (size_t)F->nb * sizeof *F->WF);
	for (size_t i = 0; i < F->n; i++) {
		int b = (int)floor((F->d[i].t - F->ta) / bw + 0.5);
		F->W[b] += F->d[i].w;
		F->WF[b] += F->d[i].w * F->d[i].f;
	}
	F->PW[0] = F->PWF[0] = 0;
	for (int b = 0; b < F->nb; b++) {
		F->PW[b + 1] = F->PW[b] + F->W[b];
		F->PWF[b + 1] = F->PWF[b] + F->WF[b];
	}
}

/* Weighted sums of the points in [i0, i1). */
static void range_sums(const fit *F, size_t i0, size_t i1, double *w, double *wf, double *wff)
{
	*w = F->cw[i1] - F->cw[i0];
	*wf = F->cwf[i1] - F->cwf[i0];
	*wff = F->cwff[i1] - F->cwff[i0];
}

static double ss(double w, double wf, double wff)
{
	return w > 0 ? wff - wf * wf / w : 0;
}

/* ---- the lens ---- */

/* The lens model F(t) = Fe + Fc·G((t − t0)/T): a compact component Fc that
 * the lens focuses and defocuses, and an extended one Fe (≥ 0) it does not
 * (a scattering screen only affects the compact part of a source: Fiedler
 * et al. 1994, Clegg et al. 1998 §4).  Fe and Fc are solved linearly from the
 * weighted sums Σw g, Σw g², Σw f g; Fe < 0 falls back to Fe = 0.  Returns
 * the χ² (INFINITY when Fc ≤ 0); *ret_f0 gets Fe + Fc, *ret_frac Fc/(Fe + Fc). */
static double lens_solve(const fit *F, double sg, double sgg, double sfg, double *ret_f0,
			 double *ret_frac)
{
	double det = F->sw * sgg - sg * sg, fe = 0, fc, c2;
	fc = det > 1e-12 * F->sw * sgg ? (F->sw * sfg - sg * F->swf) / det : -1;
	if (fc > 0)
		fe = (F->swf - fc * sg) / F->sw;
	if (fc > 0 && fe >= 0) {
		c2 = F->sff - fe * F->swf - fc * sfg;
	} else {
		fe = 0;
		fc = sfg / sgg;
		c2 = F->sff - sfg * sfg / sgg;
	}
	if (!(fc > 0))
		return INFINITY;
	*ret_f0 = fe + fc;
	*ret_frac = fc / (fe + fc);
	return c2;
}

/* Exact χ² of the lens at (α, s, t0, T). */
static double lens_chi2(const fit *F, int a, int s, double t0, double T, double *ret_f0,
			double *ret_frac)
{
	size_t i0 = lower_bound_t(F->d, F->n, t0 - u_eff[a][s] * T);
	size_t i1 = lower_bound_t(F->d, F->n, t0 + u_eff[a][s] * T);
	double sg = F->sw - (F->cw[i1] - F->cw[i0]);
	double sgg = sg;
	double sfg = F->swf - (F->cwf[i1] - F->cwf[i0]);
	for (size_t i = i0; i < i1; i++) {
		const pt *q = &F->d[i];
		double g = gain_idx(a, s, (q->t - t0) / T);
		sg += q->w * g;
		sgg += q->w * g * g;
		sfg += q->w * q->f * g;
	}
	return lens_solve(F, sg, sgg, sfg, ret_f0, ret_frac);
}

/* Coarse χ² of the lens centred on bin c (bins of T / BPT). */
static double lens_chi2_binned(const fit *F, int a, int s, int c, double *ret_f0,
			       double *ret_frac)
{
	int K = kwin[a][s];
	int jlo = -K > -c ? -K : -c, jhi = K < F->nb - 1 - c ? K : F->nb - 1 - c;
	if (jlo > jhi)
		return INFINITY; /* the lens misses the data */
	const double *k = kern[a][s] + KMAX;
	double sg = F->sw - (F->PW[c + jhi + 1] - F->PW[c + jlo]);
	double sgg = sg;
	double sfg = F->swf - (F->PWF[c + jhi + 1] - F->PWF[c + jlo]);
	for (int j = jlo; j <= jhi; j++) {
		sg += F->W[c + j] * k[j];
		sgg += F->W[c + j] * k[j] * k[j];
		sfg += F->WF[c + j] * k[j];
	}
	return lens_solve(F, sg, sgg, sfg, ret_f0, ret_frac);
}

typedef struct lensfit {
	double chi2, f0, frac, t0, T;
	int a, s;
} lensfit;

#define LENS_NONE ((lensfit){ INFINITY, NAN, NAN, NAN, NAN, 0, 0 })

static void lens_try(const fit *F, lensfit *L, int a, int s, double t0, double T)
{
	double f0 = NAN, frac = NAN, c2 = lens_chi2(F, a, s, t0, T, &f0, &frac);
	if (c2 < L->chi2)
		*L = (lensfit){ c2, f0, frac, t0, T, a, s };
}

/* A pattern search over (ln T, t0) around *L, its (α, s) fixed, with steps
 * from half a grid step (half a coarse bin) down to an eighth. */
static void lens_pattern(const fit *F, lensfit *L)
{
	double lr = log(TMAX_D / TMIN_D) / (NT - 1);
	for (double sc = 0.5; sc > 0.1; sc /= 2)
		for (int moved = 1, it = 0; moved && it < 4; it++) {
			lensfit c = *L;
			double bw = c.T / BPT;
			for (int i = -1; i <= 1; i++)
				for (int j = -1; j <= 1; j++)
					if (i || j)
						lens_try(F, L, c.a, c.s, c.t0 + j * sc * bw,
							 c.T * exp(i * sc * lr));
			moved = L->chi2 < c.chi2;
		}
}

/* Around the current best: the pattern search, then every (α, s) of the
 * family; twice.  The first time each (α, s) gets a pattern search of its
 * own from there, the second time it is tried at the (t0, T) found.  A
 * strong lens's caustics are sharp: the (t0, T) that puts the caustic of one
 * (α, s) on a brightening in the data misplaces that of another by more than
 * the data's errors, so comparing them at one (t0, T) picks the wrong lens,
 * or none that fits (an ongoing dip whose caustic spike is most of what has
 * been seen then looks like a flare). */
static void lens_refine(const fit *F, lensfit *L, int dip)
{
	for (int pass = 0; pass < 2; pass++) {
		lens_pattern(F, L);
		lensfit c = *L;
		for (int a = 0; a < NALPHA; a++)
			for (int s = 0; s < NSIZE; s++) {
				if ((alphas[a] > 0) != dip || (a == c.a && s == c.s))
					continue;
				if (pass > 0) {
					lens_try(F, L, a, s, c.t0, c.T);
					continue;
				}
				lensfit e = LENS_NONE;
				lens_try(F, &e, a, s, c.t0, c.T);
				if (!isfinite(e.chi2))
					continue;
				lens_pattern(F, &e);
				if (e.chi2 < L->chi2)
					*L = e;
			}
	}
}

/* ---- flares: c + A·h((t − t0)/τ), A > 0 ---- */

enum { FL_FRED1, FL_FRED3, FL_SYM, NFL };
static const double fred_rho[2] = { 0.1, 0.3 }; /* rise time / decay time */

static double flare_shape(int kind, double x)
{
	if (kind == FL_SYM)
		return exp(-0.5 * x * x);
	return x < 0 ? exp(x / fred_rho[kind]) : exp(-x);
}

static void flare_extent(int kind, double *lo, double *hi)
{
	if (kind == FL_SYM) {
		*lo = -4;
		*hi = 4;
	} else {
		*lo = -7 * fred_rho[kind];
		*hi = 7;
	}
}

/* χ² of c + A h given the window sums (Σw h, Σw h², Σw f h); INFINITY when
 * the best A is not positive. */
static double flare_solve(const fit *F, double sh, double shh, double sfh)
{
	double det = F->sw * shh - sh * sh;
	if (!(det > 0))
		return INFINITY;
	double A = (F->sw * sfh - sh * F->swf) / det;
	if (!(A > 0))
		return INFINITY;
	double c = (F->swf - A * sh) / F->sw;
	return F->sff - c * F->swf - A * sfh;
}

static double flare_chi2(const fit *F, int kind, double t0, double tau)
{
	double lo, hi;
	flare_extent(kind, &lo, &hi);
	size_t i0 = lower_bound_t(F->d, F->n, t0 + lo * tau);
	size_t i1 = lower_bound_t(F->d, F->n, t0 + hi * tau);
	double sh = 0, shh = 0, sfh = 0;
	for (size_t i = i0; i < i1; i++) {
		double h = flare_shape(kind, (F->d[i].t - t0) / tau);
		sh += F->d[i].w * h;
		shh += F->d[i].w * h * h;
		sfh += F->d[i].w * F->d[i].f * h;
	}
	return flare_solve(F, sh, shh, sfh);
}

typedef struct flarefit {
	double chi2, t0, tau;
} flarefit;

/* The same pattern search as lens_refine. */
static void flare_refine(const fit *F, int kind, flarefit *B)
{
	double lr = log(TMAX_D / TMIN_D) / (NT - 1);
	for (double sc = 0.5; sc > 0.1; sc /= 2)
		for (int moved = 1, it = 0; moved && it < 4; it++) {
			flarefit c = *B;
			double bw = c.tau / BPT;
			for (int i = -1; i <= 1; i++)
				for (int j = -1; j <= 1; j++) {
					if (!i && !j)
						continue;
					double t0 = c.t0 + j * sc * bw, tau = c.tau * exp(i * sc * lr);
					if (t0 < F->ta || t0 > F->tb || tau > (F->tb - F->ta) / 4)
						continue;
					double c2 = flare_chi2(F, kind, t0, tau);
					if (c2 < B->chi2)
						*B = (flarefit){ c2, t0, tau };
				}
			moved = B->chi2 < c.chi2;
		}
}

/* ---- sinusoids ---- */

/* Solve the m×m symmetric system A x = b (m ≤ 4) by Gaussian elimination with
 * partial pivoting; returns −1 when singular. */
static int solve_small(int m, double A[4][4], double b[4], double x[4])
{
	for (int c = 0; c < m; c++) {
		int p = c;
		for (int r = c + 1; r < m; r++)
			if (fabs(A[r][c]) > fabs(A[p][c]))
				p = r;
		if (!(fabs(A[p][c]) > 1e-300))
			return -1;
		if (p != c) {
			for (int k = 0; k < m; k++) {
				double t = A[c][k];
				A[c][k] = A[p][k];
				A[p][k] = t;
			}
			double t = b[c];
			b[c] = b[p];
			b[p] = t;
		}
		for (int r = c + 1; r < m; r++) {
			double f = A[r][c] / A[c][c];
			for (int k = c; k < m; k++)
				A[r][k] -= f * A[c][k];
			b[r] -= f * b[c];
		}
	}
	for (int r = m - 1; r >= 0; r--) {
		double acc = b[r];
		for (int k = r + 1; k < m; k++)
			acc -= A[r][k] * x[k];
		x[r] = acc / A[r][r];
	}
	return 0;
}

/* Accumulates the normal equations of the basis (1, cos, sin, τ). */
typedef struct sine_acc {
	double A[4][4], b[4];
} sine_acc;

static void sine_add(sine_acc *S, double w, double wf, double c, double s, double tau)
{
	double v[4] = { 1, c, s, tau };
	for (int i = 0; i < 4; i++) {
		S->b[i] += wf * v[i];
		for (int j = i; j < 4; j++)
			S->A[i][j] += w * v[i] * v[j];
	}
}

/* χ² of the sinusoid (m = 3) and of the sinusoid plus trend (m = 4). */
static void sine_chi2(const fit *F, const sine_acc *S, double ret[2])
{
	for (int m = 3; m <= 4; m++) {
		double A[4][4], b[4], x[4];
		for (int i = 0; i < m; i++) {
			b[i] = S->b[i];
			for (int j = 0; j < m; j++)
				A[i][j] = i <= j ? S->A[i][j] : S->A[j][i];
		}
		double rhs[4];
		memcpy(rhs, b, sizeof rhs);
		double c2 = INFINITY;
		if (!solve_small(m, A, b, x)) {
			c2 = F->sff;
			for (int i = 0; i < m; i++)
				c2 -= x[i] * rhs[i];
		}
		ret[m - 3] = c2;
	}
}

static void sine_exact(const fit *F, double P, double ret[2])
{
	sine_acc S;
	memset(&S, 0, sizeof S);
	double om = 2 * M_PI / P, span = F->tb - F->ta;
	for (size_t i = 0; i < F->n; i++) {
		double t = F->d[i].t - F->ta;
		sine_add(&S, F->d[i].w, F->d[i].w * F->d[i].f, cos(om * t), sin(om * t),
			 t / span - 0.5);
	}
	sine_chi2(F, &S, ret);
}

/* Both sinusoid models over periods PMIN_D..2·span, on 1-day bins (cos/sin by
 * rotation: the bin centres are uniform), the best of each refined exactly. */
static void fit_sines(fit *F, double ret[2])
{
	double span = F->tb - F->ta;
	ret[0] = ret[1] = INFINITY;
	if (!(2 * span > PMIN_D))
		return;
	double bw = fmax(1.0, span / 2048);
	bin_data(F, bw);
	double bestP[2] = { NAN, NAN };
	for (double P = PMIN_D; P <= 2 * span; P *= 1 + 0.25 * P / span) {
		sine_acc S;
		memset(&S, 0, sizeof S);
		double d = 2 * M_PI * bw / P, cd = cos(d), sd = sin(d), c = 1, s = 0;
		for (int b = 0; b < F->nb; b++) {
			if (F->W[b] > 0)
				sine_add(&S, F->W[b], F->WF[b], c, s, b * bw / span - 0.5);
			double cn = c * cd - s * sd;
			s = s * cd + c * sd;
			c = cn;
		}
		double c2[2];
		sine_chi2(F, &S, c2);
		for (int m = 0; m < 2; m++)
			if (c2[m] < ret[m]) {
				ret[m] = c2[m];
				bestP[m] = P;
			}
	}
	ret[0] = ret[1] = INFINITY;
	for (int m = 0; m < 2; m++) {
		if (!isfinite(bestP[m]))
			continue;
		for (int k = -2; k <= 2; k++) {
			double P = bestP[m] * (1 + k * 0.06 * bestP[m] / span), c2[2];
			sine_exact(F, P, c2);
			ret[m] = fmin(ret[m], c2[m]);
		}
	}
}

/* ---- step, outlier, dropout: exact, by prefix sums ---- */

static void fit_jumps(const fit *F, double *ret_step, double *ret_out, double *ret_drop)
{
	size_t n = F->n;
	double w, wf, wff, w2, wf2, wff2;
	*ret_step = *ret_out = *ret_drop = INFINITY;
	for (size_t i = 2; i + 2 <= n; i++) {
		range_sums(F, 0, i, &w, &wf, &wff);
		range_sums(F, i, n, &w2, &wf2, &wff2);
		*ret_step = fmin(*ret_step, ss(w, wf, wff) + ss(w2, wf2, wff2));
	}
	for (size_t i = 0; i < n; i++) {
		const pt *q = &F->d[i];
		*ret_out = fmin(*ret_out, ss(F->sw - q->w, F->swf - q->w * q->f,
					     F->sff - q->w * q->f * q->f));
	}
	/* a few consecutive epochs low (an instrumental dropout) */
	for (size_t L = 2; L <= 5; L++)
		for (size_t i = 0; i + L <= n; i++) {
			range_sums(F, i, i + L, &w, &wf, &wff);
			double wo = F->sw - w, wfo = F->swf - wf;
			if (!(wo > 0) || !(wf / w < wfo / wo))
				continue;
			*ret_drop = fmin(*ret_drop, ss(w, wf, wff) + ss(wo, wfo, F->sff - wff));
		}
}

double ese_model_flux(const ese_result *r, double mjd)
{
	if (!r->scored || !isfinite(r->t_days))
		return NAN;
	int a = -1, s = -1;
	for (int i = 0; i < NALPHA; i++)
		if (alphas[i] == r->alpha)
			a = i;
	for (int i = 0; i < NSIZE; i++)
		if (sizes[i] == r->src_size)
			s = i;
	if (a < 0 || s < 0)
		return NAN;
	pthread_once(&tab_once, build_tables);
	double A = r->lensed_fraction > 0 && r->lensed_fraction <= 1 ? r->lensed_fraction : 1;
	return r->f0 * (1 - A + A * gain_idx(a, s, (mjd - r->t0_mjd) / r->t_days));
}

static double s_duration(double D, const ese_params *p)
{
	double edge = D < p->tmin_days ? p->tmin_days : D > p->tmax_days ? p->tmax_days : D;
	double x = log(D / edge) / 0.3;
	return exp(-0.5 * x * x);
}

/* Fill the characterisation and the score of the fitted lens L (docs/ese.md). */
static void characterise(const fit *F, const lensfit *L, const ese_params *p, ese_result *r)
{
	const pt *d = F->d;
	size_t n = F->n;
	int dip = alphas[L->a] > 0;
	double sign = dip ? 1 : -1;
	double h = u_half[L->a][L->s] * L->T, t0 = L->t0, f0 = L->f0;
	r->duration_days = 2 * h;
	r->timescale_days = 2 * L->T;
	double lo = fmax(F->ta, t0 - h), hi = fmin(F->tb, t0 + h);
	r->coverage = hi > lo ? (hi - lo) / (2 * h) : 0;
	int nb = 0, na = 0, ning = 0, negr = 0, nev = 0, nbefore = 0, nafter = 0;
	double db = 0, da = 0;
	double zw = 0, zwf = 0, zpred = 0, fw = 0, fwf = 0;
	int nfar = 0;
	for (size_t i = 0; i < n; i++) {
		double dt = d[i].t - t0, dev = fabs(d[i].f - f0);
		if (dt < 0 && dt >= -2 * L->T) {
			db += dev;
			nb++;
		} else if (dt > 0 && dt <= 2 * L->T) {
			da += dev;
			na++;
		}
		if (fabs(dt) < h)
			nev++;
		if (dt >= -1.5 * h && dt <= -0.5 * h)
			ning++;
		if (dt >= 0.5 * h && dt <= 1.5 * h)
			negr++;
		if (dt < -1.5 * h)
			nbefore++;
		if (dt > 1.5 * h)
			nafter++;
		/* the lens signature: where the model goes the other way from the
		 * event (shoulders of a dip, flanks of a spike) */
		if (fabs(dt) >= h && fabs(dt) < u_eff[L->a][L->s] * L->T) {
			double g = gain_idx(L->a, L->s, dt / L->T);
			if (sign * (g - 1) > 0) {
				zw += d[i].w;
				zwf += d[i].w * d[i].f;
				zpred += d[i].w * sign * f0 * L->frac * (g - 1);
			}
		} else if (fabs(dt) >= u_eff[L->a][L->s] * L->T) {
			fw += d[i].w; /* beyond the lens: the true baseline */
			fwf += d[i].w * d[i].f;
			nfar++;
		}
	}
	db = nb ? db / nb : 0;
	da = na ? da / na : 0;
	r->asymmetry = db + da > 0 ? (db - da) / (db + da) : 0;
	r->n_event = nev;
	r->n_ingress = ning;
	r->n_egress = negr;
	r->n_base = nbefore + nafter;
	r->ongoing = F->tb < t0 + 1.5 * h && negr < 2 && ning >= 1;

	/* depth from the data: the extreme 3-epoch running mean inside the event
	 * against the mean of the epochs outside it (F0 when there are fewer
	 * than two: the model's baseline can sit below the data's when the
	 * shoulders of a long event cover the whole light curve, not the other
	 * way round) */
	double bw_ = 0, bwf = 0;
	for (size_t i = 0; i < n; i++)
		if (fabs(d[i].t - t0) > 1.5 * h) {
			bw_ += d[i].w;
			bwf += d[i].w * d[i].f;
		}
	double fb = nbefore + nafter >= 2 ? bwf / bw_ : f0;
	/* quiet outside the event: where the lens leaves the flux within a third
	 * of an error bar of its baseline, the data should scatter about a
	 * constant as their errors say (χ²_ν about their weighted mean; not
	 * about the lens, whose misfit of a real event's wings is no evidence
	 * of intrinsic variability) */
	double qw = 0, qwf = 0, qwff = 0;
	int nq = 0;
	for (size_t i = 0; i < n; i++) {
		double dev = f0 * L->frac * (gain_idx(L->a, L->s, (d[i].t - t0) / L->T) - 1);
		if (fabs(d[i].t - t0) > h && dev * dev * d[i].w < 0.09) {
			qw += d[i].w;
			qwf += d[i].w * d[i].f;
			qwff += d[i].w * d[i].f * d[i].f;
			nq++;
		}
	}
	/* (fewer than five such epochs: the lens reaches every epoch and its
	 * residuals cannot tell an intrinsically variable source from its own
	 * misfit of a real event: no verdict) */
	r->chi2_nu_out = nq >= 5 ? ss(qw, qwf, qwff) / (nq - 1) : NAN;
	r->s_quiet = isfinite(r->chi2_nu_out) ? 1 - smoothstep(r->chi2_nu_out, 2.5, 6) : 1;
	size_t i0 = lower_bound_t(d, n, t0 - h), i1 = lower_bound_t(d, n, t0 + h);
	double depth = 0;
	if (i1 > i0) {
		size_t m = i1 - i0 < 3 ? i1 - i0 : 3;
		for (size_t i = i0; i + m <= i1; i++) {
			double w = F->cw[i + m] - F->cw[i], wf = F->cwf[i + m] - F->cwf[i];
			depth = fmax(depth, sign * (fb - wf / w) / fb);
		}
	}
	r->amplitude = depth;
	r->s_depth = smoothstep(depth, 0.05, 0.10) * (1 - smoothstep(depth, 0.55, 0.85));

	/* signature significance, the noise scaled by the over-dispersion: the
	 * shoulders' excess (the flanks' deficit) against the baseline beyond
	 * the lens's reach (against the epochs outside the event when fewer
	 * than five are that far), not against the fitted F0, which a wrong
	 * model (a flare's wings) drags along with it */
	double fref = nfar >= 5 ? fwf / fw : fb;
	double zd = sign * (zwf - zw * fref);
	double z = zw > 0 ? zd / zw * sqrt(zw / r->overdispersion) : 0;
	r->signature_sigma = z;
	if (dip) {
		r->s_sig = 0.85 + 0.15 * smoothstep(z, 1, 3);
	} else {
		double ratio = zpred > 0 ? zd / zpred : 0;
		r->s_sig = smoothstep(z, 2, 4) * smoothstep(ratio, 0.3, 0.7);
	}

	if (r->ongoing) {
		/* the end is not seen: the event has lasted at least since its
		 * ingress; only too long is known yet */
		double dlo = F->tb - (t0 - h);
		r->s_time = dlo > p->tmax_days ? s_duration(dlo, p) : 1;
		r->s_epochs = smoothstep(nev, 1, 4) * smoothstep(ning, 0, 2) *
			      smoothstep(nbefore, 2, 6);
	} else {
		r->s_time = s_duration(r->duration_days, p);
		r->s_epochs = smoothstep(nev, 1, 4) * smoothstep(ning, 0, 2) *
			      smoothstep(negr, 0, 2) * smoothstep(r->n_base, 2, 6);
	}
}

/* Σ over the fitted alternatives of exp((BIC_model − BIC_alt)/2), the
 * alternatives' BIC weights relative to the model's (χ² scaled by ĉ; an
 * alternative that was not fitted has χ² INFINITY); the best alternative
 * and its BIC into *ret_best and *ret_bic_best. */
static double alt_weights(const double *chi2_alt, double chat, double lnn, double bic_model,
			  int *ret_best, double *ret_bic_best)
{
	double wsum = 0, bic_best = INFINITY;
	int qb = ESE_ALT_CONST;
	for (int q = 0; q < ESE_NALT; q++) {
		if (!isfinite(chi2_alt[q]))
			continue;
		double bic = chi2_alt[q] / chat + alt_k[q] * lnn;
		if (bic < bic_best) {
			bic_best = bic;
			qb = q;
		}
		double x = 0.5 * (bic_model - bic);
		wsum += x > 700 ? INFINITY : exp(x);
	}
	*ret_best = qb;
	*ret_bic_best = bic_best;
	return wsum;
}

/* Evidence of the lens L against the alternatives and, for a spike, against
 * the dip lens (χ² chi2_other; INFINITY: none), its characterisation and its
 * score, into r. */
static void lens_score(const fit *F, const lensfit *L, const double *chi2_alt, double chi2_other,
		       double chat, const ese_params *p, ese_result *r)
{
	/* BIC weights with χ² scaled by the over-dispersion ĉ
	 * (quasi-likelihood; Burnham & Anderson 2002, §2.5) */
	size_t k = F->n;
	double lnn = log((double)k);
	double bic_l = L->chi2 / chat + K_LENS * lnn, bic_best;
	int qb;
	double wsum = alt_weights(chi2_alt, chat, lnn, bic_l, &qb, &bic_best);
	/* a spike's signature, dimmed flanks, is what a dip looks like: a
	 * spike is evidence only where it also beats the dip lens (same k: the
	 * χ² decide).  Not the other way round: a spike can be fitted into a
	 * gap of the data, where it beats a dip on no evidence at all. */
	if (isfinite(chi2_other)) {
		double x = 0.5 * (L->chi2 - chi2_other) / chat;
		wsum += x > 700 ? INFINITY : exp(x);
	}
	r->f0 = L->f0;
	r->lensed_fraction = L->frac;
	r->t0_mjd = L->t0;
	r->t_days = L->T;
	r->alpha = alphas[L->a];
	r->src_size = sizes[L->s];
	r->chi2_const = chi2_alt[ESE_ALT_CONST];
	r->chi2_line = chi2_alt[ESE_ALT_LINE];
	r->chi2_model = L->chi2;
	r->chi2_alt = chi2_alt[qb];
	r->best_alt = qb;
	r->overdispersion = chat;
	r->dbic = bic_best - bic_l;
	r->s_evid = 1 / (1 + wsum);
	r->alt_evidence = 1 - r->s_evid;
	double excess = chi2_alt[qb] - (double)(k - alt_k[qb]);
	r->explained = excess > 0 ? fmin(1, fmax(0, (chi2_alt[qb] - L->chi2) / excess)) : 0;
	characterise(F, L, p, r);
	r->score = r->s_evid * r->s_depth * r->s_time * r->s_epochs * r->s_sig * r->s_quiet;
}

/* ---- the ingress of an event in progress ----
 *
 * A plasma lens crossing the line of sight first focuses (the caustic
 * shoulder: a brightening) and then defocuses (the dip); a flux-scale step
 * only drops.  Until the egress starts, the shoulder is all that tells an
 * ESE in progress from a step, and the Gaussian lens cannot fit the sharp
 * walls and narrow shoulders of the flat-bottomed dips seen in real events
 * (Fiedler et al. 1994), so a step beats it on their ingress.  This model is
 * that ingress in the data's own terms: three levels in time order, the
 * baseline, a shoulder of 1–5 epochs above it, and a low state below it that
 * lasts to the last epoch (k = 5: three levels and two change points; exact
 * by prefix sums over every split).  It scores an event as ongoing when it
 * beats every alternative, the step included (which it contains with the
 * shoulder at the baseline), and the shoulder is significant. */
#define K_INGRESS 5
#define INGRESS_MAXW 5 /* the widest shoulder, in epochs */

typedef struct ingressfit {
	double chi2;
	double base, shoulder, low;      /* the three levels */
	double w_base, w_shoulder;       /* their weights Σw */
	size_t i_shoulder, i_low;        /* first epoch of the shoulder and of the low state */
} ingressfit;

static void fit_ingress(const fit *F, const ese_params *p, ingressfit *ret)
{
	size_t n = F->n;
	double w0, wf0, wff0, w1, wf1, wff1, w2, wf2, wff2;
	*ret = (ingressfit){ .chi2 = INFINITY };
	/* at least 3 epochs low and 6 of baseline; the event began within
	 * tmax_days of the last epoch (an older one is not in progress) */
	for (size_t i = 7; i + 3 <= n; i++) {
		if (F->d[i].t < F->tb - p->tmax_days)
			continue;
		range_sums(F, i, n, &w2, &wf2, &wff2);
		for (size_t m = 1; m <= INGRESS_MAXW && m + 6 <= i; m++) {
			range_sums(F, 0, i - m, &w0, &wf0, &wff0);
			range_sums(F, i - m, i, &w1, &wf1, &wff1);
			double b = wf0 / w0, sh = wf1 / w1, lo = wf2 / w2;
			if (!(sh > b) || !(lo < b))
				continue;
			double c2 = ss(w0, wf0, wff0) + ss(w1, wf1, wff1) + ss(w2, wf2, wff2);
			if (c2 < ret->chi2)
				*ret = (ingressfit){ c2, b, sh, lo, w0, w1, i - m, i };
		}
	}
}

/* The ongoing score of the ingress model I (docs/ese.md, "Ongoing events"),
 * into r when it beats the score r has (the lens's); the lens's parameters
 * stay in r. */
static void ingress_score(const fit *F, const ingressfit *I, const double *chi2_alt,
			  double chat, ese_result *r)
{
	if (!isfinite(I->chi2) || !(I->base > 0))
		return;
	size_t n = F->n;
	double lnn = log((double)n);
	double bic_i = I->chi2 / chat + K_INGRESS * lnn, bic_best;
	int qb;
	double wsum = alt_weights(chi2_alt, chat, lnn, bic_i, &qb, &bic_best);
	double s_evid = 1 / (1 + wsum);
	double depth = (I->base - I->low) / I->base;
	double s_depth = smoothstep(depth, 0.05, 0.10) * (1 - smoothstep(depth, 0.55, 0.85));
	/* the shoulder's excess over the baseline, errors scaled by √ĉ: the
	 * one thing a step does not have, so it is necessary here */
	double z = (I->shoulder - I->base) / sqrt((1 / I->w_shoulder + 1 / I->w_base) * chat);
	double s_sig = smoothstep(z, 3, 5);
	int n_low = (int)(n - I->i_low), n_base = (int)I->i_shoulder;
	double s_epochs = smoothstep(n_low, 1, 4) * smoothstep(n_base, 2, 6);
	double w, wf, wff;
	range_sums(F, 0, I->i_shoulder, &w, &wf, &wff);
	double chi2_nu_base = ss(w, wf, wff) / (n_base - 1);
	double s_quiet = 1 - smoothstep(chi2_nu_base, 2.5, 6);
	double score = s_evid * s_depth * s_epochs * s_sig * s_quiet;
	if (!(score > r->score))
		return;
	r->score = score;
	r->ongoing = 1;
	r->ingress = 1;
	r->ingress_mjd = F->d[I->i_low].t;
	r->amplitude = depth;
	r->chi2_model = I->chi2;
	r->chi2_alt = chi2_alt[qb];
	r->best_alt = qb;
	r->dbic = bic_best - bic_i;
	r->alt_evidence = 1 - s_evid;
	double excess = chi2_alt[qb] - (double)(n - alt_k[qb]);
	r->explained = excess > 0 ? fmin(1, fmax(0, (chi2_alt[qb] - I->chi2) / excess)) : 0;
	r->n_event = n_low;
	r->n_ingress = (int)(I->i_low - I->i_shoulder);
	r->n_egress = 0;
	r->n_base = n_base;
	r->signature_sigma = z;
	r->chi2_nu_out = chi2_nu_base;
	r->s_evid = s_evid;
	r->s_depth = s_depth;
	r->s_time = 1;
	r->s_epochs = s_epochs;
	r->s_sig = s_sig;
	r->s_quiet = s_quiet;
}

int ese_score(const double *mjd, const double *flux, const double *err, size_t n,
	      const ese_params *p, ese_result *r)
{
	pt *d = NULL;
	double *cw = NULL, *cwf = NULL, *cwff = NULL, *bins = NULL;
	int rc = 0;
	memset(r, 0, sizeof *r);
	r->score = NAN;
	r->amplitude = r->timescale_days = r->duration_days = r->asymmetry = r->coverage = NAN;
	r->f0 = r->lensed_fraction = r->t0_mjd = r->t_days = r->alpha = r->src_size = NAN;
	r->chi2_const = r->chi2_line = r->chi2_model = r->chi2_alt = NAN;
	r->overdispersion = r->dbic = r->alt_evidence = r->explained = NAN;
	r->signature_sigma = NAN;
	r->best_alt = -1;
	r->s_evid = r->s_depth = r->s_time = r->s_epochs = r->s_sig = r->s_quiet = NAN;
	r->chi2_nu_out = NAN;
	r->ingress_mjd = NAN;

	d = malloc((n ? n : 1) * sizeof *d);
	cw = malloc((n + 1) * sizeof *cw);
	cwf = malloc((n + 1) * sizeof *cwf);
	cwff = malloc((n + 1) * sizeof *cwff);
	if (!d || !cw || !cwf || !cwff) {
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
		k++;
	}
	if (k <= (size_t)p->min_epochs || k <= K_LENS + 1)
		goto out; /* too few epochs to say anything: score stays NAN */
	/* the gate: χ²_ν and V as photometry/variability.h defines them (without
	 * its pairwise statistics, which cost O(n²)) */
	double gsw = 0, gswf = 0, gsf = 0, gm2 = 0, gs2w = 0;
	for (size_t i = 0; i < k; i++) {
		gsw += d[i].w;
		gswf += d[i].w * d[i].f;
		gsf += d[i].f;
	}
	double gmean = gsf / k, gwmean = gswf / gsw;
	for (size_t i = 0; i < k; i++) {
		gm2 += (d[i].f - gmean) * (d[i].f - gmean);
		gs2w += d[i].w * (d[i].f - gwmean) * (d[i].f - gwmean);
	}
	double chi2_nu = gs2w / (k - 1), vv = gmean != 0 ? sqrt(gm2 / (k - 1)) / gmean : NAN;
	r->score = 0;
	if (!(chi2_nu > p->gate_chi2_nu) && !(vv > p->gate_v))
		goto out; /* not variable enough to be an ESE */
	pthread_once(&tab_once, build_tables);
	qsort(d, k, sizeof *d, cmp_pt);
	double ta = d[0].t, tb = d[k - 1].t, span = tb - ta;
	if (!(span > 0))
		goto out;

	cw[0] = cwf[0] = cwff[0] = 0;
	for (size_t i = 0; i < k; i++) {
		cw[i + 1] = cw[i] + d[i].w;
		cwf[i + 1] = cwf[i] + d[i].w * d[i].f;
		cwff[i + 1] = cwff[i] + d[i].w * d[i].f * d[i].f;
	}
	/* bins: the finest are the lens's at T = TMIN_D, or the sinusoids' 1 d */
	double bw_min = fmax(fmin(TMIN_D / BPT, 1.0), span / 2048);
	int nbmax = (int)floor(span / bw_min + 0.5) + 2;
	bins = malloc(4 * ((size_t)nbmax + 1) * sizeof *bins);
	if (!bins) {
		rc = -ENOMEM;
		goto out;
	}
	fit F = { .d = d, .n = k, .cw = cw, .cwf = cwf, .cwff = cwff, .sw = cw[k], .swf = cwf[k],
		  .sff = cwff[k], .ta = ta, .tb = tb, .W = bins, .WF = bins + nbmax + 1,
		  .PW = bins + 2 * ((size_t)nbmax + 1), .PWF = bins + 3 * ((size_t)nbmax + 1) };

	/* the alternatives */
	double chi2_alt[ESE_NALT];
	double fm = F.swf / F.sw, swt = 0, stt = 0, stf = 0;
	for (size_t i = 0; i < k; i++)
		swt += d[i].w * d[i].t;
	double tm = swt / F.sw;
	for (size_t i = 0; i < k; i++) {
		stt += d[i].w * (d[i].t - tm) * (d[i].t - tm);
		stf += d[i].w * (d[i].t - tm) * (d[i].f - fm);
	}
	chi2_alt[ESE_ALT_CONST] = ss(F.sw, F.swf, F.sff);
	chi2_alt[ESE_ALT_LINE] = chi2_alt[ESE_ALT_CONST] - (stt > 0 ? stf * stf / stt : 0);
	fit_jumps(&F, &chi2_alt[ESE_ALT_STEP], &chi2_alt[ESE_ALT_OUTLIER],
		  &chi2_alt[ESE_ALT_DROPOUT]);
	fit_sines(&F, &chi2_alt[ESE_ALT_SINE]);

	/* lens and flares: a coarse search on bins of T / BPT over T (log-spaced
	 * 3–150 d) and t0 (from T before the data to 1.5 T after: an event still
	 * under way has its centre beyond the last epoch), then refined exactly */
	lensfit best[2][2] = { { LENS_NONE, LENS_NONE }, { LENS_NONE, LENS_NONE } };
	flarefit fbest[NFL];
	for (int q = 0; q < NFL; q++)
		fbest[q] = (flarefit){ INFINITY, NAN, NAN };
	int fk_lo[NFL], fk_hi[NFL];
	double fk[NFL][2 * FKMAX + 1];
	for (int q = 0; q < NFL; q++) {
		double lo, hi;
		flare_extent(q, &lo, &hi);
		fk_lo[q] = (int)floor(lo * BPT);
		fk_hi[q] = (int)ceil(hi * BPT);
		for (int j = fk_lo[q]; j <= fk_hi[q]; j++)
			fk[q][j + FKMAX] = flare_shape(q, (double)j / BPT);
	}
	for (int it = 0; it < NT; it++) {
		double T = TMIN_D * pow(TMAX_D / TMIN_D, it / (NT - 1.0));
		double bw = T / BPT;
		if (bw < bw_min)
			bw = bw_min;
		bin_data(&F, bw);
		int clo = -(int)ceil(T / bw), chi = F.nb - 1 + (int)ceil(1.5 * T / bw);
		double Tb = bw * BPT; /* the T the bins stand for */
		lensfit bt[2] = { LENS_NONE, LENS_NONE }; /* [0] spikes, [1] dips */
		for (int c = clo; c <= chi; c++) {
			for (int a = 0; a < NALPHA; a++) {
				double f0 = NAN, frac = NAN;
				double c2 = lens_chi2_binned(&F, a, COARSE_S, c, &f0, &frac);
				lensfit *B = &bt[alphas[a] > 0];
				if (c2 < B->chi2)
					*B = (lensfit){ c2, f0, frac, ta + c * bw, Tb, a, COARSE_S };
			}
			/* a flare peaks inside the data and is shorter than a
			 * quarter of it: longer "flares" are trends, which the
			 * line, step and sinusoids describe */
			for (int q = 0; q < NFL && c >= 0 && c < F.nb && Tb <= span / 4; q++) {
				int jlo = fk_lo[q] > -c ? fk_lo[q] : -c;
				int jhi = fk_hi[q] < F.nb - 1 - c ? fk_hi[q] : F.nb - 1 - c;
				double sh = 0, shh = 0, sfh = 0;
				for (int j = jlo; j <= jhi; j++) {
					double hv = fk[q][j + FKMAX];
					sh += F.W[c + j] * hv;
					shh += F.W[c + j] * hv * hv;
					sfh += F.WF[c + j] * hv;
				}
				double c2 = flare_solve(&F, sh, shh, sfh);
				if (c2 < fbest[q].chi2)
					fbest[q] = (flarefit){ c2, ta + c * bw, Tb };
			}
		}
		/* keep the two best T of each family (their own best t0 and α) */
		for (int f = 0; f < 2; f++) {
			if (bt[f].chi2 < best[f][0].chi2) {
				best[f][1] = best[f][0];
				best[f][0] = bt[f];
			} else if (bt[f].chi2 < best[f][1].chi2) {
				best[f][1] = bt[f];
			}
		}
	}
	lensfit L[2] = { LENS_NONE, LENS_NONE };
	for (int f = 0; f < 2; f++)
		for (int b = 0; b < 2; b++) {
			if (!isfinite(best[f][b].chi2))
				continue;
			lensfit c = LENS_NONE;
			lens_try(&F, &c, best[f][b].a, best[f][b].s, best[f][b].t0, best[f][b].T);
			if (!isfinite(c.chi2))
				continue;
			lens_refine(&F, &c, f);
			if (c.chi2 < L[f].chi2)
				L[f] = c;
		}
	if (!isfinite(L[0].chi2) && !isfinite(L[1].chi2))
		goto out;
	for (int q = 0; q < NFL; q++) {
		if (!isfinite(fbest[q].chi2))
			continue;
		flarefit c = { flare_chi2(&F, q, fbest[q].t0, fbest[q].tau), fbest[q].t0,
			       fbest[q].tau };
		flare_refine(&F, q, &c);
		fbest[q] = c;
	}
	chi2_alt[ESE_ALT_FRED] = fmin(fbest[FL_FRED1].chi2, fbest[FL_FRED3].chi2);
	chi2_alt[ESE_ALT_SYMFLARE] = fbest[FL_SYM].chi2;
	r->scored = 1;

	/* ĉ: the over-dispersion of the best-fitting model of all (lenses and
	 * alternatives) */
	double chat = INFINITY;
	for (int f = 0; f < 2; f++)
		chat = fmin(chat, L[f].chi2 / (double)(k - K_LENS));
	for (int q = 0; q < ESE_NALT; q++)
		if (isfinite(chi2_alt[q]) && (double)k > alt_k[q])
			chat = fmin(chat, chi2_alt[q] / ((double)k - alt_k[q]));
	chat = fmax(chat, 1.0);
	/* the dip lens and the spike lens each against the alternatives (the
	 * spike also against the dip); the better score is the source's */
	ese_result rf[2];
	for (int f = 0; f < 2; f++) {
		rf[f] = *r;
		rf[f].score = 0;
		if (isfinite(L[f].chi2))
			lens_score(&F, &L[f], chi2_alt, f == 0 ? L[1].chi2 : INFINITY, chat, p,
				   &rf[f]);
	}
	*r = rf[1].score >= rf[0].score || !isfinite(L[0].chi2) ? rf[1] : rf[0];
	r->scored = 1;
	/* an event in progress whose shoulder the lens does not fit */
	ingressfit I;
	fit_ingress(&F, p, &I);
	ingress_score(&F, &I, chi2_alt, chat, r);
out:
	free(d);
	free(cw);
	free(cwf);
	free(cwff);
	free(bins);
	return rc;
}
