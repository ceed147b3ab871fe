/*
 * tests/daemon/test_alert.c — the alert rules of daemon/alert.h on a real
 * state database, with hand-made epoch results (phot_result.cand): one alert
 * per source, event and kind even when the fitted event moves across a day
 * boundary from epoch to epoch; an ongoing fit after the complete event was
 * alerted makes none; a later, separate event alerts again; the candidate
 * alert cites the same event's ongoing one; min_score and enabled; and the
 * vetting context (bright neighbour) of alert_vetting.
 */
#include "tests/test.h"

#include <errno.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/log.h"
#include "daemon/alert.h"
#include "daemon/stage_photometry.h"
#include "state/alertdb.h"
#include "state/db.h"

static sqlite3 *db;
static char products[600];

/* One epoch's result with one candidate: source, score, ongoing, event
 * centre t0 and duration d, at epoch mjd. */
static void epoch(const alert_settings *s, const char *src, double score, int ongoing,
		  double t0, double d, double mjd)
{
	phot_cand_out o;
	memset(&o, 0, sizeof o);
	photdb_cand *c = &o.c;
	snprintf(c->source, sizeof c->source, "%s", src);
	c->score = score;
	c->ongoing = ongoing;
	c->t0_mjd = t0;
	c->duration_days = d;
	c->amplitude = 0.2;
	c->ra_deg = 128.7;
	c->dec_deg = 55.5;
	c->f0 = 0.5;
	c->n = 40;
	c->n_event = c->n_ingress = c->n_egress = c->n_base = -1;
	c->cat_resolved = c->cat_confused = -1;
	c->s_evid = c->s_depth = c->s_time = c->s_epochs = c->s_sig = c->s_quiet = NAN;
	c->dbic = c->alt_evidence = c->pb = c->cat_major_arcsec = NAN;
	c->bright_sep_deg = c->bright_flux_mjy = NAN;
	snprintf(c->best_alt, sizeof c->best_alt, "step");
	o.flux_jy = 0.4;
	o.flux_err_jy = 0.004;
	phot_result r = { .mjd = mjd, .ncand = 1, .cand = &o };
	alert_emit_epoch(db, s, products, -1, "test", &r);
}

static int64_t count(const char *where)
{
	char sql[256], err[ERR_LEN];
	int64_t n = -1;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM alerts WHERE %s", where);
	db_query_int(db, &n, err, sizeof err, sql, NULL);
	return n;
}

static void test_rules(void)
{
	char path[1024], err[ERR_LEN] = "";
	snprintf(path, sizeof path, "%s/state.sqlite", test_tmpdir());
	snprintf(products, sizeof products, "%s/products", test_tmpdir());
	CHECK_OK(db_open(path, 1, &db, err, sizeof err), err);
	if (!db)
		return;
	cfg *c = cfg_new_empty();
	alert_settings s;
	cfg_set(c, "alerts", "role", "test");
	CHECK_OK(alert_settings_read(c, 0.6, &s, err, sizeof err), err);
	CHECK(s.enabled && s.min_score == 0.6 && !strcmp(s.role, "test") &&
	      !strcmp(s.ivorn_base, "ivo://dsa110.caltech/contimg"), "defaults");

	/* the fitted event start moves across a day boundary: 61038.9 → 61039.1 */
	epoch(&s, "A", 0.7, 1, 61046.9, 16, 61041);
	epoch(&s, "A", 0.8, 1, 61047.1, 16, 61042);
	epoch(&s, "A", 0.9, 1, 61047.4, 16.2, 61043);
	CHECK(count("source = 'A'") == 1, "one ongoing alert for a drifting fit: %lld",
	      (long long)count("source = 'A'"));
	/* complete: one candidate alert, citing the ongoing one */
	epoch(&s, "A", 0.95, 0, 61047.2, 15, 61060);
	epoch(&s, "A", 0.96, 0, 61046.8, 15, 61061);
	CHECK(count("source = 'A' AND kind = 'candidate'") == 1, "one candidate alert");
	CHECK(count("source = 'A' AND kind = 'candidate' AND cites LIKE '%#A-ongoing-61038'") == 1,
	      "it cites the ongoing alert");
	/* the fit flips back to ongoing for the same event: nothing new */
	epoch(&s, "A", 0.9, 1, 61047.0, 15, 61062);
	CHECK(count("source = 'A'") == 2, "no alert for an ongoing fit of an alerted event");
	/* a later, separate event alerts again */
	epoch(&s, "A", 0.8, 0, 61200, 20, 61215);
	CHECK(count("source = 'A'") == 3, "a new event alerts: %lld", (long long)count("source = 'A'"));
	/* a complete event seen first as complete: a candidate alert without a citation */
	epoch(&s, "B", 0.7, 0, 61100, 30, 61130);
	CHECK(count("source = 'B' AND kind = 'candidate' AND cites IS NULL") == 1, "B alerted");
	/* below min_score: nothing; disabled: nothing */
	s.min_score = 0.75;
	epoch(&s, "C", 0.7, 0, 61100, 30, 61130);
	CHECK(count("source = 'C'") == 0, "below min_score");
	s.min_score = 0.6;
	s.enabled = 0;
	epoch(&s, "D", 0.9, 0, 61100, 30, 61130);
	CHECK(count("source = 'D'") == 0, "disabled");
	/* every row sent, one file each */
	alertdb_alert *a = NULL;
	size_t n = 0;
	CHECK_OK(alertdb_list(db, -INFINITY, 0, 1, &a, &n, err, sizeof err), err);
	CHECK(n == 4, "%zu alerts", n);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		CHECK(isfinite(a[i].sent_at), "%s sent", a[i].ivorn);
		CHECK(stat(a[i].path, &st) == 0 && (size_t)st.st_size == strlen(a[i].xml),
		      "%s: the file holds the stored text", a[i].path);
		printf("# %s %s start %.2f end %.2f\n", a[i].kind, a[i].ivorn, a[i].event_start_mjd,
		       a[i].event_end_mjd);
		alertdb_release(&a[i]);
	}
	free(a);
	/* malformed settings */
	cfg_set(c, "alerts", "ivorn_base", "ivo://x/y#z");
	CHECK(alert_settings_read(c, 0.6, &s, err, sizeof err) == -EINVAL, "ivorn_base with '#'");
	cfg_set(c, "alerts", "ivorn_base", "ivo://x/y");
	cfg_set(c, "alerts", "min_score", "1.5");
	CHECK(alert_settings_read(c, 0.6, &s, err, sizeof err) == -EINVAL, "min_score 1.5");
	cfg_free(c);
	db_close(db);
}

static void test_vetting(void)
{
	catalog_source src[4];
	memset(src, 0, sizeof src);
	const char *names[] = { "CAND", "NEAR_FAINT", "FAR_BRIGHT", "MID_BRIGHT" };
	/* (ra, dec, flux): a 50 mJy candidate; bright = ≥ min(500, 1000) mJy */
	const double v[4][3] = { { 100, 40, 50 }, { 100.01, 40, 400 }, { 103, 40, 5000 },
				 { 100, 40.5, 600 } };
	for (int i = 0; i < 4; i++) {
		snprintf(src[i].name, sizeof src[i].name, "%s", names[i]);
		src[i].ra_deg = v[i][0];
		src[i].dec_deg = v[i][1];
		src[i].flux_mjy = v[i][2];
		src[i].major_arcsec = NAN;
	}
	src[0].resolved = 1;
	src[0].major_arcsec = 30;
	photdb_cand c;
	memset(&c, 0, sizeof c);
	alert_vetting(src, 4, 0, 0.42, 61000.5, &c);
	CHECK(!strcmp(c.bright_source, "MID_BRIGHT"), "nearest bright: %s", c.bright_source);
	CHECK_NEAR(c.bright_sep_deg, 0.5, 1e-9);
	CHECK(c.bright_flux_mjy == 600 && c.pb == 0.42 && c.last_mjd == 61000.5, "fields");
	CHECK(c.cat_resolved == 1 && c.cat_confused == 0 && c.cat_major_arcsec == 30, "flags");
	/* a 5 Jy candidate: bright = ≥ 1 Jy, so only FAR_BRIGHT (5 Jy) qualifies */
	src[0].flux_mjy = 5000;
	src[3].flux_mjy = 900;
	alert_vetting(src, 4, 0, 1, 61000.5, &c);
	CHECK(!strcmp(c.bright_source, "FAR_BRIGHT"), "nearest ≥ 1 Jy: %s", c.bright_source);
	CHECK_NEAR(c.bright_sep_deg, 3 * cos(40 * M_PI / 180), 2e-3);
	/* none */
	src[2].flux_mjy = 10;
	alert_vetting(src, 4, 0, 1, 61000.5, &c);
	CHECK(c.bright_source[0] == 0 && isnan(c.bright_sep_deg), "no bright neighbour");
}

int main(void)
{
	log_init("test_alert", LOG_FORMAT_TEXT, LOG_WARNING);
	RUN(test_rules);
	RUN(test_vetting);
	return TEST_DONE();
}
