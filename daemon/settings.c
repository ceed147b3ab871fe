/*
 * daemon/settings.c — the one configuration (settings.h): the table of every
 * section, its keys and its parser, and the build that runs them.
 */
#include "daemon/settings.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fsx.h"
#include "core/log.h"
#include "daemon/earth.h"
#include "daemon/pipeline.h"
#include "daemon/web.h"
#include "state/catalog.h"

/* ---- the parts that are not a stage's ---- */

static int parse_pipe(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	return pipe_settings_read(c, &o->pipe, err, errlen);
}

static int parse_log(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	const char *v = cfg_get_str(c, "log", "level", "info");

	o->log_level = log_parse_level(v);
	if (o->log_level < 0)
		return cfg_err(c, "log", "level", err, errlen,
			       "'%s': expected debug, info, notice, warning or err", v);
	return 0;
}

/* contimg_config_allow_faults(): set once by the program before it builds a
 * configuration (contimgd's --enable-fault-injection). */
static atomic_int faults_allowed;

void contimg_config_allow_faults(int on)
{
	atomic_store(&faults_allowed, on != 0);
}

static int parse_debug(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	const char *step = cfg_get_str(c, "debug", "crash_at_step", "");
	int r;

	if ((r = cfg_double(c, "debug", "stage_delay_s", 0, &o->stage_delay_s, err, errlen)) < 0 ||
	    (r = cfg_double(c, "debug", "eop_check_s", EARTH_CHECK_S, &o->eop_check_s, err,
			    errlen)) < 0)
		return r;
	if (!(o->stage_delay_s >= 0))
		return cfg_err(c, "debug", "stage_delay_s", err, errlen, "%g: must be >= 0",
			       o->stage_delay_s);
	if (*step && (o->crash_at_step = fsx_step_parse(step)) < 0)
		return cfg_err(c, "debug", "crash_at_step", err, errlen,
			       "'%s': expected written, synced, renamed or dir_synced", step);
	/* Fault injection in a production daemon would stall or kill it: the
	 * keys are refused, from the file, the environment or --set alike,
	 * unless the program was started for a test. */
	if (!atomic_load(&faults_allowed)) {
		const char *key = o->stage_delay_s > 0 ? "stage_delay_s"
				  : o->crash_at_step ? "crash_at_step" : NULL;
		if (key)
			return cfg_err(c, "debug", key, err, errlen,
				       "fault injection is refused without contimgd "
				       "--enable-fault-injection (tests only)");
	}
	return 0;
}

/* One catalog path for the calibrate and photometry stages. */
static int parse_catalog(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	const char *p = cfg_get_str(c, "catalog", "path", "");

	if (*p) {
		if (strlen(p) >= sizeof o->catalog_path)
			return cfg_err(c, "catalog", "path", err, errlen, "path too long");
		snprintf(o->catalog_path, sizeof o->catalog_path, "%s", p);
	} else if (catalog_default_path(o->pipe.state_dir, o->catalog_path,
					sizeof o->catalog_path) < 0) {
		return cfg_err(c, "paths", "state_dir", err, errlen, "path too long");
	}
	return 0;
}

static int parse_site(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	int r;

	if ((r = cfg_double(c, "site", "lat_deg", 37.2339, &o->site.lat_deg, err, errlen)) < 0 ||
	    (r = cfg_double(c, "site", "lon_deg", -118.2825, &o->site.lon_deg, err, errlen)) < 0 ||
	    (r = cfg_double(c, "site", "alt_m", 1222, &o->site.alt_m, err, errlen)) < 0)
		return r;
	if (!(o->site.lat_deg >= -90 && o->site.lat_deg <= 90))
		return cfg_err(c, "site", "lat_deg", err, errlen, "%g: must be in -90..90",
			       o->site.lat_deg);
	return 0;
}

static int parse_mosaic(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	mosaic_settings *m = &o->mosaic;
	const char *dir = cfg_get_str(c, "mosaic", "dir", "");
	int r;

	if ((r = cfg_double(c, "mosaic", "cell_arcsec", 0, &m->cell_arcsec, err, errlen)) < 0 ||
	    (r = cfg_double(c, "mosaic", "pb_cut", 0.2, &m->pb_cut, err, errlen)) < 0 ||
	    (r = cfg_int(c, "mosaic", "max_size", 16384, &m->max_size, err, errlen)) < 0)
		return r;
	if (!(m->cell_arcsec >= 0))
		return cfg_err(c, "mosaic", "cell_arcsec", err, errlen, "%g: must be >= 0",
			       m->cell_arcsec);
	if (!(m->pb_cut > 0 && m->pb_cut < 1))
		return cfg_err(c, "mosaic", "pb_cut", err, errlen, "%g: must be in (0, 1)",
			       m->pb_cut);
	if (m->max_size < 16)
		return cfg_err(c, "mosaic", "max_size", err, errlen, "%d: must be >= 16",
			       m->max_size);
	if (strlen(dir) >= sizeof m->dir)
		return cfg_err(c, "mosaic", "dir", err, errlen, "path too long");
	snprintf(m->dir, sizeof m->dir, "%s", dir);
	return 0;
}

/* ---- the stages' parsers (each lives beside its stage; these adapters are
 *      the settings slot of the stage's row in daemon/pipeline.c's table) ---- */

int settings_flag(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	return stage_flag_settings(c, &o->flag, err, errlen);
}

int settings_calibrate(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	return stage_calibrate_settings(c, &o->pipe, &o->calibrate, err, errlen);
}

int settings_image(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	return stage_image_settings(c, &o->pipe, &o->image, err, errlen);
}

int settings_photometry(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	int r = phot_settings_read(c, &o->phot, err, errlen);

	if (r == 0)
		snprintf(o->phot.catalog_path, sizeof o->phot.catalog_path, "%s", o->catalog_path);
	return r;
}

/* [web]: contimg-web's (daemon/web.h); checked here so that every program's
 * configuration check refuses a bad one. */
static int parse_web(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	web_settings w;
	(void)o;
	return web_settings_read(c, &w, err, errlen);
}

static int parse_metrics(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	metrics_settings *m = &o->metrics;
	const char *f = cfg_get_str(c, "metrics", "textfile", "");
	int r;

	if ((r = cfg_double(c, "metrics", "interval_s", 30, &m->interval_s, err, errlen)) < 0)
		return r;
	if (!(m->interval_s >= 1))
		return cfg_err(c, "metrics", "interval_s", err, errlen, "%g: must be >= 1",
			       m->interval_s);
	if (strlen(f) >= sizeof m->textfile)
		return cfg_err(c, "metrics", "textfile", err, errlen, "path too long");
	/* node_exporter's textfile collector reads only *.prom files. */
	if (*f && (strlen(f) < 5 || strcmp(f + strlen(f) - 5, ".prom")))
		return cfg_err(c, "metrics", "textfile", err, errlen,
			       "'%s': must end in .prom (node_exporter reads only those)", f);
	snprintf(m->textfile, sizeof m->textfile, "%s", f);
	return 0;
}

static int parse_pointing(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	return pointing_settings_read(c, &o->pointing, err, errlen);
}

/* [alerts] after [photometry]: min_score defaults to its candidate score. */
static int parse_alerts(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	return alert_settings_read(c, o->phot.ep.candidate_score, &o->alerts, err, errlen);
}

/* ---- THE table: every section, its keys (docs/config.md), its parser ---- */

static const char *const paths_keys[] = { "ingest_dir", "state_dir", "products_dir",
					  "scratch_dir", NULL };
static const char *const ingest_keys[] = { "subbands", "group_tolerance_s", "collect_timeout_s",
					   "min_subbands", "max_retries", "retry_delay_s",
					   "workers", "rescan_interval_s", "poll_interval_s",
					   "settle_s", NULL };
static const char *const pipeline_keys[] = { "threads", "export_vis", "stop_grace_s",
					     "stall_timeout_s", "stages", "dut1_s",
					     "uvw_tolerance_arcsec", "x_orientation", NULL };
static const char *const earth_keys[] = { "eop_file", "eop_max_age_days", "xp_arcsec",
					  "yp_arcsec", NULL };
static const char *const log_keys[] = { "level", NULL };
static const char *const debug_keys[] = { "stage_delay_s", "eop_check_s", "crash_at_step",
					 NULL };
static const char *const catalog_keys[] = { "path", NULL };
static const char *const site_keys[] = { "lat_deg", "lon_deg", "alt_m", NULL };
static const char *const mosaic_keys[] = { "dir", "cell_arcsec", "pb_cut", "max_size", NULL };
static const char *const flag_keys[] = {
	"bad_antennas", "bad_channels", "bad_freq_mhz", "flag_autos", "rfi", "chi1", "rho",
	"max_window_freq", "max_window_time", "passes", "pass_factor", "smooth_chan",
	"smooth_time", "sir_eta", "pol_or", "combine_frac", "bl_clip", "chan_clip",
	"chan_clip_window", "dead_auto_frac", "dead_cross_frac", "max_flagged_fraction", NULL
};
static const char *const calibrate_keys[] = {
	"apply", "refants", "refant_min_frac", "min_snr", "max_iter", "tolerance",
	"min_baselines", "uvmin_lambda", "uvmax_lambda", "gain_mode", "solint_s", "do_k",
	"model_radius_deg", "model_min_flux_mjy", "default_spectral_index",
	"bandpass_valid_hours", "gain_valid_hours", "delay_valid_hours", "max_solution_flagged",
	"caltables_dir", "cal_min_flux_jy", "cal_radius_deg", "cal_beam_level",
	"cal_beam_freq_hz", NULL
};
static const char *const image_keys[] = {
	"quicklook", "size", "cell_arcsec", "weighting", "robust", "taper_arcsec",
	"uvmin_lambda", "uvmax_lambda", "chan_avg", "avg_width_mhz", "epsilon", "oversampling",
	"wstacking", "fftw_wisdom", "wplane_fit", "niter", "gain", "major_gain", "threshold_mjy",
	"auto_threshold", "auto_mask", "max_major", "beam_fit", "pb_cut", "dish_diameter_m",
	"quicklook_png", "quicklook_px", "subbands", NULL
};
static const char *const photometry_keys[] = {
	"box_beams", "group_beams", "pb_cut", "rms_box_beams", "noise_correlated",
	"min_flux_mjy", "ref_min_snr", "ref_max_offset_deg", "ref_max", "baseline_epochs",
	"baseline_min_epochs", "min_refs", "clip_sigma", "retire_chi2_nu", "retire_window_days",
	"retire_min_epochs", "ese_min_epochs", "ese_gate_chi2_nu", "ese_gate_v",
	"ese_tmin_days", "ese_tmax_days", "ese_candidate_score", "ese_window_days",
	"quality_max_noise_ratio", "quality_min_dynamic_range", "quality_max_flagged_frac",
	"quality_max_correction_z", "quality_max_clipped_frac", "quality_window",
	"quality_max_radiometer_ratio", NULL
};
static const char *const alerts_keys[] = { "enabled", "ivorn_base", "role", "min_score",
					   "contact_email", "reference_uri", NULL };
static const char *const housekeeping_keys[] = {
	"min_free_incoming_gb", "min_free_products_gb", "min_free_state_gb", "min_free_scratch_gb",
	"resume_free_factor", "guard_interval_s", "interval_s", "raw_keep_days",
	"calibrator_raw_keep_days", "raw_action", "raw_move_to", "products_keep_days",
	"products_keep", "scratch_keep_hours", NULL
};
static const char *const metrics_keys[] = { "textfile", "interval_s", NULL };
static const char *const pointing_keys[] = { "qa", "qa_threshold_deg", "qa_min_significance",
					     "qa_min_sources", "qa_min_snr", "qa_min_pb",
					     "qa_scatter", NULL };
static const char *const web_keys[] = { "listen", "sefd_jy", "events_interval_s", NULL };

/* The sections and their keys. */
static const cfg_known known[] = {
	{ "paths", paths_keys },
	{ "ingest", ingest_keys },
	{ "pipeline", pipeline_keys },
	{ "earth", earth_keys },
	{ "log", log_keys },
	{ "debug", debug_keys },
	{ "catalog", catalog_keys },
	{ "site", site_keys },
	{ "mosaic", mosaic_keys },
	{ "flag", flag_keys },
	{ "calibrate", calibrate_keys },
	{ "image", image_keys },
	{ "photometry", photometry_keys },
	{ "pointing", pointing_keys },
	{ "alerts", alerts_keys },
	{ "web", web_keys },
	{ "housekeeping", housekeeping_keys },
	{ "metrics", metrics_keys },
};

/* The parsers of the sections that belong to no stage, in order:
 * pipe_settings first (the others may use o->pipe), [catalog] before the
 * stages ([photometry] uses it).  The stages' parsers follow, in the order of
 * daemon/pipeline.c's table, then these_after[]. */
static const settings_parser parsers[] = {
	parse_pipe, /* [paths] [ingest] [pipeline] [earth] */
	parse_log,
	parse_debug,
	parse_catalog,
	parse_site,
	parse_mosaic,
	parse_web,
	parse_metrics,
};

static int parse_house(const cfg *c, contimg_config *o, char *err, size_t errlen)
{
	return house_settings_read(c, o->pipe.ingest_dir, &o->house, err, errlen);
}

static const settings_parser these_after[] = {
	parse_pointing, /* [pointing]: convert and photometry use it */
	parse_alerts,   /* [alerts]: after [photometry] */
	parse_house,    /* [housekeeping] (daemon/housekeeping.h) */
};

#define NFIXED (sizeof parsers / sizeof parsers[0])
#define NPARSERS (NFIXED + (size_t)pipe_nstages + sizeof these_after / sizeof these_after[0])

/* The i-th parser of the whole list (NULL: a stage without a section). */
static settings_parser parser_at(size_t i)
{
	if (i < NFIXED)
		return parsers[i];
	i -= NFIXED;
	if (i < (size_t)pipe_nstages)
		return pipe_stages[i].settings;
	return these_after[i - (size_t)pipe_nstages];
}

const cfg_known *contimg_config_known(size_t *ret_n)
{
	*ret_n = sizeof known / sizeof known[0];
	return known;
}

/* Messages that start "[section] key" (the parsers' range checks) get the
 * key's location in front, as the strict getters' messages have it. */
static void locate(const cfg *c, char *msg, size_t len)
{
	char sec[64], key[64], at[512];
	const char *p = msg, *q;
	size_t n;

	if (*p != '[' || !(q = strchr(p, ']')) || (n = (size_t)(q - p - 1)) >= sizeof sec)
		return;
	memcpy(sec, p + 1, n);
	sec[n] = 0;
	p = q + 1;
	while (*p == ' ')
		p++;
	for (n = 0; (isalnum((unsigned char)p[n]) || p[n] == '_') && n < sizeof key - 1; n++)
		key[n] = p[n];
	key[n] = 0;
	cfg_where(c, sec, n ? key : NULL, at, sizeof at);
	size_t la = strlen(at), lm = strlen(msg);
	if (!la || la + 1 >= len)
		return;
	if (la + lm + 1 > len)
		lm = len - la - 1; /* the end of the message gives way */
	memmove(msg + la, msg, lm);
	memcpy(msg, at, la);
	msg[la + lm] = 0;
}

/* Append a problem to err unless it is there already ([pointing] is also
 * checked by pipe_settings_read, for contimgctl's commands). */
static void add_line(char *err, size_t errlen, const char *line)
{
	size_t used = strlen(err), n = strlen(line);

	for (const char *p = err; (p = strstr(p, line)); p += n)
		if ((p == err || p[-1] == '\n') && (p[n] == 0 || p[n] == '\n'))
			return;
	if (used + 1 < errlen)
		snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", line);
}

int contimg_config_new(const cfg *c, contimg_config **ret, char *err, size_t errlen)
{
	contimg_config *o;
	char one[ERR_LEN];
	size_t nk;
	const cfg_known *k = contimg_config_known(&nk);
	int bad = 0;

	if (err && errlen)
		err[0] = 0;
	o = calloc(1, sizeof *o);
	if (!o)
		return err_set(err, errlen, -ENOMEM, "configuration: out of memory");
	atomic_init(&o->refs, 1);
	o->cfg = cfg_ref(c);
	if (cfg_check_known(c, k, nk, one, sizeof one) < 0) {
		if (err && errlen)
			add_line(err, errlen, one);
		bad++;
	}
	for (size_t i = 0; i < NPARSERS; i++) {
		settings_parser fn = parser_at(i);
		one[0] = 0;
		if (fn && fn(c, o, one, sizeof one) < 0) {
			locate(c, one, sizeof one);
			if (err && errlen)
				add_line(err, errlen, one);
			bad++;
		}
	}
	if (bad) {
		contimg_config_free(o);
		return -EINVAL;
	}
	*ret = o;
	return 0;
}

int contimg_config_load(const char *path, int missing_ok, contimg_config **ret, char *err,
			size_t errlen)
{
	cfg *c = NULL;
	int r = cfg_load(path, &c, err, errlen);

	if (r == -ENOENT && missing_ok) {
		c = cfg_new_empty();
		if (!c)
			return err_set(err, errlen, -ENOMEM, "configuration: out of memory");
	} else if (r < 0) {
		return r;
	}
	r = contimg_config_new(c, ret, err, errlen);
	cfg_free(c);
	return r;
}

contimg_config *contimg_config_ref(const contimg_config *c)
{
	contimg_config *m = (contimg_config *)c;

	if (m)
		atomic_fetch_add(&m->refs, 1);
	return m;
}

void contimg_config_free(const contimg_config *c)
{
	contimg_config *m = (contimg_config *)c;

	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	cfg_free(m->cfg);
	free(m);
}
