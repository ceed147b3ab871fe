/*
 * tests/core/test_eop.c — the IERS finals parser and lookup (core/eop.h) on
 * real excerpts of finals2000A (tests/data/eop/README.md): values at known
 * days as the file states them, interpolation, the measured/predicted
 * boundary, outside the table, the 2016-12-31 leap second, and malformed
 * input refused with its line and column.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/eop.h"
#include "core/err.h"
#include "tests/test.h"

#define AS2R (M_PI / 648000.0)
#define EXCERPT_2026 "tests/data/eop/finals2000A.2026-excerpt"
#define EXCERPT_2017 "tests/data/eop/finals2000A.2017-leap-excerpt"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

static void check_value(const eop_table *t, double mjd, double dut1, double xp_as, double yp_as,
			int quality)
{
	eop_value v;
	CHECK_OK(eop_lookup(t, mjd, &v), NULL);
	CHECK_NEAR(v.eop.dut1_s, dut1, 1e-9);
	CHECK_NEAR(v.eop.xp_rad / AS2R, xp_as, 1e-9);
	CHECK_NEAR(v.eop.yp_rad / AS2R, yp_as, 1e-9);
	CHECK(v.quality == quality, "MJD %.3f: %s, expected %s", mjd, eop_quality_name(v.quality),
	      eop_quality_name(quality));
}

static void test_excerpt_2026(void)
{
	eop_table *t = NULL;
	eop_table_info info;
	char err[ERR_LEN] = "";

	CHECK_OK(eop_table_load(EXCERPT_2026, &t, err, sizeof err), err);
	if (!t)
		return;
	eop_table_get_info(t, &info);
	printf("# %s: %d rows MJD %.0f..%.0f, last measured %.0f, %d with Bulletin B\n", info.name,
	       info.nrows, info.first_mjd, info.last_mjd, info.last_measured_mjd, info.nbulletin_b);
	CHECK(info.nrows == 200 && info.first_mjd == 61041 && info.last_mjd == 61240,
	      "%d rows %.0f..%.0f", info.nrows, info.first_mjd, info.last_mjd);
	CHECK(info.last_measured_mjd == 61181, "last measured %.0f", info.last_measured_mjd);
	CHECK(info.nbulletin_b == 91, "%d rows with Bulletin B (2026-01-01 .. 04-01)", info.nbulletin_b);
	CHECK(!strcmp(info.name, EXCERPT_2026), "%s", info.name);

	/* Days as the file states them: Bulletin B where the row has it
	 * (2026-01-01: B 0.110518" 0.331170" 0.0740869 s; A would be 0.110516,
	 * 0.331199, 0.0740684), Bulletin A otherwise (2026-04-02), predictions
	 * after 2026-05-21 (2026-06-09). */
	check_value(t, 61041, 0.0740869, 0.110518, 0.331170, EOP_MEASURED);
	check_value(t, 61131, 0.0509765, 0.124644, 0.409404, EOP_MEASURED);
	check_value(t, 61132, 0.0500286, 0.126386, 0.410186, EOP_MEASURED);
	check_value(t, 61181, 0.0252260, 0.174715, 0.412691, EOP_MEASURED);
	check_value(t, 61182, 0.0247054, 0.175350, 0.412217, EOP_PREDICTED);
	check_value(t, 61200, 0.0197540, 0.188621, 0.404526, EOP_PREDICTED);
	check_value(t, 61240, 0.0401837, 0.209133, 0.373707, EOP_PREDICTED);

	/* Linear interpolation between two days (no leap second: UT1 − UTC and
	 * UT1 − TAI interpolate alike). */
	check_value(t, 61132.25, 0.75 * 0.0500286 + 0.25 * 0.0491947, 0.75 * 0.126386 + 0.25 * 0.127866,
		    0.75 * 0.410186 + 0.25 * 0.411255, EOP_MEASURED);
	/* The measured/predicted boundary: between the last measured day and
	 * the first prediction the value is a prediction. */
	check_value(t, 61181.5, 0.5 * (0.0252260 + 0.0247054), 0.5 * (0.174715 + 0.175350),
		    0.5 * (0.412691 + 0.412217), EOP_PREDICTED);
	check_value(t, 61180.999, 0.001 * 0.0255213 + 0.999 * 0.0252260,
		    0.001 * 0.174174 + 0.999 * 0.174715, 0.001 * 0.413047 + 0.999 * 0.412691,
		    EOP_MEASURED);

	/* Outside: the nearest row held, and how far. */
	eop_value v;
	CHECK_OK(eop_lookup(t, 61250.5, &v), NULL);
	CHECK(v.quality == EOP_OUTSIDE && fabs(v.days_outside - 10.5) < 1e-9, "%s %.3f",
	      eop_quality_name(v.quality), v.days_outside);
	CHECK_NEAR(v.eop.dut1_s, 0.0401837, 1e-9);
	CHECK_OK(eop_lookup(t, 61030, &v), NULL);
	CHECK(v.quality == EOP_OUTSIDE && fabs(v.days_outside - 11) < 1e-9, "%s %.3f",
	      eop_quality_name(v.quality), v.days_outside);
	CHECK_NEAR(v.eop.dut1_s, 0.0740869, 1e-9);
	CHECK(eop_lookup(t, NAN, &v) == -EINVAL, "NaN time accepted");

	/* Shared references. */
	eop_table *r = eop_table_ref(t);
	CHECK(r == t, "ref");
	eop_table_free(t);
	CHECK_OK(eop_lookup(r, 61041, &v), NULL);
	eop_table_free(r);
	eop_table_free(NULL);
}

/* 2016-12-31 ended with a leap second: UT1 − UTC goes from −0.4077600 s
 * (Bulletin B, 12-31) to +0.5912975 s (01-01).  UT1 − TAI is continuous
 * (−36.4077600 → −36.4087025), so half-way through 12-31 UT1 − UTC is
 * −0.40823 s; interpolating UT1 − UTC itself would give +0.0918 s. */
static void test_leap_second(void)
{
	eop_table *t = NULL;
	char err[ERR_LEN] = "";
	eop_value v;

	CHECK_OK(eop_table_load(EXCERPT_2017, &t, err, sizeof err), err);
	if (!t)
		return;
	check_value(t, 57753, -0.4077600, 0.081318, 0.262990, EOP_MEASURED);
	check_value(t, 57754, 0.5912975, 0.080450, 0.263074, EOP_MEASURED);
	double ut1_tai = 0.5 * ((-0.4077600 - 36) + (0.5912975 - 37));
	CHECK_OK(eop_lookup(t, 57753.5, &v), NULL);
	printf("# 2016-12-31T12:00 UT1-UTC %.7f s (UT1-TAI interpolated; UT1-UTC interpolated "
	       "would give %.7f)\n", v.eop.dut1_s, 0.5 * (-0.4077600 + 0.5912975));
	CHECK_NEAR(v.eop.dut1_s, ut1_tai + 36, 1e-9);
	/* A second before the leap second: still TAI − UTC = 36 s. */
	CHECK_OK(eop_lookup(t, 57754 - 1.0 / 86400, &v), NULL);
	CHECK_NEAR(v.eop.dut1_s, -0.4087025 + 0.0000000109, 2e-8);
	CHECK(v.eop.dut1_s < -0.4, "before the leap: %.7f", v.eop.dut1_s);
	eop_table_free(t);
}

/* One malformed variant of a good text: the error names file, line, column. */
static void expect_refused(const char *text, const char *what, const char *want)
{
	eop_table *t = NULL;
	char err[ERR_LEN] = "";
	int r = eop_table_parse(text, strlen(text), "finals.test", &t, err, sizeof err);

	CHECK(r == -EINVAL && !t, "%s: accepted (r %d)", what, r);
	CHECK(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", what, err, want);
	if (r == -EINVAL)
		printf("# %s -> %s\n", what, err);
	eop_table_free(t);
}

static void test_malformed(void)
{
	size_t len = 0;
	char *good = slurp(EXCERPT_2026, &len), *txt;
	eop_table *t = NULL;
	char err[ERR_LEN] = "";

	CHECK(good != NULL, "cannot read %s", EXCERPT_2026);
	if (!good)
		return;
	/* Lines are 187 columns + '\n'. */
#define AT(line, col) ((size_t)((line) - 1) * 188 + (col) - 1)
	txt = strdup(good);

	txt[AT(3, 22)] = 'x'; /* PM-x of line 3 */
	expect_refused(txt, "letter in PM-x", "finals.test:3:22: PM-x: not a digit");
	txt[AT(3, 22)] = good[AT(3, 22)];

	txt[AT(5, 17)] = 'Q';
	expect_refused(txt, "flag Q", "finals.test:5:17: polar motion flag: expected I, P or blank");
	txt[AT(5, 17)] = good[AT(5, 17)];

	txt[AT(7, 6)] = '8'; /* 26 1 7 -> 26 1 8 with MJD 61047 */
	expect_refused(txt, "date against MJD", "finals.test:7:1: date: the date is not the MJD's");
	txt[AT(7, 6)] = good[AT(7, 6)];

	txt[AT(9, 37)] = '0'; /* a separator column */
	expect_refused(txt, "separator", "finals.test:9:37: this column is blank");
	txt[AT(9, 37)] = good[AT(9, 37)];

	memset(txt + AT(11, 38), ' ', 9); /* PM-y blank, its error given */
	expect_refused(txt, "PM-y blank", "finals.test:11:38: PM-y: blank while the rest");
	memcpy(txt + AT(11, 38), good + AT(11, 38), 9);

	txt[AT(13, 62)] = ' '; /* "0.0713231" -> "0.0 13231" in UT1-UTC */
	expect_refused(txt, "blank inside a number", "finals.test:13:62: UT1-UTC: blank inside");
	txt[AT(13, 62)] = good[AT(13, 62)];

	txt[AT(15, 186)] = '7'; /* text after column 185 */
	expect_refused(txt, "text after 185", "finals.test:15:186: text after the last column");
	txt[AT(15, 186)] = ' ';

	txt[AT(17, 58)] = ' '; /* UT1 values without their flag */
	expect_refused(txt, "UT1 without flag", "finals.test:17:58: UT1-UTC: values given without a flag");
	txt[AT(17, 58)] = good[AT(17, 58)];

	txt[AT(19, 60)] = '9'; /* UT1 - UTC = 9.07... s */
	expect_refused(txt, "UT1-UTC out of range", "finals.test:19:59: |UT1-UTC| >= 1 s");
	txt[AT(19, 60)] = good[AT(19, 60)];

	/* A missing day (line 21 removed). */
	{
		char *gap = malloc(len + 1);
		memcpy(gap, good, AT(21, 1));
		strcpy(gap + AT(21, 1), good + AT(22, 1));
		expect_refused(gap, "missing day", "finals.test:21:8: MJD: not the day after");
		free(gap);
	}
	/* A truncated download: the last line cut at column 40. */
	{
		char *cut = strndup(good, AT(200, 40));
		expect_refused(cut, "truncated", "finals.test:200:40: PM-y: blank inside the number");
		free(cut);
	}
	expect_refused("", "empty", "finals.test: no daily row");
	expect_refused("\n  \n", "blank lines only", "finals.test: no daily row");

	/* Accepted: CRLF line ends, date-only rows at the end (finals2000A.all's
	 * tail), blank lines. */
	{
		size_t n = 0;
		char *crlf = malloc(2 * len + 400);
		for (size_t i = 0; i < len; i++) {
			if (good[i] == '\n')
				crlf[n++] = '\r';
			crlf[n++] = good[i];
		}
		n += (size_t)sprintf(crlf + n, "26 720 61241.00\n26 721 61242.00     \n\n");
		CHECK_OK(eop_table_parse(crlf, n, "crlf", &t, err, sizeof err), err);
		eop_table_info info;
		if (t) {
			eop_table_get_info(t, &info);
			CHECK(info.nrows == 200 && info.last_mjd == 61240, "%d rows", info.nrows);
		}
		eop_table_free(t);
		t = NULL;
		/* ... but values after date-only rows are refused. */
		n += (size_t)sprintf(crlf + n, "%.187s\n", good + AT(1, 1));
		memcpy(crlf + n - 188, "26 722 61243.00", 15);
		crlf[n] = 0;
		expect_refused(crlf, "values after the date-only tail", "values resume after rows without values");
		free(crlf);
	}
	CHECK(eop_table_load("/nonexistent/finals2000A.all", &t, err, sizeof err) == -ENOENT,
	      "missing file: %s", err);
	CHECK(strstr(err, "/nonexistent/finals2000A.all") != NULL, "%s", err);
#undef AT
	free(txt);
	free(good);
}

int main(void)
{
	RUN(test_excerpt_2026);
	RUN(test_leap_second);
	RUN(test_malformed);
	return TEST_DONE();
}
