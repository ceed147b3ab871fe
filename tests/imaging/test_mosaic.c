/*
 * tests/imaging/test_mosaic.c — the PB-weighted linear mosaic (imaging/mosaic.h).
 *
 * Synthetic tiles are written here with CFITSIO: SIN images at dec +40° whose
 * pixel → sky mapping is computed independently of the code under test (the
 * analytic SIN inverse), a Gaussian primary beam centred on each tile, point
 * sources (Gaussians of known flux and position), optional correlated noise
 * with known σ.  The mosaics are checked against analytic expectations, and
 * positions are read back from the written FITS file with WCSLIB.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fitsio.h>
#include <wcslib/wcs.h>
#include <wcslib/wcshdr.h>

#include "core/err.h"
#include "imaging/mosaic.h"
#include "tests/test.h"

#define DEG (M_PI / 180.0)
#define ARCSEC (M_PI / 648000.0)

#define TILE_N 240              /* pixels per side */
#define CELL_ARCSEC 30.0        /* 2 degrees across */
#define PB_FWHM_DEG 1.2
#define SRC_SIGMA_ARCSEC 75.0   /* the sources' Gaussian σ (2.5 pixels) */
#define DEC0_DEG 40.0

typedef struct src { double ra_deg, dec_deg, flux_jy; } src;

typedef struct spec {
	double ra0_deg, dec0_deg;
	double sigma_jy;        /* NOISE keyword and, when noise != 0, the noise added */
	int noise;              /* add correlated Gaussian noise of σ sigma_jy (before pb) */
	uint64_t seed;
	double constant;        /* a constant sky value added everywhere (Jy/beam) */
	int nsrc;
	src s[4];
	double bmaj_arcsec, bmin_arcsec, bpa_deg;
	const char *name, *date_obs;
	double mjd_obs;
	char pbcor_path[512], pb_path[512];
} spec;

static double ang_dist(double ra1, double dec1, double ra2, double dec2)
{
	double c = sin(dec1) * sin(dec2) + cos(dec1) * cos(dec2) * cos(ra1 - ra2);
	return acos(fmin(1.0, fmax(-1.0, c)));
}

/* World coordinate (rad) of 0-based pixel (i, j) of an n×n SIN grid about
 * (ra0, dec0), reference pixel (n/2, n/2), cell c, CDELT1 < 0. */
static void pix2sky(double ra0, double dec0, double c, int n, double i, double j, double *ra,
		    double *dec)
{
	double l = -(i - n / 2) * c, m = (j - n / 2) * c, nn = sqrt(1 - l * l - m * m);
	*dec = asin(m * cos(dec0) + nn * sin(dec0));
	*ra = ra0 + atan2(l, nn * cos(dec0) - m * sin(dec0));
}

/* The same for the mosaic's (possibly non-square) grid. */
static void grid2sky(const mosaic_result *m, int i, int j, double *ra, double *dec)
{
	double l = -(i - m->nx / 2) * m->cell_rad, mm = (j - m->ny / 2) * m->cell_rad;
	double nn = sqrt(1 - l * l - mm * mm), d0 = m->dec0_rad;
	*dec = asin(mm * cos(d0) + nn * sin(d0));
	*ra = m->ra0_rad + atan2(l, nn * cos(d0) - mm * sin(d0));
}

static double pb_at(double ra0, double dec0, double ra, double dec)
{
	double s = PB_FWHM_DEG * DEG / (2 * sqrt(2 * log(2))), d = ang_dist(ra0, dec0, ra, dec);
	return exp(-d * d / (2 * s * s));
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double gauss(uint64_t *s)
{
	double u = ((rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
	double v = ((rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Unit-variance noise correlated over a few pixels (like an image's beam):
 * white noise convolved with a separable Gaussian kernel whose squares sum to
 * one, so each pixel still has variance 1. */
static void correlated_noise(float *out, int n, uint64_t seed)
{
	enum { H = 9 };
	double k[2 * H + 1], s2 = 0, ks = 3.0;
	int m = n + 2 * H;
	double *w = malloc(sizeof(double) * m * m), *t = malloc(sizeof(double) * m * n);

	for (int a = -H; a <= H; a++) {
		k[a + H] = exp(-a * a / (2 * ks * ks));
		s2 += k[a + H] * k[a + H];
	}
	for (int a = 0; a < 2 * H + 1; a++)
		k[a] /= sqrt(s2);
	for (int q = 0; q < m * m; q++)
		w[q] = gauss(&seed);
	for (int y = 0; y < m; y++) /* along x */
		for (int x = 0; x < n; x++) {
			double acc = 0;
			for (int a = 0; a < 2 * H + 1; a++)
				acc += k[a] * w[(size_t)y * m + x + a];
			t[(size_t)y * n + x] = acc;
		}
	for (int y = 0; y < n; y++) /* along y */
		for (int x = 0; x < n; x++) {
			double acc = 0;
			for (int a = 0; a < 2 * H + 1; a++)
				acc += k[a] * t[(size_t)(y + a) * n + x];
			out[(size_t)y * n + x] = (float)acc;
		}
	free(w);
	free(t);
}

static int write_fits(const char *path, const spec *sp, const float *data, const char *bunit)
{
	fitsfile *f = NULL;
	int st = 0;
	long naxes[4] = { TILE_N, TILE_N, 1, 1 };
	char cpath[600];
	double crpix = TILE_N / 2 + 1, cd1 = -CELL_ARCSEC / 3600, cd2 = CELL_ARCSEC / 3600, one = 1;
	double freq = 1.4e9, bw = 187.5e6, bmaj = sp->bmaj_arcsec / 3600,
	       bmin = sp->bmin_arcsec / 3600, bpa = sp->bpa_deg, lonpole = 180;

	snprintf(cpath, sizeof cpath, "!%s", path);
	fits_create_file(&f, cpath, &st);
	fits_create_img(f, FLOAT_IMG, 4, naxes, &st);
	fits_update_key(f, TSTRING, "BUNIT", (void *)bunit, NULL, &st);
	fits_update_key(f, TSTRING, "CTYPE1", "RA---SIN", NULL, &st);
	fits_update_key(f, TDOUBLE, "CRVAL1", (void *)&sp->ra0_deg, NULL, &st);
	fits_update_key(f, TDOUBLE, "CDELT1", &cd1, NULL, &st);
	fits_update_key(f, TDOUBLE, "CRPIX1", &crpix, NULL, &st);
	fits_update_key(f, TSTRING, "CUNIT1", "deg", NULL, &st);
	fits_update_key(f, TSTRING, "CTYPE2", "DEC--SIN", NULL, &st);
	fits_update_key(f, TDOUBLE, "CRVAL2", (void *)&sp->dec0_deg, NULL, &st);
	fits_update_key(f, TDOUBLE, "CDELT2", &cd2, NULL, &st);
	fits_update_key(f, TDOUBLE, "CRPIX2", &crpix, NULL, &st);
	fits_update_key(f, TSTRING, "CUNIT2", "deg", NULL, &st);
	fits_update_key(f, TSTRING, "CTYPE3", "FREQ", NULL, &st);
	fits_update_key(f, TDOUBLE, "CRVAL3", &freq, NULL, &st);
	fits_update_key(f, TDOUBLE, "CDELT3", &bw, NULL, &st);
	fits_update_key(f, TDOUBLE, "CRPIX3", &one, NULL, &st);
	fits_update_key(f, TSTRING, "CTYPE4", "STOKES", NULL, &st);
	fits_update_key(f, TDOUBLE, "CRVAL4", &one, NULL, &st);
	fits_update_key(f, TDOUBLE, "CDELT4", &one, NULL, &st);
	fits_update_key(f, TDOUBLE, "CRPIX4", &one, NULL, &st);
	fits_update_key(f, TDOUBLE, "LONPOLE", &lonpole, NULL, &st);
	fits_update_key(f, TSTRING, "RADESYS", "ICRS", NULL, &st);
	fits_update_key(f, TDOUBLE, "BMAJ", &bmaj, NULL, &st);
	fits_update_key(f, TDOUBLE, "BMIN", &bmin, NULL, &st);
	fits_update_key(f, TDOUBLE, "BPA", &bpa, NULL, &st);
	fits_update_key(f, TDOUBLE, "NOISE", (void *)&sp->sigma_jy, NULL, &st);
	fits_update_key(f, TSTRING, "DATE-OBS", (void *)sp->date_obs, NULL, &st);
	fits_update_key(f, TDOUBLE, "MJD-OBS", (void *)&sp->mjd_obs, NULL, &st);
	fits_update_key(f, TSTRING, "OBJECT", (void *)sp->name, NULL, &st);
	fits_write_img(f, TFLOAT, 1, (LONGLONG)TILE_N * TILE_N, (void *)data, &st);
	fits_close_file(f, &st);
	return st;
}

/* Write sp's pbcor and pb images (pbcor NaN where pb < 0.2, as the imager
 * blanks it). */
static void make_tile(spec *sp, const char *tag)
{
	size_t n = (size_t)TILE_N * TILE_N;
	float *pbc = malloc(n * sizeof *pbc), *pb = malloc(n * sizeof *pb);
	float *noise = calloc(n, sizeof *noise);
	double ra0 = sp->ra0_deg * DEG, dec0 = sp->dec0_deg * DEG, ss = SRC_SIGMA_ARCSEC * ARCSEC;

	if (sp->noise)
		correlated_noise(noise, TILE_N, sp->seed);
	for (int j = 0; j < TILE_N; j++)
		for (int i = 0; i < TILE_N; i++) {
			double ra, dec, v = sp->constant;
			size_t k = (size_t)j * TILE_N + i;
			pix2sky(ra0, dec0, CELL_ARCSEC * ARCSEC, TILE_N, i, j, &ra, &dec);
			double p = pb_at(ra0, dec0, ra, dec);
			for (int s = 0; s < sp->nsrc; s++) {
				double d = ang_dist(ra, dec, sp->s[s].ra_deg * DEG,
						    sp->s[s].dec_deg * DEG);
				v += sp->s[s].flux_jy * exp(-d * d / (2 * ss * ss));
			}
			v += noise[k] * sp->sigma_jy / p;
			pb[k] = (float)p;
			pbc[k] = p >= 0.2 ? (float)v : NAN;
		}
	snprintf(sp->pbcor_path, sizeof sp->pbcor_path, "%s/%s.pbcor.fits", test_tmpdir(), tag);
	snprintf(sp->pb_path, sizeof sp->pb_path, "%s/%s.pb.fits", test_tmpdir(), tag);
	CHECK(write_fits(sp->pbcor_path, sp, pbc, "JY/BEAM") == 0, "write %s", sp->pbcor_path);
	CHECK(write_fits(sp->pb_path, sp, pb, "") == 0, "write %s", sp->pb_path);
	free(pbc);
	free(pb);
	free(noise);
}

static spec base_spec(double ra0_deg, const char *name)
{
	spec s;
	memset(&s, 0, sizeof s);
	s.ra0_deg = ra0_deg;
	s.dec0_deg = DEC0_DEG;
	s.sigma_jy = 1e-3;
	s.bmaj_arcsec = 180;
	s.bmin_arcsec = 120;
	s.bpa_deg = 10;
	s.name = name;
	s.date_obs = "2026-03-01T05:00:00.000";
	s.mjd_obs = 61100.208333;
	return s;
}

static mosaic_tile as_tile(const spec *s)
{
	mosaic_tile t = { s->pbcor_path, s->pb_path, 0, NULL };
	return t;
}

/* The celestial WCS of a written FITS file (caller wcsvfree's). */
static struct wcsprm *read_wcs(const char *path, int *nwcs)
{
	fitsfile *f = NULL;
	int st = 0, nkeys = 0, nrej = 0;
	char *hdr = NULL;
	struct wcsprm *w = NULL;

	*nwcs = 0;
	if (fits_open_file(&f, path, READONLY, &st) == 0 &&
	    fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st) == 0 &&
	    wcspih(hdr, nkeys, WCSHDR_all, 0, &nrej, nwcs, &w) == 0 && *nwcs >= 1 &&
	    wcsset(w) == 0) {
	} else if (w) {
		wcsvfree(nwcs, &w);
		w = NULL;
	}
	if (hdr)
		fits_free_memory(hdr, &st);
	st = 0;
	if (f)
		fits_close_file(f, &st);
	return w;
}

/* 0-based pixel of (ra, dec) in the 4-axis file's WCS. */
static int sky2pix(struct wcsprm *w, double ra_deg, double dec_deg, double *x, double *y)
{
	double world[4] = { ra_deg, dec_deg, 1.4e9, 1 }, phi, theta, img[4], pix[4];
	int stat;
	if (wcss2p(w, 1, 4, world, &phi, &theta, img, pix, &stat))
		return -1;
	*x = pix[0] - 1;
	*y = pix[1] - 1;
	return 0;
}

/* Flux (Σ pixels / Gaussian beam area in pixels) and centroid in a box. */
static void measure(const mosaic_result *m, double x0, double y0, double *flux, double *cx,
		    double *cy)
{
	double s_pix = SRC_SIGMA_ARCSEC * ARCSEC / m->cell_rad, sum = 0, sx = 0, sy = 0;
	int h = (int)ceil(6 * s_pix), ic = (int)lround(x0), jc = (int)lround(y0), bad = 0;

	for (int j = jc - h; j <= jc + h; j++)
		for (int i = ic - h; i <= ic + h; i++) {
			if (i < 0 || j < 0 || i >= m->nx || j >= m->ny) {
				bad++;
				continue;
			}
			double v = m->image[(size_t)j * m->nx + i];
			if (!isfinite(v)) {
				bad++;
				continue;
			}
			sum += v;
			sx += v * i;
			sy += v * j;
		}
	CHECK(bad == 0, "%d unusable pixels around (%.1f, %.1f)", bad, x0, y0);
	/* A SIN pixel at direction cosines (l, m) spans cell² / sqrt(1 - l² - m²)
	 * steradians, so far from the grid centre fewer pixels cover a source. */
	double l = (x0 - m->nx / 2) * m->cell_rad, mm = (y0 - m->ny / 2) * m->cell_rad;
	*flux = sum / (2 * M_PI * s_pix * s_pix) / sqrt(1 - l * l - mm * mm);
	*cx = sx / sum;
	*cy = sy / sum;
}

/* One tile on its own grid: the mosaic is the tile and the weight is pb²/σ². */
static void test_single_tile_weights(void)
{
	char err[ERR_LEN] = "";
	spec a = base_spec(120.0, "2026-03-01T05:00:00");
	mosaic_params p;
	mosaic_result *m = NULL;

	a.nsrc = 1;
	a.s[0] = (src){ 120.2, 40.1, 0.8 };
	a.sigma_jy = 2e-3;
	make_tile(&a, "single");
	mosaic_tile t = as_tile(&a);
	mosaic_params_default(&p);
	p.have_centre = 1;
	p.ra0_rad = a.ra0_deg * DEG;
	p.dec0_rad = a.dec0_deg * DEG;
	p.nx = p.ny = TILE_N;
	p.nthreads = 2;
	CHECK_OK(mosaic_build(&t, 1, &p, &m, err, sizeof err), err);
	if (!m)
		return;
	CHECK_NEAR(m->cell_rad / ARCSEC, CELL_ARCSEC, 1e-9);
	double maxrel_w = 0, maxdiff = 0;
	int covered = 0, wrong_cover = 0;
	for (int j = 0; j < TILE_N; j++)
		for (int i = 0; i < TILE_N; i++) {
			double ra, dec;
			size_t k = (size_t)j * TILE_N + i;
			pix2sky(a.ra0_deg * DEG, a.dec0_deg * DEG, CELL_ARCSEC * ARCSEC, TILE_N, i,
				j, &ra, &dec);
			double pb = pb_at(a.ra0_deg * DEG, a.dec0_deg * DEG, ra, dec);
			double w = pb * pb / (a.sigma_jy * a.sigma_jy);
			if (pb < 0.2) {
				wrong_cover += m->weight[k] != 0 || isfinite(m->image[k]);
				continue;
			}
			covered++;
			maxrel_w = fmax(maxrel_w, fabs(m->weight[k] / w - 1));
			double d = ang_dist(ra, dec, 120.2 * DEG, 40.1 * DEG);
			double v = 0.8 * exp(-d * d / (2 * pow(SRC_SIGMA_ARCSEC * ARCSEC, 2)));
			maxdiff = fmax(maxdiff, fabs(m->image[k] - v));
			CHECK(fabs(m->noise[k] - 1 / sqrt(w)) < 1e-4 / sqrt(w), "noise at %d,%d", i, j);
		}
	printf("# single tile: %d covered pixels, max |w/(pb²/σ²) - 1| %.2e, max |diff| %.2e Jy\n",
	       covered, maxrel_w, maxdiff);
	CHECK(covered > 10000, "covered %d", covered);
	CHECK(wrong_cover == 0, "%d pixels below the pb cut got weight", wrong_cover);
	CHECK(maxrel_w < 1e-5, "weights differ from pb^2/sigma^2 by %.3g", maxrel_w);
	CHECK(maxdiff < 1e-5, "image differs from the tile by %.3g Jy", maxdiff);
	mosaic_result_free(m);
}

/* Two tiles of different constant brightness and σ: in the overlap every
 * pixel is (wA a + wB b) / (wA + wB) with w = pb²/σ² of each tile's beam at
 * that pixel's sky position, and the weight map is wA + wB. */
static void test_overlap_weights(void)
{
	char err[ERR_LEN] = "";
	spec a = base_spec(120.0, "A"), b = base_spec(121.2, "B");
	mosaic_params p;
	mosaic_result *m = NULL;
	int nover = 0, nsingle = 0;
	double maxrel = 0, maxw = 0;

	a.constant = 1.0;
	a.sigma_jy = 1e-3;
	b.constant = 2.0;
	b.sigma_jy = 3e-3;
	make_tile(&a, "constA");
	make_tile(&b, "constB");
	mosaic_tile t[2] = { as_tile(&a), as_tile(&b) };
	mosaic_params_default(&p);
	p.nthreads = 2;
	CHECK_OK(mosaic_build(t, 2, &p, &m, err, sizeof err), err);
	if (!m)
		return;
	CHECK_NEAR(m->ra0_rad / DEG, 120.6, 1e-6); /* mean of the centres at equal dec */
	CHECK(m->dec0_rad / DEG > 40.0 && m->dec0_rad / DEG < 40.1, "dec0 %.6f",
	      m->dec0_rad / DEG);
	for (int j = 0; j < m->ny; j++)
		for (int i = 0; i < m->nx; i++) {
			double ra, dec;
			size_t k = (size_t)j * m->nx + i;
			grid2sky(m, i, j, &ra, &dec);
			double pa = pb_at(a.ra0_deg * DEG, DEC0_DEG * DEG, ra, dec);
			double pbb = pb_at(b.ra0_deg * DEG, DEC0_DEG * DEG, ra, dec);
			/* Stay a pixel away from each cut so interpolation across the
			 * blanking edge does not decide coverage. */
			int ina = pa > 0.21, inb = pbb > 0.21, edge = (pa > 0.19 && pa < 0.21) ||
								 (pbb > 0.19 && pbb < 0.21);
			if (edge)
				continue;
			double wa = ina ? pa * pa / 1e-6 : 0, wb = inb ? pbb * pbb / 9e-6 : 0;
			if (!ina && !inb) {
				CHECK(m->weight[k] == 0 && isnan(m->image[k]), "uncovered %d,%d", i, j);
				continue;
			}
			double want = (wa * 1.0 + wb * 2.0) / (wa + wb);
			maxrel = fmax(maxrel, fabs(m->image[k] - want) / want);
			maxw = fmax(maxw, fabs(m->weight[k] / (wa + wb) - 1));
			if (ina && inb)
				nover++;
			else
				nsingle++;
		}
	printf("# overlap: %d overlap + %d single pixels, max rel err image %.2e weight %.2e\n",
	       nover, nsingle, maxrel, maxw);
	CHECK(nover > 2000 && nsingle > 10000, "overlap %d single %d", nover, nsingle);
	/* pb is interpolated bilinearly from the tiles' pixels: 1e-3 is the
	 * interpolation error of a 1.2° Gaussian sampled every 30". */
	CHECK(maxrel < 1e-3, "image vs weighted mean: %.3g", maxrel);
	CHECK(maxw < 2e-3, "weight vs pb^2/sigma^2 sum: %.3g", maxw);
	mosaic_result_free(m);
}

/* Write m to path, read its WCS back with WCSLIB, and check each source's
 * flux (1 %) and position (0.1 pixel); then the header keywords. */
static void check_sources(const mosaic_result *m, const char *path, const src *want, int nwant)
{
	char err[ERR_LEN] = "";
	int nwcs = 0;

	CHECK_OK(mosaic_write(m, MOSAIC_IMAGE, path, err, sizeof err), err);
	struct wcsprm *w = read_wcs(path, &nwcs);
	CHECK(w != NULL, "WCSLIB cannot read %s", path);

	for (int k = 0; w && k < nwant; k++) {
		double x = 0, y = 0, flux, cx, cy;
		CHECK(sky2pix(w, want[k].ra_deg, want[k].dec_deg, &x, &y) == 0, "wcss2p");
		measure(m, x, y, &flux, &cx, &cy);
		printf("# source %d: flux %.5f Jy (want %.5f, rel %.2e), offset (%.3f, %.3f) px\n", k,
		       flux, want[k].flux_jy, flux / want[k].flux_jy - 1, cx - x, cy - y);
		CHECK(fabs(flux / want[k].flux_jy - 1) < 0.01, "source %d flux %.5f want %.5f", k,
		      flux, want[k].flux_jy);
		CHECK(hypot(cx - x, cy - y) < 0.1, "source %d off by (%.3f, %.3f) px", k, cx - x,
		      cy - y);
	}
	/* Header keywords read back. */
	{
		fitsfile *f = NULL;
		int st = 0, ntiles = 0;
		char v[FLEN_VALUE] = "", radesys[FLEN_VALUE] = "", bunit[FLEN_VALUE] = "";
		fits_open_file(&f, path, READONLY, &st);
		fits_read_key(f, TINT, "NTILES", &ntiles, NULL, &st);
		fits_read_key(f, TSTRING, "TILE003", v, NULL, &st);
		fits_read_key(f, TSTRING, "RADESYS", radesys, NULL, &st);
		fits_read_key(f, TSTRING, "BUNIT", bunit, NULL, &st);
		fits_close_file(f, &st);
		CHECK(st == 0 && ntiles == 3 && !strcmp(v, "G3") && !strcmp(radesys, "ICRS") &&
			      !strcmp(bunit, "JY/BEAM"),
		      "keywords: st %d NTILES %d TILE003 %s RADESYS %s BUNIT %s", st, ntiles, v,
		      radesys, bunit);
	}
	if (w)
		wcsvfree(&nwcs, &w);
}

/* Three tiles with sources: fluxes within 1 %, positions within 0.1 pixel of
 * their ICRS positions in the written file's WCS, the overlap source is the
 * pb²/σ²-weighted mean of the two tiles' values. */
static void test_sources(void)
{
	char err[ERR_LEN] = "", path[600];
	spec t3[3] = { base_spec(120.0, "G1"), base_spec(121.2, "G2"), base_spec(122.4, "G3") };
	src s1 = { 119.7, 40.15, 0.5 }, s2 = { 122.6, 39.8, 2.0 };
	src s3 = { 120.6, 40.05, 0 };   /* between tiles 1 and 2 */
	double f3a = 1.0, f3b = 1.3;     /* what tiles 1 and 2 measured for s3 */
	mosaic_params p;
	mosaic_result *m = NULL;

	for (int k = 0; k < 3; k++) {
		t3[k].nsrc = 3;
		t3[k].s[0] = s1;
		t3[k].s[1] = s2;
		t3[k].s[2] = s3;
		t3[k].s[2].flux_jy = k == 0 ? f3a : k == 1 ? f3b : 1.0;
	}
	t3[0].sigma_jy = 1e-3;
	t3[1].sigma_jy = 2e-3;
	t3[2].sigma_jy = 1.5e-3;
	t3[1].bmaj_arcsec = 200; /* the largest beam (by area) */
	t3[1].bmin_arcsec = 130;
	t3[1].bpa_deg = -20;
	t3[2].date_obs = "2026-03-01T06:00:00.000";
	make_tile(&t3[0], "src1");
	make_tile(&t3[1], "src2");
	make_tile(&t3[2], "src3");
	mosaic_tile t[3] = { as_tile(&t3[0]), as_tile(&t3[1]), as_tile(&t3[2]) };
	mosaic_params_default(&p);
	p.nthreads = 2;
	CHECK_OK(mosaic_build(t, 3, &p, &m, err, sizeof err), err);
	if (!m)
		return;
	printf("# mosaic %d x %d at (%.4f, %.4f) deg, cell %.1f\"\n", m->nx, m->ny,
	       m->ra0_rad / DEG, m->dec0_rad / DEG, m->cell_rad / ARCSEC);
	CHECK_NEAR(m->bmaj_rad / ARCSEC, 200, 1e-6);
	CHECK_NEAR(m->bmin_rad / ARCSEC, 130, 1e-6);
	CHECK_NEAR(m->bpa_rad / DEG, -20, 1e-6);
	CHECK(!strcmp(m->date_obs, "2026-03-01T05:00:00.000"), "DATE-OBS %s", m->date_obs);
	CHECK(m->ntiles == 3 && !strcmp(m->tile_names[1], "G2"), "tile names");

	/* The overlap source: each tile's weight at its position. */
	double pa = pb_at(120.0 * DEG, DEC0_DEG * DEG, s3.ra_deg * DEG, s3.dec_deg * DEG);
	double pbb = pb_at(121.2 * DEG, DEC0_DEG * DEG, s3.ra_deg * DEG, s3.dec_deg * DEG);
	double wa = pa * pa / 1e-6, wb = pbb * pbb / 4e-6, f3 = (wa * f3a + wb * f3b) / (wa + wb);
	src want[3] = { s1, s2, { s3.ra_deg, s3.dec_deg, f3 } };

	snprintf(path, sizeof path, "%s/mosaic.fits", test_tmpdir());
	check_sources(m, path, want, 3);
	mosaic_result_free(m);
	m = NULL;

	/* Again on a finer grid centred elsewhere (explicit centre and cell). */
	p.have_centre = 1;
	p.ra0_rad = 121.5 * DEG;
	p.dec0_rad = 40.3 * DEG;
	p.cell_rad = 20 * ARCSEC;
	CHECK_OK(mosaic_build(t, 3, &p, &m, err, sizeof err), err);
	if (!m)
		return;
	printf("# mosaic %d x %d at (%.4f, %.4f) deg, cell %.1f\"\n", m->nx, m->ny,
	       m->ra0_rad / DEG, m->dec0_rad / DEG, m->cell_rad / ARCSEC);
	snprintf(path, sizeof path, "%s/mosaic20.fits", test_tmpdir());
	check_sources(m, path, want, 3);
	mosaic_result_free(m);
	m = NULL;

	/* A grid centred 8 degrees away: the tiles are strongly distorted on it
	 * (the hardest case for the reprojection's mapping). */
	p.ra0_rad = 111.0 * DEG;
	p.dec0_rad = 43.0 * DEG;
	p.cell_rad = 30 * ARCSEC;
	CHECK_OK(mosaic_build(t, 3, &p, &m, err, sizeof err), err);
	if (!m)
		return;
	printf("# mosaic %d x %d at (%.4f, %.4f) deg, cell %.1f\"\n", m->nx, m->ny,
	       m->ra0_rad / DEG, m->dec0_rad / DEG, m->cell_rad / ARCSEC);
	snprintf(path, sizeof path, "%s/mosaic_far.fits", test_tmpdir());
	check_sources(m, path, want, 3);

	/* The weighted mean is far from the plain mean, so the check above
	 * would fail with equal weights. */
	CHECK(fabs(f3 - 0.5 * (f3a + f3b)) > 0.05, "weights too similar for the test: %.3f", f3);

	mosaic_result_free(m);
}

/* Noise-only tiles: the measured scatter of mosaic / noise-map is 1 within
 * 10 %, in single-tile and in overlap regions. */
static void test_noise_map(void)
{
	char err[ERR_LEN] = "";
	spec t3[3] = { base_spec(120.0, "N1"), base_spec(121.2, "N2"), base_spec(122.4, "N3") };
	mosaic_params p;
	mosaic_result *m = NULL;
	double s2[2] = { 0, 0 }, sn[2] = { 0, 0 }, snoise = 0;
	long cnt[2] = { 0, 0 };

	for (int k = 0; k < 3; k++) {
		t3[k].noise = 1;
		t3[k].seed = 1000 + 17 * k;
		t3[k].sigma_jy = (k + 1) * 1e-3;
	}
	make_tile(&t3[0], "noise1");
	make_tile(&t3[1], "noise2");
	make_tile(&t3[2], "noise3");
	mosaic_tile t[3] = { as_tile(&t3[0]), as_tile(&t3[1]), as_tile(&t3[2]) };
	mosaic_params_default(&p);
	p.nthreads = 2;
	CHECK_OK(mosaic_build(t, 3, &p, &m, err, sizeof err), err);
	if (!m)
		return;
	/* Count the tiles covering a pixel from the analytic beams. */
	for (int j = 0; j < m->ny; j++)
		for (int i = 0; i < m->nx; i++) {
			size_t k = (size_t)j * m->nx + i;
			double ra, dec;
			grid2sky(m, i, j, &ra, &dec);
			int ncov = 0, edge = 0;
			for (int q = 0; q < 3; q++) {
				double pb = pb_at(t3[q].ra0_deg * DEG, DEC0_DEG * DEG, ra, dec);
				ncov += pb > 0.22;
				edge |= pb > 0.18 && pb <= 0.22;
			}
			if (edge || !ncov || !isfinite(m->image[k]))
				continue;
			int c = ncov > 1;
			double z = m->image[k] / m->noise[k];
			s2[c] += z * z;
			sn[c] += z;
			snoise += m->noise[k];
			cnt[c]++;
		}
	for (int c = 0; c < 2; c++) {
		double mean = sn[c] / cnt[c], sd = sqrt(s2[c] / cnt[c] - mean * mean);
		printf("# noise: %s pixels %ld, std(mosaic / noise map) %.3f\n",
		       c ? "overlap" : "single-tile", cnt[c], sd);
		CHECK(cnt[c] > 3000, "too few pixels: %ld", cnt[c]);
		CHECK(fabs(sd - 1) < 0.10, "%s: std(mosaic/noise) = %.3f", c ? "overlap" : "single",
		      sd);
	}
	mosaic_result_free(m);
}

/* Bad inputs fail cleanly. */
static void test_errors(void)
{
	char err[ERR_LEN] = "";
	mosaic_params p;
	mosaic_result *m = NULL;
	mosaic_tile t = { "/nonexistent/x.pbcor.fits", "/nonexistent/x.pb.fits", 1e-3, "X" };

	mosaic_params_default(&p);
	CHECK(mosaic_build(&t, 0, &p, &m, err, sizeof err) == -EINVAL && !m, "no tiles");
	CHECK(mosaic_build(&t, 1, &p, &m, err, sizeof err) < 0 && !m, "missing file");
	CHECK(strstr(err, "/nonexistent/x.pbcor.fits") != NULL, "error names the file: %s", err);
	spec a = base_spec(120.0, "small");
	make_tile(&a, "small");
	mosaic_tile ta = as_tile(&a);
	p.max_size = 64;
	CHECK(mosaic_build(&ta, 1, &p, &m, err, sizeof err) == -ERANGE && !m, "max_size: %s", err);
	mosaic_params_default(&p);
	mosaic_tile mism = { a.pbcor_path, "/nonexistent/pb.fits", 0, NULL };
	CHECK(mosaic_build(&mism, 1, &p, &m, err, sizeof err) < 0 && !m, "missing pb");
}

int main(void)
{
	RUN(test_single_tile_weights);
	RUN(test_overlap_weights);
	RUN(test_sources);
	RUN(test_noise_map);
	RUN(test_errors);
	return TEST_DONE();
}
