/*
 * photometry/pointcheck.c — pointing declination offset from flux ratios
 * (see pointcheck.h for the model and its derivation).
 */
#include "photometry/pointcheck.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEG (M_PI / 180.0)

void pointcheck_params_default(pointcheck_params *p)
{
	memset(p, 0, sizeof *p);
	p->scatter = 0.03;
	p->clip_sigma = 4;
	p->min_sources = 6;
	p->min_per_side = 2;
	p->threshold_rad = 0.05 * DEG;
	p->min_significance = 3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Weighted straight line y = a + b x over the used points. */
typedef struct line_fit {
	double a, b, var_b, chi2;
	int n, npos, nneg;
} line_fit;

static int fit_line(const double *x, const double *y, const double *w, const int *use, size_t n,
		    line_fit *f)
{
	double sw = 0, swx = 0, swy = 0, sxx = 0, sxy = 0;

	memset(f, 0, sizeof *f);
	for (size_t i = 0; i < n; i++) {
		if (!use[i])
			continue;
		sw += w[i];
		swx += w[i] * x[i];
		swy += w[i] * y[i];
		f->n++;
		f->npos += x[i] > 0;
		f->nneg += x[i] < 0;
	}
	if (!(sw > 0))
		return -1;
	/* Centred sums: the lever arm is the spread of z about its weighted mean. */
	double xm = swx / sw, ym = swy / sw;
	for (size_t i = 0; i < n; i++) {
		if (!use[i])
			continue;
		sxx += w[i] * (x[i] - xm) * (x[i] - xm);
		sxy += w[i] * (x[i] - xm) * (y[i] - ym);
	}
	if (!(sxx > 0))
		return -1;
	f->b = sxy / sxx;
	f->a = ym - f->b * xm;
	f->var_b = 1 / sxx;
	for (size_t i = 0; i < n; i++)
		if (use[i]) {
			double r = y[i] - f->a - f->b * x[i];
			f->chi2 += w[i] * r * r;
		}
	return 0;
}

int pointcheck_fit(const pointcheck_source *src, size_t n, const pointcheck_params *p,
		   pointcheck_result *ret)
{
	double *x = NULL, *y = NULL, *w = NULL, *res = NULL;
	int *use = NULL, rc = 0;
	size_t m = 0;
	line_fit f;

	if (!p || !ret || (n && !src) || p->min_sources < 3 || p->min_per_side < 1 ||
	    !(p->clip_sigma > 0) || !(p->scatter >= 0))
		return -EINVAL;
	memset(ret, 0, sizeof *ret);
	ret->offset_rad = ret->offset_err_rad = ret->scale = ret->chi2_nu = NAN;
	ret->significance = NAN;
	ret->status = POINTCHECK_TOO_FEW;
	size_t cap = n ? n : 1;
	x = malloc(cap * sizeof *x);
	y = malloc(cap * sizeof *y);
	w = malloc(cap * sizeof *w);
	res = malloc(cap * sizeof *res);
	use = malloc(cap * sizeof *use);
	if (!x || !y || !w || !res || !use) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const pointcheck_source *s = &src[i];
		if (!(s->ratio > 0) || !isfinite(s->ratio) || !(s->ratio_err >= 0) ||
		    !isfinite(s->ratio_err) || !isfinite(s->dlnpb_ddec))
			continue;
		/* σ of ln R: the relative error of R, plus the intrinsic scatter. */
		double rel = s->ratio_err / s->ratio, var = rel * rel + p->scatter * p->scatter;
		if (!(var > 0))
			continue;
		x[m] = s->dlnpb_ddec;
		y[m] = log(s->ratio);
		w[m] = 1 / var;
		use[m] = 1;
		m++;
	}
	ret->ninput = (int)m;

	/* Fit, drop the worst outlier beyond clip_sigma robust σ, refit: one at
	 * a time, so a single wild ratio cannot drag the line far enough to
	 * make good points look bad. */
	for (;;) {
		if (fit_line(x, y, w, use, m, &f) < 0) {
			if (f.n >= p->min_sources && f.npos >= p->min_per_side &&
			    f.nneg >= p->min_per_side)
				ret->status = POINTCHECK_DEGENERATE;
			goto out;
		}
		if (f.n < p->min_sources || f.npos < p->min_per_side || f.nneg < p->min_per_side)
			goto out;
		/* Robust σ of the normalised residuals (1.4826 MAD about 0). */
		size_t k = 0, worst = 0;
		double wr = -1;
		for (size_t i = 0; i < m; i++) {
			if (!use[i])
				continue;
			double r = fabs(y[i] - f.a - f.b * x[i]) * sqrt(w[i]);
			res[k++] = r;
			if (r > wr) {
				wr = r;
				worst = i;
			}
		}
		qsort(res, k, sizeof *res, cmp_double);
		double med = k % 2 ? res[k / 2] : 0.5 * (res[k / 2 - 1] + res[k / 2]);
		double sig = fmax(1.0, 1.4826 * med);
		if (wr <= p->clip_sigma * sig)
			break;
		/* Never clip below what a fit needs on each side. */
		int side_n = x[worst] > 0 ? f.npos : f.nneg;
		if (f.n - 1 < p->min_sources || side_n - 1 < p->min_per_side)
			break;
		use[worst] = 0;
		ret->nclipped++;
	}
	ret->status = POINTCHECK_OK;
	ret->nused = f.n;
	ret->nnorth = f.npos;
	ret->nsouth = f.nneg;
	ret->chi2_nu = f.n > 2 ? f.chi2 / (f.n - 2) : NAN;
	ret->offset_rad = f.b;
	ret->offset_err_rad = sqrt(f.var_b * (ret->chi2_nu > 1 ? ret->chi2_nu : 1));
	ret->scale = exp(f.a);
	ret->significance = fabs(f.b) / ret->offset_err_rad;
	ret->warn = fabs(f.b) > p->threshold_rad && ret->significance >= p->min_significance;
out:
	free(x);
	free(y);
	free(w);
	free(res);
	free(use);
	return rc;
}
