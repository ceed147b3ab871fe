/* tests/core/test_config.c — INI store: values, defaults, env overrides, lists. */
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

static void test_lists(void)
{
	char err[ERR_LEN] = "", *e = err;
	cfg *c = NULL;
	int *iv = NULL, n = -1;
	double *dv = NULL;

	CHECK_OK(cfg_load_string(ini, &c, err, sizeof err), e);
	if (!c)
		return;
	CHECK_OK(cfg_get_int_list(c, "ingest", "ants", &iv, &n, err, sizeof err), e);
	CHECK(n == 3 && iv && iv[0] == 3 && iv[1] == 7 && iv[2] == 11, "%s", "");
	free(iv);
	CHECK_OK(cfg_get_double_list(c, "ingest", "freqs", &dv, &n, err, sizeof err), e);
	CHECK(n == 2 && dv && dv[0] == 1.4e9 && dv[1] == 1.3e9, "%s", "");
	free(dv);
	CHECK_OK(cfg_get_int_list(c, "ingest", "absent", &iv, &n, err, sizeof err), e);
	CHECK(n == 0 && iv == NULL, "%s", "");
	CHECK(cfg_get_int_list(c, "ingest", "badlist", &iv, &n, err, sizeof err) == -EINVAL, "%s", "");
	CHECK(cfg_get_int_list(c, "ingest", "freqs", &iv, &n, err, sizeof err) == -EINVAL, "%s", "");
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

int main(void)
{
	RUN(test_values_and_defaults);
	RUN(test_env_override);
	RUN(test_lists);
	RUN(test_files_and_refs);
	return TEST_DONE();
}
