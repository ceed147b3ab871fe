/*
 * daemon/pointing.c — the group's pointing and its check (see pointing.h).
 */
#include "daemon/pointing.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/astro.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "daemon/settings.h"
#include "imaging/image.h"
#include "daemon/stage_image.h"
#include "imaging/pbeam.h"
#include "state/pointingdb.h"
#include "state/queue.h"

#define DEG (M_PI / 180.0)
#define MAX_QA_CHAN 64 /* channels of the band average in the check's beam */

int pointing_settings_read(const cfg *c, pointing_settings *s, char *err, size_t errlen)
{
	const char *sec = "pointing";
	pointing_settings o;
	double thr_deg;
	int r;

	memset(&o, 0, sizeof o);
	pointcheck_params_default(&o.cp);
	o.qa_min_snr = 30;
	o.qa_min_pb = 0.25;
	if ((r = cfg_bool(c, sec, "qa", 1, &o.qa, err, errlen)) < 0 ||
	    (r = cfg_double(c, sec, "qa_threshold_deg", o.cp.threshold_rad / DEG, &thr_deg, err,
			    errlen)) < 0 ||
	    (r = cfg_double(c, sec, "qa_min_significance", o.cp.min_significance,
			    &o.cp.min_significance, err, errlen)) < 0 ||
	    (r = cfg_int(c, sec, "qa_min_sources", o.cp.min_sources, &o.cp.min_sources, err,
			 errlen)) < 0 ||
	    (r = cfg_double(c, sec, "qa_scatter", o.cp.scatter, &o.cp.scatter, err, errlen)) < 0 ||
	    (r = cfg_double(c, sec, "qa_min_snr", o.qa_min_snr, &o.qa_min_snr, err, errlen)) < 0 ||
	    (r = cfg_double(c, sec, "qa_min_pb", o.qa_min_pb, &o.qa_min_pb, err, errlen)) < 0)
		return r;
	if (!(thr_deg >= 0 && thr_deg <= 5))
		return err_set(err, errlen, -EINVAL, "[pointing] qa_threshold_deg = %g: must be in "
			       "0..5", thr_deg);
	if (!(o.cp.min_significance >= 0 && o.cp.min_significance <= 100))
		return err_set(err, errlen, -EINVAL, "[pointing] qa_min_significance = %g: must be "
			       "in 0..100", o.cp.min_significance);
	if (o.cp.min_sources < 4 || o.cp.min_sources > 10000)
		return err_set(err, errlen, -EINVAL, "[pointing] qa_min_sources = %d: must be in "
			       "4..10000", o.cp.min_sources);
	if (!(o.cp.scatter >= 0 && o.cp.scatter <= 1))
		return err_set(err, errlen, -EINVAL, "[pointing] qa_scatter = %g: must be in 0..1",
			       o.cp.scatter);
	if (!(o.qa_min_snr >= 0))
		return err_set(err, errlen, -EINVAL, "[pointing] qa_min_snr = %g: must be >= 0",
			       o.qa_min_snr);
	if (!(o.qa_min_pb > 0 && o.qa_min_pb < 1))
		return err_set(err, errlen, -EINVAL, "[pointing] qa_min_pb = %g: must be in (0, 1)",
			       o.qa_min_pb);
	o.cp.threshold_rad = thr_deg * DEG;
	if (s)
		*s = o;
	return 0;
}

int pipe_pointing_resolve(pipe_ctx *ctx, char *err, size_t errlen)
{
	vis_set *v = ctx->vis;
	pointingdb_group g;
	pointingdb_override o;
	double mid, t0, t1;
	int r, found = 0;

	if (!v || v->ntimes < 1)
		return err_set(err, errlen, -EINVAL, "no visibilities to point");
	memset(&g, 0, sizeof g);
	mid = vis_mid_jd(v);
	t0 = v->time_jd[0];
	t1 = v->time_jd[v->ntimes - 1];
	g.mid_mjd = astro_jd_to_mjd(mid);
	/* convert gives every set a pointing (the files' phase_center_dec, or
	 * the phase centre of a file that names none). */
	if (!v->has_pointing_dec)
		return err_set(err, errlen, -EINVAL, "%s: no pointing declination", v->name);
	g.file_dec_deg = v->pointing_dec_rad / DEG;
	g.dec_deg = g.file_dec_deg;
	g.qa_offset_deg = g.qa_offset_err_deg = g.qa_significance = g.qa_scale = NAN;
	g.qa_chi2_nu = NAN;
	if (ctx->db) {
		found = pointingdb_find(ctx->db, g.mid_mjd, &o, err, errlen);
		if (found < 0)
			return found;
	}
	if (found) {
		g.from_override = 1;
		g.override_id = o.id;
		g.dec_deg = o.dec_deg;
		v->pointing_dec_rad = o.dec_deg * DEG;
		v->has_pointing_dec = 1;
		log_msg(LOG_NOTICE, ctx->group_name, "convert", -1,
			"pointing: override %lld%s%s: dec %+.4f deg instead of the files' %+.4f deg",
			(long long)o.id, o.note[0] ? " " : "", o.note, o.dec_deg, g.file_dec_deg);
		/* The dishes moved during the group: one pointing cannot describe
		 * it; the mid time decides, and the operator should know. */
		if (astro_jd_to_mjd(t0) < o.start_mjd || astro_jd_to_mjd(t1) >= o.end_mjd)
			log_msg(LOG_WARNING, ctx->group_name, "convert", -1,
				"pointing: the group (%.6f to %.6f MJD) straddles an edge of override "
				"%lld; its mid time puts it inside", astro_jd_to_mjd(t0),
				astro_jd_to_mjd(t1), (long long)o.id);
	} else if (ctx->db) {
		pointingdb_override e;
		int k = pointingdb_find(ctx->db, astro_jd_to_mjd(t0), &e, NULL, 0);
		if (k <= 0)
			k = pointingdb_find(ctx->db, astro_jd_to_mjd(t1), &e, NULL, 0);
		if (k > 0)
			log_msg(LOG_WARNING, ctx->group_name, "convert", -1,
				"pointing: the group straddles an edge of override %lld; its mid time "
				"puts it outside (the files' dec %+.4f deg is used)", (long long)e.id,
				g.dec_deg);
	}
	ctx->pointing = g;
	ctx->has_pointing = 1;
	if (!ctx->db)
		return 0;
	r = pointingdb_group_put(ctx->db, ctx->group_id, &g, clk_wall_s(), err, errlen);
	return r < 0 ? r : 0;
}

static const char *status_name(const pointcheck_result *r)
{
	switch (r->status) {
	case POINTCHECK_OK: return r->warn ? "warn" : "ok";
	case POINTCHECK_DEGENERATE: return "degenerate";
	default: return "too_few";
	}
}

int pipe_pointing_check(pipe_ctx *ctx, const pointing_settings *s, const catalog_source *src,
			const forced_result *fr, size_t n, char *err, size_t errlen)
{
	const image_result *im = ctx->image;
	const vis_set *v = ctx->vis;
	pointcheck_source *ps = NULL;
	pointcheck_result res;
	double *ra = NULL, *dec = NULL, *z = NULL, *freq = NULL;
	size_t m = 0;
	image_params ip;
	int r = 0;

	if (!s->qa || !im || !v || !ctx->has_pointing)
		return 0;
	ip = ctx->conf->image.p; /* the dish the imager's beam uses */
	size_t cap = n ? n : 1;
	ps = calloc(cap, sizeof *ps);
	ra = malloc(cap * sizeof *ra);
	dec = malloc(cap * sizeof *dec);
	z = malloc(cap * sizeof *z);
	freq = malloc(MAX_QA_CHAN * sizeof *freq);
	if (!ps || !ra || !dec || !z || !freq) {
		r = err_set(err, errlen, -ENOMEM, "pointing check: out of memory");
		goto out;
	}
	/* Bright and isolated by the catalog and the fit, selected on the
	 * catalog flux (not the measured one, which would bias the ratios),
	 * inside the part of the beam the check trusts. */
	for (size_t i = 0; i < n; i++) {
		const forced_result *f = &fr[i];
		const catalog_source *c = &src[i];
		double alpha = isfinite(c->spectral_index) ? c->spectral_index : -0.7;
		double s_jy = c->flux_mjy * 1e-3 * pow(im->freq_hz / CATALOG_L_BAND_HZ, alpha);
		if ((f->flags & (FORCED_BAD | FORCED_BLENDED | FORCED_EDGE | FORCED_NAN)) ||
		    c->resolved || c->confused || !(s_jy > 0) || !(f->pb >= s->qa_min_pb) ||
		    !(f->rms_jy > 0) || !(s_jy / f->rms_jy >= s->qa_min_snr) ||
		    !isfinite(f->flux_jy) || !(f->flux_err_jy >= 0))
			continue;
		double rel_cat = c->e_flux_mjy > 0 && isfinite(c->e_flux_mjy)
					 ? c->e_flux_mjy / c->flux_mjy : 0;
		ps[m].ratio = f->flux_jy / s_jy;
		ps[m].ratio_err = hypot(f->flux_err_jy / s_jy, ps[m].ratio * rel_cat);
		ra[m] = c->ra_deg * DEG;
		dec[m] = c->dec_deg * DEG;
		m++;
	}
	/* ∂ ln pb / ∂δ_p at each, for the pointing used: the drift over the
	 * group's integrations, the band sampled at up to 64 channels. */
	int step = (v->nchan + MAX_QA_CHAN - 1) / MAX_QA_CHAN, nf = 0;
	for (int c = 0; c < v->nchan && nf < MAX_QA_CHAN; c += step)
		freq[nf++] = v->freq_hz[c];
	pbeam_params bp = { .diam_m = ip.diam_m, .ntimes = v->ntimes, .time_jd = v->time_jd,
			    .nchan = nf, .freq_hz = freq, .lon_rad = v->lon_rad,
			    .pointing_dec_rad = v->pointing_dec_rad, .dut1_s = ctx->eop.dut1_s,
			    .xp_rad = ctx->eop.xp_rad, .yp_rad = ctx->eop.yp_rad,
			    .nthreads = ctx->threads };
	if (m && (r = pbeam_at(&bp, ra, dec, m, NULL, z, err, errlen)) < 0)
		goto out;
	for (size_t k = 0; k < m; k++)
		ps[k].dlnpb_ddec = z[k];
	if ((r = pointcheck_fit(ps, m, &s->cp, &res)) < 0) {
		err_set(err, errlen, r, "pointing check: %s", strerror(-r));
		goto out;
	}

	pointingdb_group *g = &ctx->pointing;
	snprintf(g->qa_status, sizeof g->qa_status, "%s", status_name(&res));
	g->qa_offset_deg = res.offset_rad / DEG;
	g->qa_offset_err_deg = res.offset_err_rad / DEG;
	g->qa_significance = res.significance;
	g->qa_scale = res.scale;
	g->qa_chi2_nu = res.chi2_nu;
	g->qa_nsources = res.status == POINTCHECK_OK ? res.nused : res.ninput;
	g->qa_nnorth = res.nnorth;
	g->qa_nsouth = res.nsouth;
	g->qa_nclipped = res.nclipped;
	const char *from = g->from_override ? "an override" : "the files";
	if (res.status != POINTCHECK_OK) {
		log_msg(LOG_INFO, ctx->group_name, "photometry", -1,
			"pointing check: %d usable sources of %zu (need %d, at least %d north and "
			"%d south of the pointing): not checked", res.ninput, n, s->cp.min_sources,
			s->cp.min_per_side, s->cp.min_per_side);
	} else if (res.warn) {
		char msg[512];
		snprintf(msg, sizeof msg,
			 "pointing check: the beam centre is %+.3f +- %.3f deg (%.1f sigma) in "
			 "declination from the %+.4f deg used (from %s), from %d sources (%d north, "
			 "%d south); if the dishes were re-pointed, add an override (contimgctl "
			 "pointing add) and requeue", res.offset_rad / DEG, res.offset_err_rad / DEG,
			 res.significance, g->dec_deg, from, res.nused, res.nnorth, res.nsouth);
		log_msg(LOG_WARNING, ctx->group_name, "photometry", -1, "%s", msg);
		if (ctx->db)
			queue_event(ctx->db, ctx->group_id, "pointing", "photometry", msg, NULL, 0);
	} else {
		log_msg(LOG_INFO, ctx->group_name, "photometry", -1,
			"pointing check: offset %+.3f +- %.3f deg from the %+.4f deg used (from %s), "
			"%d sources (%d north, %d south), flux scale %.3f, chi2_nu %.2f: ok",
			res.offset_rad / DEG, res.offset_err_rad / DEG, g->dec_deg, from, res.nused,
			res.nnorth, res.nsouth, res.scale, res.chi2_nu);
	}
	if (ctx->db && (r = pointingdb_group_qa(ctx->db, ctx->group_id, g, clk_wall_s(), err,
						errlen)) < 0)
		goto out;
	r = 0;
out:
	free(ps);
	free(ra);
	free(dec);
	free(z);
	free(freq);
	return r;
}
