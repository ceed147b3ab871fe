/*
 * tests/imaging/test_grid.c — the gridder against an explicit DFT, and the
 * degridder as its adjoint.  The field is wide (7° at 3.4′ pixels) and w
 * reaches ~4 turns of phase at the corners, so a missing or wrong w-term, a
 * wrong sign or a wrong gridding correction fails by orders of magnitude.
 */
#include <complex.h>

#include "core/err.h"
#include "core/vis.h"
#include "imaging/grid.h"
#include "tests/test.h"

#define NX 128
#define NY 96
#define NROW 300
#define NCHAN 3
#define CELL 1e-3

static double uvw[NROW * 3], freq[NCHAN];
static float wgt[NROW * NCHAN];

static double urand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return ((*s >> 8) & 0xffffff) / 16777216.0;
}

static const double ufrac = 0.35; /* |u|, |v| <= ufrac/cell */

static void make_data(double wscale)
{
	unsigned s = 42;
	for (int c = 0; c < NCHAN; c++)
		freq[c] = 1.3e9 + c * 0.08e9;
	/* |u|, |v| up to ufrac/cell wavelengths at the top frequency. */
	double umax_m = ufrac / CELL * VIS_C_M_S / freq[NCHAN - 1];
	for (int r = 0; r < NROW; r++) {
		uvw[3 * r] = (2 * urand(&s) - 1) * umax_m;
		uvw[3 * r + 1] = (2 * urand(&s) - 1) * umax_m;
		uvw[3 * r + 2] = (2 * urand(&s) - 1) * wscale;
		for (int c = 0; c < NCHAN; c++)
			wgt[r * NCHAN + c] = (float)(0.5 + urand(&s));
	}
	wgt[7] = 0; /* a flagged sample must be ignored */
}

static void pix_lmn(int ix, int iy, double *l, double *m, double *nm1)
{
	*l = -(ix - NX / 2) * CELL;
	*m = (iy - NY / 2) * CELL;
	*nm1 = sqrt(1 - *l * *l - *m * *m) - 1;
}

static double phase(int k, double l, double m, double nm1)
{
	int r = k / NCHAN, c = k % NCHAN;
	double s = freq[c] / VIS_C_M_S;
	return 2 * M_PI * s * (uvw[3 * r] * l + uvw[3 * r + 1] * m + uvw[3 * r + 2] * nm1);
}

static grid_plan *plan(int wstack, double eps)
{
	grid_params p;
	grid_plan *g = NULL;
	char err[ERR_LEN] = "";
	grid_params_default(&p);
	p.nx = NX;
	p.ny = NY;
	p.cell_rad = CELL;
	p.epsilon = eps;
	p.wstacking = wstack;
	CHECK_OK(grid_plan_new(&p, &g, err, sizeof err), err);
	grid_uvdata d = { NROW, NCHAN, uvw, freq, wgt };
	CHECK_OK(grid_plan_set_data(g, &d, err, sizeof err), err);
	return g;
}

static void check_dirty(int wstack, double eps, double wscale)
{
	static float complex vis[NROW * NCHAN];
	static float img[NX * NY];
	unsigned s = 7;
	double num = 0, den = 0;

	make_data(wscale);
	for (int k = 0; k < NROW * NCHAN; k++)
		vis[k] = (float)(urand(&s) - 0.5) + I * (float)(urand(&s) - 0.5);
	grid_plan *g = plan(wstack, eps);
	if (!g)
		return;
	grid_info inf;
	grid_get_info(g, &inf);
	CHECK(inf.ndropped == 0, "dropped %zu", inf.ndropped);
	CHECK(inf.nvis == NROW * NCHAN - 1, "nvis %zu", inf.nvis);
	CHECK_OK(grid_dirty(g, vis, img), NULL);
	for (int iy = 0; iy < NY; iy++)
		for (int ix = 0; ix < NX; ix++) {
			double l, m, nm1, re = 0;
			pix_lmn(ix, iy, &l, &m, &nm1);
			for (int k = 0; k < NROW * NCHAN; k++) {
				double ph = phase(k, l, m, wstack ? nm1 : 0);
				re += wgt[k] * (crealf(vis[k]) * cos(ph) - cimagf(vis[k]) * sin(ph));
			}
			double d = img[iy * NX + ix] - re;
			num += d * d;
			den += re * re;
		}
	double rel = sqrt(num / den);
	printf("# dirty vs DFT: wstacking %d eps %g W %d planes %d: L2 relative error %.3g\n",
	       wstack, eps, inf.support, inf.nplanes, rel);
	CHECK(rel < eps, "relative error %g > %g", rel, eps);
	grid_plan_free(g);
}

static void check_degrid(int wstack, double eps, double wscale)
{
	static float complex vis[NROW * NCHAN];
	static float img[NX * NY];
	unsigned s = 9;
	double num = 0, den = 0;

	make_data(wscale);
	for (int j = 0; j < NX * NY; j++)
		img[j] = (urand(&s) < 0.02) ? (float)(urand(&s) * 2 - 0.5) : 0;
	grid_plan *g = plan(wstack, eps);
	if (!g)
		return;
	CHECK_OK(grid_degrid(g, img, vis), NULL);
	CHECK(vis[7] == 0, "unselected sample not zero");
	for (int k = 0; k < NROW * NCHAN; k++) {
		if (k == 7)
			continue;
		double re = 0, im = 0;
		for (int iy = 0; iy < NY; iy++)
			for (int ix = 0; ix < NX; ix++) {
				float x = img[iy * NX + ix];
				if (x == 0)
					continue;
				double l, m, nm1;
				pix_lmn(ix, iy, &l, &m, &nm1);
				double ph = phase(k, l, m, wstack ? nm1 : 0);
				re += x * cos(ph);
				im -= x * sin(ph);
			}
		num += pow(crealf(vis[k]) - re, 2) + pow(cimagf(vis[k]) - im, 2);
		den += re * re + im * im;
	}
	double rel = sqrt(num / den);
	printf("# degrid vs DFT: wstacking %d eps %g: L2 relative error %.3g\n", wstack, eps, rel);
	CHECK(rel < eps, "relative error %g > %g", rel, eps);
	grid_plan_free(g);
}

static void test_dirty_wstack(void)
{
	check_dirty(1, 1e-4, 1000);
	check_dirty(1, 1e-6, 1000);
}

static void test_dirty_2d(void)
{
	/* Without w-stacking the w-term is ignored: compare with a DFT without it. */
	check_dirty(0, 1e-4, 1000);
}

static void test_degrid_wstack(void)
{
	check_degrid(1, 1e-4, 1000);
	check_degrid(1, 1e-5, 300);
}

static void test_degrid_2d(void)
{
	check_degrid(0, 1e-4, 0);
}

static void check_adjoint(int wstack)
{
	static float complex vis[NROW * NCHAN], y[NROW * NCHAN];
	static float img[NX * NY], x[NX * NY];
	unsigned s = 11;

	make_data(1000);
	for (int j = 0; j < NX * NY; j++)
		x[j] = (float)(urand(&s) - 0.5);
	for (int k = 0; k < NROW * NCHAN; k++)
		y[k] = (float)(urand(&s) - 0.5) + I * (float)(urand(&s) - 0.5);
	y[7] = 0; /* unselected: both sides ignore it */
	grid_plan *g = plan(wstack, 1e-4);
	if (!g)
		return;
	/* dirty applies the weights: ⟨G x, W y⟩ = ⟨x, G* W y⟩. */
	CHECK_OK(grid_degrid(g, x, vis), NULL);
	CHECK_OK(grid_dirty(g, y, img), NULL);
	double a = 0, b = 0, na = 0;
	for (int k = 0; k < NROW * NCHAN; k++) {
		a += wgt[k] * (crealf(vis[k]) * crealf(y[k]) + cimagf(vis[k]) * cimagf(y[k]));
		na += fabs(wgt[k] * crealf(vis[k]) * crealf(y[k])) +
		      fabs(wgt[k] * cimagf(vis[k]) * cimagf(y[k]));
	}
	for (int j = 0; j < NX * NY; j++)
		b += (double)x[j] * img[j];
	printf("# adjoint (wstacking %d): <Gx,y> = %.9g  <x,G*y> = %.9g  rel %.2g\n", wstack, a, b,
	       fabs(a - b) / na);
	CHECK(fabs(a - b) < 1e-5 * na, "not adjoint: %g vs %g", a, b);
	grid_plan_free(g);
}

static void test_adjoint(void)
{
	check_adjoint(1);
	check_adjoint(0);
}

static void test_point_source_psf(void)
{
	/* A unit point source at the centre: every visibility 1, the dirty image
	 * normalised by Σw peaks at exactly 1 in the centre pixel. */
	static float img[NX * NY];
	make_data(1000);
	grid_plan *g = plan(1, 1e-4);
	if (!g)
		return;
	CHECK_OK(grid_dirty(g, NULL, img), NULL);
	double sw = 0;
	for (int k = 0; k < NROW * NCHAN; k++)
		sw += wgt[k];
	CHECK_NEAR(img[(NY / 2) * NX + NX / 2] / sw, 1.0, 1e-4);
	grid_plan_free(g);
}

static void test_bad_params(void)
{
	grid_params p;
	grid_plan *g = NULL;
	char err[ERR_LEN] = "";
	grid_params_default(&p);
	p.nx = 15;
	CHECK(grid_plan_new(&p, &g, err, sizeof err) == -EINVAL);
	CHECK(g == NULL);
	CHECK(strstr(err, "size") != NULL, "%s", err);
	CHECK(grid_good_size(1001) == 1008);
	CHECK(grid_good_size(8192) == 8192);
}

int main(void)
{
	RUN(test_dirty_wstack);
	RUN(test_dirty_2d);
	RUN(test_degrid_wstack);
	RUN(test_degrid_2d);
	RUN(test_adjoint);
	RUN(test_point_source_psf);
	RUN(test_bad_params);
	return TEST_DONE();
}
