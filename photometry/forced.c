/*
 * photometry/forced.c — forced photometry (see forced.h for the method).
 */
#define _GNU_SOURCE /* qsort_r */
#include "photometry/forced.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/stats.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define FOUR_LN2 2.772588722239781 /* 4 ln 2: FWHM → Gaussian exponent */

struct forced_rms_map {
	int ntx, nty;     /* tiles along x and y */
	int tile;         /* tile side in pixels */
	float *rms;       /* ntx*nty flat-noise rms, NAN where unusable */
};

void forced_params_default(forced_params *p)
{
	p->box_beams = 3.0;
	p->group_beams = 1.5;
	p->pb_cut = 0.2;
	p->rms_box_beams = 10.0;
	p->noise_correlated = 1;
	p->max_vif = 10.0;
	p->threads = 1;
}

/* Quadratic form of the beam in pixel offsets: K = exp(-(qa dx² + qb dx dy + qc dy²)). */
typedef struct beamq {
	double qa, qb, qc;
} beamq;

static beamq beam_quadratic(const forced_image *img)
{
	/* x grows westward, so an offset dx is -dx*cell to the east; y is north.
	 * Along the major axis (PA from north through east) the unit vector is
	 * (east, north) = (sin pa, cos pa). */
	double s = sin(img->bpa_rad), c = cos(img->bpa_rad);
	double amaj = FOUR_LN2 * img->cell_rad * img->cell_rad / (img->bmaj_rad * img->bmaj_rad);
	double amin = FOUR_LN2 * img->cell_rad * img->cell_rad / (img->bmin_rad * img->bmin_rad);
	/* u_maj = -dx s + dy c,  u_min = -dx c - dy s */
	beamq q;
	q.qa = amaj * s * s + amin * c * c;
	q.qb = 2.0 * (-amaj * s * c + amin * c * s);
	q.qc = amaj * c * c + amin * s * s;
	return q;
}

static inline double beam_eval(const beamq *q, double dx, double dy)
{
	return exp(-(q->qa * dx * dx + q->qb * dx * dy + q->qc * dy * dy));
}

double forced_beam(const forced_image *img, double dx_px, double dy_px)
{
	beamq q = beam_quadratic(img);
	return beam_eval(&q, dx_px, dy_px);
}

static int check_image(const forced_image *img, char *err, size_t errlen)
{
	if (!img || !img->data || img->nx <= 0 || img->ny <= 0)
		return err_set(err, errlen, -EINVAL, "forced photometry: empty image");
	if (!(img->cell_rad > 0) || !(img->bmaj_rad > 0) || !(img->bmin_rad > 0) ||
	    !isfinite(img->bpa_rad))
		return err_set(err, errlen, -EINVAL,
			       "forced photometry: bad cell (%g rad) or beam (%g x %g rad, pa %g)",
			       img->cell_rad, img->bmaj_rad, img->bmin_rad, img->bpa_rad);
	return 0;
}

/* ---- rms map ---- */

int forced_rms_map_new(const forced_image *img, const forced_params *p,
		       forced_rms_map **ret, char *err, size_t errlen)
{
	forced_rms_map *m = NULL;
	float *scratch = NULL, *v2 = NULL;
	int rc = check_image(img, err, errlen);
	if (rc)
		return rc;
	int tile = (int)lround(p->rms_box_beams * img->bmaj_rad / img->cell_rad);
	if (tile < 16)
		tile = 16;
	int nthreads = p->threads > 0 ? p->threads : 1;
	/* The noise is correlated over a beam, so neighbouring pixels add little
	 * information to a MAD: sample every stride-th pixel (a third of the
	 * minor axis), which cuts the cost of the map several-fold. */
	int stride = (int)floor(img->bmin_rad / img->cell_rad / 3);
	if (stride < 1)
		stride = 1;

	m = calloc(1, sizeof *m);
	if (!m)
		goto nomem;
	m->tile = tile;
	m->ntx = (img->nx + tile - 1) / tile;
	m->nty = (img->ny + tile - 1) / tile;
	m->rms = malloc((size_t)m->ntx * m->nty * sizeof *m->rms);
	scratch = malloc((size_t)nthreads * tile * tile * sizeof *scratch);
	v2 = malloc((size_t)nthreads * tile * tile * sizeof *v2);
	if (!m->rms || !scratch || !v2)
		goto nomem;

	#pragma omp parallel for schedule(dynamic) num_threads(nthreads)
	for (int t = 0; t < m->ntx * m->nty; t++) {
		int tid = 0;
#ifdef _OPENMP
		tid = omp_get_thread_num();
#endif
		float *v = scratch + (size_t)tid * tile * tile;
		int tx = t % m->ntx, ty = t / m->ntx;
		int x0 = tx * tile, y0 = ty * tile;
		int x1 = x0 + tile < img->nx ? x0 + tile : img->nx;
		int y1 = y0 + tile < img->ny ? y0 + tile : img->ny;
		size_t n = 0;
		for (int y = y0; y < y1; y += stride)
			for (int x = x0; x < x1; x += stride) {
				size_t k = (size_t)y * img->nx + x;
				float d = img->data[k];
				if (img->pb) {
					if (!(img->pb[k] > 0))
						continue;
					d *= img->pb[k];
				}
				if (isfinite(d))
					v[n++] = d;
			}
		/* A tile needs enough samples for a MAD worth trusting. */
		if (n < 64 || n < (size_t)((x1 - x0) * (y1 - y0)) / (4 * stride * stride)) {
			m->rms[t] = NAN;
			continue;
		}
		/* MAD, then two rounds of 3σ clipping: sources occupy a fair
		 * fraction of a tile in a crowded field and would otherwise widen
		 * the MAD by 10 % or more. */
		float *a = v;
		float sigma = NAN;
		for (int iter = 0; iter < 3 && n >= 64; iter++) {
			float med = stats_median_f(a, n);
			float *dev = v2 + (size_t)tid * tile * tile;
			for (size_t i = 0; i < n; i++)
				dev[i] = fabsf(a[i] - med);
			float mad = stats_median_f(dev, n);
			if (!(mad > 0))
				break;
			sigma = (float)(STATS_MAD_TO_SIGMA * mad);
			size_t kept = 0;
			for (size_t i = 0; i < n; i++)
				if (fabsf(a[i] - med) < 3 * sigma)
					a[kept++] = a[i];
			if (kept == n)
				break;
			n = kept;
		}
		m->rms[t] = sigma > 0 ? sigma : NAN;
	}
	free(scratch);
	free(v2);
	*ret = m;
	return 0;
nomem:
	free(scratch);
	free(v2);
	forced_rms_map_free(m);
	return err_set(err, errlen, -ENOMEM, "forced photometry: out of memory for the rms map");
}

double forced_rms_at(const forced_rms_map *m, double x, double y)
{
	/* Bilinear interpolation between tile centres, ignoring unusable tiles. */
	double fx = (x + 0.5) / m->tile - 0.5, fy = (y + 0.5) / m->tile - 0.5;
	if (fx < 0)
		fx = 0;
	if (fy < 0)
		fy = 0;
	if (fx > m->ntx - 1)
		fx = m->ntx - 1;
	if (fy > m->nty - 1)
		fy = m->nty - 1;
	int ix = (int)floor(fx), iy = (int)floor(fy);
	double ax = fx - ix, ay = fy - iy;
	double sw = 0, s = 0;
	for (int j = 0; j < 2; j++)
		for (int i = 0; i < 2; i++) {
			int tx = ix + i, ty = iy + j;
			if (tx >= m->ntx || ty >= m->nty)
				continue;
			double w = (i ? ax : 1 - ax) * (j ? ay : 1 - ay);
			float r = m->rms[(size_t)ty * m->ntx + tx];
			if (w > 0 && isfinite(r)) {
				sw += w;
				s += w * r;
			}
		}
	return sw > 1e-6 ? s / sw : NAN;
}

void forced_rms_map_free(forced_rms_map *m)
{
	if (!m)
		return;
	free(m->rms);
	free(m);
}

/* ---- measurement ---- */

/* Correlated-noise error factor sqrt(Σ_ij K_i K_j C_ij) / Σ K² for a source at
 * a pixel centre, with the noise correlation C equal to the restoring beam
 * (the dirty beam's main lobe).  Computed once per image: it depends only on
 * the beam and the box. */
static double corr_factor(const beamq *q, int h)
{
	int w = 2 * h + 1, wc = 4 * h + 1;
	double *k = malloc((size_t)w * w * sizeof *k);
	double *c = malloc((size_t)wc * wc * sizeof *c);
	double f = NAN;
	if (!k || !c)
		goto out;
	for (int y = -h; y <= h; y++)
		for (int x = -h; x <= h; x++)
			k[(y + h) * w + x + h] = beam_eval(q, x, y);
	for (int y = -2 * h; y <= 2 * h; y++)
		for (int x = -2 * h; x <= 2 * h; x++)
			c[(y + 2 * h) * wc + x + 2 * h] = beam_eval(q, x, y);
	double skk = 0, sc = 0;
	for (int i = 0; i < w * w; i++) {
		int xi = i % w, yi = i / w;
		skk += k[i] * k[i];
		double acc = 0;
		for (int j = 0; j < w * w; j++) {
			int xj = j % w, yj = j / w;
			acc += k[j] * c[(yi - yj + 2 * h) * wc + (xi - xj + 2 * h)];
		}
		sc += k[i] * acc;
	}
	f = sqrt(sc) / skk;
out:
	free(k);
	free(c);
	return f;
}

typedef struct src_work {
	double x, y;      /* pixel position */
	double pb;
	double rms_flat;
	unsigned flags;
	int group;        /* representative (union-find root) */
} src_work;

static int uf_find(int *parent, int i)
{
	while (parent[i] != i) {
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

static int cmp_by_x(const void *a, const void *b, void *arg)
{
	const src_work *w = arg;
	double xa = w[*(const int *)a].x, xb = w[*(const int *)b].x;
	return (xa > xb) - (xa < xb);
}

/* Cholesky factorisation and inverse of the k×k SPD matrix a (in place: a
 * becomes its inverse).  Returns -1 when a is not positive definite. */
static int spd_invert(double *a, int k, double *tmp)
{
	double *l = tmp; /* k*k */
	memset(l, 0, (size_t)k * k * sizeof *l);
	for (int j = 0; j < k; j++) {
		double s = a[j * k + j];
		for (int p = 0; p < j; p++)
			s -= l[j * k + p] * l[j * k + p];
		if (!(s > 0))
			return -1;
		l[j * k + j] = sqrt(s);
		for (int i = j + 1; i < k; i++) {
			double t = a[i * k + j];
			for (int p = 0; p < j; p++)
				t -= l[i * k + p] * l[j * k + p];
			l[i * k + j] = t / l[j * k + j];
		}
	}
	/* inverse = L⁻ᵀ L⁻¹, column by column: solve L Lᵀ x = e_c */
	double *col = tmp + (size_t)k * k;
	for (int cidx = 0; cidx < k; cidx++) {
		for (int i = 0; i < k; i++) {
			double t = (i == cidx);
			for (int p = 0; p < i; p++)
				t -= l[i * k + p] * col[p];
			col[i] = t / l[i * k + i];
		}
		for (int i = k - 1; i >= 0; i--) {
			double t = col[i];
			for (int p = i + 1; p < k; p++)
				t -= l[p * k + i] * col[p];
			col[i] = t / l[i * k + i];
		}
		for (int i = 0; i < k; i++)
			a[i * k + cidx] = col[i];
	}
	return 0;
}

int forced_measure(const forced_image *img, const forced_rms_map *rms_in,
		   const forced_params *p, const double *ra_rad, const double *dec_rad,
		   size_t n, forced_result *res, char *err, size_t errlen)
{
	forced_rms_map *own_rms = NULL;
	const forced_rms_map *rms = rms_in;
	src_work *w = NULL;
	int *parent = NULL, *order = NULL, *gstart = NULL, *members = NULL;
	double *scratch = NULL;
	int rc = check_image(img, err, errlen);
	if (rc)
		return rc;
	if (n == 0)
		return 0;
	if (!(p->box_beams > 0) || !(p->group_beams >= 0))
		return err_set(err, errlen, -EINVAL, "forced photometry: bad box/group size");
	if (!rms) {
		rc = forced_rms_map_new(img, p, &own_rms, err, errlen);
		if (rc)
			return rc;
		rms = own_rms;
	}
	int nthreads = p->threads > 0 ? p->threads : 1;
	beamq q = beam_quadratic(img);
	double bmaj_px = img->bmaj_rad / img->cell_rad;
	int half = (int)ceil(0.5 * p->box_beams * bmaj_px);
	if (half < 2)
		half = 2;
	/* Half-power ellipse of the beam: K >= 0.5 within |dx|,|dy| <= bmaj/2. */
	int core_half = (int)ceil(0.5 * bmaj_px);
	double cfac = p->noise_correlated ? corr_factor(&q, half) : 1.0;
	if (!isfinite(cfac)) {
		rc = err_set(err, errlen, -ENOMEM, "forced photometry: out of memory");
		goto out;
	}

	w = calloc(n, sizeof *w);
	parent = malloc(n * sizeof *parent);
	order = malloc(n * sizeof *order);
	gstart = malloc((n + 1) * sizeof *gstart);
	members = malloc(n * sizeof *members);
	if (!w || !parent || !order || !gstart || !members) {
		rc = err_set(err, errlen, -ENOMEM, "forced photometry: out of memory");
		goto out;
	}

	/* 1. positions, primary beam and noise at each source */
	for (size_t i = 0; i < n; i++) {
		src_work *s = &w[i];
		forced_result *r = &res[i];
		memset(r, 0, sizeof *r);
		r->flux_jy = r->flux_err_jy = r->rms_jy = r->chi2 = NAN;
		r->pb = NAN;
		r->group_size = 1;
		parent[i] = (int)i;
		s->x = s->y = NAN;
		if (!img->sky2pix || img->sky2pix(img->sky2pix_ctx, ra_rad[i], dec_rad[i], &s->x, &s->y) ||
		    !isfinite(s->x) || !isfinite(s->y) || s->x < -0.5 || s->y < -0.5 ||
		    s->x >= img->nx - 0.5 || s->y >= img->ny - 0.5) {
			s->flags |= FORCED_OUTSIDE;
		} else {
			size_t k = (size_t)lround(s->y) * img->nx + (size_t)lround(s->x);
			s->pb = img->pb ? img->pb[k] : 1.0;
			if (!(s->pb >= p->pb_cut) || !(s->pb > 0))
				s->flags |= FORCED_PB_CUT;
			s->rms_flat = forced_rms_at(rms, s->x, s->y);
			if (!(s->rms_flat > 0))
				s->flags |= FORCED_NO_NOISE;
		}
		r->x_px = s->x;
		r->y_px = s->y;
		r->pb = s->pb;
		if (s->rms_flat > 0 && s->pb > 0)
			r->rms_jy = s->rms_flat / s->pb;
	}

	/* 2. groups of sources closer than group_beams (sweep along x) */
	double gsep = p->group_beams * bmaj_px;
	size_t nvalid = 0;
	for (size_t i = 0; i < n; i++)
		if (!(w[i].flags & FORCED_BAD))
			order[nvalid++] = (int)i;
	qsort_r(order, nvalid, sizeof *order, cmp_by_x, w);
	for (size_t a = 0; a < nvalid; a++)
		for (size_t b = a + 1; b < nvalid; b++) {
			const src_work *sa = &w[order[a]], *sb = &w[order[b]];
			if (sb->x - sa->x >= gsep)
				break;
			double dx = sb->x - sa->x, dy = sb->y - sa->y;
			if (dx * dx + dy * dy < gsep * gsep) {
				int ra = uf_find(parent, order[a]), rb = uf_find(parent, order[b]);
				if (ra != rb)
					parent[ra < rb ? rb : ra] = ra < rb ? ra : rb;
			}
		}
	/* members listed group by group: count per root, then fill */
	int ngroups = 0, kmax = 1;
	{
		int *cnt = order; /* reuse: order is no longer needed */
		memset(cnt, 0, n * sizeof *cnt);
		for (size_t i = 0; i < n; i++)
			if (!(w[i].flags & FORCED_BAD))
				cnt[uf_find(parent, (int)i)]++;
		int pos = 0;
		for (size_t i = 0; i < n; i++)
			if (cnt[i] > 0) {
				gstart[ngroups++] = pos;
				if (cnt[i] > kmax)
					kmax = cnt[i];
				int c = cnt[i];
				cnt[i] = -(pos + 1); /* remember where root i's members go */
				pos += c;
			}
		gstart[ngroups] = pos;
		for (size_t i = 0; i < n; i++)
			if (!(w[i].flags & FORCED_BAD)) {
				int root = uf_find(parent, (int)i);
				int slot = -cnt[root] - 1;
				members[slot] = (int)i;
				cnt[root]--; /* next slot (stored negated) */
			}
	}

	/* Per-thread scratch: A (k*k), inverse work (k*k + k), b, kernel values,
	 * flux (k). */
	size_t per = (size_t)kmax * kmax * 2 + (size_t)kmax * 5;
	scratch = malloc((size_t)nthreads * per * sizeof *scratch);
	if (!scratch) {
		rc = err_set(err, errlen, -ENOMEM, "forced photometry: out of memory");
		goto out;
	}

	/* 3. fit every group */
	#pragma omp parallel for schedule(dynamic) num_threads(nthreads)
	for (int g = 0; g < ngroups; g++) {
		int tid = 0;
#ifdef _OPENMP
		tid = omp_get_thread_num();
#endif
		double *A = scratch + (size_t)tid * per;
		double *tmp = A + (size_t)kmax * kmax;
		double *b = tmp + (size_t)kmax * kmax + kmax;
		double *kv = b + kmax;
		double *flux = kv + kmax;
		int *mem = members + gstart[g];
		int k0 = gstart[g + 1] - gstart[g];

		/* Core check: every pixel of a member's half-power ellipse must
		 * exist and be finite; members failing it are dropped. */
		int k = 0;
		for (int j = 0; j < k0; j++) {
			src_work *s = &w[mem[j]];
			int cx = (int)lround(s->x), cy = (int)lround(s->y), ok = 1;
			for (int y = cy - core_half; y <= cy + core_half && ok; y++)
				for (int x = cx - core_half; x <= cx + core_half; x++) {
					if (beam_eval(&q, x - s->x, y - s->y) < 0.5)
						continue;
					if (x < 0 || y < 0 || x >= img->nx || y >= img->ny) {
						ok = 0;
						break;
					}
					size_t idx = (size_t)y * img->nx + x;
					if (!isfinite(img->data[idx]) ||
					    (img->pb && !(img->pb[idx] > 0))) {
						ok = 0;
						break;
					}
				}
			if (ok)
				mem[k++] = mem[j];
			else
				s->flags |= FORCED_CORE_MISSING;
		}
		if (k == 0)
			continue;

		/* Box: union of the members' boxes, clipped to the image. */
		int bx0 = img->nx, by0 = img->ny, bx1 = -1, by1 = -1;
		for (int j = 0; j < k; j++) {
			int cx = (int)lround(w[mem[j]].x), cy = (int)lround(w[mem[j]].y);
			if (cx - half < bx0) bx0 = cx - half;
			if (cy - half < by0) by0 = cy - half;
			if (cx + half > bx1) bx1 = cx + half;
			if (cy + half > by1) by1 = cy + half;
		}
		unsigned gflags = 0;
		if (bx0 < 0 || by0 < 0 || bx1 >= img->nx || by1 >= img->ny)
			gflags |= FORCED_EDGE;
		if (bx0 < 0) bx0 = 0;
		if (by0 < 0) by0 = 0;
		if (bx1 >= img->nx) bx1 = img->nx - 1;
		if (by1 >= img->ny) by1 = img->ny - 1;
		if (k > 1)
			gflags |= FORCED_BLENDED;

		/* One noise level for the group (the members are within 1.5 beams,
		 * far closer than an rms tile); σ_i = rms_flat / pb_i. */
		double rms_flat = w[mem[0]].rms_flat;
		double inv_var0 = 1.0 / (rms_flat * rms_flat);
		memset(A, 0, (size_t)k * k * sizeof *A);
		memset(b, 0, (size_t)k * sizeof *b);
		int npix = 0;
		for (int y = by0; y <= by1; y++)
			for (int x = bx0; x <= bx1; x++) {
				size_t idx = (size_t)y * img->nx + x;
				double d = img->data[idx];
				double pbv = img->pb ? img->pb[idx] : 1.0;
				if (!isfinite(d) || !(pbv > 0)) {
					gflags |= FORCED_NAN;
					continue;
				}
				double wt = inv_var0 * pbv * pbv;
				for (int j = 0; j < k; j++)
					kv[j] = beam_eval(&q, x - w[mem[j]].x, y - w[mem[j]].y);
				for (int j = 0; j < k; j++) {
					b[j] += wt * d * kv[j];
					for (int l = 0; l <= j; l++)
						A[j * k + l] += wt * kv[j] * kv[l];
				}
				npix++;
			}
		for (int j = 0; j < k; j++)
			for (int l = j + 1; l < k; l++)
				A[j * k + l] = A[l * k + j];
		/* Keep the diagonal: the variance inflation needs A_jj. */
		double diag[64];
		double *dg = k <= 64 ? diag : NULL;
		int heapdiag = 0;
		if (!dg) {
			dg = malloc((size_t)k * sizeof *dg);
			heapdiag = 1;
		}
		if (!dg) {
			for (int j = 0; j < k; j++)
				w[mem[j]].flags |= FORCED_DEGENERATE;
			continue;
		}
		for (int j = 0; j < k; j++)
			dg[j] = A[j * k + j];
		if (spd_invert(A, k, tmp)) {
			for (int j = 0; j < k; j++)
				w[mem[j]].flags |= FORCED_DEGENERATE | gflags;
			if (heapdiag)
				free(dg);
			continue;
		}
		for (int j = 0; j < k; j++) {
			double f = 0;
			for (int l = 0; l < k; l++)
				f += A[j * k + l] * b[l];
			flux[j] = f;
		}
		/* χ² of the joint model over the box */
		double chi2 = 0;
		for (int y = by0; y <= by1; y++)
			for (int x = bx0; x <= bx1; x++) {
				size_t idx = (size_t)y * img->nx + x;
				double d = img->data[idx];
				double pbv = img->pb ? img->pb[idx] : 1.0;
				if (!isfinite(d) || !(pbv > 0))
					continue;
				double mdl = 0;
				for (int j = 0; j < k; j++)
					mdl += flux[j] * beam_eval(&q, x - w[mem[j]].x, y - w[mem[j]].y);
				chi2 += inv_var0 * pbv * pbv * (d - mdl) * (d - mdl);
			}
		for (int j = 0; j < k; j++) {
			int i = mem[j];
			forced_result *r = &res[i];
			double vif = sqrt(A[j * k + j] * dg[j]);
			w[i].flags |= gflags;
			r->chi2 = chi2;
			r->npix = npix;
			r->group_size = k;
			if (!(vif <= p->max_vif)) {
				w[i].flags |= FORCED_DEGENERATE;
				continue;
			}
			r->flux_jy = flux[j];
			if (p->noise_correlated)
				r->flux_err_jy = w[i].rms_flat / w[i].pb * cfac * vif;
			else
				r->flux_err_jy = sqrt(A[j * k + j]);
		}
		if (heapdiag)
			free(dg);
	}
	for (size_t i = 0; i < n; i++) {
		res[i].flags = w[i].flags;
		if (res[i].flags & FORCED_BAD)
			res[i].flux_jy = res[i].flux_err_jy = NAN;
	}
	rc = 0;
out:
	forced_rms_map_free(own_rms);
	free(w);
	free(parent);
	free(order);
	free(gstart);
	free(members);
	free(scratch);
	return rc;
}
