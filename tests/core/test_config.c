/* tests/core/test_config.c — INI store: values, defaults, env overrides, lists,
 * line numbers in errors, unknown keys and sections. */
#include "tests/test.h"

#include <errno.h>

#include "core/config.h"
#include "core/err.h"

static const char *ini =
	"; comment\n"
	"[paths]\n"
	"ingest_dir = /data/in\n"
	"[ingest]\n"
	"subbands = 16\n"
	"group_tolerance_s = 42.5\n"
	"bad_int = 12x\n"
	"export = yes\n"
	"off = Off\n"
	"ants = 3, 7,11\n"
	"freqs = 1.4e9, 1.3e9\n"
	"badlist = 1,,2\n"
	"[Pipeline]\n"
	"threads = 4\n";

static void test_values_and_defaults(void)
{
	char err[ERR_LEN] = "", *e = err;
	cfg *c = NULL;
	int x = -1;

	CHECK_OK(cfg_load_string(ini, &c, err, sizeof err), e);
	if (!c)
		return;
	CHECK(!strcmp(cfg_get_str(c, "paths", "ingest_dir", "x"), "/data/in"), "%s", "");
	CHECK(!strcmp(cfg_get_str(c, "paths", "state_dir", "/def"), "/def"), "%s", "");
	CHECK(cfg_get_int(c, "ingest", "subbands", 0) == 16, "%s", "");
	CHECK_NEAR(cfg_get_double(c, "ingest", "group_tolerance_s", 0), 42.5, 0);
	CHECK(cfg_get_int(c, "pipeline", "threads", 0) == 4, "section names are case-insensitive");
	CHECK(cfg_get_int(c, "ingest", "missing", 7) == 7, "%s", "");
	CHECK(cfg_get_bool(c, "ingest", "export", 0) == 1, "%s", "");
	CHECK(cfg_get_bool(c, "ingest", "off", 1) == 0, "%s", "");
	/* Malformed: the lax getter falls back, the strict one reports. */
	CHECK(cfg_get_int(c, "ingest", "bad_int", 5) == 5, "%s", "");
	CHECK(cfg_int(c, "ingest", "bad_int", 5, &x, err, sizeof err) == -EINVAL, "%s", "");
	CHECK(x == -1, "ret untouched on failure");
	CHECK(strstr(err, "bad_int") && strstr(err, "12x"), "%s", err);
	CHECK(cfg_bool(c, "ingest", "subbands", 0, &x, err, sizeof err) == -EINVAL, "%s", "");
	cfg_free(c);
}

static void test_env_override(void)
{
	char err[ERR_LEN] = "", *e = err;
	cfg *c = NULL;

	CHECK_OK(cfg_load_string(ini, &c, err, sizeof err), e);
	if (!c)
		return;
	setenv("CONTIMG_INGEST_SUBBANDS", "8", 1);
	setenv("CONTIMG_PATHS_STATE_DIR", "/env/state", 1);
	CHECK(cfg_get_int(c, "ingest", "subbands", 0) == 8, "%s", "");
	CHECK(!strcmp(cfg_get_str(c, "paths", "state_dir", "/def"), "/env/state"), "%s", "");
	CHECK(!strcmp(cfg_lookup(c, "Paths", "State_Dir"), "/env/state"), "upper-cased name");
	unsetenv("CONTIMG_INGEST_SUBBANDS");
	unsetenv("CONTIMG_PATHS_STATE_DIR");
	CHECK(cfg_get_int(c, "ingest", "subbands", 0) == 16, "%s", "");
	cfg_free(c);
}

/* file < environment < cfg_set (issue 16 item 10: CONTIMG_PIPELINE_STAGES
 * used to beat `contimgctl process --set pipeline.stages=...`). */
static void test_override_order(void)
{
	char err[ERR_LEN] = "", *e = err, at[256];
	cfg *c = NULL;
	int x = 0;

	CHECK_OK(cfg_load_string("[pipeline]\nstages = load, convert, image\n", &c, err,
				 sizeof err), e);
	if (!c)
		return;
	CHECK(!strcmp(cfg_lookup(c, "pipeline", "stages"), "load, convert, image"));
	setenv("CONTIMG_PIPELINE_STAGES", "load", 1);
	CHECK(!strcmp(cfg_lookup(c, "pipeline", "stages"), "load"), "environment > file");
	CHECK_OK(cfg_set(c, "pipeline", "stages", "load, convert"), NULL);
	printf("# file 'load, convert, image', $CONTIMG_PIPELINE_STAGES 'load', --set "
	       "'load, convert' -> '%s'\n", cfg_lookup(c, "pipeline", "stages"));
	CHECK(!strcmp(cfg_lookup(c, "pipeline", "stages"), "load, convert"), "--set > environment");
	cfg_where(c, "pipeline", "stages", at, sizeof at);
	CHECK(!strcmp(at, ""), "a --set value has no location, not the variable's: '%s'", at);
	CHECK(cfg_line(c, "pipeline", "stages") == 0);
	/* A key only the environment and cfg_set give, typed. */
	setenv("CONTIMG_INGEST_SUBBANDS", "8", 1);
	CHECK_OK(cfg_set(c, "ingest", "subbands", "12"), NULL);
	CHECK(cfg_int(c, "ingest", "subbands", 16, &x, err, sizeof err) == 0 && x == 12, "%d", x);
	unsetenv("CONTIMG_INGEST_SUBBANDS");
	unsetenv("CONTIMG_PIPELINE_STAGES");
	CHECK(!strcmp(cfg_lookup(c, "pipeline", "stages"), "load, convert"));
	cfg_free(c);
}

static void test_files_and_refs(void)
{
	char path[1024], err[ERR_LEN] = "", *e = err;
	cfg *c = NULL, *c2;
	FILE *f;

	snprintf(path, sizeof path, "%s/t.conf", test_tmpdir());
	CHECK(cfg_load(path, &c, err, sizeof err) == -ENOENT, "%s", "");
	f = fopen(path, "w");
	fputs("[a]\nk = v\n[b\nbroken\n", f);
	fclose(f);
	CHECK(cfg_load(path, &c, err, sizeof err) == -EINVAL, "%s", "");
	CHECK(strstr(err, ":3:") != NULL, "line number in '%s'", err);
	f = fopen(path, "w");
	fputs("[a]\nk = v\n", f);
	fclose(f);
	CHECK_OK(cfg_load(path, &c, err, sizeof err), e);
	if (!c)
		return;
	CHECK(!strcmp(cfg_path(c), path), "%s", "");
	/* A reference keeps the store alive across the owner's free (SIGHUP swap). */
	c2 = cfg_ref(c);
	cfg_free(c);
	CHECK(!strcmp(cfg_get_str(c2, "a", "k", ""), "v"), "%s", "");
	CHECK_OK(cfg_set(c2, "a", "k", "w"), NULL);
	CHECK(!strcmp(cfg_get_str(c2, "a", "k", ""), "w"), "%s", "");
	cfg_free(c2);
	cfg_free(NULL);
}

/* Every key and section header keeps its line; errors carry it. */
static void test_lines(void)
{
	char path[1024], err[ERR_LEN] = "", *e = err, at[512];
	cfg *c = NULL;
	FILE *f;
	int x = -1;

	CHECK_OK(cfg_load_string(ini, &c, err, sizeof err), e);
	if (!c)
		return;
	/* ini: line 1 comment, 2 [paths], 3 ingest_dir, 4 [ingest], 5 subbands,
	 * 7 bad_int, 13 [Pipeline], 14 threads. */
	CHECK(cfg_line(c, "paths", "ingest_dir") == 3, "%d", cfg_line(c, "paths", "ingest_dir"));
	CHECK(cfg_line(c, "ingest", "bad_int") == 7, "%d", cfg_line(c, "ingest", "bad_int"));
	CHECK(cfg_line(c, "pipeline", "threads") == 14, "%d", cfg_line(c, "pipeline", "threads"));
	CHECK(cfg_line(c, "ingest", NULL) == 4, "section header line");
	CHECK(cfg_line(c, "ingest", "absent") == 0, "absent key: line 0");
	CHECK(cfg_int(c, "ingest", "bad_int", 5, &x, err, sizeof err) == -EINVAL, "%s", "");
	CHECK(!strncmp(err, "config:7: [ingest] bad_int = '12x': expected an integer", 55),
	      "'%s'", err);
	printf("# strict getter: %s\n", err);
	CHECK(cfg_err(c, "ingest", "subbands", err, sizeof err, "%d: too many", 16) == -EINVAL,
	      "%s", "");
	CHECK(!strcmp(err, "config:5: [ingest] subbands: 16: too many"), "'%s'", err);
	/* cfg_set values have no line; environment overrides name the variable. */
	CHECK_OK(cfg_set(c, "ingest", "extra", "1"), NULL);
	cfg_where(c, "ingest", "extra", at, sizeof at);
	CHECK(!strcmp(at, ""), "'%s'", at);
	setenv("CONTIMG_INGEST_SUBBANDS", "8x", 1);
	CHECK(cfg_int(c, "ingest", "subbands", 16, &x, err, sizeof err) == -EINVAL, "%s", "");
	CHECK(!strncmp(err, "$CONTIMG_INGEST_SUBBANDS: [ingest] subbands = '8x'", 50), "'%s'", err);
	unsetenv("CONTIMG_INGEST_SUBBANDS");
	cfg_free(c);

	/* A file: a repeated key lives on its last line. */
	snprintf(path, sizeof path, "%s/lines.conf", test_tmpdir());
	f = fopen(path, "w");
	fprintf(f, "[a]\nk = 1\n; comment\n\n[b]\nk = 2\nk = 3\n");
	fclose(f);
	CHECK_OK(cfg_load(path, &c, err, sizeof err), e);
	if (!c)
		return;
	CHECK(cfg_line(c, "b", NULL) == 5 && cfg_line(c, "b", "k") == 7, "b at %d, k at %d",
	      cfg_line(c, "b", NULL), cfg_line(c, "b", "k"));
	cfg_where(c, "b", "k", at, sizeof at);
	CHECK(!strncmp(at, path, strlen(path)) && !strcmp(at + strlen(path), ":7: "), "'%s'", at);
	cfg_free(c);
}

/* Unknown sections and keys are refused with their line and the nearest known name. */
static void test_check_known(void)
{
	static const char *const a_keys[] = { "min_subbands", "subbands", NULL };
	static const char *const p_keys[] = { "threads", "box_beams", NULL };
	static const cfg_known known[] = { { "ingest", a_keys }, { "pipeline", p_keys } };
	char err[ERR_LEN] = "", *e = err;
	cfg *c = NULL;

	CHECK_OK(cfg_load_string("[ingest]\nsubbands = 16\nmin_subband = 3\nthreads = 2\n"
				 "[pipelin]\nthreads = 1\n[Pipeline]\nTHREADS = 4\nzzz = 1\n",
				 &c, err, sizeof err), e);
	if (!c)
		return;
	CHECK(cfg_check_known(c, known, 2, err, sizeof err) == -EINVAL, "%s", "");
	for (const char *l = err; *l;) {
		int n = (int)strcspn(l, "\n");
		printf("# %.*s\n", n, l);
		l += n + (l[n] == '\n');
	}
	CHECK(strstr(err, "config:5: [pipelin]: unknown section (did you mean [pipeline]?)"),
	      "'%s'", err);
	CHECK(strstr(err, "config:3: [ingest] min_subband: unknown key (did you mean "
			  "'min_subbands'?)"), "'%s'", err);
	CHECK(strstr(err, "config:4: [ingest] threads: unknown key (it belongs in [pipeline])"),
	      "'%s'", err);
	{
		const char *z = strstr(err, "config:9: [Pipeline] zzz: unknown key");
		CHECK(z && (z[37] == 0 || z[37] == '\n'),
		      "no suggestion for a name far from every key: '%s'", err);
	}
	CHECK(!strstr(err, "THREADS") && !strstr(err, ":6:"),
	      "known keys (any case) and keys of a reported section are not listed: '%s'", err);
	cfg_free(c);
	/* Overrides set in code are checked too (no line to give). */
	c = cfg_new_empty();
	CHECK_OK(cfg_set(c, "ingest", "subbands", "4"), NULL);
	CHECK_OK(cfg_check_known(c, known, 2, err, sizeof err), e);
	CHECK_OK(cfg_set(c, "ingest", "subband", "4"), NULL);
	CHECK(cfg_check_known(c, known, 2, err, sizeof err) == -EINVAL &&
	      !strcmp(err, "[ingest] subband: unknown key (did you mean 'subbands'?)"), "'%s'", err);
	cfg_free(c);
}

/* Number lists with ranges: the syntax of [flag] bad_antennas, bad_channels,
 * bad_freq_mhz and [calibrate] refants. */
static void test_ranges(void)
{
	char err[ERR_LEN] = "", *e = err;
	cfg_range *rg = NULL;
	cfg *c = NULL;
	int n = -1;

	CHECK_OK(cfg_load_string("[f]\nants = 4, 10-11\nchans = 0,95\n"
				 "freq = 1402.33, 1410.0 - 1410.5\nbad = 4,x\n"
				 "down = 1500-1400\nneg = -3\nfrac = 1.5\nempty = 1,,2\n",
				 &c, err, sizeof err), e);
	if (!c)
		return;
	CHECK_OK(cfg_get_ranges(c, "f", "ants", 1, &rg, &n, err, sizeof err), e);
	CHECK(n == 2 && rg && rg[0].lo == 4 && rg[0].hi == 4 && rg[1].lo == 10 && rg[1].hi == 11,
	      "n %d", n);
	free(rg);
	CHECK_OK(cfg_get_ranges(c, "f", "freq", 0, &rg, &n, err, sizeof err), e);
	CHECK(n == 2 && rg && rg[0].lo == 1402.33 && rg[0].hi == 1402.33 && rg[1].lo == 1410.0 &&
	      rg[1].hi == 1410.5, "n %d", n);
	free(rg);
	CHECK_OK(cfg_get_ranges(c, "f", "absent", 1, &rg, &n, err, sizeof err), e);
	CHECK(n == 0 && rg == NULL, "%s", "");
	CHECK(cfg_get_ranges(c, "f", "bad", 1, &rg, &n, err, sizeof err) == -EINVAL &&
	      strstr(err, "config:5: [f] bad = '4,x'"), "'%s'", err);
	CHECK(cfg_get_ranges(c, "f", "down", 0, &rg, &n, err, sizeof err) == -EINVAL, "hi < lo");
	CHECK(cfg_get_ranges(c, "f", "neg", 1, &rg, &n, err, sizeof err) == -EINVAL, "negative");
	CHECK(cfg_get_ranges(c, "f", "frac", 1, &rg, &n, err, sizeof err) == -EINVAL,
	      "fraction where integers are wanted");
	CHECK_OK(cfg_get_ranges(c, "f", "frac", 0, &rg, &n, err, sizeof err), e);
	free(rg);
	CHECK(cfg_get_ranges(c, "f", "empty", 1, &rg, &n, err, sizeof err) == -EINVAL, "1,,2");
	cfg_free(c);
}

int main(void)
{
	RUN(test_values_and_defaults);
	RUN(test_env_override);
	RUN(test_override_order);
	RUN(test_files_and_refs);
	RUN(test_lines);
	RUN(test_check_known);
	RUN(test_ranges);
	return TEST_DONE();
}
