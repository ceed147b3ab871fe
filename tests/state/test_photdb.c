/*
 * tests/state/test_photdb.c — the epoch quality records of state/photdb.h:
 * photdb_quality_list gives them newest first with their group names, keeps
 * those at or after a time, only those with a given flag bit, at most a
 * limit, and reads back every field (NULL as NAN) as photdb_quality_get does.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "tests/test.h"
#include "tests/state/statedb.h"
#include "state/photdb.h"

/* Five groups G1..G5; their records are stored out of time order (G3 is the
 * latest epoch, G5 the earliest) and with flag bits 1 (G2), 32 (G3), 128
 * (G4: not a failure, as PHOT_QUAL_PROVISIONAL) and 1|32 (G5). */
static const double mjd_of[6] = { 0, 61001.25, 61002.5, 61009.75, 61003.0, 61000.0 };
static const unsigned flags_of[6] = { 0, 0, 1, 32, 128, 33 };

static sqlite3 *quality_db(void)
{
	char e[ERR_LEN] = "";
	sqlite3 *db = statedb_fresh("quality.sqlite");
	if (!db)
		return NULL;
	CHECK(db_exec(db, e, sizeof e,
			 "INSERT INTO groups (id, name, t_first, state, n_expected, created_at, "
			 "updated_at) VALUES (1, '2026-01-01T06:00:00', 0, 'completed', 16, 0, 0), "
			 "(2, '2026-01-02T06:00:00', 1, 'completed', 16, 0, 0), "
			 "(3, '2026-01-09T06:00:00', 2, 'completed', 16, 0, 0), "
			 "(4, '2026-01-03T06:00:00', 3, 'completed', 16, 0, 0), "
			 "(5, '2025-12-31T06:00:00', 4, 'completed', 16, 0, 0)", NULL) == 5, "%s", e);
	for (int g = 1; g <= 5; g++) {
		photdb_quality q = {
			.group_id = g, .mjd = mjd_of[g], .noise_jy = 1e-3 * g,
			.noise_ratio = 0.9 + 0.1 * g, .dynamic_range = 100.0 * g,
			.correction = 1.0 + 0.01 * g, .correction_z = -0.5 * g,
			.clipped_frac = 0.05 * g, .flagged_frac = 0.02 * g,
			.expected_noise_jy = 0.9e-3 * g, .radiometer_ratio = 1.0 / 0.9,
			.nref = 10 + g, .flags = flags_of[g],
		};
		if (g == 4) { /* a record before the correction was known */
			q.correction = q.correction_z = q.clipped_frac = NAN;
			q.expected_noise_jy = q.radiometer_ratio = NAN;
		}
		CHECK_OK(photdb_quality_put(db, &q, e, sizeof e), e);
	}
	return db;
}

static void test_quality_list_order_and_fields(void)
{
	char e[ERR_LEN] = "";
	sqlite3 *db = quality_db();
	if (!db)
		return;
	photdb_quality_entry *r = NULL;
	size_t n = 0;
	CHECK_OK(photdb_quality_list(db, -INFINITY, 0, 0, &r, &n, e, sizeof e), e);
	CHECK(n == 5, "%zu records", n);
	static const int64_t want[5] = { 3, 4, 2, 1, 5 }; /* by mjd, newest first */
	for (size_t i = 0; i < n && i < 5; i++)
		CHECK(r[i].q.group_id == want[i], "record %zu is group %lld", i,
		      (long long)r[i].q.group_id);
	if (n == 5) {
		CHECK(!strcmp(r[0].group, "2026-01-09T06:00:00"), "'%s'", r[0].group);
		CHECK(!strcmp(r[4].group, "2025-12-31T06:00:00"), "'%s'", r[4].group);
		/* Every field of G2 as photdb_quality_get reads it. */
		photdb_quality g;
		CHECK_OK(photdb_quality_get(db, 2, &g, e, sizeof e), e);
		const photdb_quality *l = &r[2].q;
		CHECK(l->mjd == 61002.5 && l->mjd == g.mjd);
		CHECK(l->noise_jy == 1e-3 * 2 && l->noise_ratio == 0.9 + 0.1 * 2);
		CHECK(l->dynamic_range == 200.0 && l->correction == 1.0 + 0.01 * 2);
		CHECK(l->correction_z == -1.0 && l->clipped_frac == 0.05 * 2);
		CHECK(l->flagged_frac == 0.02 * 2 && l->expected_noise_jy == 0.9e-3 * 2);
		CHECK(l->radiometer_ratio == 1.0 / 0.9 && l->nref == 12 && l->flags == 1);
		CHECK(!memcmp(l, &g, sizeof g), "list and get differ for group 2");
		/* NAN in, NULL stored, NAN out. */
		const photdb_quality *p = &r[1].q;
		CHECK(isnan(p->correction) && isnan(p->correction_z) && isnan(p->clipped_frac));
		CHECK(isnan(p->expected_noise_jy) && isnan(p->radiometer_ratio));
		CHECK(p->noise_jy == 1e-3 * 4 && p->flags == 128);
	}
	free(r);
	/* NAN as since is "all" too. */
	r = NULL;
	CHECK_OK(photdb_quality_list(db, NAN, 0, 0, &r, &n, e, sizeof e), e);
	CHECK(n == 5, "%zu records with since NAN", n);
	free(r);
	sqlite3_close(db);
}

static void test_quality_list_filters(void)
{
	char e[ERR_LEN] = "";
	sqlite3 *db = quality_db();
	if (!db)
		return;
	photdb_quality_entry *r = NULL;
	size_t n = 0;
	/* At or after 61002.5: G3, G4, G2 (G2's own mjd included). */
	CHECK_OK(photdb_quality_list(db, 61002.5, 0, 0, &r, &n, e, sizeof e), e);
	CHECK(n == 3 && r[0].q.group_id == 3 && r[1].q.group_id == 4 && r[2].q.group_id == 2,
	      "%zu records", n);
	free(r);
	/* Failed ones (any of bits 0-5): G3, G2, G5, not the provisional G4. */
	r = NULL;
	CHECK_OK(photdb_quality_list(db, -INFINITY, 0x3f, 0, &r, &n, e, sizeof e), e);
	CHECK(n == 3 && r[0].q.group_id == 3 && r[1].q.group_id == 2 && r[2].q.group_id == 5,
	      "%zu failed records", n);
	free(r);
	/* One bit only: bit 5 (32) is set in G3 and G5. */
	r = NULL;
	CHECK_OK(photdb_quality_list(db, -INFINITY, 32, 0, &r, &n, e, sizeof e), e);
	CHECK(n == 2 && r[0].q.group_id == 3 && r[1].q.group_id == 5, "%zu with bit 5", n);
	free(r);
	/* Both filters and a limit: failed since 61000 (G3, G2, G5), the first 2. */
	r = NULL;
	CHECK_OK(photdb_quality_list(db, 61000.0, 0x3f, 2, &r, &n, e, sizeof e), e);
	CHECK(n == 2 && r[0].q.group_id == 3 && r[1].q.group_id == 2, "%zu limited", n);
	free(r);
	/* Nothing after the last epoch: an empty list, NULL array. */
	r = (photdb_quality_entry *)&n; /* must be overwritten */
	CHECK_OK(photdb_quality_list(db, 61010.0, 0, 0, &r, &n, e, sizeof e), e);
	CHECK(n == 0 && r == NULL, "%zu records after the last epoch", n);
	/* A group without a record is -ENOENT for photdb_quality_get. */
	photdb_quality g;
	CHECK(photdb_quality_get(db, 99, &g, e, sizeof e) == -ENOENT);
	sqlite3_close(db);
}

int main(void)
{
	RUN(test_quality_list_order_and_fields);
	RUN(test_quality_list_filters);
	return TEST_DONE();
}
