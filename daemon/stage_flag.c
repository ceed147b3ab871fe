/*
 * daemon/stage_flag.c — the flag stage: reads [flag] from the configuration,
 * runs calib/flag.c on the combined group, records the flagged fractions in
 * the state database (table flag_stats) and fails the group when too much of
 * it is flagged.
 *
 * Configuration ([flag], docs/config.md), parsed once by stage_flag_settings
 * (daemon/settings.h) and read from ctx->conf: bad_antennas (station names as
 * in antenna_names, e.g. "10, 21-23"), bad_channels (indices in the combined,
 * ascending-frequency band), bad_freq_mhz ("1381.0-1381.1, 1400.2"), the
 * SumThreshold/SIR/clip parameters of calib/flag.h, and max_flagged_fraction.
 */
#include "daemon/stage_flag.h"
#include "daemon/settings.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib/flag.h"
#include "core/err.h"
#include "state/flagdb.h"

struct flag_report {
	flag_stats st;
	double max_flagged_fraction;
};

void flag_report_free(struct flag_report *r)
{
	if (!r)
		return;
	flag_stats_release(&r->st);
	free(r);
}

void stage_flag_release(pipe_ctx *ctx)
{
	flag_report_free(ctx->flags);
	ctx->flags = NULL;
}

/* A list key of station names or channels ("10, 21-23") into out[cap]
 * (ranges expanded). */
static int int_list(const cfg *c, const char *key, int *out, int *nout, int cap, char *err,
		    size_t errlen)
{
	cfg_range *rg = NULL;
	int n = 0, r;

	*nout = 0;
	r = cfg_get_ranges(c, "flag", key, 1, &rg, &n, err, errlen);
	for (int i = 0; r == 0 && i < n; i++)
		for (double k = rg[i].lo; k <= rg[i].hi; k++) {
			if (*nout >= cap) {
				r = cfg_err(c, "flag", key, err, errlen, "more than %d entries", cap);
				break;
			}
			out[(*nout)++] = (int)k;
		}
	free(rg);
	return r;
}

int stage_flag_settings(const cfg *c, flag_settings *s, char *err, size_t errlen)
{
	const char *sec = "flag";
	flag_params *p = &s->p;
	cfg_range *rg = NULL;
	int n = 0, r;

	memset(s, 0, sizeof *s);
	flag_params_init(p);
	s->max_flagged_fraction = 0.8;
	if ((r = cfg_bool(c, sec, "rfi", p->rfi, &p->rfi, err, errlen)) ||
	    (r = cfg_bool(c, sec, "flag_autos", p->flag_autos, &p->flag_autos, err, errlen)) ||
	    (r = cfg_double(c, sec, "chi1", p->chi1, &p->chi1, err, errlen)) ||
	    (r = cfg_double(c, sec, "rho", p->rho, &p->rho, err, errlen)) ||
	    (r = cfg_int(c, sec, "max_window_freq", p->max_window_freq, &p->max_window_freq, err,
			 errlen)) ||
	    (r = cfg_int(c, sec, "max_window_time", p->max_window_time, &p->max_window_time, err,
			 errlen)) ||
	    (r = cfg_int(c, sec, "passes", p->passes, &p->passes, err, errlen)) ||
	    (r = cfg_double(c, sec, "pass_factor", p->pass_factor, &p->pass_factor, err, errlen)) ||
	    (r = cfg_int(c, sec, "smooth_chan", p->smooth_chan, &p->smooth_chan, err, errlen)) ||
	    (r = cfg_int(c, sec, "smooth_time", p->smooth_time, &p->smooth_time, err, errlen)) ||
	    (r = cfg_double(c, sec, "sir_eta", p->sir_eta, &p->sir_eta, err, errlen)) ||
	    (r = cfg_bool(c, sec, "pol_or", p->pol_or, &p->pol_or, err, errlen)) ||
	    (r = cfg_double(c, sec, "combine_frac", p->combine_frac, &p->combine_frac, err, errlen)) ||
	    (r = cfg_double(c, sec, "bl_clip", p->bl_clip, &p->bl_clip, err, errlen)) ||
	    (r = cfg_double(c, sec, "chan_clip", p->chan_clip, &p->chan_clip, err, errlen)) ||
	    (r = cfg_int(c, sec, "chan_clip_window", p->chan_clip_window, &p->chan_clip_window, err,
			 errlen)) ||
	    (r = cfg_double(c, sec, "dead_auto_frac", p->dead_auto_frac, &p->dead_auto_frac, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "dead_cross_frac", p->dead_cross_frac, &p->dead_cross_frac, err,
			    errlen)) ||
	    (r = cfg_double(c, sec, "max_flagged_fraction", s->max_flagged_fraction,
			    &s->max_flagged_fraction, err, errlen)))
		return r;
	if ((r = int_list(c, "bad_antennas", s->bad_stations, &s->nbad_stations,
			  SETTINGS_MAX_STATIONS, err, errlen)) ||
	    (r = int_list(c, "bad_channels", p->bad_chans, &p->nbad_chans, FLAG_MAX_LIST, err,
			  errlen)))
		return r;
	if ((r = cfg_get_ranges(c, sec, "bad_freq_mhz", 0, &rg, &n, err, errlen)))
		return r;
	if (n > FLAG_MAX_LIST)
		r = cfg_err(c, sec, "bad_freq_mhz", err, errlen, "more than %d ranges", FLAG_MAX_LIST);
	for (int i = 0; r == 0 && i < n; i++) {
		p->bad_freq_mhz[i][0] = rg[i].lo;
		p->bad_freq_mhz[i][1] = rg[i].hi;
		p->nbad_freq = i + 1;
	}
	free(rg);
	if (r)
		return r;
	if (!(s->max_flagged_fraction > 0) || s->max_flagged_fraction > 1)
		return cfg_err(c, sec, "max_flagged_fraction", err, errlen, "%g: expected 0 < x <= 1",
			       s->max_flagged_fraction);
	return 0;
}

/* The configured station names present in v → its antenna numbers (a
 * configured station may be inactive). */
static void stations_to_numbers(const vis_set *v, const int *names, int n, int *out, int *nout,
				int cap)
{
	*nout = 0;
	for (int k = 0; k < n; k++) {
		char name[16];
		snprintf(name, sizeof name, "%d", names[k]);
		for (int a = 0; a < v->nants && *nout < cap; a++)
			if (strcmp(v->ants[a].name, name) == 0)
				out[(*nout)++] = v->ants[a].number;
	}
}

/* Replace the group's flag_stats rows (idempotent across re-runs). */
static int record(sqlite3 *db, int64_t group_id, const vis_set *v, const flag_stats *st,
		  char *err, size_t errlen)
{
	flagdb_row *rows;
	size_t n = 0;
	int r;

	if (!db)
		return 0;
	rows = calloc(1 + FLAG_NREASONS + (size_t)st->nants + (size_t)st->nchan, sizeof *rows);
	if (!rows)
		return err_set(err, errlen, -ENOMEM, "flag_stats: out of memory");
	rows[n++] = (flagdb_row){ .kind = "total", .freq_hz = NAN, .fraction = st->total_frac };
	for (int k = 0; k < FLAG_NREASONS; k++) {
		rows[n] = (flagdb_row){ .kind = "reason", .freq_hz = NAN,
					.fraction = st->reason_frac[k] };
		snprintf(rows[n++].key, FLAGDB_KEY_LEN, "%s", flag_reason_name(k));
	}
	for (int a = 0; a < st->nants; a++) {
		if (st->ant_frac[a] < 0)
			continue; /* not on any baseline */
		rows[n] = (flagdb_row){ .kind = "antenna", .freq_hz = NAN,
					.fraction = st->ant_frac[a] };
		snprintf(rows[n++].key, FLAGDB_KEY_LEN, "%s", v->ants[a].name);
	}
	for (int c = 0; c < st->nchan; c++) {
		rows[n] = (flagdb_row){ .kind = "channel", .freq_hz = v->freq_hz[c],
					.fraction = st->chan_frac[c] };
		snprintf(rows[n++].key, FLAGDB_KEY_LEN, "%d", c);
	}
	r = flagdb_replace(db, group_id, rows, n, err, errlen);
	free(rows);
	return r;
}

int stage_flag(pipe_ctx *ctx, char *err, size_t errlen)
{
	struct flag_report *rep = NULL;
	flag_params p;
	int r;

	if (!ctx->vis)
		return err_set(err, errlen, -EINVAL, "no visibilities to flag (convert did not run)");
	rep = calloc(1, sizeof *rep);
	if (!rep)
		return err_set(err, errlen, -ENOMEM, "flag: out of memory");
	/* [flag] was parsed and validated with the configuration. */
	p = ctx->conf->flag.p;
	p.nthreads = ctx->threads;
	rep->max_flagged_fraction = ctx->conf->flag.max_flagged_fraction;
	stations_to_numbers(ctx->vis, ctx->conf->flag.bad_stations, ctx->conf->flag.nbad_stations,
			    p.bad_ants, &p.nbad_ants, FLAG_MAX_LIST);
	r = flag_run(ctx->vis, &p, &rep->st, err, errlen);
	if (r)
		goto fail;
	flag_report_free(ctx->flags);
	ctx->flags = rep;
	r = record(ctx->db, ctx->group_id, ctx->vis, &rep->st, err, errlen);
	if (r)
		return r;
	if (rep->st.total_frac > rep->max_flagged_fraction) {
		ctx->permanent = 1;
		return err_set(err, errlen, -EINVAL,
			       "%.1f %% of the cross-correlations are flagged (limit [flag] max_flagged_fraction "
			       "= %.0f %%): rfi %.1f %%, nonfinite/dead %.1f %%, config %.1f %%, missing %.1f %%, "
			       "input %.1f %%, %d dead antenna(s)",
			       100 * rep->st.total_frac, 100 * rep->max_flagged_fraction,
			       100 * rep->st.reason_frac[FLAG_R_RFI], 100 * rep->st.reason_frac[FLAG_R_NONFINITE],
			       100 * rep->st.reason_frac[FLAG_R_CONFIG], 100 * rep->st.reason_frac[FLAG_R_MISSING],
			       100 * rep->st.reason_frac[FLAG_R_INPUT], rep->st.ndead);
	}
	return 0;
fail:
	flag_report_free(rep);
	return r;
}

/* Overall flagged fraction of the last flag run (NAN when the stage did not run). */
double flag_report_fraction(const struct flag_report *r)
{
	return r ? r->st.total_frac : NAN;
}
