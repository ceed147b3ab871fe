/*
 * tests/imaging/test_grid.c — the gridder against an explicit DFT, and the
 * degridder as its adjoint.  The field is wide (7° at 3.4′ pixels) and w
 * reaches ~4 turns of phase at the corners, so a missing or wrong w-term, a
 * wrong sign or a wrong gridding correction fails by orders of magnitude.
 */
#include <complex.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "core/vis.h"
#include "imaging/grid.h"
#include "imaging/proj.h"
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

/* The slant of the data and of the image (0 for the orthographic tests). */
static double gxi, geta;
static int gwkernel;
/* grid_params.degrid_dft of plan(): the FFT path unless a test asks. */
static int gdft = GRID_DFT_NEVER;

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
		/* Random w about the plane w = −ξu − ηv (the plane itself when
		 * the slant is 0 and wscale the whole spread). */
		uvw[3 * r + 2] = -gxi * uvw[3 * r] - geta * uvw[3 * r + 1] +
				 (2 * urand(&s) - 1) * wscale;
		for (int c = 0; c < NCHAN; c++)
			wgt[r * NCHAN + c] = (float)(0.5 + urand(&s));
	}
	wgt[7] = 0; /* a flagged sample must be ignored */
}

/* Direction cosines of pixel (ix, iy) in the (slant) SIN projection:
 * X = l + ξ(1 − n), Y = m + η(1 − n), solved here by fixed-point iteration
 * rather than proj.c's closed form, so the two are checked against each
 * other. */
static void pix_lmn(int ix, int iy, double *l, double *m, double *nm1)
{
	double X = -(ix - NX / 2) * CELL, Y = (iy - NY / 2) * CELL, t = 0;
	for (int it = 0; it < 60; it++) {
		*l = X - gxi * t;
		*m = Y - geta * t;
		t = 1 - sqrt(1 - *l * *l - *m * *m);
	}
	*l = X - gxi * t;
	*m = Y - geta * t;
	*nm1 = -t;
}

/* The phase of the dirty operator, −2π (u l + v m + w (n − 1)) (grid.h): the
 * imaging kernel of data that go as e^{+2πi ...} (core/vis.h); the degridder
 * uses its negative. */
static double phase(int k, double l, double m, double nm1)
{
	int r = k / NCHAN, c = k % NCHAN;
	double s = freq[c] / VIS_C_M_S;
	return -2 * M_PI * s * (uvw[3 * r] * l + uvw[3 * r + 1] * m + uvw[3 * r + 2] * nm1);
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
	p.xi = gxi;
	p.eta = geta;
	p.wkernel = gwkernel;
	p.degrid_dft = gdft;
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
	printf("# dirty vs DFT: wstacking %d slant (%g, %g) eps %g W %d %s planes %d: L2 relative "
	       "error %.3g\n", wstack, gxi, geta, eps, inf.support,
	       inf.wkernel == GRID_W_LAGRANGE ? "Lagrange" : "ES", inf.nplanes, rel);
	CHECK(rel < eps, "relative error %g > %g", rel, eps);
	grid_plan_free(g);
}

static void check_degrid(int wstack, double eps, double wscale);

/* The direct-sum prediction of sparse models (GRID_DFT_ALWAYS) against the
 * test's own DFT: exact to float rounding, orthographic, slant with
 * Lagrange planes, without w-stacking, and with unequally spaced channels
 * (no phase stepping); GRID_DFT_AUTO takes it for a few pixels and the FFT
 * path for many. */
static void check_direct(int wstack, int uneven)
{
	static float complex vis[NROW * NCHAN];
	static float img[NX * NY];
	double num = 0, den = 0;

	make_data(gwkernel ? 10 : 1000);
	if (uneven)
		freq[1] = 1.31e9;
	memset(img, 0, sizeof img);
	img[(NY / 2) * NX + NX / 2] = 2.0f;  /* the phase centre */
	img[(NY / 2 + 17) * NX + NX / 2 - 30] = 0.7f;
	img[(NY / 2 - 40) * NX + NX / 2 + 51] = -0.3f;
	img[3 * NX + 5] = 0.25f;             /* near a corner: large n − 1 */
	gdft = GRID_DFT_ALWAYS;
	grid_plan *g = plan(wstack, 1e-4);
	gdft = GRID_DFT_NEVER;
	if (!g)
		return;
	CHECK_OK(grid_degrid(g, img, vis), NULL);
	grid_info inf;
	grid_get_info(g, &inf);
	CHECK(inf.ndegrid_dft == 1, "direct sum not taken (%d)", inf.ndegrid_dft);
	CHECK(vis[7] == 0, "unselected sample not zero");
	for (int k = 0; k < NROW * NCHAN; k++) {
		if (k == 7)
			continue;
		double re = 0, im = 0;
		for (int j = 0; j < NX * NY; j++) {
			if (img[j] == 0)
				continue;
			double l, m, nm1;
			pix_lmn(j % NX, j / NX, &l, &m, &nm1);
			double ph = phase(k, l, m, wstack ? nm1 : 0);
			re += img[j] * cos(ph);
			im -= img[j] * sin(ph);
		}
		num += pow(crealf(vis[k]) - re, 2) + pow(cimagf(vis[k]) - im, 2);
		den += re * re + im * im;
	}
	double rel = sqrt(num / den);
	printf("# direct-sum degrid vs DFT: wstacking %d slant (%g, %g)%s: L2 relative error "
	       "%.3g\n", wstack, gxi, geta, uneven ? " uneven channels" : "", rel);
	CHECK(rel < 1e-6, "relative error %g", rel);
	grid_plan_free(g);
	make_data(1000); /* restore the channels */
}

static void test_degrid_direct(void)
{
	check_direct(1, 0);
	check_direct(1, 1);
	check_direct(0, 0);
	gxi = 0.35, geta = -0.8, gwkernel = GRID_W_LAGRANGE;
	check_direct(1, 0);
	gxi = geta = 0, gwkernel = GRID_W_AUTO;

	/* AUTO: one pixel is predicted by the direct sum (nothing else is
	 * cheaper); a dense model by the FFT path. */
	static float complex vis[NROW * NCHAN];
	static float img[NX * NY];
	make_data(1000);
	memset(img, 0, sizeof img);
	img[(NY / 2) * NX + NX / 2 + 3] = 1.0f;
	gdft = GRID_DFT_AUTO;
	grid_plan *g = plan(1, 1e-4);
	gdft = GRID_DFT_NEVER;
	if (!g)
		return;
	grid_info inf;
	CHECK_OK(grid_degrid(g, img, vis), NULL);
	grid_get_info(g, &inf);
	CHECK(inf.ndegrid_dft == 1, "AUTO did not take the direct sum for one pixel");
	for (int j = 0; j < NX * NY; j++)
		img[j] = (float)(j % 7) - 3;
	CHECK_OK(grid_degrid(g, img, vis), NULL);
	grid_get_info(g, &inf);
	CHECK(inf.ndegrid_dft == 1, "AUTO took the direct sum for a dense model");
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
	printf("# degrid vs DFT: wstacking %d slant (%g, %g) eps %g: L2 relative error %.3g\n",
	       wstack, gxi, geta, eps, rel);
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
	if (gwkernel)
		gxi = 0.35, geta = -0.8;
	static float complex vis[NROW * NCHAN], y[NROW * NCHAN];
	static float img[NX * NY], x[NX * NY];
	unsigned s = 11;

	make_data(gwkernel ? 10 : 1000);
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
	printf("# adjoint (wstacking %d, %s): <Gx,y> = %.9g  <x,G*y> = %.9g  rel %.2g\n", wstack,
	       gwkernel == GRID_W_LAGRANGE ? "slant, Lagrange" : "orthographic", a, b,
	       fabs(a - b) / na);
	CHECK(fabs(a - b) < 1e-5 * na, "not adjoint: %g vs %g", a, b);
	grid_plan_free(g);
}

static void test_adjoint(void)
{
	check_adjoint(1);
	check_adjoint(0);
	gwkernel = GRID_W_LAGRANGE;
	check_adjoint(1);
	gwkernel = GRID_W_AUTO;
	gxi = geta = 0;
}

/* A nearly coplanar array seen in the slant projection of its plane: w' is
 * within ±wres of 0 while w itself reaches ~±0.9·ufrac/cell·λ; the gridder
 * must reproduce the DFT at the true directions of the slanted pixels. */
static void check_slant(int wkernel, double wres, double eps, int want_kernel, int max_planes)
{
	grid_info inf;
	gxi = 0.35;
	geta = -0.8;
	gwkernel = wkernel;
	make_data(wres);
	grid_plan *g = plan(1, eps);
	if (g) {
		grid_get_info(g, &inf);
		CHECK(inf.wkernel == want_kernel, "kernel %d, want %d", inf.wkernel, want_kernel);
		CHECK(inf.nplanes <= max_planes, "%d planes", inf.nplanes);
		grid_plan_free(g);
	}
	check_dirty(1, eps, wres);
	check_degrid(1, eps, wres);
	gxi = geta = 0;
	gwkernel = GRID_W_AUTO;
}

static void test_slant(void)
{
	/* ±10 m off the plane (~0.6 rad of w-phase at the corners of this 7°
	 * field): a few Lagrange planes, the cheaper choice. */
	check_slant(GRID_W_AUTO, 10, 1e-4, GRID_W_LAGRANGE, 5);
	check_slant(GRID_W_AUTO, 2, 1e-6, GRID_W_LAGRANGE, 6);
	/* ±30 m: more planes than ES needs, which is chosen; forced, Lagrange
	 * still reaches the accuracy. */
	check_slant(GRID_W_AUTO, 30, 1e-4, GRID_W_ES, 8);
	check_slant(GRID_W_LAGRANGE, 30, 1e-4, GRID_W_LAGRANGE, 8);
	/* Exactly planar: one plane, no w correction left to make. */
	check_slant(GRID_W_AUTO, 0, 1e-4, GRID_W_LAGRANGE, 1);
}

static void test_fit_wplane(void)
{
	/* The fit recovers the plane of the data, and declines random w. */
	double xi, eta;
	gxi = 0.35;
	geta = -0.8;
	make_data(2);
	grid_uvdata d = { NROW, NCHAN, uvw, freq, wgt };
	CHECK(grid_fit_wplane(&d, 2, &xi, &eta) == 1);
	CHECK_NEAR(xi, 0.35, 2e-3);
	CHECK_NEAR(eta, -0.8, 2e-3);
	gxi = geta = 0;
	make_data(1000);
	CHECK(grid_fit_wplane(&d, 2, &xi, &eta) == 0);
	CHECK(xi == 0 && eta == 0);
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

static const char *test_self; /* argv[0] */

static void test_wisdom(void)
{
	char path[1200], err[ERR_LEN] = "";
	struct stat st;
	grid_params p;
	grid_plan *g = NULL;

	snprintf(path, sizeof path, "%s/fftw.wisdom", test_tmpdir());
	CHECK(grid_wisdom_import(path) == -ENOENT); /* a first run: no file yet */
	grid_params_default(&p);
	p.nx = p.ny = 40; /* an FFT size no other test plans */
	CHECK_OK(grid_plan_new(&p, &g, err, sizeof err), err);
	grid_plan_free(g);
	CHECK(grid_wisdom_export(path) == 0);
	CHECK(stat(path, &st) == 0 && st.st_size > 0, "no wisdom written");
	char line[64];
	test_first_line(path, line, sizeof line);
	CHECK(strstr(line, "fftw") != NULL, "not FFTW wisdom: %s", line);
	/* Nothing new: the file is not rewritten. */
	unlink(path);
	CHECK(grid_wisdom_export(path) == 0);
	CHECK(stat(path, &st) != 0, "unchanged wisdom was written again");
	/* A new size adds wisdom, which is written. */
	p.nx = p.ny = 44;
	CHECK_OK(grid_plan_new(&p, &g, err, sizeof err), err);
	grid_plan_free(g);
	/* A directory that does not exist: an error, not a crash, and the new
	 * wisdom is still to be written. */
	CHECK(grid_wisdom_export("/nonexistent-dir/fftw.wisdom") == -ENOENT);
	CHECK(grid_wisdom_export(path) == 0);
	CHECK(stat(path, &st) == 0 && st.st_size > 0);
	/* What matters: a new process (the next `contimgctl process`, a
	 * restarted daemon) imports the file.  This binary re-run with
	 * --import-wisdom exits with grid_wisdom_import's result. */
	char cmd[1400];
	snprintf(cmd, sizeof cmd, "'%s' --import-wisdom '%s'", test_self, path);
	CHECK(system(cmd) == 0, "a new process cannot import the wisdom it wrote (%s)", cmd);
	/* Not wisdom at all: rejected, with -EILSEQ. */
	FILE *f = fopen(path, "w");
	if (f) {
		fputs("(fftw-3.3.10 fftwf_wisdom #x0 #x0 #x0 #x0\n)\n", f);
		fclose(f);
	}
	snprintf(cmd, sizeof cmd, "'%s' --import-wisdom '%s'", test_self, path);
	int rc = system(cmd);
	CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == EILSEQ, "foreign wisdom: status %d", rc);
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

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--import-wisdom"))
		return -grid_wisdom_import(argv[2]);
	test_self = argv[0];
	RUN(test_dirty_wstack);
	RUN(test_dirty_2d);
	RUN(test_degrid_wstack);
	RUN(test_degrid_2d);
	RUN(test_adjoint);
	RUN(test_degrid_direct);
	RUN(test_slant);
	RUN(test_fit_wplane);
	RUN(test_point_source_psf);
	RUN(test_wisdom);
	RUN(test_bad_params);
	return TEST_DONE();
}
