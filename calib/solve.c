#include "calib/solve.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>
#include <omp.h>

#include "core/err.h"

#define CHUNK_CHANS 8     /* channels accumulated together per thread (contiguous reads) */
#define PREFETCH_AHEAD 4  /* baselines ahead to prefetch in the accumulation loops */

void solve_params_init(solve_params *p)
{
	memset(p, 0, sizeof *p);
	stefcal_params_init(&p->sc);
	p->min_snr = 3.0;
	p->uvmin_lambda = 0;
	p->uvmax_lambda = 0;
	p->nrefants = 0;
	p->refant_min_frac = 0.5;
	p->gain_mode = SOLVE_GAIN_PHASE;
	p->solint_s = 0;
}

static int nthreads_of(const solve_params *p)
{
	return p->nthreads > 0 ? p->nthreads : omp_get_max_threads();
}

static double wrap_deg(double x)
{
	return x - 360.0 * floor((x + 180.0) / 360.0);
}

/* ---- the solver's view of a vis_set ------------------------------------- */

typedef struct setup {
	int nant;          /* antennas on cross baselines */
	int *ant_number;   /* [nant] */
	int nbl;           /* cross baselines */
	int *bl;           /* [nbl] baseline index in v */
	int *a1, *a2;      /* [nbl] solver antenna indices */
	int npol;          /* parallel hands solved: 1 or 2 */
	int hand[4];       /* data pol q → hand, -1 for cross-hands */
	int codes[2];      /* AIPS code of each hand (for the table) */
	double *conn;      /* [nant] unflagged cross weight per antenna */
	int ncand;
	int *cand;         /* [nant] reference candidates, best first */
	double *uvlen_m;   /* [ntimes*nbls] projected baseline length (uv cut), or NULL */
} setup;

static void setup_release(setup *s)
{
	free(s->ant_number);
	free(s->bl);
	free(s->a1);
	free(s->a2);
	free(s->conn);
	free(s->cand);
	free(s->uvlen_m);
	memset(s, 0, sizeof *s);
}

static int sample_ok(const vis_set *v, const setup *s, const solve_params *p, size_t row,
		     size_t i, double freq_hz)
{
	if (v->flags[i] || !(v->weight[i] > 0))
		return 0;
	if (s->uvlen_m) {
		double uvl = s->uvlen_m[row] * freq_hz / VIS_C_M_S;
		if (uvl < p->uvmin_lambda || (p->uvmax_lambda > 0 && uvl > p->uvmax_lambda))
			return 0;
	}
	return 1;
}

static int cmp_conn_desc(const void *x, const void *y, void *arg)
{
	const double *conn = arg;
	double a = conn[*(const int *)x], b = conn[*(const int *)y];
	return (a < b) - (a > b);
}

/* Sort idx[0..n) by conn descending (insertion sort keeps it dependency-free
 * of qsort_r; n is the antenna count). */
static void sort_by_conn(int *idx, int n, const double *conn)
{
	for (int i = 1; i < n; i++) {
		int x = idx[i], j = i - 1;
		while (j >= 0 && cmp_conn_desc(&idx[j], &x, (void *)conn) > 0) {
			idx[j + 1] = idx[j];
			j--;
		}
		idx[j + 1] = x;
	}
}

/* Reference candidates from s->conn: the ranked list (antennas with enough
 * data), then everything else by connectivity.  (Re)fills s->cand. */
static int setup_candidates(setup *s, const solve_params *p)
{
	double best = 0;
	int *rest = malloc((s->nant ? s->nant : 1) * sizeof *rest);
	int nrest = 0;

	if (!rest)
		return -ENOMEM;
	s->ncand = 0;
	for (int a = 0; a < s->nant; a++)
		best = fmax(best, s->conn[a]);
	for (int k = 0; k < p->nrefants; k++)
		for (int a = 0; a < s->nant; a++)
			if (s->ant_number[a] == p->refants[k] && s->conn[a] > 0 &&
			    s->conn[a] >= p->refant_min_frac * best) {
				int dup = 0;
				for (int j = 0; j < s->ncand; j++)
					dup |= s->cand[j] == a;
				if (!dup)
					s->cand[s->ncand++] = a;
			}
	for (int a = 0; a < s->nant; a++) {
		int listed = 0;
		for (int j = 0; j < s->ncand; j++)
			listed |= s->cand[j] == a;
		if (!listed && s->conn[a] > 0)
			rest[nrest++] = a;
	}
	sort_by_conn(rest, nrest, s->conn);
	for (int j = 0; j < nrest; j++)
		s->cand[s->ncand++] = rest[j];
	free(rest);
	return 0;
}

/* Unflagged samples per antenna from per-baseline sums acc[j * stride + k],
 * k < nk (all blocks of a solve), into s->conn. */
static void conn_from_sums(setup *s, const stefcal_acc *acc, size_t stride, int nk)
{
	for (int a = 0; a < s->nant; a++)
		s->conn[a] = 0;
	for (int j = 0; j < s->nbl; j++) {
		double n = 0;
		for (int k = 0; k < nk; k++)
			n += acc[(size_t)j * stride + k].n;
		s->conn[s->a1[j]] += n;
		s->conn[s->a2[j]] += n;
	}
}

static int setup_init(setup *s, const vis_set *v, const float complex *model,
		      const solve_params *p, int scan_conn, char *err, size_t errlen)
{
	int *ant_map = NULL, hx = -1, hy = -1, ret = 0;
	const int nthr = nthreads_of(p);

	memset(s, 0, sizeof *s);
	if (!v || !model || v->nants <= 0 || !v->ants)
		return err_set(err, errlen, -EINVAL, "solve: no data, model or antenna table");
	if (p->min_snr < 0 || p->sc.max_iter < 1 || !(p->sc.tol > 0) || p->sc.min_bl < 1 ||
	    p->refant_min_frac < 0 || p->refant_min_frac > 1 || p->nrefants < 0 ||
	    p->nrefants > SOLVE_MAX_REFANTS)
		return err_set(err, errlen, -EINVAL, "solve: parameters out of range");

	/* Parallel hands present. */
	for (int q = 0; q < v->npols; q++) {
		int c = v->pols[q];
		if (c == VIS_POL_XX || c == VIS_POL_RR || c == VIS_POL_I)
			hx = q;
		else if (c == VIS_POL_YY || c == VIS_POL_LL)
			hy = q;
	}
	for (int q = 0; q < 4; q++)
		s->hand[q] = -1;
	if (hx >= 0 && hy >= 0) {
		s->npol = 2;
		s->hand[hx] = 0;
		s->hand[hy] = 1;
		s->codes[0] = v->pols[hx];
		s->codes[1] = v->pols[hy];
	} else if (hx >= 0 || hy >= 0) {
		int q = hx >= 0 ? hx : hy;
		s->npol = 1;
		s->hand[q] = 0;
		s->codes[0] = v->pols[q];
		s->codes[1] = VIS_POL_YY;
	} else {
		return err_set(err, errlen, -EINVAL, "%s: no parallel-hand polarisation to calibrate",
			       v->name);
	}

	ant_map = malloc(v->nants * sizeof *ant_map);
	s->ant_number = malloc(v->nants * sizeof *s->ant_number);
	s->bl = malloc(v->nbls * sizeof *s->bl);
	s->a1 = malloc(v->nbls * sizeof *s->a1);
	s->a2 = malloc(v->nbls * sizeof *s->a2);
	s->conn = calloc(v->nants, sizeof *s->conn);
	s->cand = malloc(v->nants * sizeof *s->cand);
	if (!ant_map || !s->ant_number || !s->bl || !s->a1 || !s->a2 || !s->conn || !s->cand) {
		ret = err_set(err, errlen, -ENOMEM, "solve: out of memory");
		goto out;
	}
	for (int a = 0; a < v->nants; a++)
		ant_map[a] = -1;
	/* The solved antennas in ascending antenna number, whatever the order of
	 * the file's baselines (the correlator's input order is not ascending):
	 * the tables' antenna axis and the refant among equally connected
	 * antennas (the first one) then do not depend on the baseline order. */
	for (int b = 0; b < v->nbls; b++) {
		int i1, i2;
		if (v->ant1[b] == v->ant2[b])
			continue;
		i1 = vis_ant_index(v, v->ant1[b]);
		i2 = vis_ant_index(v, v->ant2[b]);
		if (i1 < 0 || i2 < 0) {
			ret = err_set(err, errlen, -EINVAL, "%s: baseline %d uses antenna %d/%d not in the antenna table",
				      v->name, b, v->ant1[b], v->ant2[b]);
			goto out;
		}
		ant_map[i1] = ant_map[i2] = 0;
	}
	for (int a = 0; a < v->nants; a++)
		if (ant_map[a] == 0) {
			int k = s->nant++;
			/* Insertion by number (n is the antenna count). */
			while (k > 0 && s->ant_number[k - 1] > v->ants[a].number) {
				s->ant_number[k] = s->ant_number[k - 1];
				k--;
			}
			s->ant_number[k] = v->ants[a].number;
		}
	for (int a = 0; a < v->nants; a++)
		if (ant_map[a] == 0)
			for (int k = 0; k < s->nant; k++)
				if (s->ant_number[k] == v->ants[a].number)
					ant_map[a] = k;
	for (int b = 0; b < v->nbls; b++) {
		if (v->ant1[b] == v->ant2[b])
			continue;
		s->bl[s->nbl] = b;
		s->a1[s->nbl] = ant_map[vis_ant_index(v, v->ant1[b])];
		s->a2[s->nbl] = ant_map[vis_ant_index(v, v->ant2[b])];
		s->nbl++;
	}
	if (s->nbl == 0) {
		ret = err_set(err, errlen, -EINVAL, "%s: no cross-correlation baselines", v->name);
		goto out;
	}

	if (p->uvmin_lambda > 0 || p->uvmax_lambda > 0) {
		size_t rows = (size_t)v->ntimes * v->nbls;
		s->uvlen_m = malloc(rows * sizeof *s->uvlen_m);
		if (!s->uvlen_m) {
			ret = err_set(err, errlen, -ENOMEM, "solve: out of memory");
			goto out;
		}
		for (size_t r = 0; r < rows; r++)
			s->uvlen_m[r] = hypot(v->uvw_m[3 * r], v->uvw_m[3 * r + 1]);
	}

	/* Connectivity (only for solve_choose_refant: the solves take it from
	 * their sums instead of reading the data once more). */
	if (scan_conn) {
	/* Connectivity: unflagged cross weight per antenna. */
		{
			double *conn = s->conn;
			const int na = s->nant;
	#pragma omp parallel for num_threads(nthr) schedule(dynamic, 8) reduction(+ : conn[:na])
			for (int j = 0; j < s->nbl; j++) {
				int b = s->bl[j];
				double w = 0;
				for (int t = 0; t < v->ntimes; t++) {
					size_t row = (size_t)t * v->nbls + b;
					for (int c = 0; c < v->nchan; c++)
						for (int q = 0; q < v->npols; q++) {
							size_t i = vis_idx(v, t, b, c, q);
							/* An exact-zero sample carries no signal even
							 * when nothing flagged it (a dead antenna the
							 * flagger did not see): it must not make its
							 * antenna look well connected. */
							if (s->hand[q] >= 0 && sample_ok(v, s, p, row, i, v->freq_hz[c]) &&
							    model[i] != 0 && v->vis[i] != 0)
								w += v->weight[i];
						}
				}
				conn[s->a1[j]] += w;
				conn[s->a2[j]] += w;
			}
		}
	
	}
	ret = setup_candidates(s, p);
	if (ret)
		err_set(err, errlen, ret, "solve: out of memory");
out:
	free(ant_map);
	if (ret)
		setup_release(s);
	return ret;
}

int solve_choose_refant(const vis_set *v, const solve_params *p)
{
	setup s;
	int ref;
	float complex one = 1.0f;
	float complex *unit = NULL;
	size_t n;

	if (!v || !p)
		return -1;
	/* The connectivity only asks the model for non-zero entries. */
	n = vis_nsamples(v);
	unit = malloc(n * sizeof *unit);
	if (!unit)
		return -1;
	for (size_t i = 0; i < n; i++)
		unit[i] = one;
	if (setup_init(&s, v, unit, p, 1, NULL, 0)) {
		free(unit);
		return -1;
	}
	ref = s.ncand > 0 ? s.ant_number[s.cand[0]] : -1;
	setup_release(&s);
	free(unit);
	return ref;
}

/* ---- applying earlier tables to the model ------------------------------ */

typedef struct corrupt_map {
	const gaintab *g;
	int *ant;            /* [nbls*2] table antenna index of ant1/ant2 (-1 none) */
	int *chan;           /* [nchan] table channel (-1 none) */
	int *time;           /* [ntimes] table time */
	int h1[4], h2[4];    /* table pol of each data pol's two hands */
} corrupt_map;

static void corrupt_release(corrupt_map *m)
{
	free(m->ant);
	free(m->chan);
	free(m->time);
	memset(m, 0, sizeof *m);
}

/* Match a table to v the way gaintab_divide() does (antenna number;
 * gaintab_match: nearest channel within half the table's spacing, nearest
 * time), so the model is corrupted with exactly what will later be divided
 * out. */
static int corrupt_init(corrupt_map *m, const vis_set *v, const gaintab *g, char *err,
			size_t errlen)
{
	memset(m, 0, sizeof *m);
	if (!g)
		return 0;
	m->g = g;
	m->ant = malloc((size_t)v->nbls * 2 * sizeof *m->ant);
	m->chan = malloc(v->nchan * sizeof *m->chan);
	m->time = malloc(v->ntimes * sizeof *m->time);
	if (!m->ant || !m->chan || !m->time) {
		corrupt_release(m);
		return err_set(err, errlen, -ENOMEM, "solve: out of memory");
	}
	for (int b = 0; b < v->nbls; b++) {
		m->ant[2 * b] = gaintab_ant_index(g, v->ant1[b]);
		m->ant[2 * b + 1] = gaintab_ant_index(g, v->ant2[b]);
	}
	gaintab_match(g, v, m->chan, m->time);
	for (int q = 0; q < v->npols; q++) {
		int x = 0, y = 0;
		if (g->npol == 2) {
			switch (v->pols[q]) {
			case VIS_POL_YY: case VIS_POL_LL: x = 1; y = 1; break;
			case VIS_POL_XY: case VIS_POL_RL: x = 0; y = 1; break;
			case VIS_POL_YX: case VIS_POL_LR: x = 1; y = 0; break;
			default: break;
			}
		}
		m->h1[q] = x;
		m->h2[q] = y;
	}
	return 0;
}

/* g[a1] conj(g[a2]) of map m for sample (t, b, c, q) into *f (multiplied in);
 * 0 when the solution is missing or flagged. */
static inline int corrupt_apply(const corrupt_map *m, int t, int b, int c, int q, float complex *f)
{
	const gaintab *g = m->g;
	int k1 = m->ant[2 * b], k2 = m->ant[2 * b + 1], gc;
	size_t i1, i2;

	if (!g)
		return 1;
	gc = m->chan[c];
	if (k1 < 0 || k2 < 0 || gc < 0)
		return 0;
	i1 = gaintab_idx(g, m->time[t], k1, gc, m->h1[q]);
	i2 = gaintab_idx(g, m->time[t], k2, gc, m->h2[q]);
	if (g->flag[i1] || g->flag[i2])
		return 0;
	*f *= g->gain[i1] * conjf(g->gain[i2]);
	return 1;
}

/* ---- table helpers ------------------------------------------------------ */

static gaintab *table_new(const setup *s, int ntime, int nchan, const char *type,
			  const solve_params *p)
{
	gaintab *g = gaintab_new(ntime, s->nant, nchan, s->npol);
	if (!g)
		return NULL;
	for (int a = 0; a < s->nant; a++)
		g->antenna_numbers[a] = s->ant_number[a];
	g->pols[0] = s->codes[0];
	g->pols[1] = s->codes[1];
	snprintf(g->type, sizeof g->type, "%s", type);
	snprintf(g->calibrator, sizeof g->calibrator, "%s", p->calibrator);
	snprintf(g->source_group, sizeof g->source_group, "%s", p->source_group);
	g->refant = s->ncand > 0 ? s->ant_number[s->cand[0]] : -1;
	return g;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

void solve_table_quality(const gaintab *g, solve_quality *q)
{
	size_t n = (size_t)g->ntime * g->nant * g->nchan * g->npol, nflag = 0, ngood = 0;
	float *snr = malloc((n ? n : 1) * sizeof *snr);
	double ss = 0;
	size_t nss = 0;

	memset(q, 0, sizeof *q);
	q->refant = g->refant;
	for (size_t i = 0; i < n; i++) {
		if (g->flag[i])
			nflag++;
		else if (snr)
			snr[ngood++] = g->snr[i];
	}
	q->flagged_frac = n ? (double)nflag / n : 1.0;
	if (snr && ngood) {
		qsort(snr, ngood, sizeof *snr, cmp_float);
		q->median_snr = ngood % 2 ? snr[ngood / 2] : 0.5 * (snr[ngood / 2 - 1] + snr[ngood / 2]);
	}
	free(snr);

	/* Phase scatter: differences along channels (several channels), else
	 * along time (several times), else the phases themselves. */
	for (int t = 0; t < g->ntime; t++)
		for (int a = 0; a < g->nant; a++)
			for (int p = 0; p < g->npol; p++) {
				if (g->nchan > 1) {
					for (int c = 1; c < g->nchan; c++) {
						size_t i0 = gaintab_idx(g, t, a, c - 1, p), i1 = gaintab_idx(g, t, a, c, p);
						if (g->flag[i0] || g->flag[i1])
							continue;
						double d = wrap_deg(180.0 / M_PI * cargf(g->gain[i1] * conjf(g->gain[i0])));
						ss += d * d / 2;
						nss++;
					}
				} else if (g->ntime > 1) {
					size_t i1 = gaintab_idx(g, t, a, 0, p), i0;
					if (t == 0)
						continue;
					i0 = gaintab_idx(g, t - 1, a, 0, p);
					if (g->flag[i0] || g->flag[i1])
						continue;
					double d = wrap_deg(180.0 / M_PI * cargf(g->gain[i1] * conjf(g->gain[i0])));
					ss += d * d / 2;
					nss++;
				} else {
					size_t i = gaintab_idx(g, t, a, 0, p);
					if (g->flag[i] || g->antenna_numbers[a] == g->refant)
						continue;
					double d = wrap_deg(180.0 / M_PI * cargf(g->gain[i]));
					ss += d * d;
					nss++;
				}
			}
	q->phase_scatter_deg = nss ? sqrt(ss / nss) : NAN;
}

/* Phase-reference one solve: first candidate solved in this solve. */
static void reference(const setup *s, double complex *g, const uint8_t *ok)
{
	for (int j = 0; j < s->ncand; j++)
		if (ok[s->cand[j]]) {
			stefcal_reference(s->nant, g, ok, s->cand[j]);
			return;
		}
}

/* ---- per-channel solves (bandpass and the first step of the delay solve) ---- */

/* Solve every (channel, hand) over all integrations, referenced; results go to
 * tab (ntime 1, v->nchan channels); returns the number of unconverged solves
 * in *ret_unconv. */
static int solve_per_channel(const vis_set *v, const float complex *model, const corrupt_map *km,
			     setup *s, const solve_params *p, gaintab *tab, int *ret_unconv)
{
	const int nc = v->nchan, np = s->npol, nchunks = (nc + CHUNK_CHANS - 1) / CHUNK_CHANS;
	const int na = s->nant;
	double *conn = s->conn;
	int ret = 0, unconv = 0;
	stefcal_params sc = p->sc;

	sc.phase_only = 0;
	for (int a = 0; a < na; a++)
		conn[a] = 0;
#pragma omp parallel num_threads(nthreads_of(p)) reduction(+ : unconv, conn[:na])
	{
		stefcal_acc *acc = malloc((size_t)s->nbl * CHUNK_CHANS * np * sizeof *acc);
		double complex *g = malloc(s->nant * sizeof *g);
		uint8_t *ok = malloc(s->nant);
		double *snr = malloc(s->nant * sizeof *snr);
		int good = acc && g && ok && snr;
		if (!good) {
#pragma omp atomic write
			ret = -ENOMEM;
		}
#pragma omp for schedule(dynamic, 1)
		for (int k = 0; k < nchunks; k++) {
			int c0 = k * CHUNK_CHANS, c1 = c0 + CHUNK_CHANS > nc ? nc : c0 + CHUNK_CHANS;
			if (!good)
				continue;
			memset(acc, 0, (size_t)s->nbl * CHUNK_CHANS * np * sizeof *acc);
			for (int t = 0; t < v->ntimes; t++)
				for (int j = 0; j < s->nbl; j++) {
					int b = s->bl[j];
					size_t row = (size_t)t * v->nbls + b;
					stefcal_acc *aj = acc + (size_t)j * CHUNK_CHANS * np;
					if (j + PREFETCH_AHEAD < s->nbl) {
						/* Rows are 12 kB apart at full size: fetch ahead so
						 * the loads overlap instead of stalling one by one. */
						size_t f = vis_idx(v, t, s->bl[j + PREFETCH_AHEAD], c0, 0);
						__builtin_prefetch(&v->vis[f]);
						__builtin_prefetch(&v->vis[f] + 8);
						__builtin_prefetch(&model[f]);
						__builtin_prefetch(&model[f] + 8);
						__builtin_prefetch(&v->weight[f]);
						__builtin_prefetch(&v->flags[f]);
					}
					for (int c = c0; c < c1; c++)
						for (int q = 0; q < v->npols; q++) {
							size_t i = vis_idx(v, t, b, c, q);
							float complex m = model[i];
							int h = s->hand[q];
							if (h < 0 || !sample_ok(v, s, p, row, i, v->freq_hz[c]))
								continue;
							if (km && !corrupt_apply(km, t, b, c, q, &m))
								continue;
							stefcal_acc_add(&aj[(c - c0) * np + h], v->vis[i], m, v->weight[i]);
						}
				}
			/* Connectivity for the reference antenna, from the sums. */
			for (int j = 0; j < s->nbl; j++)
				for (int x = 0; x < (c1 - c0) * np; x++) {
					double cnt = acc[(size_t)j * CHUNK_CHANS * np + x].n;
					conn[s->a1[j]] += cnt;
					conn[s->a2[j]] += cnt;
				}
			for (int h = 0; h < np; h++) {
				for (int a = 0; a < s->nant; a++)
					g[a] = 1.0;
				for (int c = c0; c < c1; c++) {
					stefcal_result res;
					/* Start each channel from its neighbour's solution. */
					stefcal_solve(&sc, s->nant, s->nbl, s->a1, s->a2, acc + (c - c0) * np + h,
						      CHUNK_CHANS * np, g, ok, snr, &res);
					unconv += res.nant_ok > 0 && !res.converged;
					for (int a = 0; a < s->nant; a++) {
						size_t x = gaintab_idx(tab, 0, a, c, h);
						tab->gain[x] = ok[a] ? (float complex)g[a] : 0.0f;
						tab->snr[x] = ok[a] ? (float)fmin(snr[a], 1e30) : 0.0f;
						tab->flag[x] = !ok[a] || snr[a] < p->min_snr;
					}
				}
			}
		}
		free(acc);
		free(g);
		free(ok);
		free(snr);
	}
	*ret_unconv = unconv;
	if (ret)
		return ret;
	/* Now that the connectivity is known: the reference antenna, and every
	 * channel's phases referred to the first candidate solved there. */
	if ((ret = setup_candidates(s, p)))
		return ret;
	tab->refant = s->ncand > 0 ? s->ant_number[s->cand[0]] : -1;
	for (int c = 0; c < nc; c++)
		for (int h = 0; h < np; h++)
			for (int j = 0; j < s->ncand; j++) {
				float complex gr = tab->gain[gaintab_idx(tab, 0, s->cand[j], c, h)], rot;
				if (gr == 0)
					continue;
				rot = conjf(gr) / cabsf(gr);
				for (int a = 0; a < s->nant; a++)
					tab->gain[gaintab_idx(tab, 0, a, c, h)] *= rot;
				tab->gain[gaintab_idx(tab, 0, s->cand[j], c, h)] = cabsf(gr);
				break;
			}
	return 0;
}

int solve_bandpass(const vis_set *v, const float complex *model, const gaintab *k,
		   const solve_params *p, gaintab **ret_b, solve_quality *ret_q, char *err,
		   size_t errlen)
{
	setup s;
	corrupt_map km;
	gaintab *tab = NULL;
	int ret, unconv = 0;

	memset(&km, 0, sizeof km);
	ret = setup_init(&s, v, model, p, 0, err, errlen);
	if (ret)
		return ret;
	ret = corrupt_init(&km, v, k, err, errlen);
	if (ret)
		goto out;
	tab = table_new(&s, 1, v->nchan, "B", p);
	if (!tab) {
		ret = err_set(err, errlen, -ENOMEM, "solve: out of memory");
		goto out;
	}
	memcpy(tab->freq_hz, v->freq_hz, v->nchan * sizeof *tab->freq_hz);
	tab->time_mjd[0] = vis_mid_jd(v) - 2400000.5;
	ret = solve_per_channel(v, model, k ? &km : NULL, &s, p, tab, &unconv);
	if (ret) {
		err_set(err, errlen, ret, "solve: out of memory");
		goto out;
	}

	/* Normalise each antenna's amplitude to mean 1 over its unflagged
	 * channels: the flux scale is carried by the gain (G) solve. */
	for (int a = 0; a < s.nant; a++)
		for (int h = 0; h < s.npol; h++) {
			double sum = 0;
			int n = 0;
			for (int c = 0; c < v->nchan; c++) {
				size_t x = gaintab_idx(tab, 0, a, c, h);
				if (!tab->flag[x]) {
					sum += cabsf(tab->gain[x]);
					n++;
				}
			}
			if (n == 0 || !(sum > 0))
				continue;
			for (int c = 0; c < v->nchan; c++)
				tab->gain[gaintab_idx(tab, 0, a, c, h)] /= (float)(sum / n);
		}
	if (ret_q) {
		solve_table_quality(tab, ret_q);
		ret_q->max_iter_hit = unconv;
	}
	*ret_b = tab;
	tab = NULL;
out:
	gaintab_free(tab);
	corrupt_release(&km);
	setup_release(&s);
	return ret;
}

/* ---- gains --------------------------------------------------------------- */

/* Interval index of each integration; returns the number of intervals. */
static int make_intervals(const vis_set *v, double solint_s, int *sol_of)
{
	int n = 0;
	double t0 = v->time_jd[0];

	for (int t = 1; t < v->ntimes; t++)
		t0 = fmin(t0, v->time_jd[t]);
	for (int t = 0; t < v->ntimes; t++) {
		if (solint_s == 0)
			sol_of[t] = 0;
		else if (solint_s < 0)
			sol_of[t] = t;
		else
			sol_of[t] = (int)floor((v->time_jd[t] - t0) * 86400.0 / solint_s + 1e-6);
	}
	/* Compact the indices (intervals without integrations disappear). */
	{
		int maxs = 0;
		for (int t = 0; t < v->ntimes; t++)
			maxs = sol_of[t] > maxs ? sol_of[t] : maxs;
		for (int sidx = 0; sidx <= maxs; sidx++) {
			int used = 0;
			for (int t = 0; t < v->ntimes; t++)
				used |= sol_of[t] == sidx;
			if (!used)
				continue;
			for (int t = 0; t < v->ntimes; t++)
				if (sol_of[t] == sidx)
					sol_of[t] = -1 - n;
			n++;
		}
		for (int t = 0; t < v->ntimes; t++)
			sol_of[t] = -1 - sol_of[t];
	}
	return n;
}

int solve_gains(const vis_set *v, const float complex *model, const gaintab *k,
		const gaintab *b, const solve_params *p, gaintab **ret_g, solve_quality *ret_q,
		char *err, size_t errlen)
{
	setup s;
	corrupt_map km, bm;
	gaintab *tab = NULL;
	stefcal_acc *acc = NULL, *accg = NULL;
	int *sol_of = NULL, nsol, ret, unconv = 0;
	double complex *g = NULL, *gamp = NULL;
	uint8_t *ok = NULL, *okamp = NULL;
	double *snr = NULL, *snramp = NULL;
	stefcal_params sc = p->sc;

	memset(&km, 0, sizeof km);
	memset(&bm, 0, sizeof bm);
	ret = setup_init(&s, v, model, p, 0, err, errlen);
	if (ret)
		return ret;
	if ((ret = corrupt_init(&km, v, k, err, errlen)) || (ret = corrupt_init(&bm, v, b, err, errlen)))
		goto out;
	sol_of = malloc(v->ntimes * sizeof *sol_of);
	if (!sol_of) {
		ret = err_set(err, errlen, -ENOMEM, "solve: out of memory");
		goto out;
	}
	nsol = make_intervals(v, p->solint_s, sol_of);
	acc = calloc((size_t)nsol * s.nbl * s.npol, sizeof *acc);
	accg = calloc((size_t)s.nbl * s.npol, sizeof *accg);
	g = malloc(s.nant * sizeof *g);
	gamp = malloc(s.nant * s.npol * sizeof *gamp);
	ok = malloc(s.nant);
	okamp = malloc(s.nant * s.npol);
	snr = malloc(s.nant * sizeof *snr);
	snramp = malloc(s.nant * s.npol * sizeof *snramp);
	tab = table_new(&s, nsol, 1, "G", p);
	if (!acc || !accg || !g || !gamp || !ok || !okamp || !snr || !snramp || !tab) {
		ret = err_set(err, errlen, -ENOMEM, "solve: out of memory");
		goto out;
	}
	{
		double fsum = 0;
		for (int c = 0; c < v->nchan; c++)
			fsum += v->freq_hz[c];
		tab->freq_hz[0] = fsum / v->nchan;
	}
	for (int si = 0; si < nsol; si++) {
		double tsum = 0;
		int n = 0;
		for (int t = 0; t < v->ntimes; t++)
			if (sol_of[t] == si) {
				tsum += v->time_jd[t] - 2400000.5;
				n++;
			}
		tab->time_mjd[si] = tsum / n;
	}

	/* Sums per (interval, baseline, hand) over channels, model corrupted by K
	 * and B.  The corruption factor of a baseline depends on time only when a
	 * table has several times, so it is tabulated per baseline and reused. */
	{
		const int tdep = (k && k->ntime > 1) || (b && b->ntime > 1);
		const size_t nfac = (size_t)v->nchan * v->npols;
#pragma omp parallel num_threads(nthreads_of(p))
		{
			float complex *fac = malloc(nfac * sizeof *fac);
			uint8_t *fok = malloc(nfac);
			if (!fac || !fok) {
#pragma omp atomic write
				ret = -ENOMEM;
			}
#pragma omp for schedule(dynamic, 8)
			for (int j = 0; j < s.nbl; j++) {
				int bb = s.bl[j];
				if (!fac || !fok)
					continue;
				for (int t = 0; t < v->ntimes; t++) {
					size_t row = (size_t)t * v->nbls + bb;
					stefcal_acc *aj = acc + ((size_t)sol_of[t] * s.nbl + j) * s.npol;
					if (t == 0 || tdep)
						for (int c = 0; c < v->nchan; c++)
							for (int q = 0; q < v->npols; q++) {
								float complex f = 1.0f;
								int good = (!k || corrupt_apply(&km, t, bb, c, q, &f)) &&
									   (!b || corrupt_apply(&bm, t, bb, c, q, &f));
								fac[c * v->npols + q] = f;
								fok[c * v->npols + q] = good;
							}
					for (int c = 0; c < v->nchan; c++)
						for (int q = 0; q < v->npols; q++) {
							size_t i = vis_idx(v, t, bb, c, q);
							int h = s.hand[q], x = c * v->npols + q;
							if (h < 0 || !fok[x] || !sample_ok(v, &s, p, row, i, v->freq_hz[c]))
								continue;
							stefcal_acc_add(&aj[h], v->vis[i], model[i] * fac[x], v->weight[i]);
						}
				}
			}
			free(fac);
			free(fok);
		}
		if (ret) {
			err_set(err, errlen, ret, "solve: out of memory");
			goto out;
		}
	}
	for (int si = 0; si < nsol; si++)
		for (size_t x = 0; x < (size_t)s.nbl * s.npol; x++) {
			stefcal_acc *d = &accg[x];
			const stefcal_acc *a = &acc[(size_t)si * s.nbl * s.npol + x];
			d->vm += a->vm;
			d->mm += a->mm;
			d->vv += a->vv;
			d->n += a->n;
		}

	conn_from_sums(&s, accg, s.npol, s.npol);
	if ((ret = setup_candidates(&s, p))) {
		err_set(err, errlen, ret, "solve: out of memory");
		goto out;
	}
	tab->refant = s.ncand > 0 ? s.ant_number[s.cand[0]] : -1;

	/* Group-wide amplitude and phase: the amplitude of PHASE mode. */
	sc.phase_only = 0;
	for (int h = 0; h < s.npol; h++) {
		stefcal_result res;
		for (int a = 0; a < s.nant; a++)
			g[a] = 1.0;
		stefcal_solve(&sc, s.nant, s.nbl, s.a1, s.a2, accg + h, s.npol, g, ok, snr, &res);
		unconv += res.nant_ok > 0 && !res.converged;
		reference(&s, g, ok);
		for (int a = 0; a < s.nant; a++) {
			gamp[a * s.npol + h] = g[a];
			okamp[a * s.npol + h] = ok[a];
			snramp[a * s.npol + h] = snr[a];
		}
	}

	sc.phase_only = p->gain_mode == SOLVE_GAIN_PHASE;
	for (int si = 0; si < nsol; si++)
		for (int h = 0; h < s.npol; h++) {
			stefcal_result res;
			for (int a = 0; a < s.nant; a++)
				g[a] = okamp[a * s.npol + h] ? gamp[a * s.npol + h] : 1.0;
			if (nsol == 1 && !sc.phase_only) {
				/* The group-wide solve is this interval's solve. */
				for (int a = 0; a < s.nant; a++) {
					ok[a] = okamp[a * s.npol + h];
					snr[a] = snramp[a * s.npol + h];
				}
			} else {
				stefcal_solve(&sc, s.nant, s.nbl, s.a1, s.a2,
					      acc + (size_t)si * s.nbl * s.npol + h, s.npol, g, ok, snr, &res);
				unconv += res.nant_ok > 0 && !res.converged;
				reference(&s, g, ok);
			}
			for (int a = 0; a < s.nant; a++) {
				size_t x = gaintab_idx(tab, si, a, 0, h);
				double complex gg = g[a];
				int good = ok[a] && okamp[a * s.npol + h];
				if (sc.phase_only && good)
					gg = cabs(gamp[a * s.npol + h]) * g[a] / cabs(g[a]);
				tab->gain[x] = good ? (float complex)gg : 0.0f;
				tab->snr[x] = good ? (float)fmin(snr[a], 1e30) : 0.0f;
				tab->flag[x] = !good || snr[a] < p->min_snr;
			}
		}
	if (ret_q) {
		solve_table_quality(tab, ret_q);
		ret_q->max_iter_hit = unconv;
	}
	*ret_g = tab;
	tab = NULL;
out:
	gaintab_free(tab);
	corrupt_release(&km);
	corrupt_release(&bm);
	setup_release(&s);
	free(acc);
	free(accg);
	free(sol_of);
	free(g);
	free(gamp);
	free(ok);
	free(okamp);
	free(snr);
	free(snramp);
	return ret;
}

/* ---- delay --------------------------------------------------------------- */

/* |Σ_c w_c g_c exp(−2πi (ν_c − ν0) τ)| */
static double delay_power(const double complex *gc, const double *dnu, int n, double tau)
{
	double complex s = 0;
	for (int c = 0; c < n; c++)
		s += gc[c] * cexp(-2.0 * M_PI * I * dnu[c] * tau);
	return cabs(s);
}

int solve_delay(const vis_set *v, const float complex *model, const solve_params *p,
		gaintab **ret_k, double **ret_delay_ns, solve_quality *ret_q, char *err,
		size_t errlen)
{
	setup s;
	gaintab *pc = NULL, *tab = NULL;
	double *delay = NULL, *dnu = NULL, dfmin = INFINITY, fmid = 0;
	double complex *gc = NULL;
	fftw_complex *buf = NULL;
	fftw_plan plan = NULL;
	int ret, unconv = 0, nfft = 1, kmax = 0;

	ret = setup_init(&s, v, model, p, 0, err, errlen);
	if (ret)
		return ret;
	pc = table_new(&s, 1, v->nchan, "K", p);
	tab = table_new(&s, 1, v->nchan, "K", p);
	delay = calloc((size_t)s.nant * s.npol, sizeof *delay);
	dnu = malloc(v->nchan * sizeof *dnu);
	gc = malloc(v->nchan * sizeof *gc);
	if (!pc || !tab || !delay || !dnu || !gc) {
		ret = err_set(err, errlen, -ENOMEM, "solve: out of memory");
		goto out;
	}
	ret = solve_per_channel(v, model, NULL, &s, p, pc, &unconv);
	if (ret) {
		err_set(err, errlen, ret, "solve: out of memory");
		goto out;
	}
	tab->refant = pc->refant;

	for (int c = 0; c < v->nchan; c++)
		fmid += v->freq_hz[c] / v->nchan;
	for (int c = 1; c < v->nchan; c++)
		if (fabs(v->freq_hz[c] - v->freq_hz[c - 1]) > 0)
			dfmin = fmin(dfmin, fabs(v->freq_hz[c] - v->freq_hz[c - 1]));
	if (!isfinite(dfmin))
		dfmin = fabs(v->chan_width_hz) > 0 ? fabs(v->chan_width_hz) : 1.0;
	{
		double fmin_hz = v->freq_hz[0];
		for (int c = 0; c < v->nchan; c++)
			fmin_hz = fmin(fmin_hz, v->freq_hz[c]);
		for (int c = 0; c < v->nchan; c++) {
			int kk = (int)lround((v->freq_hz[c] - fmin_hz) / dfmin);
			kmax = kk > kmax ? kk : kmax;
		}
		while (nfft < 8 * (kmax + 1))
			nfft *= 2;
		buf = fftw_alloc_complex(nfft);
		if (!buf) {
			ret = err_set(err, errlen, -ENOMEM, "solve: out of memory");
			goto out;
		}
#pragma omp critical(contimg_fftw_plan)
		{
			/* FFTW's planner is not re-entrant; make it safe against other
			 * modules planning in other threads (FFTW >= 3.3.5). */
			fftw_make_planner_thread_safe();
			plan = fftw_plan_dft_1d(nfft, buf, buf, FFTW_FORWARD, FFTW_ESTIMATE);
		}
		if (!plan) {
			ret = err_set(err, errlen, -ENOMEM, "solve: FFTW plan failed");
			goto out;
		}

		for (int a = 0; a < s.nant; a++)
			for (int h = 0; h < s.npol; h++) {
				int n = 0, best = 0;
				double bestp = -1, tau, lo, hi, step = 1.0 / (nfft * dfmin);
				memset(buf, 0, nfft * sizeof *buf);
				for (int c = 0; c < v->nchan; c++) {
					size_t x = gaintab_idx(pc, 0, a, c, h);
					int kk = (int)lround((v->freq_hz[c] - fmin_hz) / dfmin);
					if (pc->flag[x])
						continue;
					/* Unit phasors: the delay is in the phase slope; amplitudes
					 * would only let the bandpass shape bias the peak. */
					double complex z = pc->gain[x] / cabsf(pc->gain[x]);
					buf[kk] += z; /* fftw_complex is double complex after <complex.h> */
					gc[n] = z;
					dnu[n] = v->freq_hz[c] - fmid;
					n++;
				}
				for (int c = 0; c < v->nchan; c++)
					tab->flag[gaintab_idx(tab, 0, a, c, h)] = n < 2;
				if (n < 2)
					continue;
				fftw_execute(plan);
				for (int kk = 0; kk < nfft; kk++) {
					double pw = creal(buf[kk]) * creal(buf[kk]) + cimag(buf[kk]) * cimag(buf[kk]);
					if (pw > bestp) {
						bestp = pw;
						best = kk;
					}
				}
				/* FFTW's forward sign: X_k = Σ x_n e^{−2πi nk/N}, so x_n ∝ e^{2πi n Δν τ}
				 * peaks at k = N Δν τ (mod N). */
				tau = (best < nfft / 2 ? best : best - nfft) * step;
				/* Golden-section refinement inside ± one FFT bin. */
				lo = tau - step;
				hi = tau + step;
				for (int it = 0; it < 60; it++) {
					double m1 = hi - 0.6180339887498949 * (hi - lo);
					double m2 = lo + 0.6180339887498949 * (hi - lo);
					if (delay_power(gc, dnu, n, m1) > delay_power(gc, dnu, n, m2))
						hi = m2;
					else
						lo = m1;
				}
				tau = 0.5 * (lo + hi);
				delay[a * s.npol + h] = tau * 1e9;
				for (int c = 0; c < v->nchan; c++) {
					size_t x = gaintab_idx(tab, 0, a, c, h);
					tab->gain[x] = (float complex)cexp(2.0 * M_PI * I * (v->freq_hz[c] - fmid) * tau);
					tab->snr[x] = pc->snr[gaintab_idx(pc, 0, a, c, h)];
				}
			}
	}
	memcpy(tab->freq_hz, v->freq_hz, v->nchan * sizeof *tab->freq_hz);
	tab->time_mjd[0] = vis_mid_jd(v) - 2400000.5;
	if (ret_q) {
		solve_table_quality(tab, ret_q);
		ret_q->phase_scatter_deg = NAN;
		ret_q->max_iter_hit = unconv;
	}
	*ret_k = tab;
	tab = NULL;
	if (ret_delay_ns) {
		*ret_delay_ns = delay;
		delay = NULL;
	}
out:
	if (plan) {
#pragma omp critical(contimg_fftw_plan)
		fftw_destroy_plan(plan);
	}
	if (buf)
		fftw_free(buf);
	gaintab_free(pc);
	gaintab_free(tab);
	free(delay);
	free(dnu);
	free(gc);
	setup_release(&s);
	return ret;
}
