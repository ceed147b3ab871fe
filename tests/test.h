/*
 * tests/test.h — the tiny unit-test harness every tests/<dir>/test_*.c uses.
 *
 * A test file defines `static void test_something(void)` functions and a main()
 * that calls RUN(test_something) for each, then returns TEST_DONE().  Inside a
 * test, CHECK / CHECK_NEAR / CHECK_OK record failures without aborting, so one
 * run reports every broken assertion.  Each RUN prints one TAP-style line
 * ("ok - file:test" or "not ok - file:test"); tests/run.sh counts them.
 *
 * Test data comes from two places.  The small inputs travel with the code in
 * the repository's tests/data/ (catalogs/vlacalibrators.txt,
 * dsa110/DSA110_Station_Coordinates.csv, uvh5-real/, eop/; tests/data/README.md):
 * test_data("catalogs/...") finds them there ($CONTIMG_TEST_DATA overrides).
 * The larger reference groups stay in the shared read-only directory
 * (../shared/data/reference by default, $CONTIMG_SHARED_DATA overrides); a test
 * that needs them runs through RUN_REF, which prints "ok - NAME # SKIP
 * reference data absent (../shared/data/reference)" when the directory is not
 * there, so tests/run.sh counts it as skipped, never as passed.
 * test_tmpdir() returns a fresh scratch directory per process, removed by the
 * runner.
 */
#ifndef CONTIMG_TEST_H
#define CONTIMG_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_failures_;   /* failures in the current test */
static inline const char *test_str_(const char *s) { return s ? s : ""; }
static int test_total_failed_;
static int test_total_run_;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			test_failures_++;                                       \
			fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, " " __VA_ARGS__);                        \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                   \
	do {                                                                    \
		double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);  \
		if (!(fabs(a_ - b_) <= t_)) {                                   \
			test_failures_++;                                       \
			fprintf(stderr, "  FAIL %s:%d: %s = %.10g, %s = %.10g, |diff| %.3g > %.3g\n", \
				__FILE__, __LINE__, #a, a_, #b, b_, fabs(a_ - b_), t_); \
		}                                                               \
	} while (0)

/* CHECK_OK(expr): expr returns 0 on success; errbuf (if any) is printed on failure. */
#define CHECK_OK(expr, errbuf)                                                  \
	do {                                                                    \
		int r_ = (expr);                                                \
		if (r_ != 0) {                                                  \
			test_failures_++;                                       \
			fprintf(stderr, "  FAIL %s:%d: %s returned %d: %s\n",    \
				__FILE__, __LINE__, #expr, r_, test_str_(errbuf)); \
		}                                                               \
	} while (0)

#define RUN(fn)                                                                 \
	do {                                                                    \
		test_failures_ = 0;                                             \
		fn();                                                           \
		test_total_run_++;                                              \
		if (test_failures_) {                                           \
			test_total_failed_++;                                   \
			printf("not ok - %s:%s\n", test_basename_(__FILE__), #fn); \
		} else {                                                        \
			printf("ok - %s:%s\n", test_basename_(__FILE__), #fn);  \
		}                                                               \
		fflush(stdout);                                                 \
	} while (0)

/* RUN(fn) when the shared reference groups are present, else one skip line. */
#define RUN_REF(fn)                                                             \
	do {                                                                    \
		if (test_have_reference()) {                                    \
			RUN(fn);                                                \
		} else {                                                        \
			printf("ok - %s:%s # SKIP reference data absent "       \
			       "(../shared/data/reference)\n",                  \
			       test_basename_(__FILE__), #fn);                  \
			fflush(stdout);                                         \
		}                                                               \
	} while (0)

#define TEST_DONE() (test_total_failed_ ? 1 : 0)

static inline const char *test_basename_(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static inline const char *test_data_dir(void)
{
	const char *d = getenv("CONTIMG_SHARED_DATA");
	return d && *d ? d : "../shared/data";
}

/* The repository's tests/data: $CONTIMG_TEST_DATA, else found from this
 * binary's path (ROOT/BUILD/tests/DIR/test_x -> ROOT/tests/data), else
 * "tests/data" relative to the working directory (tests/run.sh runs in ROOT). */
static inline const char *test_repo_data_dir(void)
{
	static char dir[1024];
	const char *d = getenv("CONTIMG_TEST_DATA");
	char exe[900];
	ssize_t n;

	if (d && *d)
		return d;
	if (dir[0])
		return dir;
	snprintf(dir, sizeof dir, "tests/data");
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		for (int up = 0; up < 4; up++) {
			char *s = strrchr(exe, '/');
			if (!s)
				break;
			*s = 0;
		}
		char cand[1024];
		snprintf(cand, sizeof cand, "%s/tests/data/dsa110", exe);
		if (access(cand, R_OK) == 0)
			snprintf(dir, sizeof dir, "%s/tests/data", exe);
	}
	return dir;
}

/* Path of a test input; returns a static buffer.  The subsets that travel
 * with the code (catalogs/, dsa110/, uvh5-real/, eop/) are read from the
 * repository's tests/data, everything else (reference/) from the shared
 * directory. */
static inline const char *test_data(const char *rel)
{
	static char buf[4][2048];
	static int k;
	static const char *const local[] = { "catalogs", "dsa110", "uvh5-real", "eop" };
	const char *base = test_data_dir();

	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
		size_t l = strlen(local[i]);
		if (!strncmp(rel, local[i], l) && (rel[l] == '/' || rel[l] == 0))
			base = test_repo_data_dir();
	}
	k = (k + 1) & 3;
	/* %.900s: the directories come from the environment or readlink;
	 * bounding them keeps the compiler's truncation check quiet. */
	snprintf(buf[k], sizeof buf[k], "%.900s/%s", base, rel);
	return buf[k];
}

/* 1 when the shared reference groups (../shared/data/reference) are there. */
static inline int test_have_reference(void)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/reference/cal-0834", test_data_dir());
	return access(p, R_OK | X_OK) == 0;
}

/* The first line of the file at path into buf[n], without its newline;
 * buf is "" when the file cannot be read. */
static inline const char *test_first_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	buf[0] = 0;
	if (f) {
		if (!fgets(buf, (int)n, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/* A scratch directory for this process (created on first use). */
static inline const char *test_tmpdir(void)
{
	static char dir[512];
	if (!dir[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/contimg-test-XXXXXX", base && *base ? base : "/tmp");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			exit(2);
		}
	}
	return dir;
}

/* Deterministic random numbers for tests: xorshift64 (Marsaglia 2003), a
 * uniform deviate in (0, 1), and a normal one by Box–Muller.  Each test keeps
 * its own state, seeded with any non-zero value, so its data never depend on
 * another test's draws. */
static inline double test_urand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return ((*s >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline double test_grand(uint64_t *s)
{
	return sqrt(-2 * log(test_urand(s))) * cos(2 * M_PI * test_urand(s));
}

#endif
