/*
 * tests/imaging/test_subband.c — sub-band images from the common
 * deconvolution (imaging/subband.h) on a synthetic sky of two point sources
 * with different spectral indices (α = −0.7 and +1.0), predicted channel by
 * channel with an explicit DFT (tests/imaging/synth.h): each sub-band image
 * must hold each source's flux at that sub-band's frequency to 0.15 % (a
 * component one pixel off gives 0.26 %), the
 * spectral index fitted to the four sub-band fluxes must be within 0.1 of
 * the truth, and the MFS products must be the same as without sub-bands.
 */
#include "core/err.h"
#include "imaging/image.h"
#include "photometry/spindex.h"
#include "tests/imaging/synth.h"
#include "tests/test.h"

#define ARCSEC (1 / 206264.80624709636)

static const double src_alpha[] = { -0.7, 1.0 };

static void params(image_params *p, int nsub, int N, double CELL)
{
	image_params_default(p);
	p->nx = p->ny = N;
	p->cell_rad = CELL;
	p->nthreads = 2;
	p->clean.auto_threshold = 0;
	p->clean.threshold_jy = 0.001;
	p->subbands = nsub;
}

static void test_subband_split(void)
{
	int c0[SUBBAND_MAX], n[SUBBAND_MAX];
	CHECK(subband_split(16, 4, c0, n) == 0);
	CHECK(c0[0] == 0 && n[0] == 4 && c0[3] == 12 && n[3] == 4);
	CHECK(subband_split(10, 4, c0, n) == 0);
	CHECK(n[0] == 3 && n[1] == 3 && n[2] == 2 && n[3] == 2 && c0[3] == 8, "%d %d %d %d",
	      n[0], n[1], n[2], n[3]);
	CHECK(subband_split(3, 4, c0, n) == -EINVAL);
	CHECK(subband_split(16, 1, c0, n) == -EINVAL);
}

/* N² pixels of CELL; the second source dx, dy pixels from the centre (on
 * pixel centres, so that the restored peak at the pixel is the flux);
 * want_factor: the joined cycles' grid expected (imaging/subband.c chooses
 * it from the beam and the uv extent). */
static void two_spectra(int N, double CELL, int dx, int dy, int want_factor, double auto_mask,
			double thr_jy)
{
	char err[ERR_LEN] = "";
	image_params p;
	image_result *r = NULL, *r0 = NULL;
	const synth_src srcs[] = { { 0, 0, 1.0 }, { -dx * CELL, dy * CELL, 0.5 } };
	const int src_px[2][2] = { { N / 2, N / 2 }, { N / 2 + dx, N / 2 + dy } };
	vis_set *v = synth_make_spec(24, 4, 16, 600, srcs, src_alpha, 2, 0, 11);
	CHECK(v != NULL);
	if (!v)
		return;
	printf("# %dx%d at %.1f arcsec, second source at pixel (%d, %d)\n", N, N, CELL / ARCSEC,
	       src_px[1][0], src_px[1][1]);
	params(&p, 4, N, CELL);
	p.clean.auto_mask = auto_mask;
	p.clean.threshold_jy = thr_jy;
	CHECK_OK(image_run(v, &p, &r, err, sizeof err), err);
	params(&p, 0, N, CELL);
	p.clean.threshold_jy = thr_jy;
	CHECK_OK(image_run(v, &p, &r0, err, sizeof err), err);
	if (!r || !r0)
		goto out;
	CHECK(r->nsub == 4 && r->sub != NULL, "nsub %d", r->nsub);
	CHECK(r0->nsub == 0 && r0->sub == NULL);
	if (r->nsub != 4)
		goto out;
	/* The MFS image is at least as good as without sub-bands: its residual
	 * peak is not higher (joined CLEAN leaves no spectral residual). */
	printf("# MFS residual peak %.3g Jy with sub-bands, %.3g Jy without; %d vs %d components\n",
	       r->clean.peak_jy, r0->clean.peak_jy, r->clean.iterations, r0->clean.iterations);
	printf("# %d major cycles (%d joined on a grid of %d pixels a side per pixel, %d MFS "
	       "after them), stop %s\n", r->clean.major_cycles, r->clean.joined_cycles,
	       r->clean.joined_factor, r->clean.resumed_cycles, r->clean.stop);
	/* With an auto-mask the joined cycles run to the end; without, the MFS
	 * CLEAN takes over again once the spectra are modelled. */
	CHECK(auto_mask > 0 ? r->clean.resumed_cycles == 0 : r->clean.resumed_cycles >= 1,
	      "%d MFS cycles after the joined ones", r->clean.resumed_cycles);
	CHECK(!r->clean.residual_stale);
	CHECK(r->clean.joined_cycles >= 1 && r->clean.joined_factor == want_factor,
	      "%d joined cycles at factor %d, expected >= 1 at %d", r->clean.joined_cycles,
	      r->clean.joined_factor, want_factor);
	CHECK(r->clean.peak_jy <= 1.05 * r0->clean.peak_jy, "%g vs %g", r->clean.peak_jy,
	      r0->clean.peak_jy);
	size_t npix = (size_t)N * N;
	(void)npix;
	double nu[4], s[2][4], e[2][4];
	for (int k = 0; k < 4; k++) {
		const subband_image *o = &r->sub[k];
		nu[k] = o->freq_hz;
		CHECK(o->nchan == 4 && o->chan0 == 4 * k);
		CHECK(k == 0 || o->freq_hz > r->sub[k - 1].freq_hz);
		for (int i = 0; i < 2; i++) {
			double truth = srcs[i].flux * pow(o->freq_hz / SYNTH_REF_HZ, src_alpha[i]);
			double got = o->image[(size_t)src_px[i][1] * N + src_px[i][0]];
			s[i][k] = got;
			e[i][k] = 0.01 * fabs(got); /* equal relative weights */
			printf("# sub-band %d (%.4f GHz, model %.4f Jy): source %d %.4f Jy, "
			       "truth %.4f (%+.2f %%); pb %.4f\n", k, o->freq_hz / 1e9,
			       o->model_flux_jy, i, got, truth,
			       100 * (got / truth - 1), o->pb[(size_t)src_px[i][1] * N + src_px[i][0]]);
			CHECK(fabs(got / truth - 1) <= 0.0015, "sub-band %d source %d: %.4f vs %.4f", k,
			      i, got, truth);
		}
		CHECK(o->pb && o->pbcor && o->image && !o->residual);
		CHECK(isfinite(o->noise_jy) && o->noise_jy < 0.01, "noise %g", o->noise_jy);
	}
	/* The MFS flux alone cannot tell the two spectra apart; the sub-bands do. */
	for (int i = 0; i < 2; i++) {
		spindex_result sr;
		CHECK(spindex_fit(nu, s[i], e[i], 4, &sr) == 4);
		printf("# source %d: alpha %.3f +- %.3f (truth %.1f), S0 %.4f at %.4f GHz\n", i,
		       sr.alpha, sr.alpha_err, src_alpha[i], sr.s0, sr.nu0_hz / 1e9);
		CHECK(fabs(sr.alpha - src_alpha[i]) <= 0.1, "alpha %g vs %g", sr.alpha,
		      src_alpha[i]);
	}
	/* The spectrum is resolved across the band: the brightest source is 8 %
	 * brighter in the lowest sub-band than in the highest. */
	CHECK_NEAR(s[0][0] / s[0][3], pow(nu[0] / nu[3], -0.7), 0.01);
out:
	image_result_free(r);
	image_result_free(r0);
	vis_free(v);
}

/* On the image's own grid (6″ pixels: the 23″ minor axis of the beam would
 * get fewer than SUBBAND_PIX_PER_BEAM pixels of a coarser one), and on a grid
 * of 2 × 2 pixels (2″ pixels: 4″ on the joined grid, while 6″ would again be
 * too coarse), the second source on an odd pixel, between two pixels of the
 * joined grid; and there with an auto-mask, which keeps the joined cycles to
 * the end. */
static void test_subband_two_spectra(void)
{
	two_spectra(256, 6 * ARCSEC, 20, -15, 1, 0, 0.001);
}

static void test_subband_two_spectra_coarse(void)
{
	two_spectra(768, 2 * ARCSEC, 61, -47, 2, 0, 0.001);
	two_spectra(768, 2 * ARCSEC, 61, -47, 2, 5, 0.001);
}

static void test_spindex_fit(void)
{
	/* Exact power law: the fit returns it; the error follows 1/√(Σ w x²). */
	double nu[4] = { 1.3e9, 1.37e9, 1.44e9, 1.51e9 }, s[4], e[4];
	for (int k = 0; k < 4; k++) {
		s[k] = 2.0 * pow(nu[k] / 1.4e9, -0.7);
		e[k] = 0.02 * s[k];
	}
	spindex_result r;
	CHECK(spindex_fit(nu, s, e, 4, &r) == 4);
	CHECK_NEAR(r.alpha, -0.7, 1e-9);
	double sxx = 0, lm = 0;
	for (int k = 0; k < 4; k++)
		lm += log(nu[k]) / 4;
	for (int k = 0; k < 4; k++)
		sxx += pow(log(nu[k]) - lm, 2) / (0.02 * 0.02);
	CHECK_NEAR(r.alpha_err, 1 / sqrt(sxx), 1e-9);
	CHECK_NEAR(r.s0, 2.0 * pow(r.nu0_hz / 1.4e9, -0.7), 1e-9);
	CHECK(r.chi2 < 1e-12);
	/* Negative or missing fluxes are skipped; fewer than two: -EINVAL. */
	s[1] = -0.1;
	e[2] = NAN;
	CHECK(spindex_fit(nu, s, e, 4, &r) == 2);
	CHECK_NEAR(r.alpha, -0.7, 1e-9);
	s[0] = 0;
	CHECK(spindex_fit(nu, s, e, 4, &r) == -EINVAL && isnan(r.alpha));
}

int main(void)
{
	RUN(test_subband_split);
	RUN(test_spindex_fit);
	RUN(test_subband_two_spectra);
	RUN(test_subband_two_spectra_coarse);
	return TEST_DONE();
}
