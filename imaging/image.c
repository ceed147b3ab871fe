/*
 * imaging/image.c — the imaging stage (see image.h).
 */
#include "imaging/image.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/astro.h"
#include "core/beam.h"
#include "core/clock.h"
#include "core/err.h"
#include "imaging/pbeam.h"

#define ARCSEC (M_PI / 648000.0)

void image_params_default(image_params *p)
{
	memset(p, 0, sizeof *p);
	p->nx = p->ny = 4096;
	p->cell_rad = 3 * ARCSEC;
	p->weighting = WEIGHT_BRIGGS;
	p->robust = 0;
	p->chan_avg = 1;
	p->epsilon = 1e-4;
	p->sigma = 2.0;
	p->wstacking = 1;
	p->wplane_fit = 1;
	clean_params_default(&p->clean);
	p->beam_box = 1;
	p->beam_box_scale = 10;
	p->pb_cut = 0.2;
	p->diam_m = BEAM_DSA110_DIAM_M;
	p->dut1_s = 0;
	p->xp_rad = 0;
	p->yp_rad = 0;
	p->nthreads = 0;
}

void image_params_quicklook(image_params *p)
{
	image_params_default(p);
	p->nx = p->ny = 2048;
	p->cell_rad = 6 * ARCSEC;
	p->clean.niter = 2000;
	p->clean.max_major = 8;
	p->clean.auto_threshold = 5;
}

void image_result_free(image_result *r)
{
	if (!r)
		return;
	pool_put(r->pool, r->image);
	pool_put(r->pool, r->residual);
	pool_put(r->pool, r->psf);
	pool_put(r->pool, r->model);
	pool_put(r->pool, r->pb);
	pool_put(r->pool, r->pbcor);
	if (r->sub) {
		subband_images_free(r->sub, r->nsub, r->pool);
		free(r->sub);
	}
	free(r);
}

img_proj image_proj(const image_result *r)
{
	return (img_proj){ r->nx, r->ny, r->cell_rad, r->ra0_rad, r->dec0_rad, r->xi, r->eta };
}

int image_pix_to_radec(const image_result *r, double x, double y, double *ret_ra,
		       double *ret_dec)
{
	img_proj pj = image_proj(r);
	return proj_pix_to_radec(&pj, x, y, ret_ra, ret_dec);
}

int image_radec_to_pix(const image_result *r, double ra, double dec, double *ret_x,
		       double *ret_y)
{
	img_proj pj = image_proj(r);
	return proj_radec_to_pix(&pj, ra, dec, ret_x, ret_y);
}

int image_peak_fit(const float *img, int nx, int ny, int x0, int y0, int radius,
		   double *ret_x, double *ret_y, double *ret_peak)
{
	int bx = -1, by = -1;
	float best = -INFINITY;
	for (int y = y0 - radius; y <= y0 + radius; y++)
		for (int x = x0 - radius; x <= x0 + radius; x++) {
			if (x < 1 || y < 1 || x >= nx - 1 || y >= ny - 1)
				continue;
			float v = img[(size_t)y * nx + x];
			if (isfinite(v) && v > best) {
				best = v;
				bx = x;
				by = y;
			}
		}
	if (bx < 0)
		return -1;
	/* Least-squares paraboloid through the 3×3 neighbourhood, on the log of
	 * the values when they are all positive (exact for a Gaussian peak). */
	double z[3][3];
	int uselog = 1;
	for (int j = -1; j <= 1; j++)
		for (int i = -1; i <= 1; i++) {
			z[j + 1][i + 1] = img[(size_t)(by + j) * nx + bx + i];
			if (!(z[j + 1][i + 1] > 0) || !isfinite(z[j + 1][i + 1]))
				uselog = 0;
		}
	for (int j = 0; j < 3 && uselog; j++)
		for (int i = 0; i < 3; i++)
			z[j][i] = log(z[j][i]);
	/* f = a + b x + c y + d x² + e y² + f xy on the 3×3 stencil (closed form). */
	double b = (z[0][2] + z[1][2] + z[2][2] - z[0][0] - z[1][0] - z[2][0]) / 6;
	double c = (z[2][0] + z[2][1] + z[2][2] - z[0][0] - z[0][1] - z[0][2]) / 6;
	double sx = 0, sy = 0, s0 = 0;
	for (int j = 0; j < 3; j++)
		for (int i = 0; i < 3; i++) {
			s0 += z[j][i];
			sx += z[j][i] * (i - 1) * (i - 1);
			sy += z[j][i] * (j - 1) * (j - 1);
		}
	double d = (sx - 2.0 / 3 * s0) / 2;  /* Σ f x² − (2/3) Σ f, over 2 */
	double e = (sy - 2.0 / 3 * s0) / 2;
	double f = (z[0][0] + z[2][2] - z[0][2] - z[2][0]) / 4;
	double a = (5 * s0 - 3 * (sx + sy)) / 9;
	double det = 4 * d * e - f * f;
	double dx = 0, dy = 0;
	if (d < 0 && e < 0 && det > 0) {
		dx = (-2 * e * b + f * c) / det;
		dy = (-2 * d * c + f * b) / det;
		if (fabs(dx) > 1 || fabs(dy) > 1)
			dx = dy = 0;
	}
	double pk = a + b * dx + c * dy + d * dx * dx + e * dy * dy + f * dx * dy;
	*ret_x = bx + dx;
	*ret_y = by + dy;
	*ret_peak = uselog ? exp(pk) : pk;
	return 0;
}

static void scale(float *a, size_t n, double s, int nthreads)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
	for (size_t j = 0; j < n; j++)
		a[j] = (float)(a[j] * s);
}

int image_run(const vis_set *v, const image_params *p, image_result **ret, char *err,
	      size_t errlen)
{
	image_result *res = NULL;
	weight_stokes *s = NULL;
	grid_plan *g = NULL;
	weight_params wp;
	grid_params gp;
	int r = 0, nthreads = p->nthreads > 0 ? p->nthreads : omp_get_max_threads();
	size_t npix;
	double t0 = clk_mono_s(), t;
	int nsub = p->subbands >= 2 ? p->subbands : 0;

	if (v->phase_type != VIS_PHASE_FIXED)
		return err_set(err, errlen, -EINVAL,
			       "%s: imaging needs visibilities rephased to one ICRS centre "
			       "(phase_type FIXED, core/convert.h)", v->name);
	if (p->nx < 16 || p->ny < 16 || p->nx % 2 || p->ny % 2 || !(p->cell_rad > 0))
		return err_set(err, errlen, -EINVAL, "image: bad size %dx%d or cell %g rad", p->nx,
			       p->ny, p->cell_rad);
	npix = (size_t)p->nx * p->ny;
	res = calloc(1, sizeof *res);
	if (!res)
		return err_set(err, errlen, -ENOMEM, "image: out of memory");
	res->nx = p->nx;
	res->ny = p->ny;
	res->cell_rad = p->cell_rad;
	res->pointing_dec_rad = NAN;
	res->ra0_rad = v->phase_ra_rad;
	res->dec0_rad = v->phase_dec_rad;
	res->pb_cut = p->pb_cut;
	res->weighting = p->weighting;
	res->robust = p->robust;
	if (p->weighting == WEIGHT_BRIGGS)
		snprintf(res->weighting_desc, sizeof res->weighting_desc, "briggs %g", p->robust);
	else
		snprintf(res->weighting_desc, sizeof res->weighting_desc, "%s",
			 weight_mode_name(p->weighting));
	snprintf(res->group, sizeof res->group, "%s", v->name);
	snprintf(res->telescope, sizeof res->telescope, "%s",
		 !strcmp(v->instrument, "DSA") ? "DSA-110" : v->telescope);
	res->pool = p->pool;
	res->image = pool_get(p->pool, npix * sizeof(float));
	res->residual = pool_get(p->pool, npix * sizeof(float));
	res->psf = pool_get(p->pool, npix * sizeof(float));
	res->model = pool_get_zero(p->pool, npix * sizeof(float));
	res->pb = pool_get(p->pool, npix * sizeof(float));
	res->pbcor = pool_get(p->pool, npix * sizeof(float));
	if (!res->image || !res->residual || !res->psf || !res->model || !res->pb || !res->pbcor) {
		r = err_set(err, errlen, -ENOMEM, "image: out of memory for %dx%d images", p->nx,
			    p->ny);
		goto out;
	}

	/* Stokes I and weights. */
	t = clk_mono_s();
	r = weight_stokes_new(v, p->chan_avg, nthreads, p->pool, &s, err, errlen);
	if (r < 0)
		goto out;
	weight_params_default(&wp);
	wp.mode = p->weighting;
	wp.robust = p->robust;
	wp.taper_fwhm_rad = p->taper_fwhm_rad;
	wp.uvmin_lambda = p->uvmin_lambda;
	wp.uvmax_lambda = p->uvmax_lambda;
	wp.nx = p->nx;
	wp.ny = p->ny;
	wp.cell_rad = p->cell_rad;
	wp.nthreads = nthreads;
	r = weight_apply(s, &wp, err, errlen);
	if (r < 0)
		goto out;
	if (!(s->sum_w > 0)) {
		r = err_set(err, errlen, -EINVAL, "%s: every visibility is flagged or cut", v->name);
		goto out;
	}
	res->t.weight_s = clk_mono_s() - t;
	/* At most one sub-band per (averaged) channel. */
	if (nsub > s->nchan)
		nsub = s->nchan >= 2 ? s->nchan : 0;

	/* Gridder, in the slant projection of the array's plane when that
	 * shrinks the w range (imaging/proj.h, grid_fit_wplane). */
	grid_uvdata ud = { s->nrows, s->nchan, s->uvw_m, s->freq_hz, s->img_wgt };
	if (p->wstacking && p->wplane_fit)
		grid_fit_wplane(&ud, nthreads, &res->xi, &res->eta);
	grid_params_default(&gp);
	gp.nx = p->nx;
	gp.ny = p->ny;
	gp.cell_rad = p->cell_rad;
	gp.xi = res->xi;
	gp.eta = res->eta;
	gp.epsilon = p->epsilon;
	gp.sigma = p->sigma;
	gp.wstacking = p->wstacking;
	gp.nthreads = nthreads;
	gp.pool = p->pool;
	t = clk_mono_s();
	r = grid_plan_new(&gp, &g, err, errlen);
	if (r < 0)
		goto out;
	r = grid_plan_set_data(g, &ud, err, errlen);
	if (r < 0)
		goto out;
	res->t.plan_s = clk_mono_s() - t;

	t = clk_mono_s();
	grid_dirty(g, NULL, res->psf);
	scale(res->psf, npix, 1 / s->sum_w, nthreads);
	res->t.psf_s = clk_mono_s() - t;
	/* The MFS dirty image (with sub-bands too: their CLEAN starts as the
	 * MFS one, imaging/subband.h). */
	t = clk_mono_s();
	grid_dirty(g, s->vis, res->residual);
	scale(res->residual, npix, 1 / s->sum_w, nthreads);
	res->t.dirty_s = clk_mono_s() - t;

	r = beamfit_psf(res->psf, p->nx, p->ny, p->cell_rad, &res->beam, err, errlen);
	if (r < 0)
		goto out;
	if (p->beam_box && s->max_uv_lambda > 0) {
		/* The box fit starts from the main-lobe beam; if it diverges or
		 * lands far from it (a pathological PSF), the main-lobe beam stays. */
		beamfit_beam b = res->beam;
		if (beamfit_psf_box(res->psf, p->nx, p->ny, p->cell_rad, 1 / s->max_uv_lambda,
				    p->beam_box_scale > 0 ? p->beam_box_scale : 10, &b, NULL, 0) == 0 &&
		    b.bmaj_rad < 3 * res->beam.bmaj_rad && b.bmin_rad > 0.5 * res->beam.bmin_rad)
			res->beam = b;
	}

	clean_params cp = p->clean;
	cp.pool = p->pool;
	if (nsub >= 2) {
		/* Joined-channel CLEAN (imaging/subband.h): the plan's data are
		 * replaced per sub-band, so its MFS description is kept first. */
		grid_get_info(g, &res->grid);
		t = clk_mono_s();
		res->sub = calloc(nsub, sizeof *res->sub);
		if (!res->sub) {
			r = err_set(err, errlen, -ENOMEM, "image: out of memory");
			goto out;
		}
		cp.nthreads = nthreads;
		r = subband_clean(g, s, res->psf, &cp, &res->beam, nsub, res->model,
				  res->residual, &res->clean, res->sub, err, errlen);
		if (r < 0)
			goto out;
		res->nsub = nsub;
		res->t.subband_s = clk_mono_s() - t;
	} else {
		r = clean_run(g, s, res->psf, &cp, res->model, res->residual, &res->clean, err,
			      errlen);
		if (r < 0)
			goto out;
	}
	res->t.minor_s = res->clean.minor_s;
	res->t.major_s = res->clean.major_s;

	t = clk_mono_s();
	memcpy(res->image, res->residual, npix * sizeof(float));
	beamfit_restore(res->image, res->model, p->nx, p->ny, p->cell_rad, &res->beam, nthreads);
	res->t.restore_s = clk_mono_s() - t;

	/* Primary beam of the drift and the corrected image. */
	t = clk_mono_s();
	pbeam_params pp = { 0 };
	double pdec = v->pointing_dec_rad;
	if (!v->has_pointing_dec) {
		double ra_app;
		r = astro_icrs_to_cirs(vis_mid_jd(v), v->phase_ra_rad, v->phase_dec_rad, &ra_app,
				       &pdec);
		if (r < 0) {
			err_set(err, errlen, r, "%s: cannot compute the pointing declination",
				v->name);
			goto out;
		}
	}
	pp.proj = image_proj(res);
	pp.diam_m = p->diam_m;
	pp.ntimes = v->ntimes;
	pp.time_jd = v->time_jd;
	pp.time_w = s->time_wsum;
	pp.nchan = s->nchan;
	pp.freq_hz = s->freq_hz;
	pp.chan_w = s->chan_wsum;
	pp.lon_rad = v->lon_rad;
	pp.pointing_dec_rad = pdec;
	res->pointing_dec_rad = pdec;
	pp.dut1_s = p->dut1_s;
	pp.xp_rad = p->xp_rad;
	pp.yp_rad = p->yp_rad;
	pp.nthreads = nthreads;
	r = pbeam_image(&pp, res->pb, err, errlen);
	if (r < 0)
		goto out;
	pbeam_correct(res->image, res->pb, npix, p->pb_cut, res->pbcor);
	/* Each sub-band's beam: the same drift average over its channels. */
	for (int k = 0; k < res->nsub; k++) {
		subband_image *o = &res->sub[k];
		o->pb = pool_get(p->pool, npix * sizeof(float));
		o->pbcor = pool_get(p->pool, npix * sizeof(float));
		if (!o->pb || !o->pbcor) {
			r = err_set(err, errlen, -ENOMEM, "image: out of memory");
			goto out;
		}
		if (!(o->sum_w > 0)) {
			for (size_t j = 0; j < npix; j++)
				o->pb[j] = o->pbcor[j] = NAN;
			continue;
		}
		pbeam_params sp = pp;
		sp.nchan = o->nchan;
		sp.freq_hz = s->freq_hz + o->chan0;
		sp.chan_w = s->chan_wsum + o->chan0;
		r = pbeam_image(&sp, o->pb, err, errlen);
		if (r < 0)
			goto out;
		pbeam_correct(o->image, o->pb, npix, p->pb_cut, o->pbcor);
	}
	res->t.pb_s = clk_mono_s() - t;

	/* Statistics. */
	res->noise_jy = clean_mad_sigma(res->residual, npix);
	res->peak_jy = -INFINITY;
	for (size_t j = 0; j < npix; j++)
		if (res->image[j] > res->peak_jy)
			res->peak_jy = res->image[j];
	res->dynamic_range = res->noise_jy > 0 ? res->peak_jy / res->noise_jy : 0;
	res->freq_hz = s->mean_freq_hz;
	{
		double fmin = INFINITY, fmax = -INFINITY;
		for (int c = 0; c < v->nchan; c++) {
			fmin = fmin < v->freq_hz[c] ? fmin : v->freq_hz[c];
			fmax = fmax > v->freq_hz[c] ? fmax : v->freq_hz[c];
		}
		res->bandwidth_hz = fmax - fmin + fabs(v->chan_width_hz);
	}
	res->jd_start = v->time_jd[0] - 0.5 * v->int_time_s / 86400.0;
	res->jd_mid = vis_mid_jd(v);
	res->exposure_s = v->ntimes * v->int_time_s;
	res->sum_w = s->sum_w;
	res->sum_w2_over_d = s->sum_w2_over_d;
	{
		/* The visibility noise from the data, and what it gives this
		 * image (imaging/noise.h). */
		noise_estimate ne;
		r = noise_unit_sigma(v, s, p->pool, &ne);
		if (r < 0) {
			err_set(err, errlen, r, "image: out of memory for the noise estimate");
			goto out;
		}
		res->vis_sigma_unit = ne.sigma_unit;
		res->vis_noise_method = ne.method;
		res->expected_noise_jy = noise_image_expect(ne.sigma_unit, s->sum_w,
							    s->sum_w2_over_d);
	}
	if (res->nsub >= 2) {
		/* The MFS description, with the timings of every call since. */
		grid_info now;
		grid_get_info(g, &now);
		res->grid.grid_s = now.grid_s;
		res->grid.fft_s = now.fft_s;
		res->grid.screen_s = now.screen_s;
		res->grid.ndegrid_dft = now.ndegrid_dft;
	} else {
		grid_get_info(g, &res->grid);
	}
	res->nvis_gridded = res->grid.nvis;
	res->nvis_in = (size_t)s->nrows * v->nchan * v->npols;
	res->t.index_s = res->grid.index_s;
	res->t.grid_s = res->grid.grid_s;
	res->t.fft_s = res->grid.fft_s;
	res->t.screen_s = res->grid.screen_s;

	res->t.total_s = clk_mono_s() - t0;
	res->mvis_per_s = res->nvis_in / res->t.total_s / 1e6;
out:
	grid_plan_free(g);
	weight_stokes_free(s);
	if (r < 0) {
		image_result_free(res);
		return r;
	}
	*ret = res;
	return 0;
}
