/*
 * imaging/beamfit.c — PSF main-lobe Gaussian fit and restoration.
 */
#include "imaging/beamfit.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define LOBE_LEVEL 0.35

/* Solve the 4×4 system a x = b by Gaussian elimination with partial pivoting.
 * Returns -1 when singular. */
static int solve4(double a[4][4], double b[4], double x[4])
{
	for (int i = 0; i < 4; i++) {
		int p = i;
		for (int k = i + 1; k < 4; k++)
			if (fabs(a[k][i]) > fabs(a[p][i]))
				p = k;
		if (fabs(a[p][i]) < 1e-300)
			return -1;
		for (int k = 0; k < 4; k++) {
			double t = a[i][k];
			a[i][k] = a[p][k];
			a[p][k] = t;
		}
		double t = b[i];
		b[i] = b[p];
		b[p] = t;
		for (int k = i + 1; k < 4; k++) {
			double f = a[k][i] / a[i][i];
			for (int j = i; j < 4; j++)
				a[k][j] -= f * a[i][j];
			b[k] -= f * b[i];
		}
	}
	for (int i = 3; i >= 0; i--) {
		double s = b[i];
		for (int j = i + 1; j < 4; j++)
			s -= a[i][j] * x[j];
		x[i] = s / a[i][i];
	}
	return 0;
}

int beamfit_psf(const float *psf, int nx, int ny, double cell_rad, beamfit_beam *ret,
		char *err, size_t errlen)
{
	int cx = nx / 2, cy = ny / 2, r = 0, n = 0, top = 0;
	size_t npix = (size_t)nx * ny;
	unsigned char *seen = NULL;
	int *stack = NULL;
	double ata[4][4] = { { 0 } }, atb[4] = { 0 }, x[4];

	if (!(psf[(size_t)cy * nx + cx] > 0))
		return err_set(err, errlen, -EINVAL, "beamfit: PSF centre is not positive");
	seen = calloc(npix, 1);
	stack = malloc(npix * sizeof *stack);
	if (!seen || !stack) {
		r = err_set(err, errlen, -ENOMEM, "beamfit: out of memory");
		goto out;
	}
	/* Flood fill of the main lobe from the centre (4-connected). */
	double peak = psf[(size_t)cy * nx + cx];
	stack[top++] = cy * nx + cx;
	seen[cy * nx + cx] = 1;
	while (top) {
		int j = stack[--top], ix = j % nx, iy = j / nx;
		double p = psf[j] / peak;
		double l = -(ix - cx), m = iy - cy; /* cells */
		double row[4] = { 1, -l * l, -l * m, -m * m }, w = p * p, y = log(p);
		for (int a = 0; a < 4; a++) {
			for (int b = 0; b < 4; b++)
				ata[a][b] += w * row[a] * row[b];
			atb[a] += w * row[a] * y;
		}
		n++;
		const int nb[4][2] = { { 1, 0 }, { -1, 0 }, { 0, 1 }, { 0, -1 } };
		for (int k = 0; k < 4; k++) {
			int qx = ix + nb[k][0], qy = iy + nb[k][1];
			if (qx < 0 || qy < 0 || qx >= nx || qy >= ny)
				continue;
			int q = qy * nx + qx;
			if (seen[q] || !(psf[q] / peak > LOBE_LEVEL))
				continue;
			seen[q] = 1;
			stack[top++] = q;
		}
	}
	if (n < 6) {
		r = err_set(err, errlen, -EINVAL,
			    "beamfit: PSF main lobe has only %d pixels above %.2f (cell too coarse?)",
			    n, LOBE_LEVEL);
		goto out;
	}
	if (solve4(ata, atb, x) < 0) {
		r = err_set(err, errlen, -ERANGE, "beamfit: singular main-lobe fit");
		goto out;
	}
	/* Quadratic form in pixel units (l, m in cells): Q = [[A, B/2], [B/2, C]]. */
	double A = x[1], B = x[2], C = x[3];
	double tr = A + C, det = A * C - B * B / 4, disc = sqrt(fmax(tr * tr / 4 - det, 0));
	double lmin = tr / 2 - disc, lmax = tr / 2 + disc;
	if (!(lmin > 0) || !(lmax > 0)) {
		r = err_set(err, errlen, -ERANGE, "beamfit: main-lobe fit is not a Gaussian");
		goto out;
	}
	/* Major axis: eigenvector of the smaller eigenvalue. */
	double el, em;
	if (fabs(B) > 1e-12 * (fabs(A) + fabs(C))) {
		el = B / 2;
		em = lmin - A;
	} else if (A <= C) {
		el = 1;
		em = 0;
	} else {
		el = 0;
		em = 1;
	}
	double pa = atan2(el, em);
	while (pa > M_PI / 2)
		pa -= M_PI;
	while (pa <= -M_PI / 2)
		pa += M_PI;
	ret->bmaj_rad = 2 * sqrt(log(2) / lmin) * cell_rad;
	ret->bmin_rad = 2 * sqrt(log(2) / lmax) * cell_rad;
	ret->bpa_rad = pa;
out:
	free(seen);
	free(stack);
	return r;
}

double beamfit_gauss(const beamfit_beam *b, double dl, double dm)
{
	/* Coordinates along the major (north-through-east PA) and minor axes. */
	double s = sin(b->bpa_rad), c = cos(b->bpa_rad);
	double xmaj = dl * s + dm * c, xmin = dl * c - dm * s;
	double k = 4 * log(2);
	return exp(-k * (xmaj * xmaj / (b->bmaj_rad * b->bmaj_rad) +
			 xmin * xmin / (b->bmin_rad * b->bmin_rad)));
}

/* Sum of squared residuals of the centred Gaussian with parameters
 * q = (ln bmaj, ln bmin, pa) over the box. */
static double box_cost(const float *psf, int nx, int ny, double cell, int half, const double q[3])
{
	beamfit_beam b = { exp(q[0]), exp(q[1]), q[2] };
	double s = 0;
	for (int dy = -half; dy <= half; dy++)
		for (int dx = -half; dx <= half; dx++) {
			int x = nx / 2 + dx, y = ny / 2 + dy;
			if (x < 0 || y < 0 || x >= nx || y >= ny)
				continue;
			double d = psf[(size_t)y * nx + x] - beamfit_gauss(&b, -dx * cell, dy * cell);
			s += d * d;
		}
	return s;
}

int beamfit_psf_box(const float *psf, int nx, int ny, double cell_rad, double est_rad,
		    double box_scale, beamfit_beam *b, char *err, size_t errlen)
{
	int half = (int)ceil(0.5 * box_scale * est_rad / cell_rad);
	double q[3] = { log(b->bmaj_rad), log(b->bmin_rad), b->bpa_rad }, lambda = 1e-3;
	double cost = box_cost(psf, nx, ny, cell_rad, half, q);

	if (half < 2)
		half = 2;
	/* Levenberg–Marquardt with a numerical Jacobian (3 parameters). */
	for (int it = 0; it < 100; it++) {
		double jtj[3][3] = { { 0 } }, jtr[3] = { 0 }, h = 1e-5;
		beamfit_beam b0 = { exp(q[0]), exp(q[1]), q[2] };
		for (int dy = -half; dy <= half; dy++)
			for (int dx = -half; dx <= half; dx++) {
				int x = nx / 2 + dx, y = ny / 2 + dy;
				if (x < 0 || y < 0 || x >= nx || y >= ny)
					continue;
				double dl = -dx * cell_rad, dm = dy * cell_rad;
				double g0 = beamfit_gauss(&b0, dl, dm), jr[3];
				for (int k = 0; k < 3; k++) {
					double qq[3] = { q[0], q[1], q[2] };
					qq[k] += h;
					beamfit_beam bk = { exp(qq[0]), exp(qq[1]), qq[2] };
					jr[k] = (beamfit_gauss(&bk, dl, dm) - g0) / h;
				}
				double res = psf[(size_t)y * nx + x] - g0;
				for (int a = 0; a < 3; a++) {
					jtr[a] += jr[a] * res;
					for (int c = 0; c < 3; c++)
						jtj[a][c] += jr[a] * jr[c];
				}
			}
		int improved = 0;
		for (int tries = 0; tries < 20 && !improved; tries++) {
			double a[3][3], rhs[3], step[3];
			for (int i = 0; i < 3; i++) {
				for (int j = 0; j < 3; j++)
					a[i][j] = jtj[i][j];
				a[i][i] *= 1 + lambda;
				rhs[i] = jtr[i];
			}
			/* Cramer's rule for the 3×3 system. */
			double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
				     a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
				     a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
			if (!(fabs(det) > 0))
				break;
			for (int k = 0; k < 3; k++) {
				double m[3][3];
				memcpy(m, a, sizeof m);
				for (int i = 0; i < 3; i++)
					m[i][k] = rhs[i];
				step[k] = (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
					   m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
					   m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])) / det;
			}
			double qn[3] = { q[0] + step[0], q[1] + step[1], q[2] + step[2] };
			double cn = box_cost(psf, nx, ny, cell_rad, half, qn);
			if (cn < cost) {
				improved = 1;
				double rel = (cost - cn) / (cost > 0 ? cost : 1);
				memcpy(q, qn, sizeof q);
				cost = cn;
				lambda *= 0.3;
				if (rel < 1e-10)
					it = 1000;
			} else {
				lambda *= 10;
			}
		}
		if (!improved)
			break;
	}
	if (!isfinite(q[0]) || !isfinite(q[1]) || !isfinite(q[2]))
		return err_set(err, errlen, -ERANGE, "beamfit: box fit diverged");
	double maj = exp(q[0]), min = exp(q[1]), pa = q[2];
	if (min > maj) {
		double t = maj;
		maj = min;
		min = t;
		pa += M_PI / 2;
	}
	while (pa > M_PI / 2)
		pa -= M_PI;
	while (pa <= -M_PI / 2)
		pa += M_PI;
	b->bmaj_rad = maj;
	b->bmin_rad = min;
	b->bpa_rad = pa;
	return 0;
}

void beamfit_restore(float *image, const float *model, int nx, int ny, double cell_rad,
		     const beamfit_beam *b, int nthreads)
{
	int rad = (int)ceil(2.0 * b->bmaj_rad / cell_rad) + 1, side = 2 * rad + 1;
	size_t ncomp = 0, *rowstart = NULL;
	int *cx = NULL;
	float *kern = NULL;

	if (nthreads <= 0)
		nthreads = omp_get_max_threads();
	/* The beam depends only on the integer pixel offset: tabulate it once
	 * (beamfit_gauss per component and pixel cost ~1 s for a few thousand
	 * components at 4096²). */
	kern = malloc((size_t)side * side * sizeof *kern);
	rowstart = malloc((ny + 1) * sizeof *rowstart);
	if (!kern || !rowstart)
		goto slow;
	for (int dy = -rad; dy <= rad; dy++)
		for (int dx = -rad; dx <= rad; dx++)
			kern[(size_t)(dy + rad) * side + dx + rad] =
				(float)beamfit_gauss(b, -dx * cell_rad, dy * cell_rad);
	for (size_t j = 0; j < (size_t)nx * ny; j++)
		ncomp += model[j] != 0;
	cx = malloc((ncomp ? ncomp : 1) * sizeof *cx);
	if (!cx)
		goto slow;
	ncomp = 0;
	for (int y = 0; y < ny; y++) {
		rowstart[y] = ncomp;
		for (int x = 0; x < nx; x++)
			if (model[(size_t)y * nx + x] != 0)
				cx[ncomp++] = x;
	}
	rowstart[ny] = ncomp;
	/* Parallel over output rows: each thread owns its rows, so no races. */
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 4)
	for (int iy = 0; iy < ny; iy++) {
		int y0 = iy - rad < 0 ? 0 : iy - rad, y1 = iy + rad >= ny ? ny - 1 : iy + rad;
		float *out = image + (size_t)iy * nx;
		for (int my = y0; my <= y1; my++) {
			const float *krow = kern + (size_t)(iy - my + rad) * side + rad;
			for (size_t c = rowstart[my]; c < rowstart[my + 1]; c++) {
				int mx = cx[c];
				float f = model[(size_t)my * nx + mx];
				int x0 = mx - rad < 0 ? 0 : mx - rad, x1 = mx + rad >= nx ? nx - 1 : mx + rad;
				for (int ix = x0; ix <= x1; ix++)
					out[ix] += f * krow[ix - mx];
			}
		}
	}
	free(kern);
	free(rowstart);
	free(cx);
	return;
slow:
	/* Out of memory for the table or the component index: the same sum,
	 * serially. */
	free(kern);
	free(rowstart);
	for (int my = 0; my < ny; my++)
		for (int mx = 0; mx < nx; mx++) {
			float f = model[(size_t)my * nx + mx];
			if (f == 0)
				continue;
			for (int iy = my - rad; iy <= my + rad; iy++)
				for (int ix = mx - rad; ix <= mx + rad; ix++)
					if (ix >= 0 && iy >= 0 && ix < nx && iy < ny)
						image[(size_t)iy * nx + ix] += (float)(
							f * beamfit_gauss(b, -(ix - mx) * cell_rad,
									  (iy - my) * cell_rad));
		}
}
