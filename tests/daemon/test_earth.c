/*
 * tests/daemon/test_earth.c — the Earth orientation settings, the process's
 * table (read, unchanged, changed, malformed) and the choice for a group
 * (daemon/earth.h) on the real excerpt tests/data/eop/finals2000A.2026-excerpt.
 */
#include "tests/test.h"

#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#include "core/err.h"
#include "daemon/earth.h"
#include "daemon/pipeline.h"

#define AS2R (M_PI / 648000.0)
#define EXCERPT "tests/data/eop/finals2000A.2026-excerpt"

static void test_settings(void)
{
	char err[ERR_LEN] = "";
	cfg *c = cfg_new_empty();
	pipe_settings s;

	CHECK_OK(pipe_settings_read(c, &s, err, sizeof err), err);
	CHECK(!s.earth.eop_file[0] && s.earth.max_age_days == 30 && !s.earth.dut1_set &&
	      !s.earth.pm_set, "defaults");
	cfg_set(c, "pipeline", "dut1_s", "0");
	cfg_set(c, "earth", "yp_arcsec", "0.25");
	cfg_set(c, "earth", "eop_file", "/etc/contimg/finals2000A.all");
	CHECK_OK(pipe_settings_read(c, &s, err, sizeof err), err);
	CHECK(s.earth.dut1_set && s.earth.dut1_s == 0 && s.earth.pm_set && s.earth.xp_arcsec == 0 &&
	      s.earth.yp_arcsec == 0.25 && !strcmp(s.earth.eop_file, "/etc/contimg/finals2000A.all"),
	      "set: %d %g %d %g %g '%s'", s.earth.dut1_set, s.earth.dut1_s, s.earth.pm_set,
	      s.earth.xp_arcsec, s.earth.yp_arcsec, s.earth.eop_file);
	cfg_set(c, "earth", "eop_file", "finals2000A.all");
	CHECK(pipe_settings_read(c, &s, err, sizeof err) == -EINVAL && strstr(err, "[earth] eop_file"),
	      "relative path: %s", err);
	cfg_set(c, "earth", "eop_file", "");
	cfg_set(c, "earth", "xp_arcsec", "3");
	CHECK(pipe_settings_read(c, &s, err, sizeof err) == -EINVAL && strstr(err, "xp_arcsec"),
	      "xp 3\": %s", err);
	cfg_set(c, "earth", "xp_arcsec", "0.1");
	cfg_set(c, "earth", "eop_max_age_days", "-1");
	CHECK(pipe_settings_read(c, &s, err, sizeof err) == -EINVAL && strstr(err, "eop_max_age_days"),
	      "age -1: %s", err);
	cfg_free(c);
}

static int copy(const char *from, const char *to)
{
	FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
	char buf[4096];
	size_t n;
	int ok = a && b;

	while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
		ok = fwrite(buf, 1, n, b) == n;
	if (a)
		fclose(a);
	if (b && fclose(b) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static void test_table(void)
{
	char err[ERR_LEN] = "", path[4096], path2[4096];
	eop_table *t, *held;
	eop_table_info in;

	snprintf(path, sizeof path, "%s/finals", test_tmpdir());
	snprintf(path2, sizeof path2, "%s/finals.new", test_tmpdir());
	CHECK(copy(EXCERPT, path) == 0, "copy");
	CHECK(earth_table_get() == NULL && earth_table_read_at() == 0, "a table before any read");
	CHECK(earth_table_update(path, 0, err, sizeof err) == 1, "first read: %s", err);
	held = earth_table_get();
	CHECK(held != NULL && earth_table_read_at() > 0, "no table after the read");
	CHECK(earth_table_update(path, 0, err, sizeof err) == 0, "unchanged file re-read: %s", err);
	CHECK(earth_table_update(path, 1, err, sizeof err) == 1, "forced: %s", err);
	/* A changed file (new size and time) is re-read; a group that took the
	 * old table keeps it. */
	FILE *f = fopen(path2, "w");
	CHECK(f != NULL, "create");
	if (f) {
		FILE *g = fopen(EXCERPT, "r");
		char line[256];
		for (int i = 0; g && i < 100 && fgets(line, sizeof line, g); i++)
			fputs(line, f);
		if (g)
			fclose(g);
		fclose(f);
	}
	CHECK(rename(path2, path) == 0, "rename");
	CHECK(earth_table_update(path, 0, err, sizeof err) == 1, "changed file not re-read: %s", err);
	t = earth_table_get();
	if (t && held) {
		eop_table_get_info(t, &in);
		CHECK(in.nrows == 100, "new table %d rows", in.nrows);
		eop_table_get_info(held, &in);
		CHECK(in.nrows == 200, "held table %d rows", in.nrows);
	}
	eop_table_free(t);
	eop_table_free(held);
	/* A malformed file: the error, and the table in use stays. */
	f = fopen(path2, "w");
	if (f) {
		fputs("26 1 1 61041.00 I  0.11x516\n", f);
		fclose(f);
	}
	CHECK(rename(path2, path) == 0, "rename");
	CHECK(earth_table_update(path, 0, err, sizeof err) == -EINVAL && strstr(err, "finals:1:24: PM-x"),
	      "malformed: %s", err);
	t = earth_table_get();
	if (t) {
		eop_table_get_info(t, &in);
		CHECK(in.nrows == 100, "kept table %d rows", in.nrows);
	}
	CHECK(t != NULL, "the table in use was dropped");
	eop_table_free(t);
	CHECK(earth_table_update("/nonexistent/finals", 0, err, sizeof err) == -ENOENT, "%s", err);
	CHECK(earth_table_update("", 0, err, sizeof err) == 1 && earth_table_get() == NULL, "drop");
	CHECK(earth_table_update("", 0, err, sizeof err) == 0, "drop twice");
}

static void test_choice(void)
{
	char err[ERR_LEN] = "";
	eop_table *t = NULL;
	earth_settings s;
	earth_choice c;
	eop_value v;
	const double mjd = 61100.2166; /* 2026-03-01T05:11 */

	CHECK_OK(eop_table_load(EXCERPT, &t, err, sizeof err), err);
	if (!t)
		return;
	memset(&s, 0, sizeof s);
	s.max_age_days = 30;

	/* No table, no override: zero, with a warning that says how much. */
	CHECK_OK(earth_for_group(&s, NULL, mjd, &c), NULL);
	CHECK(c.eop.dut1_s == 0 && c.eop.xp_rad == 0 && c.eop.yp_rad == 0 && c.warn && c.quality == -1,
	      "none: %s", c.text);
	CHECK(strstr(c.text, "no Earth orientation table") && strstr(c.text, "0.86\" at dec 55 deg"),
	      "%s", c.text);
	printf("# %s\n", c.text);
	/* Overrides only: both given, no warning; UT1 alone still warns. */
	s.dut1_set = 1;
	s.dut1_s = -0.2;
	CHECK_OK(earth_for_group(&s, NULL, mjd, &c), NULL);
	CHECK(c.eop.dut1_s == -0.2 && c.warn, "dut1 override alone: %s", c.text);
	s.pm_set = 1;
	s.xp_arcsec = 0.1;
	CHECK_OK(earth_for_group(&s, NULL, mjd, &c), NULL);
	CHECK(!c.warn && fabs(c.eop.xp_rad / AS2R - 0.1) < 1e-12 && c.eop.yp_rad == 0, "%s", c.text);
	CHECK(strstr(c.text, "[pipeline] dut1_s") && strstr(c.text, "[earth] xp_arcsec"), "%s", c.text);

	/* The table: its values at the time, measured. */
	memset(&s, 0, sizeof s);
	s.max_age_days = 30;
	CHECK_OK(eop_lookup(t, mjd, &v), NULL);
	CHECK_OK(earth_for_group(&s, t, mjd, &c), NULL);
	CHECK(!c.warn && c.quality == EOP_MEASURED && c.eop.dut1_s == v.eop.dut1_s &&
	      c.eop.xp_rad == v.eop.xp_rad && c.eop.yp_rad == v.eop.yp_rad, "table: %s", c.text);
	CHECK(strstr(c.text, "(measured)") && strstr(c.text, EXCERPT) && strstr(c.text, "measured to 2026-05-21"),
	      "%s", c.text);
	printf("# %s\n", c.text);
	/* Each override replaces its own quantity only. */
	s.dut1_set = 1;
	s.dut1_s = 0;
	CHECK_OK(earth_for_group(&s, t, mjd, &c), NULL);
	CHECK(c.eop.dut1_s == 0 && c.eop.xp_rad == v.eop.xp_rad && !c.warn, "dut1 override: %s", c.text);
	s.dut1_set = 0;
	s.pm_set = 1;
	CHECK_OK(earth_for_group(&s, t, mjd, &c), NULL);
	CHECK(c.eop.dut1_s == v.eop.dut1_s && c.eop.xp_rad == 0 && c.eop.yp_rad == 0, "pm override: %s",
	      c.text);
	s.pm_set = 0;
	/* Predictions 59 days past the last measured day: stale for 30, not for 90. */
	CHECK_OK(earth_for_group(&s, t, 61240, &c), NULL);
	CHECK(c.warn && c.quality == EOP_PREDICTED && strstr(c.text, "STALE: the group is 59 days after"),
	      "%s", c.text);
	printf("# %s\n", c.text);
	s.max_age_days = 90;
	CHECK_OK(earth_for_group(&s, t, 61240, &c), NULL);
	CHECK(!c.warn && strstr(c.text, "(predicted)"), "%s", c.text);
	/* Outside the table: held, stale whatever the age limit. */
	CHECK_OK(earth_for_group(&s, t, 61260.5, &c), NULL);
	CHECK(c.warn && c.quality == EOP_OUTSIDE && strstr(c.text, "20.5 days after the table"), "%s", c.text);
	CHECK_OK(earth_for_group(&s, t, 61000, &c), NULL);
	CHECK(c.warn && strstr(c.text, "41.0 days before the table, its first row"), "%s", c.text);
	eop_table_free(t);
}

int main(void)
{
	RUN(test_settings);
	RUN(test_table);
	RUN(test_choice);
	return TEST_DONE();
}
