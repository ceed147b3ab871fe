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

void beamfit_restore(float *image, const float *model, int nx, int ny, double cell_rad,
		     const beamfit_beam *b, int nthreads)
{
	int rad = (int)ceil(2.0 * b->bmaj_rad / cell_rad) + 1;
	size_t ncomp = 0, *rowstart = NULL;
	int *cx = NULL;

	if (nthreads <= 0)
		nthreads = omp_get_max_threads();
	rowstart = malloc((ny + 1) * sizeof *rowstart);
	if (!rowstart)
		goto slow;
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
		for (int my = y0; my <= y1; my++) {
			double dm = (iy - my) * cell_rad;
			for (size_t c = rowstart[my]; c < rowstart[my + 1]; c++) {
				int mx = cx[c];
				float f = model[(size_t)my * nx + mx];
				int x0 = mx - rad < 0 ? 0 : mx - rad, x1 = mx + rad >= nx ? nx - 1 : mx + rad;
				for (int ix = x0; ix <= x1; ix++)
					image[(size_t)iy * nx + ix] +=
						(float)(f * beamfit_gauss(b, -(ix - mx) * cell_rad, dm));
			}
		}
	}
	free(rowstart);
	free(cx);
	return;
slow:
	/* Out of memory for the component index: the same sum, serially. */
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
