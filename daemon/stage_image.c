/*
 * daemon/stage_image.c — the image stage: the pipeline's adapter between the
 * pure imager (imaging/image.h) and the files and database.
 *
 * Reads [image] (docs/config.md; parsed once by stage_image_settings,
 * daemon/settings.h) from ctx->conf, images ctx->vis, writes the six products
 *     products_dir/YYYY-MM-DD/<group>/<group>.{image,residual,psf,model,pb,pbcor}.fits
 * (each atomically: temporary name, rename), registers them as products
 * named image, residual, psf, model, pb, pbcor, and upserts two `images`
 * rows (the restored image and the pbcor image, pbcor = 0/1) with the beam,
 * noise, peak, dynamic range, centre, size, cell, frequency, bandwidth,
 * integration and calibration state.  With [image] subbands = N >= 2 it also
 * writes <group>.{image,pbcor}-SB<k>.fits, k = 0 .. N−1 (products image-SB<k>,
 * pbcor-SB<k>; imaging/subband.h).  The result stays in ctx->image for
 * the photometry stage.  Last, unless [image] quicklook_png = false, the
 * quick-look picture quicklook.png beside them (daemon/quicklook.h,
 * docs/plots.md), registered as the product quicklook.
 */
#include "daemon/stage_image.h"
#include "daemon/stage_photometry.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "daemon/quicklook.h"
#include "daemon/settings.h"
#include "daemon/provenance.h"
#include "daemon/util.h"
#include "imaging/fitsout.h"
#include "imaging/grid.h"
#include "imaging/image.h"
#include "state/db.h"
#include "state/imagedb.h"

#define ARCSEC (M_PI / 648000.0)
#define DEG (M_PI / 180.0)

/* [image] → image_params, every key optional (defaults of image.h; with
 * quicklook = true the quick-look preset is the starting point). */
int stage_image_params(const cfg *c, image_params *p, char *err, size_t errlen)
{
	int r, ql = 0, size, wst, wfit, niter, max_major, chan_avg, nsub;
	double cell, robust, taper, uvmin, uvmax, eps, sigma, gain, mgain, thr_mjy, athr, amask;
	double pbcut, diam;
	const char *w;

	if ((r = cfg_bool(c, "image", "quicklook", 0, &ql, err, errlen)) < 0)
		return r;
	if (ql)
		image_params_quicklook(p);
	else
		image_params_default(p);
	if ((r = cfg_int(c, "image", "size", p->nx, &size, err, errlen)) < 0 ||
	    (r = cfg_double(c, "image", "cell_arcsec", p->cell_rad / ARCSEC, &cell, err, errlen)) <
		    0 ||
	    (r = cfg_double(c, "image", "robust", p->robust, &robust, err, errlen)) < 0 ||
	    (r = cfg_double(c, "image", "taper_arcsec", 0, &taper, err, errlen)) < 0 ||
	    (r = cfg_double(c, "image", "uvmin_lambda", 0, &uvmin, err, errlen)) < 0 ||
	    (r = cfg_double(c, "image", "uvmax_lambda", 0, &uvmax, err, errlen)) < 0 ||
	    (r = cfg_int(c, "image", "chan_avg", p->chan_avg, &chan_avg, err, errlen)) < 0 ||
	    (r = cfg_double(c, "image", "epsilon", p->epsilon, &eps, err, errlen)) < 0 ||
	    (r = cfg_double(c, "image", "oversampling", p->sigma, &sigma, err, errlen)) < 0 ||
	    (r = cfg_bool(c, "image", "wstacking", p->wstacking, &wst, err, errlen)) < 0 ||
	    (r = cfg_bool(c, "image", "wplane_fit", p->wplane_fit, &wfit, err, errlen)) < 0 ||
	    (r = cfg_int(c, "image", "niter", p->clean.niter, &niter, err, errlen)) < 0 ||
	    (r = cfg_double(c, "image", "gain", p->clean.gain, &gain, err, errlen)) < 0 ||
	    (r = cfg_double(c, "image", "major_gain", p->clean.major_gain, &mgain, err, errlen)) <
		    0 ||
	    (r = cfg_double(c, "image", "threshold_mjy", p->clean.threshold_jy * 1e3, &thr_mjy,
			    err, errlen)) < 0 ||
	    (r = cfg_double(c, "image", "auto_threshold", p->clean.auto_threshold, &athr, err,
			    errlen)) < 0 ||
	    (r = cfg_double(c, "image", "auto_mask", p->clean.auto_mask, &amask, err, errlen)) < 0 ||
	    (r = cfg_int(c, "image", "max_major", p->clean.max_major, &max_major, err, errlen)) <
		    0 ||
	    (r = cfg_double(c, "image", "pb_cut", p->pb_cut, &pbcut, err, errlen)) < 0 ||
	    (r = cfg_double(c, "image", "dish_diameter_m", p->diam_m, &diam, err, errlen)) < 0 ||
	    (r = cfg_int(c, "image", "subbands", 4, &nsub, err, errlen)) < 0)
		return r;
	if (nsub < 0 || nsub > SUBBAND_MAX)
		return err_set(err, errlen, -EINVAL, "[image] subbands = %d: expected 0 .. %d", nsub,
			       SUBBAND_MAX);
	p->subbands = nsub >= 2 ? nsub : 0;
	const char *bf = cfg_get_str(c, "image", "beam_fit", p->beam_box ? "box" : "mainlobe");
	if (!strcmp(bf, "box"))
		p->beam_box = 1;
	else if (!strcmp(bf, "mainlobe"))
		p->beam_box = 0;
	else
		return err_set(err, errlen, -EINVAL,
			       "[image] beam_fit = '%s': expected box or mainlobe", bf);
	w = cfg_get_str(c, "image", "weighting", weight_mode_name(p->weighting));
	if (weight_mode_parse(w, &p->weighting) < 0)
		return err_set(err, errlen, -EINVAL,
			       "[image] weighting = '%s': expected natural, uniform or briggs", w);
	if (size < 16 || size % 2 || size > 32768)
		return err_set(err, errlen, -EINVAL, "[image] size = %d: expected an even 16..32768",
			       size);
	if (!(cell > 0))
		return err_set(err, errlen, -EINVAL, "[image] cell_arcsec = %g: must be > 0", cell);
	if (!(robust >= -2 && robust <= 2))
		return err_set(err, errlen, -EINVAL, "[image] robust = %g: expected -2 .. 2", robust);
	if (!(eps >= 1e-7 && eps < 0.1) || !(sigma >= 1.2 && sigma <= 3))
		return err_set(err, errlen, -EINVAL,
			       "[image] epsilon = %g / oversampling = %g out of range", eps, sigma);
	if (!(gain > 0 && gain <= 1) || !(mgain > 0 && mgain <= 1))
		return err_set(err, errlen, -EINVAL, "[image] gain/major_gain must be in (0, 1]");
	if (chan_avg < 1 || niter < 0 || max_major < 0 || !(pbcut > 0 && pbcut < 1) ||
	    !(diam > 0))
		return err_set(err, errlen, -EINVAL,
			       "[image] chan_avg >= 1, niter >= 0, max_major >= 0, 0 < pb_cut < 1, "
			       "dish_diameter_m > 0 required");
	p->nx = p->ny = size;
	p->cell_rad = cell * ARCSEC;
	p->robust = robust;
	p->taper_fwhm_rad = taper * ARCSEC;
	p->uvmin_lambda = uvmin;
	p->uvmax_lambda = uvmax;
	p->chan_avg = chan_avg;
	p->epsilon = eps;
	p->sigma = sigma;
	p->wstacking = wst;
	p->wplane_fit = wfit;
	p->clean.niter = niter;
	p->clean.gain = gain;
	p->clean.major_gain = mgain;
	p->clean.threshold_jy = thr_mjy * 1e-3;
	p->clean.auto_threshold = athr;
	p->clean.auto_mask = amask;
	p->clean.max_major = max_major;
	p->pb_cut = pbcut;
	p->diam_m = diam;
	return 0;
}

int stage_image_settings(const cfg *c, const pipe_settings *ps, image_settings *s, char *err,
			 size_t errlen)
{
	const char *w;
	int r;

	memset(s, 0, sizeof *s);
	if ((r = stage_image_params(c, &s->p, err, errlen)) < 0)
		return r;
	/* No explicit chan_avg: the stage averages adjacent channels up to
	 * avg_width_mhz of the group's data. */
	s->chan_avg_set = cfg_lookup(c, "image", "chan_avg") != NULL;
	r = cfg_double(c, "image", "avg_width_mhz", 1.953125, &s->avg_width_mhz, err, errlen);
	if (r < 0)
		return r;
	if (!(s->avg_width_mhz >= 0))
		return cfg_err(c, "image", "avg_width_mhz", err, errlen, "%g: must be >= 0",
			       s->avg_width_mhz);
	/* FFTW wisdom: [image] fftw_wisdom, by default state_dir/fftw.wisdom;
	 * "none" or "" turns it off. */
	w = cfg_get_str(c, "image", "fftw_wisdom", NULL);
	if (!w) {
		if (ps->state_dir[0] &&
		    (size_t)snprintf(s->fftw_wisdom, sizeof s->fftw_wisdom, "%s/fftw.wisdom",
				     ps->state_dir) >= sizeof s->fftw_wisdom)
			return cfg_err(c, "paths", "state_dir", err, errlen, "path too long");
	} else if (strcmp(w, "none") != 0) {
		if (strlen(w) >= sizeof s->fftw_wisdom)
			return cfg_err(c, "image", "fftw_wisdom", err, errlen, "path too long");
		snprintf(s->fftw_wisdom, sizeof s->fftw_wisdom, "%s", w);
	}
	/* The quick-look picture (docs/plots.md). */
	if ((r = cfg_bool(c, "image", "quicklook_png", 1, &s->quicklook_png, err, errlen)) < 0 ||
	    (r = cfg_int(c, "image", "quicklook_px", 1024, &s->quicklook_px, err, errlen)) < 0)
		return r;
	if (s->quicklook_px < 64 || s->quicklook_px > 8192)
		return cfg_err(c, "image", "quicklook_px", err, errlen, "%d: expected 64..8192",
			       s->quicklook_px);
	return 0;
}

static int record_image(pipe_ctx *ctx, const image_result *r, const char *path, int pbcor,
			char *err, size_t errlen)
{
	imagedb_row w = {
		.group_id = ctx->group_id,
		.path = path,
		.pbcor = pbcor,
		.bmaj_arcsec = r->beam.bmaj_rad / ARCSEC,
		.bmin_arcsec = r->beam.bmin_rad / ARCSEC,
		.bpa_deg = r->beam.bpa_rad / DEG,
		.noise_jy = r->noise_jy,
		.expected_noise_jy = r->expected_noise_jy,
		.vis_sigma_unit = r->vis_sigma_unit,
		.noise_method = noise_method_name(r->vis_noise_method),
		.peak_jy = r->peak_jy,
		.dynamic_range = r->dynamic_range,
		.ra_deg = r->ra0_rad / DEG,
		.dec_deg = r->dec0_rad / DEG,
		.nx = r->nx,
		.ny = r->ny,
		.cell_arcsec = r->cell_rad / ARCSEC,
		.freq_hz = r->freq_hz,
		.bandwidth_hz = r->bandwidth_hz,
		.integration_s = r->exposure_s,
		.mjd_obs = r->jd_start - 2400000.5,
		/* bandpass-only is not calibrated (PHOT_CAL_*, daemon/stage_photometry.h) */
		.calibrated = ctx->calibrated == PHOT_CAL_FULL,
		.niter = r->clean.iterations,
		.nmajor = r->clean.major_cycles,
		.weighting = r->weighting_desc,
		.created_at = (double)time(NULL),
	};
	return imagedb_record(ctx->db, &w, err, errlen);
}

void stage_image_release(pipe_ctx *ctx)
{
	image_result_free(ctx->image);
	ctx->image = NULL;
}

/* The quick-look picture of the restored image, catalog sources circled,
 * beside the FITS files (docs/plots.md).  It is a convenience: a failure is
 * logged and the group goes on. */
static void write_quicklook(pipe_ctx *ctx, const char *dir, const char *fits,
			    const float *pixels)
{
	char png[4300], e[ERR_LEN];
	plot_qlook_info in;
	const contimg_config *cf = ctx->conf;

	if (!cf->image.quicklook_png)
		return;
	snprintf(png, sizeof png, "%s/quicklook.png", dir);
	double t0 = clk_mono_s();
	int r = quicklook_write(fits, pixels, png, cf->catalog_path, cf->phot.min_flux_mjy,
				cf->image.quicklook_px, PLOT_STRETCH_LINEAR, &in, e, sizeof e);
	double dt = clk_mono_s() - t0;
	if (r < 0) {
		log_msg(LOG_WARNING, ctx->group_name, "image", -1, "no quick-look picture: %s", e);
		return;
	}
	pipe_add_product(ctx, "quicklook", png);
	log_msg(LOG_INFO, ctx->group_name, "image", -1,
		"quick-look %s: %dx%d, binned %dx%d, %d catalog sources circled (%.2f s)", png,
		in.width, in.height, in.factor, in.factor, in.ncircled, dt);
}

/* Files write_products writes at a time: the writes are bound by the disk
 * (4 at a time took as long as 2 on the bench: 14 files, 900 MB, ~2 s). */
#define FITS_WRITERS 2

/* One FITS product of write_products. */
typedef struct fits_job {
	char name[32];
	char path[4300];
	int product;            /* FITSOUT_* of the MFS image; -1: a sub-band's */
	int sub, pbcor;         /* the sub-band's index, restored (0) or pbcor (1) */
	int r;
	char err[ERR_LEN];
} fits_job;

typedef struct fits_jobs {
	fits_job *job;
	int n, next;
	pthread_mutex_t lock;
	const image_result *res;
	const fitsout_provenance *prov;
	int calibrated;
} fits_jobs;

static void *fits_worker(void *arg)
{
	fits_jobs *J = arg;
	for (;;) {
		pthread_mutex_lock(&J->lock);
		int i = J->next++;
		pthread_mutex_unlock(&J->lock);
		if (i >= J->n)
			return NULL;
		fits_job *j = &J->job[i];
		j->r = j->product >= 0
			       ? fitsout_write_prov(j->path, J->res, j->product, J->calibrated,
						    J->prov, j->err, sizeof j->err)
			       : fitsout_write_subband_prov(j->path, J->res, j->sub, j->pbcor,
							    J->calibrated, J->prov, j->err,
							    sizeof j->err);
	}
}

/* The six MFS products at path[] and each sub-band's <group>.image-SB<k>.fits
 * and pbcor-SB<k>.fits in dir, FITS_WRITERS files at a time (CFITSIO is reentrant, a
 * file is one thread's, and the writes wait on the disk: each is fsync'd
 * before its rename, fitsout.h), registered in order as they were before.
 * On a failure the first error (in product order) is returned and nothing is
 * registered after it; the files written after it are removed. */
static int write_products(pipe_ctx *ctx, const image_result *res, const char *dir,
			  const char path[][4300], const fitsout_provenance *prov, char *err,
			  size_t errlen)
{
	int n = FITSOUT_NPRODUCTS + 2 * res->nsub, r = 0;
	fits_job *job = calloc(n, sizeof *job);
	if (!job)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	for (int k = 0; k < FITSOUT_NPRODUCTS; k++) {
		snprintf(job[k].name, sizeof job[k].name, "%s", fitsout_product_name(k));
		memcpy(job[k].path, path[k], sizeof job[k].path);
		job[k].product = k;
	}
	for (int k = 0; k < res->nsub; k++)
		for (int pc = 0; pc < 2; pc++) {
			fits_job *j = &job[FITSOUT_NPRODUCTS + 2 * k + pc];
			snprintf(j->name, sizeof j->name, "%s-SB%d", pc ? "pbcor" : "image", k);
			snprintf(j->path, sizeof j->path, "%s/%s.%s.fits", dir, ctx->group_name,
				 j->name);
			j->product = -1;
			j->sub = k;
			j->pbcor = pc;
		}
	fits_jobs J = { .job = job, .n = n, .res = res, .prov = prov,
			.calibrated = ctx->calibrated == PHOT_CAL_FULL };
	pthread_t th[FITS_WRITERS - 1];
	int nh = 0;
	pthread_mutex_init(&J.lock, NULL);
	while (nh < FITS_WRITERS - 1 && nh < n - 1 &&
	       pthread_create(&th[nh], NULL, fits_worker, &J) == 0)
		nh++;
	fits_worker(&J);
	while (nh > 0)
		pthread_join(th[--nh], NULL);
	pthread_mutex_destroy(&J.lock);
	for (int i = 0; i < n; i++) {
		if (r < 0) {
			if (job[i].r == 0)
				unlink(job[i].path);
			continue;
		}
		if (job[i].r < 0) {
			r = err_set(err, errlen, job[i].r, "%s", job[i].err);
			continue;
		}
		pipe_add_product(ctx, job[i].name, job[i].path);
		pipe_progress(ctx);
	}
	free(job);
	return r;
}

int stage_image(pipe_ctx *ctx, char *err, size_t errlen)
{
	image_params p;
	image_result *res = NULL;
	char dir[4096], path[FITSOUT_NPRODUCTS][4300];
	int r;

	if (!ctx->vis)
		return err_set(err, errlen, -EINVAL, "no visibilities to image (convert did not run)");
	/* [image] was parsed and validated with the configuration. */
	p = ctx->conf->image.p;
	p.nthreads = ctx->threads;
	p.pool = ctx->pool;
	/* The beam's pointing with the Earth orientation convert used. */
	p.dut1_s = ctx->eop.dut1_s;
	p.xp_rad = ctx->eop.xp_rad;
	p.yp_rad = ctx->eop.yp_rad;
	if (!ctx->conf->image.chan_avg_set) {
		/* No explicit chan_avg: average adjacent channels up to
		 * [image] avg_width_mhz (default 1.953125 MHz, 8 correlator channels).
		 * That is the width of the reference groups' channels, whose
		 * smearing the acceptance tests measure (docs/imaging.md); data
		 * already that coarse is not averaged. */
		double w_mhz = ctx->conf->image.avg_width_mhz;
		if (ctx->vis->chan_width_hz > 0) {
			int n = (int)floor(w_mhz * 1e6 / ctx->vis->chan_width_hz + 1e-6);
			p.chan_avg = n > 1 ? n : 1;
		}
	}
	/* FFTW wisdom ([image] fftw_wisdom): a missing or unwritable file only
	 * costs the planning time, so it is a warning, never a failure. */
	const char *wpath = ctx->conf->image.fftw_wisdom;
	int wisdom = wpath[0] != 0, wr;
	if (wisdom && (wr = grid_wisdom_import(wpath)) < 0 && wr != -ENOENT)
		log_msg(LOG_WARNING, ctx->group_name, "image", -1, "FFTW wisdom %s not used: %s",
			wpath, wr == -EILSEQ ? "FFTW rejects it (written by another FFTW build or "
					       "configuration); it will be replaced"
					     : strerror(-wr));
	r = image_run(ctx->vis, &p, &res, err, errlen);
	if (r < 0) {
		if (r == -EINVAL)
			ctx->permanent = 1;
		return r;
	}
	/* What CLEAN did, as WSClean reports it: a summary, and each major
	 * cycle at debug level. */
	for (int k = 0; k < res->clean.ntrace; k++) {
		const clean_cycle *cc = &res->clean.cycle[k];
		if (!isfinite(cc->peak_after_jy)) {
			log_msg(LOG_DEBUG, ctx->group_name, "image", -1,
				"major cycle %d: peak %.4g mJy, cleaned %d components over %d "
				"pixels down to %.4g mJy (%.2f s); residual visibilities handed "
				"to the joined-channel CLEAN (%.2f s)", k + 1, cc->peak_jy * 1e3,
				cc->components, cc->candidates, cc->level_jy * 1e3, cc->minor_s,
				cc->major_s);
			continue;
		}
		log_msg(LOG_DEBUG, ctx->group_name, "image", -1,
			"major cycle %d: peak %.4g mJy, cleaned %d components over %d pixels down "
			"to %.4g mJy (%.2f s); exact residual peak %.4g mJy, sigma %.4g mJy (%.2f s)",
			k + 1, cc->peak_jy * 1e3, cc->components, cc->candidates, cc->level_jy * 1e3,
			cc->minor_s, cc->peak_after_jy * 1e3, cc->sigma_after_jy * 1e3, cc->major_s);
	}
	log_msg(LOG_INFO, ctx->group_name, "image", -1,
		"%dx%d at %.3g arcsec, %s: %d components in %d major cycles (stop: %s), "
		"beam %.1f x %.1f arcsec PA %.0f deg, noise %.4g mJy/beam, peak %.4g Jy/beam, "
		"dynamic range %.0f", res->nx, res->ny, res->cell_rad / ARCSEC, res->weighting_desc,
		res->clean.iterations, res->clean.major_cycles,
		res->clean.stop ? res->clean.stop : "-", res->beam.bmaj_rad / ARCSEC,
		res->beam.bmin_rad / ARCSEC, res->beam.bpa_rad / DEG, res->noise_jy * 1e3,
		res->peak_jy, res->dynamic_range);
	if (isfinite(res->expected_noise_jy)) {
		log_msg(LOG_INFO, ctx->group_name, "image", -1,
			"radiometer expectation %.4g mJy/beam from the data (%s: sigma %.4g per "
			"unit-weight sample), noise / expectation %.3f", res->expected_noise_jy * 1e3,
			noise_method_name(res->vis_noise_method), res->vis_sigma_unit,
			res->noise_jy / res->expected_noise_jy);
	} else {
		/* Once per daemon: every group of such data would say the same. */
		static int told;
		int again = __atomic_exchange_n(&told, 1, __ATOMIC_RELAXED);
		log_msg(again ? LOG_DEBUG : LOG_WARNING, ctx->group_name, "image", -1,
			"no radiometer expectation: neither the feed difference (XX-YY or RR-LL) "
			"nor adjacent integrations give a noise estimate");
	}
	for (int k = 0; k < res->nsub; k++)
		log_msg(LOG_INFO, ctx->group_name, "image", -1,
			"sub-band %d: %.4f GHz, %d channels, noise %.4g mJy/beam, model %.4g Jy", k,
			res->sub[k].freq_hz / 1e9, res->sub[k].nchan, res->sub[k].noise_jy * 1e3,
			res->sub[k].model_flux_jy);
	if (wisdom && (wr = grid_wisdom_export(wpath)) < 0)
		log_msg(LOG_WARNING, ctx->group_name, "image", -1,
			"cannot save FFTW wisdom to %s: %s", wpath, strerror(-wr));
	/* products_dir/YYYY-MM-DD/<group>/ (the date is the group name's). */
	if ((size_t)snprintf(dir, sizeof dir, "%s/%.10s/%s", pipe_str(ctx->products_dir), ctx->group_name,
			     ctx->group_name) >= sizeof dir) {
		r = err_set(err, errlen, -ENAMETOOLONG, "products_dir too long");
		goto out;
	}
	r = util_mkdir_p(dir);
	if (r < 0) {
		err_set(err, errlen, r, "cannot create %s: %s", dir, strerror(-r));
		goto out;
	}
	/* Version, configuration digest, tables applied, site (issue 18). */
	prov_store pstore;
	fitsout_provenance prov;
	prov_for_group(ctx, res->jd_mid, &pstore, &prov);
	for (int k = 0; k < FITSOUT_NPRODUCTS; k++)
		snprintf(path[k], sizeof path[k], "%s/%s.%s.fits", dir, ctx->group_name,
			 fitsout_product_name(k));
	r = write_products(ctx, res, dir, path, &prov, err, errlen);
	if (r < 0)
		goto out;
	if (ctx->db) {
		r = db_begin(ctx->db, err, errlen);
		if (r < 0)
			goto out;
		r = record_image(ctx, res, path[FITSOUT_IMAGE], 0, err, errlen);
		if (r >= 0)
			r = record_image(ctx, res, path[FITSOUT_PBCOR], 1, err, errlen);
		int e = db_end(ctx->db, r >= 0, r >= 0 ? err : NULL, r >= 0 ? errlen : 0);
		if (r >= 0)
			r = e;
		if (r < 0)
			goto out;
	}
	write_quicklook(ctx, dir, path[FITSOUT_IMAGE], res->image);
	r = 0;
	image_result_free(ctx->image);
	ctx->image = res;
	res = NULL;
out:
	image_result_free(res);
	return r;
}
