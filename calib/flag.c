#include "calib/flag.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/stats.h"

#include <omp.h>

static int nthreads_of(const flag_params *p)
{
	return p->nthreads > 0 ? p->nthreads : omp_get_max_threads();
}

void flag_params_init(flag_params *p)
{
	memset(p, 0, sizeof *p);
	p->nthreads = 0;
	p->flag_autos = 1;
	p->dead_auto_frac = 0.1;
	p->dead_cross_frac = 0.1;
	p->rfi = 1;
	p->chi1 = 5.0;
	p->rho = 1.5;
	p->max_window_freq = 32;
	p->max_window_time = 16;
	p->passes = 2;
	p->pass_factor = 1.5;
	p->smooth_chan = 15;
	p->smooth_time = 5;
	p->sir_eta = 0.2;
	p->pol_or = 1;
	p->combine_frac = 0.5;
	p->bl_clip = 5.0;
	p->chan_clip = 5.0;
	p->chan_clip_window = 15;
}

/* ---- statistics --------------------------------------------------------- */

static const char *reason_names[FLAG_NREASONS] = {
	"input", "nonfinite", "config", "rfi", "missing", "cal", "auto",
};

const char *flag_reason_name(int reason)
{
	return reason >= 0 && reason < FLAG_NREASONS ? reason_names[reason] : "?";
}

void flag_stats_release(flag_stats *s)
{
	if (!s)
		return;
	free(s->ant_number);
	free(s->ant_frac);
	free(s->chan_frac);
	free(s->dead_ants);
	s->ant_number = NULL;
	s->ant_frac = NULL;
	s->chan_frac = NULL;
	s->dead_ants = NULL;
}

int flag_stats_compute(const vis_set *v, flag_stats *ret)
{
	flag_stats s;
	size_t *bl_bad = NULL, *chan_bad = NULL, *chan_tot = NULL;
	size_t reason[FLAG_NREASONS] = {0}, nbad = 0, ncross = 0;
	double *ant_bad = NULL, *ant_tot = NULL;
	const int nc = v->nchan, np = v->npols;
	int ret_code = 0;

	memset(&s, 0, sizeof s);
	s.nants = v->nants;
	s.nchan = nc;
	s.ant_number = calloc(v->nants ? v->nants : 1, sizeof *s.ant_number);
	s.ant_frac = calloc(v->nants ? v->nants : 1, sizeof *s.ant_frac);
	s.chan_frac = calloc(nc, sizeof *s.chan_frac);
	bl_bad = calloc(v->nbls, sizeof *bl_bad);
	chan_bad = calloc(nc, sizeof *chan_bad);
	chan_tot = calloc(nc, sizeof *chan_tot);
	ant_bad = calloc(v->nants ? v->nants : 1, sizeof *ant_bad);
	ant_tot = calloc(v->nants ? v->nants : 1, sizeof *ant_tot);
	if (!s.ant_number || !s.ant_frac || !s.chan_frac || !bl_bad || !chan_bad || !chan_tot ||
	    !ant_bad || !ant_tot) {
		ret_code = -ENOMEM;
		goto out;
	}

#pragma omp parallel for schedule(dynamic, 8) reduction(+ : reason[:FLAG_NREASONS], \
	chan_bad[:nc], nbad, ncross)
	for (int b = 0; b < v->nbls; b++) {
		if (v->ant1[b] == v->ant2[b])
			continue;
		for (int t = 0; t < v->ntimes; t++) {
			const uint8_t *f = &v->flags[vis_idx(v, t, b, 0, 0)];
			for (int c = 0; c < nc; c++) {
				for (int p = 0; p < np; p++) {
					uint8_t x = f[c * np + p];
					if (!x)
						continue;
					nbad++;
					chan_bad[c]++;
					bl_bad[b]++;
					for (int k = 0; k < FLAG_NREASONS; k++)
						if (x & (1u << k))
							reason[k]++;
				}
			}
		}
		ncross += (size_t)v->ntimes * nc * np;
	}

	for (int b = 0; b < v->nbls; b++) {
		int i1, i2;
		double tot = (double)v->ntimes * nc * np;
		if (v->ant1[b] == v->ant2[b])
			continue;
		i1 = vis_ant_index(v, v->ant1[b]);
		i2 = vis_ant_index(v, v->ant2[b]);
		if (i1 >= 0) {
			ant_bad[i1] += bl_bad[b];
			ant_tot[i1] += tot;
		}
		if (i2 >= 0) {
			ant_bad[i2] += bl_bad[b];
			ant_tot[i2] += tot;
		}
	}
	for (int a = 0; a < v->nants; a++) {
		s.ant_number[a] = v->ants[a].number;
		s.ant_frac[a] = ant_tot[a] > 0 ? ant_bad[a] / ant_tot[a] : -1.0;
	}
	{
		double per_chan = (double)ncross / nc;
		for (int c = 0; c < nc; c++)
			s.chan_frac[c] = per_chan > 0 ? chan_bad[c] / per_chan : 0;
	}
	s.ncross = ncross;
	s.total_frac = ncross ? (double)nbad / ncross : 0;
	for (int k = 0; k < FLAG_NREASONS; k++)
		s.reason_frac[k] = ncross ? (double)reason[k] / ncross : 0;
	*ret = s;
	memset(&s, 0, sizeof s);
out:
	flag_stats_release(&s);
	free(bl_bad);
	free(chan_bad);
	free(chan_tot);
	free(ant_bad);
	free(ant_tot);
	return ret_code;
}

/* ---- small numerical helpers ------------------------------------------- */

/* Median and robust σ = 1.4826 · MAD of x[0..n), both the high median
 * (reorders x; 0 and 0 when n == 0). */
static void median_sigma(float *x, size_t n, float *ret_med, float *ret_sigma)
{
	*ret_med = 0;
	*ret_sigma = 0;
	if (n)
		*ret_sigma = 1.4826f * stats_mad_hi_f(x, n, ret_med);
}

/* ---- per-plane RFI detection ------------------------------------------- */

/* |z| without hypotf's overflow care: visibilities are far from FLT_MAX. */
static inline float amp_of(float complex z)
{
	return sqrtf(crealf(z) * crealf(z) + cimagf(z) * cimagf(z));
}

typedef struct plane_scratch {
	float *amp_all, *ampT_all;      /* [np][nt*nc] amplitudes, both layouts */
	uint8_t *prior_all;            /* [np][nt*nc] flagged before RFI detection */
	float *amp, *ampT;             /* the current pol's planes (views) */
	uint8_t *prior;
	float *bg1, *bg, *res, *resT, *sortbuf;
	uint8_t *rfi, *mask, *maskT, *sir_a, *sir_b;
	float *P, *C;       /* per-row prefix sums of a whole plane, n + max(nt, nc) + 2 */
	float *Q;           /* window-start prefix, max(nt, nc) + 2 */
	uint8_t *start;     /* window starts, length max(nt, nc) + 2 */
	double *ps, *pc;    /* box-mean prefix sums */
	float *pmin, *pmax; /* SIR prefix minimum / suffix maximum */
} plane_scratch;

static void scratch_free(plane_scratch *s)
{
	free(s->amp_all);
	free(s->ampT_all);
	free(s->prior_all);
	free(s->bg1);
	free(s->bg);
	free(s->res);
	free(s->resT);
	free(s->sortbuf);
	free(s->rfi);
	free(s->mask);
	free(s->maskT);
	free(s->sir_a);
	free(s->sir_b);
	free(s->P);
	free(s->C);
	free(s->Q);
	free(s->start);
	free(s->ps);
	free(s->pc);
	free(s->pmin);
	free(s->pmax);
	memset(s, 0, sizeof *s);
}

static int scratch_alloc(plane_scratch *s, int nt, int nc, int np)
{
	size_t n = (size_t)nt * nc, m = (size_t)(nt > nc ? nt : nc) + 2;

	memset(s, 0, sizeof *s);
	s->amp_all = malloc(n * np * sizeof *s->amp_all);
	s->ampT_all = malloc(n * np * sizeof *s->ampT_all);
	s->prior_all = malloc(n * np);
	s->bg1 = malloc(n * sizeof *s->bg1);
	s->bg = malloc(n * sizeof *s->bg);
	s->res = malloc(n * sizeof *s->res);
	s->resT = malloc(n * sizeof *s->resT);
	s->sortbuf = malloc(n * sizeof *s->sortbuf);
	s->rfi = malloc(n * np);
	s->mask = malloc(n);
	s->maskT = malloc(n);
	s->sir_a = malloc(n);
	s->sir_b = malloc(n);
	s->P = malloc((n + m) * sizeof *s->P);
	s->C = malloc((n + m) * sizeof *s->C);
	s->Q = malloc(m * sizeof *s->Q);
	s->start = malloc(m);
	s->ps = malloc(m * sizeof *s->ps);
	s->pc = malloc(m * sizeof *s->pc);
	s->pmin = malloc(m * sizeof *s->pmin);
	s->pmax = malloc(m * sizeof *s->pmax);
	if (!s->amp_all || !s->ampT_all || !s->prior_all || !s->bg1 || !s->bg || !s->res || !s->resT || !s->sortbuf ||
	    !s->rfi || !s->mask || !s->maskT || !s->sir_a || !s->sir_b || !s->P || !s->C || !s->Q ||
	    !s->start || !s->ps || !s->pc || !s->pmin || !s->pmax) {
		scratch_free(s);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Smooth background of a plane held transposed ([channel][time], time
 * fastest): a masked box mean over 2hc+1 channels (truncated at the band
 * edges; samples with useT == 0 do not count, and must hold a finite value),
 * then a box mean over 2ht+1 integrations of that.  Running sums over
 * channels are kept for all integrations at once, so the inner loops run
 * along contiguous memory with no dependency chains.  S, N: nt doubles of
 * scratch; bg1T: scratch plane; bgT: the background (0 where a window holds
 * no data at all).
 */
static void background(const float *ampT, const uint8_t *useT, int nt, int nc, int hc, int ht,
		       double *S, double *N, float *bg1T, float *bgT)
{
	for (int t = 0; t < nt; t++)
		S[t] = N[t] = 0;
	for (int c = 0; c < hc && c < nc; c++)
		for (int t = 0; t < nt; t++) {
			double w = useT[(size_t)c * nt + t];
			S[t] += w * ampT[(size_t)c * nt + t];
			N[t] += w;
		}
	for (int c = 0; c < nc; c++) {
		const int add = c + hc, rem = c - hc - 1;
		float *o = bg1T + (size_t)c * nt;
		if (add < nc)
			for (int t = 0; t < nt; t++) {
				double w = useT[(size_t)add * nt + t];
				S[t] += w * ampT[(size_t)add * nt + t];
				N[t] += w;
			}
		if (rem >= 0)
			for (int t = 0; t < nt; t++) {
				double w = useT[(size_t)rem * nt + t];
				S[t] -= w * ampT[(size_t)rem * nt + t];
				N[t] -= w;
			}
		for (int t = 0; t < nt; t++)
			o[t] = N[t] > 0.5 ? (float)(S[t] / N[t]) : NAN;
	}
	for (int c = 0; c < nc; c++) {
		const float *r = bg1T + (size_t)c * nt;
		float *o = bgT + (size_t)c * nt;
		int holes = 0;
		for (int t = 0; t < nt; t++)
			holes |= !isfinite(r[t]);
		if (!holes) {
			/* The usual case: prefix sums, fixed window counts. */
			float P[nt + 1];
			P[0] = 0;
			for (int t = 0; t < nt; t++)
				P[t + 1] = P[t] + r[t];
			for (int t = 0; t < nt; t++) {
				int lo = t - ht < 0 ? 0 : t - ht, hi = t + ht >= nt ? nt - 1 : t + ht;
				o[t] = (P[hi + 1] - P[lo]) / (float)(hi - lo + 1);
			}
			continue;
		}
		for (int t = 0; t < nt; t++) {
			int lo = t - ht < 0 ? 0 : t - ht, hi = t + ht >= nt ? nt - 1 : t + ht, cnt = 0;
			float sum = 0;
			for (int u = lo; u <= hi; u++)
				if (isfinite(r[u])) {
					sum += r[u];
					cnt++;
				}
			o[t] = cnt ? sum / cnt : 0.0f;
		}
	}
}

/* Prefix sums of the unflagged samples of one row (and their count). */
static void row_prefix(const float *x, const uint8_t *mk, int len, float *P, float *C)
{
	P[0] = C[0] = 0;
	for (int j = 0; j < len; j++) {
		float ok = mk[j] ? 0.0f : 1.0f;
		P[j + 1] = P[j] + ok * x[j];
		C[j + 1] = C[j] + ok;
	}
}

/*
 * SumThreshold along the rows of a row-major block (nrows × len) for window
 * lengths M = m0, 2·m0, … ≤ max_m (Offringa et al. 2010, MNRAS 405, 155, §3.3
 * eq. 4, with their implementation's rule that flagged samples are skipped;
 * χ_M = thr · ρ^(−log2 M), eq. 5): every window of M consecutive samples
 * whose mean over its unflagged samples exceeds χ_M in absolute value is
 * flagged as a whole.  mask (1 = flagged) is read and updated; newly flagged
 * samples are also set in rfi.  The windows use per-row prefix sums, kept
 * for all rows and recomputed only for a row that gained flags, so the
 * window loops are branch-free and most rows are summed once per call.
 * Returns 1 when anything new was flagged.
 */
static int sumthreshold(const float *res, uint8_t *mask, uint8_t *rfi, int nrows, int len, int m0,
			int max_m, float thr, float rho, plane_scratch *s)
{
	float *Q = s->Q;
	uint8_t *start = s->start;
	const size_t pl = (size_t)len + 1;
	int changed = 0;

	/* All rows at once, rows innermost: independent chains overlap. */
	for (int r = 0; r < nrows; r++)
		s->P[r * pl] = s->C[r * pl] = 0;
	for (int j = 0; j < len; j++)
		for (int r = 0; r < nrows; r++) {
			size_t k = (size_t)r * len + j, q = r * pl + j;
			float ok = mask[k] ? 0.0f : 1.0f;
			s->P[q + 1] = s->P[q] + ok * res[k];
			s->C[q + 1] = s->C[q] + ok;
		}
	for (int M = m0; M <= max_m && M <= len; M *= 2) {
		const int nw = len - M + 1;
		const float thr_m = thr / powf(rho, log2f((float)M));
		for (int r = 0; r < nrows; r++) {
			const float *P = s->P + r * pl, *C = s->C + r * pl;
			uint8_t *mk = mask + (size_t)r * len, *rf = rfi + (size_t)r * len;
			int any = 0;

#pragma omp simd reduction(| : any)
			for (int j = 0; j < nw; j++) {
				float S = P[j + M] - P[j], N = C[j + M] - C[j];
				/* One-sided: RFI only adds power.  A two-sided test flags the
				 * neighbours of a strong transmitter or burst, whose first-pass
				 * background the unmasked RFI lifted, as negative outliers
				 * (exact-zero dropouts are caught earlier, by the sample check). */
				start[j] = (N > 0.5f) & (S > N * thr_m);
				any |= start[j];
			}
			if (!any)
				continue;
			/* Sample k is covered when a flagged window starts in [k−M+1, k]. */
			Q[0] = 0;
			for (int j = 0; j < nw; j++)
				Q[j + 1] = Q[j] + start[j];
			for (int k = 0; k < len; k++) {
				int lo = k - M + 1 < 0 ? 0 : k - M + 1, hi = k < nw - 1 ? k : nw - 1;
				if (hi >= lo && Q[hi + 1] - Q[lo] > 0.5f && !mk[k]) {
					mk[k] = 1;
					rf[k] = 1;
					changed = 1;
				}
			}
			row_prefix(res + (size_t)r * len, mk, len, s->P + r * pl, s->C + r * pl);
		}
	}
	return changed;
}

/*
 * Scale-invariant rank operator (Offringa, van de Gronde & Roerdink 2012,
 * A&A 539, A95, §3, linear-time form): sample j is flagged when some interval
 * containing it is flagged for at least a fraction (1 − η).  With
 * P(x) = Σ_{y<x} (w(y) − (1 − η)), that holds iff max_{b>j} P(b) ≥ min_{a≤j} P(a).
 */
static void sir_row(const uint8_t *in, uint8_t *out, size_t stride, int n, float eta, float *pmin,
		    float *pmax)
{
	float P = 0;

	/* pmin[j] = min_{a ≤ j} P(a), P(0) = 0 */
	pmin[0] = 0;
	for (int j = 0; j < n; j++) {
		P += in[j * stride] ? eta : eta - 1.0f;
		pmin[j + 1] = P < pmin[j] ? P : pmin[j];
	}
	/* pmax[j] = max_{b ≥ j} P(b); P now holds P(n). */
	pmax[n] = P;
	for (int j = n - 1; j >= 0; j--) {
		P -= in[j * stride] ? eta : eta - 1.0f;
		pmax[j] = P > pmax[j + 1] ? P : pmax[j + 1];
	}
	for (int j = 0; j < n; j++)
		out[j * stride] = pmax[j + 1] >= pmin[j];
}

/* Amplitude planes (both layouts) and prior flags of every polarisation of
 * baseline b, in one sweep over its rows (the pols are interleaved in memory). */
static void load_planes(const vis_set *v, int b, plane_scratch *s)
{
	const int nt = v->ntimes, nc = v->nchan, np = v->npols;
	const size_t n = (size_t)nt * nc;

	for (int t = 0; t < nt; t++) {
		size_t base = vis_idx(v, t, b, 0, 0);
		for (int c = 0; c < nc; c++)
			for (int p = 0; p < np; p++) {
				size_t i = base + (size_t)c * np + p, k = (size_t)p * n + (size_t)t * nc + c;
				uint8_t f = v->flags[i] != 0;
				float a = f ? 0.0f : amp_of(v->vis[i]);
				s->prior_all[k] = f;
				s->amp_all[k] = a;
				s->ampT_all[(size_t)p * n + (size_t)c * nt + t] = a;
			}
	}
}

/* Steps 4a–c for polarisation p of the baseline loaded by load_planes():
 * result in rfi[nt*nc] (0/1). */
static void plane_rfi(const vis_set *v, int p, const flag_params *par, plane_scratch *s,
		      uint8_t *rfi)
{
	const int nt = v->ntimes, nc = v->nchan;
	const size_t n = (size_t)nt * nc;
	size_t nvalid = 0;

	memset(rfi, 0, n);
	s->amp = s->amp_all + (size_t)p * n;
	s->ampT = s->ampT_all + (size_t)p * n;
	s->prior = s->prior_all + (size_t)p * n;
	for (size_t k = 0; k < n; k++)
		nvalid += !s->prior[k];
	if (nvalid < 16)
		return;

	float sigma = 0;
	int dirty = 1; /* flags changed since the background and σ were computed */

	for (int pass = 0; pass < par->passes; pass++) {
		float med, thr;
		size_t m = 0, step;

		/* A round that flagged nothing leaves background, residuals and σ as
		 * they were: the next round only lowers the threshold. */
		if (!dirty)
			goto detect;
		/* Smooth background (box means over channels, then over time) on the
		 * transposed plane; residuals in both layouts. */
		for (size_t k = 0; k < n; k++)
			s->mask[k] = s->prior[k] | rfi[k];
		for (int t = 0; t < nt; t++)
			for (int c = 0; c < nc; c++)
				s->sir_a[(size_t)c * nt + t] = !s->mask[(size_t)t * nc + c];
		background(s->ampT, s->sir_a, nt, nc, par->smooth_chan / 2, par->smooth_time / 2, s->ps,
			   s->pc, s->bg1, s->bg);
#pragma omp simd
		for (size_t k = 0; k < n; k++)
			s->resT[k] = s->ampT[k] - s->bg[k];
		for (int t = 0; t < nt; t++)
			for (int c = 0; c < nc; c++)
				s->res[(size_t)t * nc + c] = s->resT[(size_t)c * nt + t];
		/* Robust centre and σ from (at most ~4096 of) the unflagged residuals:
		 * plenty for a MAD, and it keeps the selection cheap. */
		step = nvalid / 4096 + 1;
		for (size_t k = 0, skip = 0; k < n; k++) {
			if (s->mask[k])
				continue;
			if (skip == 0) {
				s->sortbuf[m++] = s->res[k];
				skip = step;
			}
			skip--;
		}
		if (m < 16)
			break;
		median_sigma(s->sortbuf, m, &med, &sigma);
		if (!(sigma > 0))
			break;
		/* The residuals are NOT re-centred on their median: the box mean
		 * already removed the local mean, and a noise-dominated amplitude is
		 * Rayleigh-distributed, whose median lies 0.12 σ below its mean —
		 * re-centring would bias every long window upwards by that much. */
		(void)med;
detect:
		thr = (float)(par->chi1 * pow(par->pass_factor, par->passes - 1 - pass) * sigma);

		/* Along frequency (rows of the plane), M = 1, 2, 4, ...; χ_M = χ₁ ρ^(−log2 M)
		 * (Offringa et al. 2010, eq. 5). */
		dirty = sumthreshold(s->res, s->mask, rfi, nt, nc, 1, par->max_window_freq, thr,
				     (float)par->rho, s);
		/* Along time, on the transposed plane (M = 1 is the same test as above). */
		if (nt >= 2) {
			uint8_t *rfiT = s->sir_b;
			int any = 0;
			for (int t = 0; t < nt; t++)
				for (int c = 0; c < nc; c++) {
					size_t k = (size_t)t * nc + c, kT = (size_t)c * nt + t;
					s->maskT[kT] = s->mask[k];
					rfiT[kT] = 0;
				}
			any = sumthreshold(s->resT, s->maskT, rfiT, nc, nt, 2, par->max_window_time, thr,
					   (float)par->rho, s);
			dirty |= any;
			if (any)
				for (int t = 0; t < nt; t++)
					for (int c = 0; c < nc; c++)
						rfi[(size_t)t * nc + c] |= rfiT[(size_t)c * nt + t];
		}
	}

	if (par->sir_eta > 0) {
		/* Dilate along time and along frequency from the same detections. */
		for (int c = 0; c < nc; c++)
			sir_row(rfi + c, s->sir_a + c, nc, nt, (float)par->sir_eta, s->pmin, s->pmax);
		for (int t = 0; t < nt; t++)
			sir_row(rfi + (size_t)t * nc, s->sir_b + (size_t)t * nc, 1, nc,
				(float)par->sir_eta, s->pmin, s->pmax);
		for (size_t k = 0; k < n; k++)
			rfi[k] = (s->sir_a[k] | s->sir_b[k]) && !s->prior[k];
	}
}

/* ---- flag_run ----------------------------------------------------------- */

static int chan_configured(const vis_set *v, const flag_params *p, int c)
{
	double lo = (v->freq_hz[c] - 0.5 * fabs(v->chan_width_hz)) / 1e6;
	double hi = (v->freq_hz[c] + 0.5 * fabs(v->chan_width_hz)) / 1e6;

	for (int k = 0; k < p->nbad_chans; k++)
		if (p->bad_chans[k] == c)
			return 1;
	for (int k = 0; k < p->nbad_freq; k++)
		if (p->bad_freq_mhz[k][0] <= hi && p->bad_freq_mhz[k][1] >= lo)
			return 1;
	return 0;
}

static int ant_configured(const flag_params *p, int number)
{
	for (int k = 0; k < p->nbad_ants; k++)
		if (p->bad_ants[k] == number)
			return 1;
	return 0;
}

/* Median of the finite values of x[0..n) (NAN when none); buf holds n. */
static double median_of(const double *x, int n, double *buf)
{
	size_t m = 0;
	for (int i = 0; i < n; i++)
		if (isfinite(x[i]))
			buf[m++] = x[i];
	return stats_median_d(buf, m);
}

/* Steps 1–3.  dead[] (nants) receives 1 for antennas found dead. */
static int flag_basic(vis_set *v, const flag_params *par, uint8_t *dead, char *err, size_t errlen)
{
	const int nb = v->nbls, nc = v->nchan, np = v->npols, na = v->nants;
	uint8_t *bad_chan = NULL, *bad_bl = NULL;
	int *ia1 = NULL, *ia2 = NULL;
	double *cross_sum = NULL, *cross_n = NULL, *auto_sum = NULL, *auto_n = NULL, *cross_tot = NULL;
	double *mean = NULL, *buf = NULL;
	int ret = 0;

	bad_chan = calloc(nc, 1);
	bad_bl = calloc(nb, 1);
	ia1 = malloc(nb * sizeof *ia1);
	ia2 = malloc(nb * sizeof *ia2);
	cross_sum = calloc(na, sizeof *cross_sum);
	cross_n = calloc(na, sizeof *cross_n);
	cross_tot = calloc(na, sizeof *cross_tot);
	auto_sum = calloc(na, sizeof *auto_sum);
	auto_n = calloc(na, sizeof *auto_n);
	mean = calloc(na, sizeof *mean);
	buf = calloc(na, sizeof *buf);
	if (!bad_chan || !bad_bl || !ia1 || !ia2 || !cross_sum || !cross_n || !cross_tot ||
	    !auto_sum || !auto_n || !mean || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (int c = 0; c < nc; c++)
		bad_chan[c] = chan_configured(v, par, c);
	for (int b = 0; b < nb; b++) {
		ia1[b] = vis_ant_index(v, v->ant1[b]);
		ia2[b] = vis_ant_index(v, v->ant2[b]);
		if (ia1[b] < 0 || ia2[b] < 0) {
			ret = err_set(err, errlen, -EINVAL, "%s: baseline %d uses antenna %d/%d not in the antenna table",
				      v->name, b, v->ant1[b], v->ant2[b]);
			goto out;
		}
		bad_bl[b] = ant_configured(par, v->ant1[b]) || ant_configured(par, v->ant2[b]);
	}

	/* Steps 1 and 2, plus the per-antenna power sums for step 3. */
#pragma omp parallel for num_threads(nthreads_of(par)) schedule(dynamic, 4) reduction(+ : cross_sum[:na], cross_n[:na], \
	cross_tot[:na], auto_sum[:na], auto_n[:na])
	for (int b = 0; b < nb; b++) {
		int is_auto = v->ant1[b] == v->ant2[b];
		double s = 0, cnt = 0;
		for (int t = 0; t < v->ntimes; t++) {
			size_t base = vis_idx(v, t, b, 0, 0);
			for (int c = 0; c < nc; c++) {
				for (int p = 0; p < np; p++) {
					size_t i = base + (size_t)c * np + p;
					float complex z = v->vis[i];
					uint8_t f = 0;
					if (!isfinite(crealf(z)) || !isfinite(cimagf(z)) || z == 0)
						f |= VIS_FLAG_NONFINITE;
					if (bad_bl[b] || bad_chan[c])
						f |= VIS_FLAG_CONFIG;
					if (is_auto && par->flag_autos)
						f |= VIS_FLAG_AUTO;
					v->flags[i] |= f;
					if (!(v->flags[i] & ~VIS_FLAG_AUTO)) {
						s += is_auto ? fabsf(crealf(z)) : amp_of(z);
						cnt += 1;
					}
				}
			}
		}
		if (is_auto) {
			auto_sum[ia1[b]] += s;
			auto_n[ia1[b]] += cnt;
		} else {
			double tot = (double)v->ntimes * nc * np;
			cross_sum[ia1[b]] += s;
			cross_sum[ia2[b]] += s;
			cross_n[ia1[b]] += cnt;
			cross_n[ia2[b]] += cnt;
			if (!bad_bl[b]) {
				cross_tot[ia1[b]] += tot;
				cross_tot[ia2[b]] += tot;
			}
		}
	}

	/* Step 3: dead antennas. */
	memset(dead, 0, na);
	for (int a = 0; a < na; a++)
		if (cross_tot[a] > 0 && cross_n[a] == 0 && !ant_configured(par, v->ants[a].number))
			dead[a] = 1;
	for (int pass = 0; pass < 2; pass++) {
		const double *sum = pass ? auto_sum : cross_sum, *cnt = pass ? auto_n : cross_n;
		double frac = pass ? par->dead_auto_frac : par->dead_cross_frac, med;
		for (int a = 0; a < na; a++)
			mean[a] = cnt[a] > 0 ? sum[a] / cnt[a] : NAN;
		med = median_of(mean, na, buf);
		if (!(med > 0) || !(frac > 0))
			continue;
		for (int a = 0; a < na; a++)
			if (isfinite(mean[a]) && mean[a] < frac * med)
				dead[a] = 1;
	}
#pragma omp parallel for num_threads(nthreads_of(par)) schedule(static)
	for (int b = 0; b < nb; b++) {
		if (!dead[ia1[b]] && !dead[ia2[b]])
			continue;
		for (int t = 0; t < v->ntimes; t++) {
			uint8_t *f = &v->flags[vis_idx(v, t, b, 0, 0)];
			for (int k = 0; k < nc * np; k++)
				f[k] |= VIS_FLAG_NONFINITE;
		}
	}
out:
	free(bad_chan);
	free(bad_bl);
	free(ia1);
	free(ia2);
	free(cross_sum);
	free(cross_n);
	free(cross_tot);
	free(auto_sum);
	free(auto_n);
	free(mean);
	free(buf);
	return ret;
}

/* Step 4 over all cross baselines. */
static int flag_sumthreshold(vis_set *v, const flag_params *par)
{
	const int nt = v->ntimes, nc = v->nchan, np = v->npols;
	const size_t n = (size_t)nt * nc;
	int ret = 0;

#pragma omp parallel num_threads(nthreads_of(par))
	{
		plane_scratch s;
		int ok = scratch_alloc(&s, nt, nc, np) == 0;
		if (!ok) {
#pragma omp atomic write
			ret = -ENOMEM;
		}
#pragma omp for schedule(dynamic, 4)
		for (int b = 0; b < v->nbls; b++) {
			if (!ok || v->ant1[b] == v->ant2[b])
				continue;
			load_planes(v, b, &s);
			for (int p = 0; p < np; p++)
				plane_rfi(v, p, par, &s, s.rfi + p * n);
			for (int t = 0; t < nt; t++) {
				size_t base = vis_idx(v, t, b, 0, 0);
				for (int c = 0; c < nc; c++) {
					size_t k = (size_t)t * nc + c;
					uint8_t any = 0;
					for (int p = 0; p < np; p++)
						any |= s.rfi[p * n + k];
					for (int p = 0; p < np; p++) {
						size_t i = base + (size_t)c * np + p;
						uint8_t hit = par->pol_or ? any : s.rfi[p * n + k];
						if (hit && !v->flags[i])
							v->flags[i] |= VIS_FLAG_RFI;
					}
				}
			}
		}
		if (ok)
			scratch_free(&s);
	}
	if (ret || !(par->combine_frac > 0))
		return ret;

	/* Combine baselines: a (time, channel) cell that most baselines flagged
	 * is RFI on all of them, including those where it hid under a stronger
	 * sky signal (an amplitude detector misses RFI adding at an unlucky phase). */
#pragma omp parallel for num_threads(nthreads_of(par)) schedule(static)
	for (int t = 0; t < nt; t++) {
		int *hit = calloc(nc, sizeof *hit), *tot = calloc(nc, sizeof *tot);
		if (!hit || !tot) {
			free(hit);
			free(tot);
#pragma omp atomic write
			ret = -ENOMEM;
			continue;
		}
		for (int b = 0; b < v->nbls; b++) {
			const uint8_t *f = &v->flags[vis_idx(v, t, b, 0, 0)];
			if (v->ant1[b] == v->ant2[b])
				continue;
			for (int c = 0; c < nc; c++) {
				uint8_t x = f[c * np]; /* pols were OR-ed (or all are alike enough) */
				tot[c] += !(x & ~VIS_FLAG_RFI);
				hit[c] += x == VIS_FLAG_RFI;
			}
		}
		for (int b = 0; b < v->nbls; b++) {
			uint8_t *f = &v->flags[vis_idx(v, t, b, 0, 0)];
			if (v->ant1[b] == v->ant2[b])
				continue;
			for (int c = 0; c < nc; c++)
				if (tot[c] > 0 && hit[c] > par->combine_frac * tot[c])
					for (int p = 0; p < np; p++)
						if (!f[c * np + p])
							f[c * np + p] = VIS_FLAG_RFI;
		}
		free(hit);
		free(tot);
	}
	return ret;
}

/* Step 5: clips across baselines, per channel and polarisation. */
static int flag_across(vis_set *v, const flag_params *par)
{
	const int nb = v->nbls, nt = v->ntimes, nc = v->nchan, np = v->npols;
	float *stat = NULL, *chanstat = NULL;
	uint8_t *hit = NULL, *chan_hit = NULL;
	int ret = 0;

	stat = malloc((size_t)nb * nc * np * sizeof *stat);
	hit = calloc((size_t)nb * nc * np, 1);
	chanstat = malloc((size_t)nc * np * sizeof *chanstat);
	chan_hit = calloc(nc, 1);
	if (!stat || !hit || !chanstat || !chan_hit) {
		ret = -ENOMEM;
		goto out;
	}

	/* Time-mean amplitude of each baseline, channel and pol over good samples. */
#pragma omp parallel num_threads(nthreads_of(par))
	{
		int *cnt = malloc((size_t)nc * np * sizeof *cnt);
		if (!cnt) {
#pragma omp atomic write
			ret = -ENOMEM;
		}
#pragma omp for schedule(dynamic, 8)
		for (int b = 0; b < nb; b++) {
			float *st = stat + (size_t)b * nc * np;
			if (v->ant1[b] == v->ant2[b] || !cnt) {
				for (int k = 0; k < nc * np; k++)
					st[k] = NAN;
				continue;
			}
			for (int k = 0; k < nc * np; k++) {
				st[k] = 0;
				cnt[k] = 0;
			}
			for (int t = 0; t < nt; t++) {
				size_t base = vis_idx(v, t, b, 0, 0);
				for (int k = 0; k < nc * np; k++) {
					int good = !v->flags[base + k];
					st[k] += good ? amp_of(v->vis[base + k]) : 0.0f;
					cnt[k] += good;
				}
			}
			for (int k = 0; k < nc * np; k++)
				st[k] = cnt[k] ? st[k] / cnt[k] : NAN;
		}
		free(cnt);
	}
	if (ret)
		goto out;

#pragma omp parallel num_threads(nthreads_of(par))
	{
		float *buf = malloc(nb * sizeof *buf);
		if (!buf) {
#pragma omp atomic write
			ret = -ENOMEM;
		}
#pragma omp for schedule(dynamic, 4)
		for (int k = 0; k < nc * np; k++) {
			size_t m = 0;
			float med, sigma;
			if (!buf)
				continue;
			for (int b = 0; b < nb; b++) {
				float x = stat[(size_t)b * nc * np + k];
				if (isfinite(x))
					buf[m++] = x;
			}
			chanstat[k] = NAN;
			if (m < 8)
				continue;
			median_sigma(buf, m, &med, &sigma);
			chanstat[k] = med;
			if (!(sigma > 0) || !(par->bl_clip > 0))
				continue;
			for (int b = 0; b < nb; b++) {
				float x = stat[(size_t)b * nc * np + k];
				if (isfinite(x) && x - med > par->bl_clip * sigma)
					hit[(size_t)b * nc * np + k] = 1;
			}
		}
		free(buf);
	}
	if (ret)
		goto out;

	/* Whole channels standing above a running median over frequency. */
	if (par->chan_clip > 0 && nc >= 8) {
		float *d = malloc(nc * sizeof *d), *w = malloc(nc * sizeof *w), *tmp = malloc(nc * sizeof *tmp);
		int h = par->chan_clip_window / 2;
		if (!d || !w || !tmp) {
			free(d);
			free(w);
			free(tmp);
			ret = -ENOMEM;
			goto out;
		}
		for (int p = 0; p < np; p++) {
			size_t m = 0;
			float med, sigma;
			for (int c = 0; c < nc; c++) {
				size_t q = 0;
				for (int j = c - h; j <= c + h; j++)
					if (j >= 0 && j < nc && isfinite(chanstat[j * np + p]))
						w[q++] = chanstat[j * np + p];
				d[c] = NAN;
				if (q >= 3 && isfinite(chanstat[c * np + p]))
					d[c] = chanstat[c * np + p] - stats_median_hi_f(w, q);
				if (isfinite(d[c]))
					tmp[m++] = d[c];
			}
			if (m < 8)
				continue;
			median_sigma(tmp, m, &med, &sigma);
			if (!(sigma > 0))
				continue;
			for (int c = 0; c < nc; c++)
				if (isfinite(d[c]) && d[c] - med > par->chan_clip * sigma)
					chan_hit[c] = 1;
		}
		free(d);
		free(w);
		free(tmp);
	}

#pragma omp parallel for num_threads(nthreads_of(par)) schedule(dynamic, 8)
	for (int b = 0; b < nb; b++) {
		const uint8_t *h = hit + (size_t)b * nc * np;
		if (v->ant1[b] == v->ant2[b])
			continue;
		for (int t = 0; t < nt; t++) {
			size_t base = vis_idx(v, t, b, 0, 0);
			for (int c = 0; c < nc; c++) {
				uint8_t any = chan_hit[c];
				for (int p = 0; p < np; p++)
					any |= h[c * np + p];
				for (int p = 0; p < np; p++) {
					size_t i = base + (size_t)c * np + p;
					uint8_t x = par->pol_or ? any : (chan_hit[c] | h[c * np + p]);
					if (x && !v->flags[i])
						v->flags[i] |= VIS_FLAG_RFI;
				}
			}
		}
	}
out:
	free(stat);
	free(hit);
	free(chanstat);
	free(chan_hit);
	return ret;
}

static int check_params(const flag_params *p, char *err, size_t errlen)
{
	if (p->chi1 <= 0 || p->rho <= 1.0 || p->passes < 1 || p->passes > 10 || p->pass_factor < 1.0 ||
	    p->smooth_chan < 1 || p->smooth_time < 1 || p->max_window_freq < 1 ||
	    p->max_window_time < 1 || p->sir_eta < 0 || p->sir_eta >= 1 || p->bl_clip < 0 ||
	    p->chan_clip < 0 || p->chan_clip_window < 3 || p->combine_frac < 0 || p->combine_frac > 1 || p->dead_auto_frac < 0 ||
	    p->dead_cross_frac < 0 || p->nbad_ants < 0 || p->nbad_ants > FLAG_MAX_LIST ||
	    p->nbad_chans < 0 || p->nbad_chans > FLAG_MAX_LIST || p->nbad_freq < 0 ||
	    p->nbad_freq > FLAG_MAX_LIST)
		return err_set(err, errlen, -EINVAL,
			       "flag parameters out of range (need chi1 > 0, rho > 1, 1 <= passes <= 10, "
			       "pass_factor >= 1, windows >= 1, 0 <= sir_eta < 1, clips >= 0)");
	return 0;
}

int flag_run(vis_set *v, const flag_params *p, flag_stats *ret_stats, char *err, size_t errlen)
{
	flag_params def;
	uint8_t *dead = NULL;
	int ret;
	flag_stats st;

	memset(&st, 0, sizeof st);
	if (!p) {
		flag_params_init(&def);
		p = &def;
	}
	if (!v || v->nants <= 0 || !v->ants)
		return err_set(err, errlen, -EINVAL, "flag: empty visibility set or no antenna table");
	ret = check_params(p, err, errlen);
	if (ret)
		return ret;
	dead = calloc(v->nants, 1);
	if (!dead)
		return err_set(err, errlen, -ENOMEM, "flag: out of memory");
	ret = flag_basic(v, p, dead, err, errlen);
	if (ret)
		goto out;
	if (p->rfi) {
		ret = flag_sumthreshold(v, p);
		if (!ret)
			ret = flag_across(v, p);
		if (ret) {
			err_set(err, errlen, ret, "%s: flagging: out of memory", v->name);
			goto out;
		}
	}
	if (ret_stats) {
		int nd = 0;
		ret = flag_stats_compute(v, &st);
		if (ret) {
			err_set(err, errlen, ret, "%s: flag statistics: out of memory", v->name);
			goto out;
		}
		for (int a = 0; a < v->nants; a++)
			nd += dead[a];
		st.dead_ants = calloc(nd ? nd : 1, sizeof *st.dead_ants);
		if (!st.dead_ants) {
			ret = err_set(err, errlen, -ENOMEM, "flag: out of memory");
			goto out;
		}
		for (int a = 0; a < v->nants; a++)
			if (dead[a])
				st.dead_ants[st.ndead++] = v->ants[a].number;
		*ret_stats = st;
		memset(&st, 0, sizeof st);
	}
out:
	flag_stats_release(&st);
	free(dead);
	return ret;
}
