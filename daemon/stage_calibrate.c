/*
 * daemon/stage_calibrate.c — the calibrate stage: the pipeline's adapter
 * between calib/ (solve, apply), the catalog and the calibration registry.
 *
 * 1. Is this a calibrator group?  Candidates come from the catalog database
 *    (state/catalog.h: calibrators near the pointing declination, with their
 *    flux models); calib/calsel.h decides whether one transits inside the
 *    group within the primary beam.  No catalog → not a calibrator group.
 * 2. For a calibrator group: the model is the calibrator plus the catalog's
 *    sources above model_min_flux_mjy within model_radius_deg of the phase
 *    centre (core/predict.h: exact geometry, time-dependent beam); solve K (if
 *    do_k), B, then G (calib/solve.h); write each table to
 *    <caltables_dir>/<group>_<calibrator>_<type>.h5 (temporary name, then
 *    rename) and register it (state/calreg.h), valid for observations within
 *    <type>_valid_hours of the group's time span, status failed when too many
 *    solutions are flagged.
 * 3. For every group: apply the registered tables valid at the group's
 *    observation mid time (calreg_select_set: nearest calibrator observation
 *    among active tables whose window contains it), K, B then G
 *    (calib/apply.h).  ctx->calibrated = PHOT_CAL_FULL when a gain table was
 *    applied, PHOT_CAL_BANDPASS when only a bandpass was (no flux scale), else
 *    PHOT_CAL_NONE; a group with none stays uncalibrated — not a failure.
 *
 * Configuration: section [calibrate] (docs/config.md; the cal_* keys are shared
 * with `contimgctl transits`), the catalog from [catalog] path, parsed once by
 * stage_calibrate_settings (daemon/settings.h) and read from ctx->conf.
 */
#include "daemon/stage_calibrate.h"
#include "daemon/settings.h"
#include "daemon/stage_photometry.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calib/apply.h"
#include "calib/calsel.h"
#include "calib/solve.h"
#include "core/err.h"
#include "core/fsx.h"
#include "core/gaintab.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/predict.h"
#include "core/sky.h"
#include "daemon/util.h"
#include "state/calreg.h"
#include "state/catalog.h"

#define D2R (M_PI / 180.0)

struct cal_result {
	int calibrator_group;     /* 1 when this group solved new tables */
	char calibrator[64];      /* its calibrator */
	int nmodel;               /* sources in the model */
	solve_quality qk, qb, qg; /* of the solved tables */
	char solved[3][4096];     /* paths written: K, B, G ("" when not solved) */
	int applied_k, applied_b, applied_g;
	char applied[3][1024];    /* paths applied: K, B, G */
	double cal_flagged_frac;  /* cross samples newly flagged by flagged solutions */
	double model_s, solve_s, apply_s; /* wall seconds: model prediction, solves (with
					     writing the tables), applying solutions */
};

void cal_result_free(struct cal_result *r)
{
	free(r);
}

void stage_calibrate_release(pipe_ctx *ctx)
{
	cal_result_free(ctx->cal);
	ctx->cal = NULL;
}

void cal_result_timing(const struct cal_result *r, double *ret_model_s, double *ret_solve_s,
		       double *ret_apply_s)
{
	*ret_model_s = r ? r->model_s : 0;
	*ret_solve_s = r ? r->solve_s : 0;
	*ret_apply_s = r ? r->apply_s : 0;
}

int cal_result_applied(const struct cal_result *r, char type)
{
	if (!r)
		return 0;
	return type == 'K' ? r->applied_k : type == 'B' ? r->applied_b : type == 'G' ? r->applied_g : 0;
}

const char *cal_result_applied_path(const struct cal_result *r, char type)
{
	int i = type == 'K' ? 0 : type == 'B' ? 1 : type == 'G' ? 2 : -1;

	if (!r || i < 0 || !cal_result_applied(r, type))
		return NULL;
	return r->applied[i];
}

const char *cal_result_calibrator(const struct cal_result *r)
{
	return r && r->calibrator_group ? r->calibrator : NULL;
}

/* The configured reference stations present in v → its antenna numbers, in
 * the configured order. */
static void refant_numbers(const vis_set *v, const cal_settings *s, solve_params *sp)
{
	sp->nrefants = 0;
	for (int k = 0; k < s->nrefant_stations && sp->nrefants < SOLVE_MAX_REFANTS; k++) {
		char name[16];
		snprintf(name, sizeof name, "%d", s->refant_stations[k]);
		for (int a = 0; a < v->nants && sp->nrefants < SOLVE_MAX_REFANTS; a++)
			if (strcmp(v->ants[a].name, name) == 0)
				sp->refants[sp->nrefants++] = v->ants[a].number;
	}
}

int stage_calibrate_settings(const cfg *c, const pipe_settings *ps, cal_settings *s,
			     char *err, size_t errlen)
{
	const char *sec = "calibrate", *mode, *str;
	cfg_range *rg = NULL;
	double radius_deg = 0;
	int n = 0, r;

	memset(s, 0, sizeof *s);
	solve_params_init(&s->sp);
	calsel_params_default(&s->cal);
	s->apply = 1;
	s->model_radius_deg = 2.5;
	s->model_min_flux_mjy = 10.0;
	s->default_alpha = -0.7;
	s->b_valid_h = 24;
	s->g_valid_h = 1;
	s->k_valid_h = 24;
	s->max_solution_flagged = 0.5;
	if ((r = cfg_bool(c, sec, "apply", s->apply, &s->apply, err, errlen)) ||
	    (r = cfg_bool(c, sec, "do_k", s->do_k, &s->do_k, err, errlen)) ||
	    (r = cfg_double(c, sec, "min_snr", s->sp.min_snr, &s->sp.min_snr, err, errlen)) ||
	    (r = cfg_int(c, sec, "max_iter", s->sp.sc.max_iter, &s->sp.sc.max_iter, err, errlen)) ||
	    (r = cfg_double(c, sec, "tolerance", s->sp.sc.tol, &s->sp.sc.tol, err, errlen)) ||
	    (r = cfg_int(c, sec, "min_baselines", s->sp.sc.min_bl, &s->sp.sc.min_bl, err, errlen)) ||
	    (r = cfg_double(c, sec, "uvmin_lambda", s->sp.uvmin_lambda, &s->sp.uvmin_lambda, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "uvmax_lambda", s->sp.uvmax_lambda, &s->sp.uvmax_lambda, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "refant_min_frac", s->sp.refant_min_frac, &s->sp.refant_min_frac,
			    err, errlen)) ||
	    (r = cfg_double(c, sec, "solint_s", s->sp.solint_s, &s->sp.solint_s, err, errlen)) ||
	    (r = cfg_double(c, sec, "cal_min_flux_jy", s->cal.min_flux_jy, &s->cal.min_flux_jy, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "cal_radius_deg", radius_deg, &radius_deg, err, errlen)) ||
	    (r = cfg_double(c, sec, "cal_beam_level", s->cal.beam_level, &s->cal.beam_level, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "cal_beam_freq_hz", s->cal.freq_hz, &s->cal.freq_hz, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "model_radius_deg", s->model_radius_deg, &s->model_radius_deg,
			    err, errlen)) ||
	    (r = cfg_double(c, sec, "model_min_flux_mjy", s->model_min_flux_mjy,
			    &s->model_min_flux_mjy, err, errlen)) ||
	    (r = cfg_double(c, sec, "default_spectral_index", s->default_alpha, &s->default_alpha,
			    err, errlen)) ||
	    (r = cfg_double(c, sec, "bandpass_valid_hours", s->b_valid_h, &s->b_valid_h, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "gain_valid_hours", s->g_valid_h, &s->g_valid_h, err, errlen)) ||
	    (r = cfg_double(c, sec, "delay_valid_hours", s->k_valid_h, &s->k_valid_h, err, errlen)) ||
	    (r = cfg_double(c, sec, "max_solution_flagged", s->max_solution_flagged,
			    &s->max_solution_flagged, err, errlen)))
		return r;
	s->cal.radius_rad = radius_deg * D2R;
	mode = cfg_get_str(c, sec, "gain_mode", "phase");
	if (strcmp(mode, "phase") == 0)
		s->sp.gain_mode = SOLVE_GAIN_PHASE;
	else if (strcmp(mode, "ap") == 0)
		s->sp.gain_mode = SOLVE_GAIN_AP;
	else
		return cfg_err(c, sec, "gain_mode", err, errlen, "'%s': expected phase or ap", mode);
	if (s->b_valid_h < 0)
		return cfg_err(c, sec, "bandpass_valid_hours", err, errlen, "must be >= 0");
	if (s->g_valid_h < 0)
		return cfg_err(c, sec, "gain_valid_hours", err, errlen, "must be >= 0");
	if (s->k_valid_h < 0)
		return cfg_err(c, sec, "delay_valid_hours", err, errlen, "must be >= 0");
	if (!(s->cal.beam_level > 0 && s->cal.beam_level < 1))
		return cfg_err(c, sec, "cal_beam_level", err, errlen, "%g: expected 0 < x < 1",
			       s->cal.beam_level);
	if (!(s->cal.freq_hz > 0))
		return cfg_err(c, sec, "cal_beam_freq_hz", err, errlen, "%g: must be > 0",
			       s->cal.freq_hz);
	if (!(s->max_solution_flagged >= 0 && s->max_solution_flagged <= 1))
		return cfg_err(c, sec, "max_solution_flagged", err, errlen, "%g: expected 0..1",
			       s->max_solution_flagged);
	if ((r = cfg_get_ranges(c, sec, "refants", 1, &rg, &n, err, errlen)))
		return r;
	for (int i = 0; i < n; i++)
		for (double k = rg[i].lo; k <= rg[i].hi; k++) {
			if (s->nrefant_stations >= SETTINGS_MAX_STATIONS) {
				free(rg);
				return cfg_err(c, sec, "refants", err, errlen, "more than %d entries",
					       SETTINGS_MAX_STATIONS);
			}
			s->refant_stations[s->nrefant_stations++] = (int)k;
		}
	free(rg);
	str = cfg_get_str(c, sec, "caltables_dir", "");
	if ((*str ? snprintf(s->caltables_dir, sizeof s->caltables_dir, "%s", str)
		  : snprintf(s->caltables_dir, sizeof s->caltables_dir, "%s/caltables",
			     ps->products_dir)) >= (int)sizeof s->caltables_dir)
		return cfg_err(c, sec, "caltables_dir", err, errlen, "path too long");
	return 0;
}

static double band_centre_hz(const vis_set *v)
{
	double s = 0;
	for (int c = 0; c < v->nchan; c++)
		s += v->freq_hz[c];
	return s / v->nchan;
}

static double pointing_dec_rad(const vis_set *v)
{
	return v->has_pointing_dec ? v->pointing_dec_rad : v->phase_dec_rad;
}

/*
 * Decide whether v is a calibrator group; when it is, fill *ret_model with the
 * calibrator's flux model.  Returns 1 (calibrator group), 0 (not, or no
 * catalog), negative on error.  *ret_cat receives the open catalog when 1.
 */
static int find_calibrator(const vis_set *v, const cal_settings *s, const char *catalog_path,
			   catalog **ret_cat, catalog_calmodel *ret_model, char *err,
			   size_t errlen)
{
	catalog *cat = NULL;
	catalog_cal *cals = NULL;
	catalog_calmodel *models = NULL;
	calsel_cand *cands = NULL;
	size_t ncal = 0, ncand = 0;
	calsel_params cp;
	calsel_site site = {v->lat_rad, v->lon_rad, v->alt_m};
	calsel_match match;
	double fmid = band_centre_hz(v), radius_rad, t0, t1;
	int r;

	r = catalog_open(catalog_path, 1, &cat, err, errlen);
	if (r == -ENOENT)
		return 0; /* no catalog yet: nothing can be a calibrator group */
	if (r)
		return r;
	cp = s->cal;
	if (v->nants > 0 && v->ants[0].diam_m > 0)
		cp.dish_m = v->ants[0].diam_m;
	radius_rad = cp.radius_rad > 0 ? cp.radius_rad
				       : calsel_beam_radius_rad(cp.dish_m, cp.freq_hz, cp.beam_level);
	if (!isfinite(radius_rad))
		radius_rad = 2 * D2R;
	/* J2000 declinations differ from apparent ones by up to ~0.5° (precession
	 * since 2000): search a little wider, calsel decides on apparent places. */
	r = catalog_cals_near_dec(cat, pointing_dec_rad(v) / D2R, radius_rad / D2R + 1.0,
				  0.5 * s->cal.min_flux_jy, &cals, &ncal, err, errlen);
	if (r)
		goto out;
	if (ncal == 0)
		goto out;
	cands = calloc(ncal, sizeof *cands);
	models = calloc(ncal, sizeof *models);
	if (!cands || !models) {
		r = err_set(err, errlen, -ENOMEM, "calibrate: out of memory");
		goto out;
	}
	for (size_t i = 0; i < ncal; i++) {
		catalog_calmodel m;
		if (catalog_cal_model(cat, &cals[i], &m, NULL, 0) != 0)
			continue;
		models[ncand] = m;
		snprintf(cands[ncand].name, sizeof cands[ncand].name, "%s", m.name);
		cands[ncand].ra_rad = m.ra_rad;
		cands[ncand].dec_rad = m.dec_rad;
		cands[ncand].flux_jy = catalog_model_flux_jy(&m, fmid);
		ncand++;
	}
	t0 = v->time_jd[0] - 0.5 * v->int_time_s / 86400.0;
	t1 = v->time_jd[v->ntimes - 1] + 0.5 * v->int_time_s / 86400.0;
	r = calsel_find(cands, ncand, t0, t1, pointing_dec_rad(v), &site, &cp, &match, err, errlen);
	if (r < 0)
		goto out;
	if (r > 0 && match.index >= 0) {
		*ret_model = models[match.index];
		*ret_cat = cat;
		cat = NULL;
		r = 1;
	} else {
		r = 0;
	}
out:
	free(cals);
	free(cands);
	free(models);
	catalog_close(cat);
	return r;
}

/* The calibration sky: the calibrator's model plus catalog sources in the beam. */
static int build_sky(catalog *cat, const vis_set *v, const cal_settings *s,
		     const catalog_calmodel *cm, sky_model *sky, char *err, size_t errlen)
{
	catalog_source *src = NULL;
	size_t n = 0;
	sky_source cs;
	double cra, cdec;
	int r;

	memset(&cs, 0, sizeof cs);
	snprintf(cs.name, sizeof cs.name, "%s", cm->name);
	cs.ra_rad = cm->ra_rad;
	cs.dec_rad = cm->dec_rad;
	cs.flux_jy = cm->flux_jy;
	cs.ref_freq_hz = cm->ref_freq_hz > 0 ? cm->ref_freq_hz : SKY_REF_FREQ_HZ;
	cs.alpha = isfinite(cm->alpha) ? cm->alpha : 0;
	if ((r = sky_add(sky, &cs)))
		return err_set(err, errlen, r, "calibrate: out of memory");
	if (v->phase_type == VIS_PHASE_FIXED) {
		cra = v->phase_ra_rad;
		cdec = v->phase_dec_rad;
	} else {
		cra = cm->ra_rad;
		cdec = cm->dec_rad;
	}
	if (!(s->model_radius_deg > 0))
		return 0;
	r = catalog_sources_near(cat, cra / D2R, cdec / D2R, s->model_radius_deg,
				 s->model_min_flux_mjy, &src, &n, err, errlen);
	if (r)
		return r;
	for (size_t i = 0; i < n && !r; i++) {
		double cosd = sin(src[i].dec_deg * D2R) * sin(cm->dec_rad) +
			      cos(src[i].dec_deg * D2R) * cos(cm->dec_rad) *
				      cos(src[i].ra_deg * D2R - cm->ra_rad);
		double sep_arcsec = acos(fmin(1.0, fmax(-1.0, cosd))) / D2R * 3600.0;
		if (sep_arcsec < CATALOG_MATCH_ARCSEC)
			continue; /* the calibrator itself, catalogued as a source */
		r = sky_add_deg(sky, src[i].name, src[i].ra_deg, src[i].dec_deg, src[i].flux_mjy / 1e3,
				isfinite(src[i].spectral_index) ? src[i].spectral_index : s->default_alpha);
		if (r)
			err_set(err, errlen, r, "calibrate: out of memory");
	}
	free(src);
	return r;
}

/* Write a table atomically and register it.  status by quality. */
static int save_table(const pipe_ctx *ctx, const cal_settings *s, gaintab *g,
		      const solve_quality *q, double mid_mjd, const double span_mjd[2], double valid_h,
		      char *ret_path, size_t pathlen, char *err, size_t errlen)
{
	char tmp[4200];
	calreg_entry e;
	int r;

	/* Valid for observations within valid_h of the calibrator group's span. */
	g->valid_start_mjd = span_mjd[0] - valid_h / 24.0;
	g->valid_end_mjd = span_mjd[1] + valid_h / 24.0;
	if ((size_t)snprintf(ret_path, pathlen, "%s/%s_%s_%s.h5", s->caltables_dir, ctx->group_name,
			     g->calibrator, g->type) >= pathlen ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", ret_path) >= sizeof tmp)
		return err_set(err, errlen, -ENAMETOOLONG, "calibrate: caltable path too long");
	if ((r = gaintab_write(tmp, g, err, errlen)))
		return r;
	/* Durable before the registry names it (core/fsx.h); tmp goes on failure. */
	if ((r = fsx_replace(tmp, ret_path, err, errlen)) < 0) {
		err_prefix(err, errlen, "calibrate");
		return r;
	}
	if (!ctx->db)
		return 0;
	memset(&e, 0, sizeof e);
	e.type = g->type[0];
	snprintf(e.path, sizeof e.path, "%s", ret_path);
	snprintf(e.calibrator, sizeof e.calibrator, "%s", g->calibrator);
	snprintf(e.source_group, sizeof e.source_group, "%s", ctx->group_name);
	e.refant = g->refant;
	e.obs_mjd = mid_mjd;
	e.valid_start_mjd = g->valid_start_mjd;
	e.valid_end_mjd = g->valid_end_mjd;
	e.status = q->flagged_frac > s->max_solution_flagged ? CALREG_FAILED : CALREG_ACTIVE;
	e.flagged_fraction = q->flagged_frac;
	e.median_snr = q->median_snr;
	e.phase_scatter_deg = q->phase_scatter_deg;
	return calreg_add(ctx->db, &e, NULL, err, errlen);
}

/* Step 2: model, solve K/B/G, write and register.  Returns 0 also when the
 * solutions came out bad (they are registered as failed). */
static int solve_group(pipe_ctx *ctx, const cal_settings *s, catalog *cat,
		       const catalog_calmodel *cm, struct cal_result *res, char *err, size_t errlen)
{
	vis_set *v = ctx->vis, shell;
	sky_model sky;
	float complex *model = NULL;
	double t0;
	gaintab *k = NULL, *b = NULL, *g = NULL;
	predict_params pp;
	solve_params sp = s->sp;
	double mid_mjd = vis_mid_jd(v) - 2400000.5, span[2];
	int r;

	span[0] = v->time_jd[0] - 2400000.5 - 0.5 * v->int_time_s / 86400.0;
	span[1] = v->time_jd[v->ntimes - 1] - 2400000.5 + 0.5 * v->int_time_s / 86400.0;
	sky_init(&sky);
	snprintf(res->calibrator, sizeof res->calibrator, "%s", cm->name);
	snprintf(sp.calibrator, sizeof sp.calibrator, "%s", cm->name);
	snprintf(sp.source_group, sizeof sp.source_group, "%s", ctx->group_name);
	if ((r = build_sky(cat, v, s, cm, &sky, err, errlen)))
		goto out;
	res->nmodel = sky.n;
	model = malloc(vis_nsamples(v) * sizeof *model);
	if (!model) {
		r = err_set(err, errlen, -ENOMEM, "calibrate: out of memory for the model visibilities");
		goto out;
	}
	pool_advise_huge(model, vis_nsamples(v) * sizeof *model);
	/* predict_vis writes only ->vis: a shell sharing v's metadata. */
	shell = *v;
	shell.vis = model;
	predict_params_default(&pp);
	pp.nthreads = ctx->threads;
	/* The Earth orientation the group was rephased with (it moves the
	 * model's beam pointing; the FIXED geometry itself is celestial). */
	pp.dut1_s = ctx->eop.dut1_s;
	pp.xp_rad = ctx->eop.xp_rad;
	pp.yp_rad = ctx->eop.yp_rad;
	t0 = clk_mono_s();
	r = predict_vis(&shell, &sky, &pp, PREDICT_OVERWRITE, err, errlen);
	res->model_s = clk_mono_s() - t0;
	if (r)
		goto out;
	pipe_progress(ctx);
	t0 = clk_mono_s();
	if ((r = util_mkdir_p(s->caltables_dir)) < 0) {
		err_set(err, errlen, r, "calibrate: cannot create %s: %s", s->caltables_dir, strerror(-r));
		goto out;
	}

	if (s->do_k) {
		if ((r = solve_delay(v, model, &sp, &k, NULL, &res->qk, err, errlen)) ||
		    (r = save_table(ctx, s, k, &res->qk, mid_mjd, span, s->k_valid_h, res->solved[0],
				    sizeof res->solved[0], err, errlen)))
			goto out;
	}
	if ((r = solve_bandpass(v, model, k, &sp, &b, &res->qb, err, errlen)) ||
	    (r = save_table(ctx, s, b, &res->qb, mid_mjd, span, s->b_valid_h, res->solved[1],
			    sizeof res->solved[1], err, errlen)))
		goto out;
	pipe_progress(ctx);
	if (res->qb.flagged_frac <= s->max_solution_flagged) {
		if ((r = solve_gains(v, model, k, b, &sp, &g, &res->qg, err, errlen)) ||
		    (r = save_table(ctx, s, g, &res->qg, mid_mjd, span, s->g_valid_h, res->solved[2],
				    sizeof res->solved[2], err, errlen)))
			goto out;
	}
	res->solve_s = clk_mono_s() - t0;
	res->calibrator_group = 1;
	/* Without a database the fresh tables are applied directly. */
	if (!ctx->db && s->apply) {
		apply_stats st;
		const int bad_b = res->qb.flagged_frac > s->max_solution_flagged;
		const int bad_g = !g || res->qg.flagged_frac > s->max_solution_flagged;
		const char *const names[3] = {res->solved[0], res->solved[1], res->solved[2]};
		t0 = clk_mono_s();
		r = apply_solutions_named(v, k, bad_b ? NULL : b, bad_g ? NULL : g, names,
					  ctx->threads, &st, err, errlen);
		res->apply_s = clk_mono_s() - t0;
		if (r)
			goto out;
		res->applied_k = k != NULL;
		res->applied_b = !bad_b;
		res->applied_g = !bad_g;
		res->cal_flagged_frac = st.cal_flagged_frac;
	}
out:
	sky_release(&sky);
	free(model);
	gaintab_free(k);
	gaintab_free(b);
	gaintab_free(g);
	return r;
}

/* Step 3: apply what the registry says is valid at the group's mid time. */
static int apply_registered(pipe_ctx *ctx, struct cal_result *res, char *err, size_t errlen)
{
	calreg_set set;
	gaintab *t[3] = {NULL, NULL, NULL};
	const calreg_entry *e[3];
	int has[3], r;
	apply_stats st;
	double t0;

	if ((r = calreg_select_set(ctx->db, vis_mid_jd(ctx->vis) - 2400000.5, &set, err, errlen)))
		return r;
	has[0] = set.has_k;
	has[1] = set.has_b;
	has[2] = set.has_g;
	e[0] = &set.k;
	e[1] = &set.b;
	e[2] = &set.g;
	for (int i = 0; i < 3; i++) {
		if (!has[i])
			continue;
		if ((r = gaintab_read(e[i]->path, &t[i], err, errlen))) {
			err_prefix(err, errlen, "calibrate: caltable %lld", (long long)e[i]->id);
			goto out;
		}
		snprintf(res->applied[i], sizeof res->applied[i], "%s", e[i]->path);
	}
	if (!t[0] && !t[1] && !t[2])
		goto out;
	t0 = clk_mono_s();
	/* The history of an exported file names the tables by their paths. */
	r = apply_solutions_named(ctx->vis, t[0], t[1], t[2],
				  (const char *const[3]){res->applied[0], res->applied[1], res->applied[2]},
				  ctx->threads, &st, err, errlen);
	res->apply_s = clk_mono_s() - t0;
	if (r)
		goto out;
	res->applied_k = t[0] != NULL;
	res->applied_b = t[1] != NULL;
	res->applied_g = t[2] != NULL;
	res->cal_flagged_frac = st.cal_flagged_frac;
out:
	for (int i = 0; i < 3; i++)
		gaintab_free(t[i]);
	return r;
}

/* One line for the operator: what was solved and applied, or why the group
 * stays uncalibrated. */
static void log_outcome(const pipe_ctx *ctx, const cal_settings *s, const struct cal_result *res)
{
	char applied[3200] = "";
	size_t n = 0;
	const char *what[3] = { "K", "B", "G" };
	const int on[3] = { res->applied_k, res->applied_b, res->applied_g };

	for (int i = 0; i < 3; i++)
		if (on[i] && n < sizeof applied)
			n += (size_t)snprintf(applied + n, sizeof applied - n, "%s%s %s", n ? ", " : "",
					      what[i], res->applied[i][0] ? res->applied[i] : "(this group's)");
	if (res->calibrator_group)
		log_msg(LOG_INFO, ctx->group_name, "calibrate", -1,
			"calibrator %s (%d model sources): B median SNR %.0f, %.1f%% flagged; "
			"G median SNR %.0f, %.1f%% flagged, refant %d",
			res->calibrator, res->nmodel, res->qb.median_snr, 100 * res->qb.flagged_frac,
			res->qg.median_snr, 100 * res->qg.flagged_frac, res->qg.refant);
	if (n)
		log_msg(LOG_INFO, ctx->group_name, "calibrate", -1, "applied %s", applied);
	else if (!s->apply)
		log_msg(LOG_NOTICE, ctx->group_name, "calibrate", -1,
			"left uncalibrated: [calibrate] apply is off");
	else if (res->calibrator_group)
		log_msg(LOG_NOTICE, ctx->group_name, "calibrate", -1,
			"left uncalibrated: the new solutions are too heavily flagged");
	else
		log_msg(LOG_NOTICE, ctx->group_name, "calibrate", -1,
			"left uncalibrated: no calibrator of at least %.3g Jy (cal_min_flux_jy) "
			"transits in the beam, and no valid solutions are registered",
			s->cal.min_flux_jy);
	/* Tables are selected when the group runs: a calibrator group processed
	 * later inside the gain window fixes this one only when it runs again. */
	if (res->applied_b && !res->applied_g)
		log_msg(LOG_NOTICE, ctx->group_name, "calibrate", -1,
			"bandpass only: no gain table is valid at the group (gain_valid_hours %g), "
			"so its fluxes have no flux scale; requeue it once a calibrator group "
			"within that window has been processed", s->g_valid_h);
}

int stage_calibrate(pipe_ctx *ctx, char *err, size_t errlen)
{
	struct cal_result *res = NULL;
	cal_settings s;
	catalog *cat = NULL;
	catalog_calmodel cm;
	int r;

	if (!ctx->vis)
		return err_set(err, errlen, -EINVAL, "no visibilities to calibrate (convert did not run)");
	/* [calibrate] was parsed and validated with the configuration. */
	s = ctx->conf->calibrate;
	s.sp.nthreads = ctx->threads;
	refant_numbers(ctx->vis, &s, &s.sp);
	res = calloc(1, sizeof *res);
	if (!res)
		return err_set(err, errlen, -ENOMEM, "calibrate: out of memory");

	r = find_calibrator(ctx->vis, &s, ctx->conf->catalog_path, &cat, &cm, err, errlen);
	if (r < 0)
		goto out;
	if (r == 1) {
		r = solve_group(ctx, &s, cat, &cm, res, err, errlen);
		if (r)
			goto out;
	}
	if (s.apply && ctx->db) {
		r = apply_registered(ctx, res, err, errlen);
		if (r)
			goto out;
	}
	/* A bandpass without a gain solution valid at this group has no flux
	 * scale: it is its own state (issue 17), not "calibrated". */
	ctx->calibrated = res->applied_g ? PHOT_CAL_FULL
			  : res->applied_b ? PHOT_CAL_BANDPASS : PHOT_CAL_NONE;
	log_outcome(ctx, &s, res);
	cal_result_free(ctx->cal);
	ctx->cal = res;
	res = NULL;
	r = 0;
out:
	catalog_close(cat);
	cal_result_free(res);
	return r;
}
