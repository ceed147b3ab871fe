/*
 * tests/photometry/test_forced.c — forced photometry on synthetic images:
 * injected restoring-beam Gaussians of known amplitude in beam-correlated
 * noise behind a primary beam (bias, error calibration), a close pair fitted
 * jointly, and the edge / NaN / PB / degenerate flags.
 *
 * `test_forced --bench` times the photometry of ~500 sources on a 2048² image
 * (see docs/photometry.md).
 */
#include "tests/test.h"

#include <stdint.h>
#include <time.h>

#include "core/err.h"
#include "photometry/forced.h"
#include "tests/photometry/photsynth.h"

#define ARCSEC (M_PI / 180.0 / 3600.0)

/* Fill out[nx*ny] with noise of rms `rms` whose correlation function is the
 * restoring beam: white noise convolved with the beam at sqrt(2)× smaller
 * scale (a Gaussian convolved with itself is the beam). */
static void correlated_noise(const forced_image *img, double rms, float *out, double *white)
{
	int nx = img->nx, ny = img->ny;
	for (int i = 0; i < nx * ny; i++)
		white[i] = grand();
	int h = (int)ceil(img->bmaj_rad / img->cell_rad * 0.9);
	int w = 2 * h + 1;
	double *ker = malloc((size_t)w * w * sizeof *ker);
	double ksum2 = 0;
	for (int y = -h; y <= h; y++)
		for (int x = -h; x <= h; x++) {
			double k = forced_beam(img, x * M_SQRT2, y * M_SQRT2);
			ker[(y + h) * w + x + h] = k;
			ksum2 += k * k;
		}
	double scale = rms / sqrt(ksum2);
	for (int y = 0; y < ny; y++)
		for (int x = 0; x < nx; x++) {
			double acc = 0;
			for (int v = -h; v <= h; v++) {
				const double *row = white + (size_t)((y + v + ny) % ny) * nx;
				const double *kr = ker + (v + h) * w + h;
				if (x - h >= 0 && x + h < nx) {
					for (int u = -h; u <= h; u++)
						acc += kr[u] * row[x + u];
				} else {
					for (int u = -h; u <= h; u++)
						acc += kr[u] * row[(x + u + nx) % nx];
				}
			}
			out[y * nx + x] = (float)(acc * scale);
		}
	free(ker);
}

static void add_source(const forced_image *img, float *data, double x0, double y0, double amp)
{
	int h = (int)ceil(img->bmaj_rad / img->cell_rad * 3);
	for (int y = (int)y0 - h; y <= (int)y0 + h; y++)
		for (int x = (int)x0 - h; x <= (int)x0 + h; x++)
			if (x >= 0 && y >= 0 && x < img->nx && y < img->ny)
				data[y * img->nx + x] += (float)(amp * forced_beam(img, x - x0, y - y0));
}

static void setup(forced_image *img, sinproj *sp, int nx, int ny)
{
	memset(img, 0, sizeof *img);
	sp->ra0 = 128.7 * M_PI / 180;
	sp->dec0 = 55.2 * M_PI / 180;
	sp->cx = nx / 2;
	sp->cy = ny / 2;
	sp->cell = 3 * ARCSEC;
	img->nx = nx;
	img->ny = ny;
	img->cell_rad = sp->cell;
	img->bmaj_rad = 30 * ARCSEC;  /* 10 px */
	img->bmin_rad = 18 * ARCSEC;  /* 6 px */
	img->bpa_rad = 30 * M_PI / 180;
	img->sky2pix = sin_s2p;
	img->sky2pix_ctx = sp;
}

/* The matched filter is exact on a noiseless image. */
static void test_noiseless_exact(void)
{
	forced_image img;
	sinproj sp;
	forced_params p;
	char errbuf[ERR_LEN] = "", *err = errbuf;
	setup(&img, &sp, 128, 128);
	forced_params_default(&p);
	float *d = calloc(128 * 128, sizeof *d);
	/* tiny noise so the rms map is defined (1e-6 of the source) */
	for (int i = 0; i < 128 * 128; i++)
		d[i] = (float)(2.5e-6 * (urand() - 0.5));
	add_source(&img, d, 60.3, 70.8, 2.5);
	img.data = d;
	double ra, dec;
	sin_p2s(&sp, 60.3, 70.8, &ra, &dec);
	forced_result r;
	CHECK_OK(forced_measure(&img, NULL, &p, &ra, &dec, 1, &r, err, ERR_LEN), err);
	CHECK_NEAR(r.x_px, 60.3, 1e-6);
	CHECK_NEAR(r.y_px, 70.8, 1e-6);
	CHECK_NEAR(r.flux_jy, 2.5, 2.5e-5);
	CHECK(r.flags == 0, "flags %#x", r.flags);
	CHECK(r.group_size == 1, "r.group_size == 1");
	free(d);
}

/* Injected sources (SNR 50 at the centre) in correlated noise behind a
 * Gaussian primary beam: mean bias < 1 %, and the quoted errors match the
 * scatter of (F - F_true)/err (std within 15 % of 1). */
static void test_bias_and_errors(void)
{
	enum { NX = 384, NY = 384, NREAL = 5, SPACING = 48 };
	forced_image img;
	sinproj sp;
	forced_params p;
	char errbuf[ERR_LEN] = "", *err = errbuf;
	setup(&img, &sp, NX, NY);
	forced_params_default(&p);
	p.threads = 2;
	const double rms = 1e-3, amp = 0.05;
	float *noise = malloc(NX * NY * sizeof *noise);
	float *pbcor = malloc(NX * NY * sizeof *pbcor);
	float *pb = malloc(NX * NY * sizeof *pb);
	double *white = malloc(NX * NY * sizeof *white);
	/* a primary beam falling to ~0.45 at the corners */
	for (int y = 0; y < NY; y++)
		for (int x = 0; x < NX; x++) {
			double r2 = (x - NX / 2.0) * (x - NX / 2.0) + (y - NY / 2.0) * (y - NY / 2.0);
			pb[y * NX + x] = (float)exp(-r2 / (2 * 240.0 * 240.0));
		}
	img.pb = pb;
	double sum_ratio = 0, sum_z = 0, sum_z2 = 0, sum_rms_ratio = 0;
	int nmeas = 0;
	for (int real = 0; real < NREAL; real++) {
		correlated_noise(&img, rms, noise, white);
		float *sky = calloc(NX * NY, sizeof *sky);
		int ns = 0;
		double ra[64], dec[64], truth[64], xs[64], ys[64];
		for (int gy = 0; gy < NY / SPACING; gy++)
			for (int gx = 0; gx < NX / SPACING; gx++) {
				double x = SPACING / 2 + gx * SPACING + urand() - 0.5;
				double y = SPACING / 2 + gy * SPACING + urand() - 0.5;
				size_t k = (size_t)lround(y) * NX + (size_t)lround(x);
				truth[ns] = amp * (0.8 + 0.4 * urand()); /* on the sky */
				xs[ns] = x;
				ys[ns] = y;
				/* the apparent source is attenuated by the pb at its position */
				add_source(&img, sky, x, y, truth[ns] * pb[k]);
				sin_p2s(&sp, x, y, &ra[ns], &dec[ns]);
				ns++;
			}
		for (int i = 0; i < NX * NY; i++)
			pbcor[i] = (sky[i] + noise[i]) / pb[i];
		img.data = pbcor;
		forced_result res[64];
		CHECK_OK(forced_measure(&img, NULL, &p, ra, dec, ns, res, err, ERR_LEN), err);
		for (int i = 0; i < ns; i++) {
			CHECK(res[i].flags == 0, "source %d flags %#x", i, res[i].flags);
			if (res[i].flags & FORCED_BAD)
				continue;
			/* truth was injected with the pb at the nearest pixel; the
			 * pbcor amplitude at the exact position differs by the pb
			 * gradient over half a pixel (< 1e-4 here) */
			size_t k = (size_t)lround(ys[i]) * NX + (size_t)lround(xs[i]);
			double expect_rms = rms / pb[k];
			sum_rms_ratio += res[i].rms_jy / expect_rms;
			sum_ratio += res[i].flux_jy / truth[i];
			double z = (res[i].flux_jy - truth[i]) / res[i].flux_err_jy;
			sum_z += z;
			sum_z2 += z * z;
			nmeas++;
		}
		free(sky);
	}
	double bias = sum_ratio / nmeas - 1;
	double zmean = sum_z / nmeas, zstd = sqrt(sum_z2 / nmeas - zmean * zmean);
	double rms_ratio = sum_rms_ratio / nmeas;
	printf("# forced: %d measurements, flux bias %+.4f %%, (F-Ftrue)/err mean %+.3f std %.3f, "
	       "rms map / true rms %.3f\n", nmeas, 100 * bias, zmean, zstd, rms_ratio);
	CHECK(nmeas >= 300, "nmeas >= 300");
	CHECK(fabs(bias) < 0.01, "bias %g", bias);
	CHECK(fabs(zstd - 1) < 0.15, "error calibration: std of z = %g", zstd);
	CHECK(fabs(zmean) < 0.25, "mean z %g", zmean);
	CHECK(fabs(rms_ratio - 1) < 0.1, "rms map ratio %g", rms_ratio);
	free(noise);
	free(pbcor);
	free(pb);
	free(white);
}

/* Two sources 0.8 beam apart: the joint fit recovers both (a separate fit of
 * each would absorb the neighbour's wing); both are flagged blended and their
 * errors are inflated relative to an isolated source. */
static void test_joint_pair(void)
{
	enum { NX = 160, NY = 160 };
	forced_image img;
	sinproj sp;
	forced_params p;
	char errbuf[ERR_LEN] = "", *err = errbuf;
	setup(&img, &sp, NX, NY);
	forced_params_default(&p);
	float *d = malloc(NX * NY * sizeof *d);
	double *white = malloc(NX * NY * sizeof *white);
	correlated_noise(&img, 1e-3, d, white);
	double x1 = 70.2, y1 = 80.1, x2 = x1 + 8 * cos(0.4), y2 = y1 + 8 * sin(0.4);
	add_source(&img, d, x1, y1, 1.0);
	add_source(&img, d, x2, y2, 0.5);
	add_source(&img, d, 120.0, 40.0, 0.3); /* isolated, for comparison */
	img.data = d;
	double ra[3], dec[3];
	sin_p2s(&sp, x1, y1, &ra[0], &dec[0]);
	sin_p2s(&sp, x2, y2, &ra[1], &dec[1]);
	sin_p2s(&sp, 120.0, 40.0, &ra[2], &dec[2]);
	forced_result r[3];
	CHECK_OK(forced_measure(&img, NULL, &p, ra, dec, 3, r, err, ERR_LEN), err);
	CHECK(r[0].group_size == 2 && r[1].group_size == 2, "%d %d", r[0].group_size, r[1].group_size);
	CHECK(r[0].flags & FORCED_BLENDED, "r[0].flags & FORCED_BLENDED");
	CHECK(r[1].flags & FORCED_BLENDED, "r[1].flags & FORCED_BLENDED");
	CHECK(!(r[2].flags & FORCED_BLENDED), "!(r[2].flags & FORCED_BLENDED)");
	CHECK(fabs(r[0].flux_jy - 1.0) < 4 * r[0].flux_err_jy, "%g ± %g", r[0].flux_jy, r[0].flux_err_jy);
	CHECK(fabs(r[1].flux_jy - 0.5) < 4 * r[1].flux_err_jy, "%g ± %g", r[1].flux_jy, r[1].flux_err_jy);
	CHECK(fabs(r[2].flux_jy - 0.3) < 4 * r[2].flux_err_jy, "%g ± %g", r[2].flux_jy, r[2].flux_err_jy);

	/* Without the joint fit (group_beams = 0) the brighter source's wing
	 * leaks into its neighbour: the joint fit is the one that is right. */
	forced_params p0 = p;
	p0.group_beams = 0;
	forced_result s[3];
	CHECK_OK(forced_measure(&img, NULL, &p0, ra, dec, 3, s, err, ERR_LEN), err);
	CHECK(s[1].flux_jy > 0.5 + 0.05, "separate fit of the fainter source %g", s[1].flux_jy);
	CHECK(fabs(r[1].flux_jy - 0.5) < 0.2 * fabs(s[1].flux_jy - 0.5), "joint %g separate %g",
	      r[1].flux_jy, s[1].flux_jy);
	free(d);
	free(white);
}

/* Edge, NaN, off-image, below-PB-cut and inseparable cases are flagged. */
static void test_flags(void)
{
	enum { NX = 200, NY = 200 };
	forced_image img;
	sinproj sp;
	forced_params p;
	char errbuf[ERR_LEN] = "", *err = errbuf;
	setup(&img, &sp, NX, NY);
	forced_params_default(&p);
	float *d = malloc(NX * NY * sizeof *d);
	float *pb = malloc(NX * NY * sizeof *pb);
	double *white = malloc(NX * NY * sizeof *white);
	correlated_noise(&img, 1e-3, d, white);
	for (int i = 0; i < NX * NY; i++)
		pb[i] = (i % NX) > 180 ? 0.1f : 1.0f; /* x > 180: below the cut */
	img.pb = pb;
	struct { double x, y; unsigned want, notwant; int valid; } c[] = {
		{ 100, 100, 0, FORCED_BAD | FORCED_EDGE | FORCED_NAN, 1 },   /* clean */
		{ 8, 100, FORCED_EDGE, FORCED_BAD, 1 },                      /* box cut, core in */
		{ 2, 60, FORCED_CORE_MISSING, 0, 0 },                        /* core off image */
		{ -30, 50, FORCED_OUTSIDE, 0, 0 },                           /* off image */
		{ 190, 100, FORCED_PB_CUT, 0, 0 },                           /* pb 0.1 < 0.2 */
		{ 50, 150, FORCED_NAN, FORCED_BAD, 1 },                      /* NaN in the box rim */
		{ 140, 150, FORCED_CORE_MISSING, 0, 0 },                     /* NaN on the peak */
		{ 100, 40, FORCED_DEGENERATE | FORCED_BLENDED, 0, 0 },       /* 0.02 beam pair */
		{ 100.2, 40, FORCED_DEGENERATE | FORCED_BLENDED, 0, 0 },
	};
	int nc = sizeof c / sizeof c[0];
	for (int i = 0; i < nc; i++)
		if (c[i].x >= 0)
			add_source(&img, d, c[i].x, c[i].y, 0.2);
	d[(150 + 12) * NX + 50 + 12] = NAN; /* rim of source 5's box */
	d[150 * NX + 140] = NAN;            /* peak of source 6 */
	img.data = d;
	double ra[16], dec[16];
	for (int i = 0; i < nc; i++)
		sin_p2s(&sp, c[i].x, c[i].y, &ra[i], &dec[i]);
	forced_result r[16];
	CHECK_OK(forced_measure(&img, NULL, &p, ra, dec, nc, r, err, ERR_LEN), err);
	for (int i = 0; i < nc; i++) {
		CHECK((r[i].flags & c[i].want) == c[i].want, "case %d flags %#x want %#x", i,
		      r[i].flags, c[i].want);
		CHECK(!(r[i].flags & c[i].notwant), "case %d flags %#x must not have %#x", i,
		      r[i].flags, c[i].notwant);
		if (c[i].valid)
			CHECK(fabs(r[i].flux_jy - 0.2) < 5 * r[i].flux_err_jy, "case %d flux %g ± %g",
			      i, r[i].flux_jy, r[i].flux_err_jy);
		else
			CHECK(isnan(r[i].flux_jy) && isnan(r[i].flux_err_jy), "case %d flux %g", i,
			      r[i].flux_jy);
	}
	/* bad inputs are refused */
	forced_image bad = img;
	bad.bmaj_rad = 0;
	CHECK(forced_measure(&bad, NULL, &p, ra, dec, 1, r, err, ERR_LEN) == -EINVAL, "forced_measure(&bad, NULL, &p, ra, dec, 1, r, err, ERR_LEN) == -EINVAL");
	free(d);
	free(pb);
	free(white);
}

/* --bench: ~500 sources on a 2048² image, 2 threads */
static int bench(void)
{
	enum { NX = 2048, NY = 2048, NSRC = 500 };
	forced_image img;
	sinproj sp;
	forced_params p;
	char errbuf[ERR_LEN] = "", *err = errbuf;
	setup(&img, &sp, NX, NY);
	img.bmaj_rad = 42 * ARCSEC;
	img.bmin_rad = 21 * ARCSEC;
	forced_params_default(&p);
	p.threads = 2;
	float *d = malloc((size_t)NX * NY * sizeof *d);
	for (size_t i = 0; i < (size_t)NX * NY; i++)
		d[i] = (float)(1e-3 * grand());
	double ra[NSRC], dec[NSRC];
	for (int i = 0; i < NSRC; i++) {
		double x = 20 + urand() * (NX - 40), y = 20 + urand() * (NY - 40);
		add_source(&img, d, x, y, 0.01 + urand());
		sin_p2s(&sp, x, y, &ra[i], &dec[i]);
	}
	img.data = d;
	forced_result *r = malloc(NSRC * sizeof *r);
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	forced_rms_map *m = NULL;
	if (forced_rms_map_new(&img, &p, &m, err, ERR_LEN)) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (forced_measure(&img, m, &p, ra, dec, NSRC, r, err, ERR_LEN)) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	printf("forced photometry bench: %dx%d image, %d sources, 2 threads: rms map %.3f s, "
	       "fits %.3f s\n", NX, NY, NSRC,
	       (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec),
	       (t2.tv_sec - t1.tv_sec) + 1e-9 * (t2.tv_nsec - t1.tv_nsec));
	forced_rms_map_free(m);
	free(r);
	free(d);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--bench"))
		return bench();
	RUN(test_noiseless_exact);
	RUN(test_bias_and_errors);
	RUN(test_joint_pair);
	RUN(test_flags);
	return TEST_DONE();
}
