/* tests/daemon/test_settings.c — the one configuration (daemon/settings.h):
 * defaults in one place, every problem of every section reported with its
 * file and line, typed stage settings, and the documentation of every key. */
#include "tests/test.h"

#include <errno.h>
#include <strings.h>

#include "core/err.h"
#include "daemon/settings.h"

static void test_defaults(void)
{
	char err[4 * ERR_LEN] = "", *e = err;
	cfg *c = cfg_new_empty();
	contimg_config *o = NULL;

	CHECK_OK(contimg_config_new(c, &o, err, sizeof err), e);
	cfg_free(c);
	if (!o)
		return;
	/* The defaults written once: [paths] state_dir in pipeline.c, the
	 * calibrator selection in calib/calsel.h. */
	CHECK(!strcmp(o->pipe.state_dir, "/var/lib/contimg"), "%s", o->pipe.state_dir);
	CHECK(!strcmp(o->catalog_path, "/var/lib/contimg/catalog.sqlite"), "%s", o->catalog_path);
	CHECK(!strcmp(o->phot.catalog_path, o->catalog_path), "%s", o->phot.catalog_path);
	CHECK(o->calibrate.cal.min_flux_jy == CALSEL_MIN_FLUX_JY &&
	      o->calibrate.cal.beam_level == CALSEL_BEAM_LEVEL &&
	      o->calibrate.cal.freq_hz == CALSEL_FREQ_HZ && o->calibrate.cal.radius_rad == 0,
	      "%g %g %g", o->calibrate.cal.min_flux_jy, o->calibrate.cal.beam_level,
	      o->calibrate.cal.freq_hz);
	CHECK(!strcmp(o->calibrate.caltables_dir, "/data/products/caltables"), "%s",
	      o->calibrate.caltables_dir);
	CHECK(!strcmp(o->image.fftw_wisdom, "/var/lib/contimg/fftw.wisdom"), "%s",
	      o->image.fftw_wisdom);
	CHECK(!o->image.chan_avg_set && o->image.avg_width_mhz == 1.953125, "%s", "");
	CHECK(o->flag.max_flagged_fraction == 0.8 && o->flag.nbad_stations == 0, "%s", "");
	CHECK(o->mosaic.max_size == 16384 && o->pointing.qa == 1, "%s", "");
	CHECK(o->log_level == 6 /* LOG_INFO */, "%d", o->log_level);
	/* A reference outlives the owner's free (a worker across a reload). */
	contimg_config *r = contimg_config_ref(o);
	contimg_config_free(o);
	CHECK(r->pipe.q.nsubbands == 16, "%s", "");
	contimg_config_free(r);
	contimg_config_free(NULL);
}

/* Typed settings of the stages, as the old per-group readers gave them. */
static void test_stage_settings(void)
{
	char err[4 * ERR_LEN] = "", *e = err;
	cfg *c = NULL;
	contimg_config *o = NULL;

	CHECK_OK(cfg_load_string("[paths]\nstate_dir = /s\nproducts_dir = /p\n"
				 "[catalog]\npath = /cat/c.sqlite\n"
				 "[flag]\nbad_antennas = 10, 21-23\nbad_channels = 0, 5-6\n"
				 "bad_freq_mhz = 1381.0-1381.1, 1400.2\nrfi = false\n"
				 "[calibrate]\nrefants = 24, 25,103\ncal_radius_deg = 2\n"
				 "gain_mode = ap\n"
				 "[image]\nchan_avg = 4\nfftw_wisdom = none\nsize = 512\n"
				 "[photometry]\nbox_beams = 4\n[log]\nlevel = debug\n",
				 &c, err, sizeof err), e);
	CHECK_OK(contimg_config_new(c, &o, err, sizeof err), e);
	cfg_free(c);
	if (!o)
		return;
	CHECK(o->flag.nbad_stations == 4 && o->flag.bad_stations[0] == 10 &&
	      o->flag.bad_stations[3] == 23, "%d", o->flag.nbad_stations);
	CHECK(o->flag.p.nbad_chans == 3 && o->flag.p.bad_chans[2] == 6 && o->flag.p.nbad_ants == 0,
	      "%d", o->flag.p.nbad_chans);
	CHECK(o->flag.p.nbad_freq == 2 && o->flag.p.bad_freq_mhz[0][1] == 1381.1 &&
	      o->flag.p.bad_freq_mhz[1][0] == 1400.2 && o->flag.p.rfi == 0, "%s", "");
	CHECK(o->calibrate.nrefant_stations == 3 && o->calibrate.refant_stations[2] == 103, "%s", "");
	CHECK_NEAR(o->calibrate.cal.radius_rad, 2 * M_PI / 180, 1e-15);
	CHECK(o->calibrate.sp.gain_mode == SOLVE_GAIN_AP, "%s", "");
	CHECK(!strcmp(o->calibrate.caltables_dir, "/p/caltables"), "%s", o->calibrate.caltables_dir);
	CHECK(o->image.chan_avg_set && o->image.p.chan_avg == 4 && o->image.fftw_wisdom[0] == 0 &&
	      o->image.p.nx == 512, "%s", "");
	CHECK(!strcmp(o->phot.catalog_path, "/cat/c.sqlite") && o->phot.fp.box_beams == 4, "%s",
	      o->phot.catalog_path);
	CHECK(o->log_level == 7 /* LOG_DEBUG */, "%d", o->log_level);
	contimg_config_free(o);
}

/* Every problem, every section, each with its file and line. */
static void test_errors(void)
{
	char path[1024], err[4 * ERR_LEN] = "";
	contimg_config *o = NULL;
	const char *text =
		"[paths]\n"                       /* 1 */
		"state_dir = /s\n"                /* 2 */
		"[ingest]\n"                      /* 3 */
		"min_subband = 3\n"               /* 4: misspelt key */
		"[photometri]\n"                  /* 5: misspelt section */
		"box_beams = 3\n"                 /* 6 */
		"[image]\n"                       /* 7 */
		"size = 17\n"                     /* 8: odd */
		"[flag]\n"                        /* 9 */
		"bad_antennas = 3, x\n"           /* 10: not a list */
		"[calibrate]\n"                   /* 11 */
		"gain_mode = amp\n"               /* 12 */
		"[photometry]\n"                  /* 13 */
		"box_beams = many\n"              /* 14 */
		"[log]\n"                         /* 15 */
		"level = loud\n";                 /* 16 */
	FILE *f;
	int n = 0;

	snprintf(path, sizeof path, "%s/bad.conf", test_tmpdir());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	CHECK(contimg_config_load(path, 0, &o, err, sizeof err) == -EINVAL && !o, "%s", "");
	for (const char *l = err; *l;) {
		int n = (int)strcspn(l, "\n");
		printf("# %.*s\n", n, l);
		l += n + (l[n] == '\n');
	}
	static const char *want[][2] = {
		{ "4", "[ingest] min_subband: unknown key (did you mean 'min_subbands'?)" },
		{ "5", "[photometri]: unknown section (did you mean [photometry]?)" },
		{ "8", "[image] size = 17: expected an even 16..32768" },
		{ "10", "[flag] bad_antennas = '3, x': expected comma-separated integers" },
		{ "12", "[calibrate] gain_mode: 'amp': expected phase or ap" },
		{ "14", "[photometry] box_beams = 'many': expected a number" },
		{ "16", "[log] level: 'loud': expected debug, info" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char line[1200];
		snprintf(line, sizeof line, "%s:%s: %s", path, want[i][0], want[i][1]);
		CHECK(strstr(err, line) != NULL, "missing '%s'", line);
	}
	for (const char *p = err; *p; p++)
		n += *p == '\n';
	CHECK(n + 1 == 7, "%d problems reported", n + 1);
	/* A problem found by two readers is reported once. */
	cfg *c = NULL;
	CHECK_OK(cfg_load_string("[pointing]\nqa_min_pb = 2\n", &c, err, sizeof err), err);
	CHECK(contimg_config_new(c, &o, err, sizeof err) == -EINVAL, "%s", "");
	CHECK(!strcmp(err, "config:2: [pointing] qa_min_pb = 2: must be in (0, 1)"), "'%s'", err);
	cfg_free(c);
	/* Absent file: an error unless the defaults are asked for. */
	snprintf(path, sizeof path, "%s/absent.conf", test_tmpdir());
	CHECK(contimg_config_load(path, 0, &o, err, sizeof err) == -ENOENT, "%s", err);
	CHECK_OK(contimg_config_load(path, 1, &o, err, sizeof err), err);
	contimg_config_free(o);
}

/* Every key the table knows is in ops/contimg.conf.example (under its
 * section) and in docs/config.md; the reverse (every documented key is known)
 * is tests/integration/test_daemon_config.sh validating the example with
 * every key uncommented. */
static void test_keys_documented(void)
{
	size_t nk = 0;
	const cfg_known *k = contimg_config_known(&nk);
	char *ex = NULL, *doc = NULL;
	size_t len = 0;
	FILE *f;
	int nkeys = 0;

	f = fopen("ops/contimg.conf.example", "r");
	CHECK(f != NULL, "ops/contimg.conf.example (run from the source tree)");
	if (!f)
		return;
	getdelim(&ex, &len, 0, f);
	fclose(f);
	len = 0;
	f = fopen("docs/config.md", "r");
	CHECK(f != NULL, "docs/config.md");
	if (!f) {
		free(ex);
		return;
	}
	getdelim(&doc, &len, 0, f);
	fclose(f);
	for (size_t i = 0; i < nk; i++) {
		char hdr[80], *sec, *end;
		snprintf(hdr, sizeof hdr, "\n[%s]\n", k[i].section);
		sec = strstr(ex, hdr);
		CHECK(sec != NULL, "section [%s] in the example", k[i].section);
		if (!sec)
			continue;
		for (const char *const *key = k[i].keys; *key; key++) {
			char a[80], b[80], md[80];
			int found = 0;
			/* any [section] block of that name (the example splits [calibrate]) */
			for (char *s = sec; s && !found; s = strstr(s + 1, hdr)) {
				end = strstr(s + 1, "\n[");
				snprintf(a, sizeof a, "\n#%s ", *key);
				snprintf(b, sizeof b, "\n%s ", *key);
				char *pa = strstr(s, a), *pb = strstr(s, b);
				found = (pa && (!end || pa < end)) || (pb && (!end || pb < end));
			}
			snprintf(md, sizeof md, "`%s`", *key);
			CHECK(found, "[%s] %s in ops/contimg.conf.example", k[i].section, *key);
			CHECK(strstr(doc, md) != NULL, "%s in docs/config.md", md);
			nkeys++;
		}
	}
	printf("# %d keys in %zu sections, each in the example and docs/config.md\n", nkeys, nk);
	free(ex);
	free(doc);
}

/* [debug] fault injection is refused unless the program allowed it, and an
 * environment variable cannot switch it on (issue 16 item 10). */
static void test_fault_injection_gate(void)
{
	char err[4 * ERR_LEN] = "", *e = err;
	contimg_config *o = NULL;
	cfg *c = NULL;
	int r;

	CHECK_OK(cfg_load_string("[debug]\nstage_delay_s = 2\n", &c, err, sizeof err), e);
	if (!c)
		return;
	r = contimg_config_new(c, &o, err, sizeof err);
	printf("# file, not allowed: %s\n", err);
	CHECK(r == -EINVAL && strstr(err, "config:2: [debug] stage_delay_s: fault injection is "
					   "refused without contimgd --enable-fault-injection"),
	      "%d '%s'", r, err);
	cfg_free(c);

	c = cfg_new_empty();
	setenv("CONTIMG_DEBUG_STAGE_DELAY_S", "30", 1);
	r = contimg_config_new(c, &o, err, sizeof err);
	printf("# environment, not allowed: %s\n", err);
	CHECK(r == -EINVAL && strstr(err, "$CONTIMG_DEBUG_STAGE_DELAY_S: [debug] stage_delay_s: "
					   "fault injection is refused"), "%d '%s'", r, err);
	unsetenv("CONTIMG_DEBUG_STAGE_DELAY_S");
	setenv("CONTIMG_DEBUG_CRASH_AT_STEP", "renamed", 1);
	r = contimg_config_new(c, &o, err, sizeof err);
	CHECK(r == -EINVAL && strstr(err, "[debug] crash_at_step: fault injection is refused"),
	      "%d '%s'", r, err);
	/* Allowed (contimgd --enable-fault-injection): taken, and checked. */
	contimg_config_allow_faults(1);
	CHECK_OK(contimg_config_new(c, &o, err, sizeof err), e);
	CHECK(o && o->crash_at_step == 3 /* FSX_RENAMED */, "%d", o ? o->crash_at_step : -1);
	contimg_config_free(o);
	o = NULL;
	setenv("CONTIMG_DEBUG_CRASH_AT_STEP", "rename", 1);
	r = contimg_config_new(c, &o, err, sizeof err);
	CHECK(r == -EINVAL && strstr(err, "'rename': expected written, synced, renamed or "
					   "dir_synced"), "%d '%s'", r, err);
	unsetenv("CONTIMG_DEBUG_CRASH_AT_STEP");
	contimg_config_allow_faults(0);
	/* eop_check_s is not fault injection: accepted without the switch. */
	setenv("CONTIMG_DEBUG_EOP_CHECK_S", "5", 1);
	CHECK_OK(contimg_config_new(c, &o, err, sizeof err), e);
	CHECK(o && o->eop_check_s == 5 && o->stage_delay_s == 0 && o->crash_at_step == 0);
	unsetenv("CONTIMG_DEBUG_EOP_CHECK_S");
	contimg_config_free(o);
	cfg_free(c);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_stage_settings);
	RUN(test_errors);
	RUN(test_keys_documented);
	RUN(test_fault_injection_gate);
	return TEST_DONE();
}
