/*
 * tests/imaging/test_clean.c — the whole imager (image_run) on synthetic
 * point sources predicted by a DFT: CLEAN must find their fluxes and
 * positions, reach its threshold, honour niter, and the residual noise must
 * match the radiometer expectation computed from the weights.
 */
#include "core/err.h"
#include "imaging/image.h"
#include "tests/imaging/synth.h"
#include "tests/test.h"

#define CELL (6.0 / 206264.80624709636)
#define N 256

static const synth_src srcs[] = {
	{ 0, 0, 1.0 },
	{ -20 * CELL, -15 * CELL, 0.5 },     /* pixel (148, 113) exactly */
	{ 37.4 * CELL, 22.6 * CELL, 0.3 },   /* between pixels */
};

static void small_params(image_params *p)
{
	image_params_default(p);
	p->nx = p->ny = N;
	p->cell_rad = CELL;
	p->nthreads = 2;
}

static void test_clean_point_sources(void)
{
	char err[ERR_LEN] = "";
	image_params p;
	image_result *r = NULL;
	vis_set *v = synth_make(16, 4, 4, 600, srcs, 3, 0, 1);
	CHECK(v != NULL);
	if (!v)
		return;
	small_params(&p);
	p.clean.auto_threshold = 0;
	p.clean.threshold_jy = 0.002;
	CHECK_OK(image_run(v, &p, &r, err, sizeof err), err);
	if (!r) {
		vis_free(v);
		return;
	}
	printf("# clean: %d iterations, %d major cycles, stop %s, peak residual %.2g Jy, "
	       "model flux %.4f Jy, beam %.1f\" x %.1f\" pa %.1f deg, slant (%.3f, %.3f), "
	       "%d w-planes\n",
	       r->clean.iterations, r->clean.major_cycles, r->clean.stop, r->clean.peak_jy,
	       r->clean.model_flux_jy, r->beam.bmaj_rad * 206264.8, r->beam.bmin_rad * 206264.8,
	       r->beam.bpa_rad * 180 / M_PI, r->xi, r->eta, r->grid.nplanes);
	/* The synthetic array lies in the plane w = 0.3 v (± 1 m): the imager
	 * must find it and use the slant projection. */
	CHECK_NEAR(r->eta, -0.3, 0.01);
	CHECK(fabs(r->xi) < 0.01, "xi %g", r->xi);
	CHECK(r->peak_jy > 0 && r->clean.peak_jy < 0.0025, "peak residual %g", r->clean.peak_jy);
	CHECK(!strcmp(r->clean.stop, "threshold"), "stopped by %s", r->clean.stop);
	CHECK(r->clean.major_cycles >= 2);
	CHECK_NEAR(r->clean.model_flux_jy, 1.8, 0.02);
	/* The per-cycle trace: one entry per major cycle, the components add
	 * up, each cycle starts from the previous one's exact residual, each
	 * minor cycle stops at the major gain's level or the threshold, and
	 * the major cycles lower the peak. */
	CHECK(r->clean.ntrace == r->clean.major_cycles, "%d traced, %d cycles", r->clean.ntrace,
	      r->clean.major_cycles);
	int comps = 0;
	for (int k = 0; k < r->clean.ntrace; k++) {
		const clean_cycle *cc = &r->clean.cycle[k];
		printf("# cycle %d: peak %.4g -> level %.4g, %d components of %d candidates, "
		       "after %.4g (sigma %.3g)\n", k + 1, cc->peak_jy, cc->level_jy, cc->components,
		       cc->candidates, cc->peak_after_jy, cc->sigma_after_jy);
		comps += cc->components;
		CHECK(cc->components > 0 && cc->candidates >= 1);
		CHECK(cc->level_jy >= 0.002 - 1e-9 &&
			      cc->level_jy <= fmax(0.002, 0.2 * cc->peak_jy) * (1 + 1e-6),
		      "cycle %d level %g (peak %g)", k + 1, cc->level_jy, cc->peak_jy);
		CHECK(cc->peak_after_jy < cc->peak_jy, "cycle %d did not lower the peak", k + 1);
		if (k > 0)
			CHECK_NEAR(cc->peak_jy, r->clean.cycle[k - 1].peak_after_jy, 1e-9);
	}
	CHECK(comps == r->clean.iterations, "%d traced components, %d iterations", comps,
	      r->clean.iterations);
	CHECK_NEAR(r->clean.cycle[r->clean.ntrace - 1].peak_after_jy, r->clean.peak_jy, 1e-9);
	for (int i = 0; i < 3; i++) {
		/* The expected pixel in the image's (slant) SIN projection. */
		double tn = 1 - sqrt(1 - srcs[i].l * srcs[i].l - srcs[i].m * srcs[i].m);
		double x0 = N / 2 - (srcs[i].l + r->xi * tn) / CELL;
		double y0 = N / 2 + (srcs[i].m + r->eta * tn) / CELL, x, y, pk;
		CHECK(image_peak_fit(r->image, N, N, (int)lround(x0), (int)lround(y0), 3, &x, &y,
				     &pk) == 0);
		printf("# source %d: truth (%.2f, %.2f) %.3f Jy, found (%.3f, %.3f) %.4f Jy/beam\n",
		       i, x0, y0, srcs[i].flux, x, y, pk);
		CHECK(hypot(x - x0, y - y0) < 0.1, "source %d off by %.3f px", i,
		      hypot(x - x0, y - y0));
		CHECK(fabs(pk / srcs[i].flux - 1) < 0.02, "source %d peak %.4f", i, pk);
	}
	/* pbcor: the beam at the centre is ~1 and pbcor = image / pb there. */
	size_t c = (size_t)(N / 2) * N + N / 2;
	CHECK(r->pb[c] > 0.99 && r->pb[c] <= 1.0, "pb centre %g", r->pb[c]);
	CHECK_NEAR(r->pbcor[c], r->image[c] / r->pb[c], 1e-6);
	image_result_free(r);
	vis_free(v);
}

static void test_niter_limit(void)
{
	char err[ERR_LEN] = "";
	image_params p;
	image_result *r = NULL;
	vis_set *v = synth_make(12, 2, 2, 600, srcs, 3, 0, 2);
	if (!v)
		return;
	small_params(&p);
	p.clean.niter = 10;
	CHECK_OK(image_run(v, &p, &r, err, sizeof err), err);
	if (r) {
		CHECK(r->clean.iterations == 10, "%d", r->clean.iterations);
		CHECK(!strcmp(r->clean.stop, "niter"), "%s", r->clean.stop);
		/* 10 components of gain 0.1 on a 1 Jy source: 1 − 0.9^10 of it. */
		CHECK(r->clean.model_flux_jy > 0.6 && r->clean.model_flux_jy < 1.0, "%g",
		      r->clean.model_flux_jy);
	}
	image_result_free(r);
	vis_free(v);
}

static void test_noise_radiometer(void)
{
	/* Pure noise, natural weights: the image noise must be
	 * σ_p · sqrt(Σ w²/d) / Σ w (weight.h) for σ_p per pol and component. */
	char err[ERR_LEN] = "";
	image_params p;
	image_result *r = NULL;
	const double sig = 0.5;
	vis_set *v = synth_make(24, 4, 8, 600, NULL, 0, sig, 3);
	if (!v)
		return;
	small_params(&p);
	p.weighting = WEIGHT_NATURAL;
	p.clean.niter = 0;
	CHECK_OK(image_run(v, &p, &r, err, sizeof err), err);
	if (r) {
		double expect = sig * sqrt(r->sum_w2_over_d) / r->sum_w;
		printf("# noise: measured %.4g Jy/beam, radiometer %.4g (ratio %.3f)\n", r->noise_jy,
		       expect, r->noise_jy / expect);
		CHECK(fabs(r->noise_jy / expect - 1) < 0.1, "ratio %g", r->noise_jy / expect);
	}
	image_result_free(r);
	vis_free(v);
}

static void test_automask(void)
{
	char err[ERR_LEN] = "";
	image_params p;
	image_result *r = NULL;
	vis_set *v = synth_make(16, 4, 4, 600, srcs, 3, 0.3, 4);
	if (!v)
		return;
	small_params(&p);
	p.clean.auto_mask = 8;
	p.clean.auto_threshold = 2;
	CHECK_OK(image_run(v, &p, &r, err, sizeof err), err);
	if (r) {
		printf("# automask: %d iterations, %d majors, stop %s, model %.3f Jy, sigma %.3g\n",
		       r->clean.iterations, r->clean.major_cycles, r->clean.stop,
		       r->clean.model_flux_jy, r->clean.sigma_jy);
		CHECK(fabs(r->clean.model_flux_jy - 1.8) < 0.1, "%g", r->clean.model_flux_jy);
		/* Components only where the sources are (mask from the bright phase):
		 * nothing farther than 3 pixels from a source. */
		int stray = 0;
		for (int y = 0; y < N; y++)
			for (int x = 0; x < N; x++) {
				if (r->model[(size_t)y * N + x] == 0)
					continue;
				int near = 0;
				for (int i = 0; i < 3; i++)
					near |= hypot(x - (N / 2 - srcs[i].l / CELL),
						      y - (N / 2 + srcs[i].m / CELL)) < 3;
				stray += !near;
			}
		CHECK(stray == 0, "%d stray components", stray);
	}
	image_result_free(r);
	vis_free(v);
}

static void test_pool_reuse(void)
{
	/* The buffers a pool hands back still hold the last group's numbers:
	 * imaging B after A through one pool must give what B gives alone. */
	char err[ERR_LEN] = "";
	image_params p;
	image_result *ra = NULL, *rb = NULL, *rf = NULL;
	vis_set *a = synth_make(16, 4, 4, 600, srcs, 3, 0.05, 6);
	static const synth_src other[] = { { 10 * CELL, 30 * CELL, 0.7 }, { -40 * CELL, 5 * CELL, 0.4 } };
	vis_set *b = synth_make(14, 3, 4, 500, other, 2, 0.05, 7);
	mem_pool *pool = pool_new();
	CHECK(a && b && pool);
	if (!a || !b || !pool)
		goto out;
	small_params(&p);
	/* 512²: every image is a 1 MB block, the smallest the pool caches. */
	p.nx = p.ny = 512;
	p.pool = pool;
	CHECK_OK(image_run(a, &p, &ra, err, sizeof err), err);
	image_result_free(ra); /* its images go back to the pool */
	CHECK(pool_cached_bytes(pool) > 0);
	size_t hits = pool_hits(pool);
	CHECK_OK(image_run(b, &p, &rb, err, sizeof err), err);
	CHECK(pool_hits(pool) > hits, "the second run took nothing from the pool");
	p.pool = NULL;
	CHECK_OK(image_run(b, &p, &rf, err, sizeof err), err);
	if (rb && rf) {
		const float *x[] = { rb->image, rb->residual, rb->psf, rb->model, rb->pb, rb->pbcor };
		const float *y[] = { rf->image, rf->residual, rf->psf, rf->model, rf->pb, rf->pbcor };
		double worst = 0;
		for (int k = 0; k < 6; k++)
			for (size_t j = 0; j < (size_t)512 * 512; j++) {
				if (isnan(x[k][j]) != isnan(y[k][j])) {
					worst = INFINITY;
					continue;
				}
				if (!isnan(x[k][j]))
					worst = fmax(worst, fabs(x[k][j] - y[k][j]));
			}
		printf("# pool reuse: %zu blocks from the pool, worst difference %.2g Jy\n",
		       pool_hits(pool), worst);
		/* Float sums in a different order only (OpenMP scheduling). */
		CHECK(worst < 1e-5, "pooled run differs from a fresh one by %g", worst);
		CHECK(rb->clean.iterations == rf->clean.iterations, "%d vs %d iterations",
		      rb->clean.iterations, rf->clean.iterations);
	}
out:
	image_result_free(rb); /* before the pool it came from */
	image_result_free(rf);
	pool_free(pool);
	vis_free(a);
	vis_free(b);
}

static void test_drift_refused(void)
{
	char err[ERR_LEN] = "";
	image_params p;
	image_result *r = NULL;
	vis_set *v = synth_make(4, 1, 1, 100, NULL, 0, 0, 5);
	if (!v)
		return;
	v->phase_type = VIS_PHASE_DRIFT;
	small_params(&p);
	CHECK(image_run(v, &p, &r, err, sizeof err) == -EINVAL);
	CHECK(r == NULL);
	CHECK(strstr(err, "FIXED") != NULL, "%s", err);
	vis_free(v);
}


/* The hook clean_run_vis offers the joined CLEAN: counts its calls and makes
 * the residual image as clean_run would. */
typedef struct hook_ctx {
	grid_plan *g;
	double sum_w;
	size_t npix;
	int calls;
} hook_ctx;

static int hook_image(void *ctx, const float complex *rvis, float *residual, char *err,
		      size_t errlen)
{
	hook_ctx *h = ctx;
	(void)err;
	(void)errlen;
	h->calls++;
	int r = grid_dirty(h->g, rvis, residual);
	for (size_t j = 0; j < h->npix; j++)
		residual[j] = (float)(residual[j] / h->sum_w);
	return r;
}

/* clean_run_vis against clean_run on the same data: the same model and
 * residual, the last image made by the hook (once, the cycle being known to
 * be the last), the residual visibilities those of the final model; and
 * grid_dirty_pixels (the direct sum) against the gridded dirty image. */
static void test_clean_run_vis(void)
{
	char err[ERR_LEN] = "";
	vis_set *v = synth_make(16, 4, 4, 600, srcs, 3, 0, 1);
	weight_stokes *s = NULL;
	grid_plan *g = NULL;
	weight_params wp;
	grid_params gp;
	clean_params cp;
	clean_stats st0, st1;
	size_t npix = (size_t)N * N;
	float *psf = calloc(npix, sizeof *psf), *res0 = calloc(npix, sizeof *res0);
	float *res1 = calloc(npix, sizeof *res1), *m0 = calloc(npix, sizeof *m0);
	float *m1 = calloc(npix, sizeof *m1), *dirty = calloc(npix, sizeof *dirty);
	float complex *rvis = NULL, *pred = NULL;
	double *ch = NULL;

	CHECK(v && psf && res0 && res1 && m0 && m1 && dirty);
	if (!v || !psf || !res0 || !res1 || !m0 || !m1 || !dirty)
		goto out;
	CHECK_OK(weight_stokes_new(v, 1, 2, NULL, &s, err, sizeof err), err);
	if (!s)
		goto out;
	weight_params_default(&wp);
	wp.nx = wp.ny = N;
	wp.cell_rad = CELL;
	wp.nthreads = 2;
	CHECK_OK(weight_apply(s, &wp, err, sizeof err), err);
	grid_params_default(&gp);
	gp.nx = gp.ny = N;
	gp.cell_rad = CELL;
	gp.nthreads = 2;
	gp.degrid_dft = GRID_DFT_NEVER; /* the path chosen by timing would differ run to run */
	CHECK_OK(grid_plan_new(&gp, &g, err, sizeof err), err);
	if (!g)
		goto out;
	grid_uvdata ud = { s->nrows, s->nchan, s->uvw_m, s->freq_hz, s->img_wgt };
	CHECK_OK(grid_plan_set_data(g, &ud, err, sizeof err), err);
	size_t ns = s->nrows * (size_t)s->nchan;
	rvis = malloc(ns * sizeof *rvis);
	pred = malloc(ns * sizeof *pred);
	ch = malloc((size_t)3 * s->nchan * sizeof *ch);
	CHECK(rvis && pred && ch);
	if (!rvis || !pred || !ch)
		goto out;
	grid_dirty(g, NULL, psf);
	grid_dirty(g, s->vis, dirty);
	for (size_t j = 0; j < npix; j++) {
		psf[j] = (float)(psf[j] / s->sum_w);
		dirty[j] = res0[j] = res1[j] = (float)(dirty[j] / s->sum_w);
	}

	/* The direct sum at the two pixel-centred sources and one empty pixel. */
	int pix[3] = { N / 2 * N + N / 2, 113 * N + 148, 40 * N + 200 };
	CHECK_OK(grid_dirty_pixels(g, s->vis, pix, 3, ch), "grid_dirty_pixels");
	for (int k = 0; k < 3; k++) {
		double d = 0;
		for (int c = 0; c < s->nchan; c++)
			d += ch[k * s->nchan + c];
		d /= s->sum_w;
		printf("# pixel %d: direct sum %.6f, gridded %.6f Jy/beam\n", pix[k], d,
		       dirty[pix[k]]);
		CHECK(fabs(d - dirty[pix[k]]) < 1e-3, "pixel %d: %g vs %g", pix[k], d,
		      dirty[pix[k]]);
	}

	clean_params_default(&cp);
	cp.nthreads = 2;
	cp.auto_threshold = 0;
	cp.threshold_jy = 0.002;
	CHECK_OK(clean_run(g, s, psf, &cp, m0, res0, &st0, err, sizeof err), err);
	hook_ctx h = { g, s->sum_w, npix, 0 };
	CHECK_OK(clean_run_vis(g, s, psf, &cp, m1, res1, rvis, hook_image, &h, &st1, err,
			       sizeof err), err);
	CHECK(st0.iterations == st1.iterations && st0.major_cycles == st1.major_cycles,
	      "%d/%d vs %d/%d", st0.iterations, st0.major_cycles, st1.iterations,
	      st1.major_cycles);
	CHECK(!strcmp(st1.stop, "threshold") && h.calls == 1, "stop %s, %d hook calls", st1.stop,
	      h.calls);
	double dm = 0, dr = 0, dv = 0, vmax = 0;
	for (size_t j = 0; j < npix; j++) {
		dm = fmax(dm, fabs(m0[j] - m1[j]));
		dr = fmax(dr, fabs(res0[j] - res1[j]));
	}
	CHECK(dm == 0 && dr < 1e-6, "model differs by %g, residual by %g", dm, dr);
	CHECK_OK(grid_degrid(g, m1, pred), "degrid");
	for (size_t k = 0; k < ns; k++)
		if (s->img_wgt[k] > 0) {
			dv = fmax(dv, cabsf(rvis[k] - (s->vis[k] - pred[k])));
			vmax = fmax(vmax, cabsf(s->vis[k]));
		}
	CHECK(dv < 1e-5 * vmax, "residual visibilities off by %g (of %g)", dv, vmax);
	/* A floor above the first minor cycle's level stops CLEAN before it. */
	memset(m1, 0, npix * sizeof *m1);
	memcpy(res1, dirty, npix * sizeof *res1);
	cp.floor_jy = 0.5;
	CHECK_OK(clean_run_vis(g, s, psf, &cp, m1, res1, rvis, NULL, NULL, &st1, err, sizeof err),
		 err);
	CHECK(!strcmp(st1.stop, "floor") && st1.major_cycles == 0 && st1.iterations == 0,
	      "stop %s after %d cycles", st1.stop, st1.major_cycles);
	for (size_t k = 0, bad = 0; k < ns && !bad; k++)
		if (s->img_wgt[k] > 0 && cabsf(rvis[k] - s->vis[k]) > 1e-6f * vmax)
			CHECK(!(bad = 1), "zero model: rvis[%zu] != vis", k);
out:
	free(psf);
	free(res0);
	free(res1);
	free(m0);
	free(m1);
	free(dirty);
	free(rvis);
	free(pred);
	free(ch);
	grid_plan_free(g);
	weight_stokes_free(s);
	vis_free(v);
}

int main(void)
{
	RUN(test_clean_point_sources);
	RUN(test_clean_run_vis);
	RUN(test_niter_limit);
	RUN(test_noise_radiometer);
	RUN(test_automask);
	RUN(test_pool_reuse);
	RUN(test_drift_refused);
	return TEST_DONE();
}
