/*
 * tests/daemon/test_views.c — the views only contimg-web serves
 * (daemon/views.h) and its [web] settings (daemon/web_conf.c):
 *   - view_images: the radiometer expectation against the equation written
 *     out here, flag fraction and antennas from flag_stats, product names
 *     without directories, only completed groups' restored images;
 *   - view_sources: great-circle distances against a spherical-trigonometry
 *     computation (haversine), nearest first, the radius honoured across RA
 *     0/360, name search case-insensitive with LIKE's wildcards taken
 *     literally;
 *   - web_parse_listen / web_settings_read: what [web] listen accepts.
 * The CLI's views are covered by tests/integration/test_cli.sh and friends,
 * which compare their JSON with what the commands printed before.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "tests/test.h"
#include "tests/state/statedb.h"

#include "core/config.h"
#include "daemon/views.h"
#include "daemon/web.h"
#include "state/flagdb.h"
#include "state/imagedb.h"
#include "state/photdb.h"

static int64_t add_group(sqlite3 *db, const char *name, const char *state)
{
	char e[ERR_LEN] = "";
	int64_t id = -1;
	CHECK_OK(db_exec(db, e, sizeof e,
			 "INSERT INTO groups (name, t_first, state, n_expected, created_at, updated_at)"
			 " VALUES (?, 0, ?, 16, 0, 0)", "ss", name, state) < 0, e);
	db_query_int(db, &id, e, sizeof e, "SELECT id FROM groups WHERE name = ?", "s", name);
	return id;
}

static void test_images_radiometer(void)
{
	sqlite3 *db = statedb_fresh("images.sqlite");
	char e[ERR_LEN] = "";
	json_object *a = NULL, *o;
	if (!db)
		return;
	int64_t g1 = add_group(db, "2026-03-01T00:00:00", "completed");
	int64_t g2 = add_group(db, "2026-03-02T00:00:00", "failed");
	imagedb_row im = { .group_id = g1, .path = "/data/products/2026-03-01/x/a.image.fits",
			   .bmaj_arcsec = 30, .bmin_arcsec = 15, .bpa_deg = 10, .noise_jy = 2e-3,
			   .peak_jy = 1, .dynamic_range = 500, .ra_deg = 10, .dec_deg = 50,
			   .nx = 512, .ny = 512, .cell_arcsec = 3, .freq_hz = 1.4e9,
			   .bandwidth_hz = 187.5e6, .integration_s = 309.2, .mjd_obs = 61100,
			   .weighting = "briggs 0", .created_at = 1 };
	CHECK_OK(imagedb_record(db, &im, e, sizeof e), e);
	imagedb_row pb = im;
	pb.path = "/data/products/2026-03-01/x/a.pbcor.fits";
	pb.pbcor = 1;
	pb.noise_jy = 9;
	CHECK_OK(imagedb_record(db, &pb, e, sizeof e), e);
	imagedb_row bad = im;
	bad.group_id = g2;
	bad.path = "/data/products/2026-03-02/y/b.image.fits";
	bad.mjd_obs = 61101;
	CHECK_OK(imagedb_record(db, &bad, e, sizeof e), e);
	/* 24 antennas, 10 % flagged */
	flagdb_row rows[25];
	memset(rows, 0, sizeof rows);
	rows[0].kind = "total";
	rows[0].freq_hz = NAN;
	rows[0].fraction = 0.1;
	for (int i = 1; i < 25; i++) {
		rows[i].kind = "antenna";
		snprintf(rows[i].key, sizeof rows[i].key, "%d", i);
		rows[i].freq_hz = NAN;
		rows[i].fraction = 0.1;
	}
	CHECK_OK(flagdb_replace(db, g1, rows, 25, e, sizeof e), e);

	CHECK_OK(view_images(db, 10, 6500, &a, e, sizeof e), e);
	CHECK(a && json_object_array_length(a) == 1, "only the completed group's restored image: %zu",
	      a ? json_object_array_length(a) : 0);
	o = a ? json_object_array_get_idx(a, 0) : NULL;
	if (o) {
		/* sigma = SEFD / sqrt(2 * Nbl * dnu * tau * (1 - f)), Nbl = 24 * 23 / 2 = 276 */
		double want = 6500 / sqrt(2.0 * 276 * 187.5e6 * 309.2 * 0.9);
		CHECK_NEAR(json_object_get_double(json_object_object_get(o, "expected_rms_jy")), want,
			   1e-12 * want);
		CHECK_NEAR(json_object_get_double(json_object_object_get(o, "rms_ratio")), 2e-3 / want,
			   1e-9);
		CHECK(!strcmp(json_object_get_string(json_object_object_get(o, "expected_rms_source")),
			      "sefd-natural"), "a row without a recorded expectation: the SEFD formula");
		CHECK_NEAR(json_object_get_double(json_object_object_get(o, "rms_jy")), 2e-3, 0);
		CHECK(json_object_get_int(json_object_object_get(o, "n_antennas")) == 24, "antennas");
		CHECK(!strcmp(json_object_get_string(json_object_object_get(o, "product")),
			      "a.image.fits"), "product without its directory");
		CHECK(!strcmp(json_object_get_string(json_object_object_get(o, "quicklook_url")),
			      "/products/2026-03-01T00:00:00/quicklook.png"), "quick-look url");
	}
	json_object_put(a);
	/* Without flag statistics the expectation is unknown, not invented. */
	CHECK_OK(db_exec(db, e, sizeof e, "DELETE FROM flag_stats", NULL) < 0, e);
	a = NULL;
	CHECK(view_image_latest(db, 6500, &a, e, sizeof e) == 1, "%s", e);
	CHECK(a && json_object_object_get(a, "expected_rms_jy") == NULL &&
	      json_object_object_get_ex(a, "expected_rms_jy", NULL), "expected_rms_jy null");
	CHECK(a && json_object_object_get(a, "expected_rms_source") == NULL &&
	      json_object_object_get_ex(a, "expected_rms_source", NULL), "expected_rms_source null");
	json_object_put(a);
	/* The image stage's expectation from the data wins over the SEFD formula
	 * (with the flag statistics back, which the formula would use). */
	CHECK_OK(flagdb_replace(db, g1, rows, 25, e, sizeof e), e);
	im.expected_noise_jy = 1.6e-3;
	im.vis_sigma_unit = 4.5;
	im.noise_method = "poldiff";
	CHECK_OK(imagedb_record(db, &im, e, sizeof e), e);
	a = NULL;
	CHECK(view_image_latest(db, 6500, &a, e, sizeof e) == 1, "%s", e);
	if (a) {
		CHECK_NEAR(json_object_get_double(json_object_object_get(a, "expected_rms_jy")), 1.6e-3,
			   0);
		CHECK_NEAR(json_object_get_double(json_object_object_get(a, "rms_ratio")), 1.25, 1e-12);
		CHECK(!strcmp(json_object_get_string(json_object_object_get(a, "expected_rms_source")),
			      "data"), "source %s",
		      json_object_get_string(json_object_object_get(a, "expected_rms_source")));
	}
	json_object_put(a);
	/* The same view on a database whose images table predates the noise
	 * columns (contimg-web reading a database the daemon has not migrated). */
	CHECK_OK(db_exec(db, e, sizeof e, "ALTER TABLE images DROP COLUMN noise_method", NULL) < 0,
		 e);
	a = NULL;
	CHECK(view_image_latest(db, 6500, &a, e, sizeof e) == 1, "old schema: %s", e);
	if (a)
		CHECK(!strcmp(json_object_get_string(json_object_object_get(a, "expected_rms_source")),
			      "sefd-natural"), "old schema falls back to the SEFD formula");
	json_object_put(a);
	db_close(db);
}

/* Haversine separation in degrees: a different formula from the view's. */
static double hav_deg(double ra1, double de1, double ra2, double de2)
{
	double r = M_PI / 180, s1 = sin((de2 - de1) * r / 2), s2 = sin((ra2 - ra1) * r / 2);
	return 2 * asin(sqrt(s1 * s1 + cos(de1 * r) * cos(de2 * r) * s2 * s2)) / r;
}

static void put_source(sqlite3 *db, int64_t g, const char *name, double ra, double dec)
{
	char e[ERR_LEN] = "";
	photdb_row r;
	memset(&r, 0, sizeof r);
	r.group_id = g;
	snprintf(r.source, sizeof r.source, "%s", name);
	r.mjd = 61100;
	r.ra_deg = ra;
	r.dec_deg = dec;
	r.flux_jy = r.flux_err_jy = r.normalized_flux_jy = r.normalized_flux_err_jy = NAN;
	r.correction = r.correction_err = r.local_rms_jy = r.pb = r.chi2 = NAN;
	CHECK_OK(photdb_put(db, &r, e, sizeof e), e);
}

static void test_sources(void)
{
	sqlite3 *db = statedb_fresh("sources.sqlite");
	char e[ERR_LEN] = "";
	json_object *a = NULL;
	if (!db)
		return;
	int64_t g = add_group(db, "2026-03-01T00:00:00", "completed");
	/* around RA 0/360 at dec 60 */
	put_source(db, g, "East_1", 359.5, 60.0);
	put_source(db, g, "West_2", 0.8, 60.2);
	put_source(db, g, "Far_3", 5.0, 60.0);
	put_source(db, g, "N%_4", 0.0, 61.5);
	CHECK_OK(view_sources(db, NULL, 0.1, 60.0, 2.0, 10, &a, e, sizeof e), e);
	const char *order[] = { "East_1", "West_2", "N%_4" }; /* 0.30, 0.40, 1.50 deg */
	size_t n = a ? json_object_array_length(a) : 0;
	CHECK(n == 3, "3 sources within 2 deg across RA 0, got %zu", n);
	for (size_t i = 0; i < n && i < 3; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		const char *s = json_object_get_string(json_object_object_get(o, "source"));
		double ra = json_object_get_double(json_object_object_get(o, "ra_deg"));
		double de = json_object_get_double(json_object_object_get(o, "dec_deg"));
		CHECK(!strcmp(s, order[i]), "%zu: %s, want %s", i, s, order[i]);
		CHECK_NEAR(json_object_get_double(json_object_object_get(o, "distance_deg")),
			   hav_deg(0.1, 60.0, ra, de), 1e-9);
	}
	json_object_put(a);
	a = NULL;
	CHECK_OK(view_sources(db, NULL, 0.1, 60.0, 2.0, 1, &a, e, sizeof e), e);
	CHECK(a && json_object_array_length(a) == 1, "limit 1");
	json_object_put(a);
	/* name search: case-insensitive, % and _ literal */
	a = NULL;
	CHECK_OK(view_sources(db, "west", NAN, NAN, NAN, 10, &a, e, sizeof e), e);
	CHECK(a && json_object_array_length(a) == 1, "west: one match");
	json_object_put(a);
	a = NULL;
	CHECK_OK(view_sources(db, "%", NAN, NAN, NAN, 10, &a, e, sizeof e), e);
	CHECK(a && json_object_array_length(a) == 1, "%% matches only the name holding it");
	json_object_put(a);
	a = NULL;
	CHECK(view_sources(db, NULL, 0, 95, 1, 10, &a, e, sizeof e) == -EINVAL, "dec 95 refused");
	CHECK(view_sources(db, NULL, 0, 0, 0, 10, &a, e, sizeof e) == -EINVAL, "radius 0 refused");
	CHECK(a == NULL, "nothing returned on failure");
	db_close(db);
}

static void test_listen(void)
{
	struct sockaddr_in6 sa;
	size_t len = 0;
	char e[ERR_LEN] = "";
	const char *good[] = { "127.0.0.1:8110", "0.0.0.0:0", "[::1]:8110", "[::]:65535" };
	const char *bad[] = { "localhost:8110", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
			      "127.0.0.1:-1", "127.0.0.1:80x", "[::1]8110", "[::1:80", ":80",
			      "256.0.0.1:80" };

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(web_parse_listen(good[i], &sa, sizeof sa, &len, e, sizeof e) == 0, "%s: %s",
		      good[i], e);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(web_parse_listen(bad[i], &sa, sizeof sa, &len, e, sizeof e) == -EINVAL,
		      "%s accepted", bad[i]);
	CHECK_OK(web_parse_listen("127.0.0.1:8110", &sa, sizeof sa, &len, e, sizeof e), e);
	struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
	CHECK(len == sizeof *a4 && a4->sin_family == AF_INET && ntohs(a4->sin_port) == 8110 &&
	      ntohl(a4->sin_addr.s_addr) == 0x7f000001, "127.0.0.1:8110 parsed");

	cfg *c = NULL;
	web_settings w;
	CHECK_OK(cfg_load_string("", &c, e, sizeof e), e);
	CHECK_OK(web_settings_read(c, &w, e, sizeof e), e);
	CHECK(!strcmp(w.listen, "127.0.0.1:8110") && w.sefd_jy == 6500 && w.events_interval_s == 1,
	      "defaults: %s %g %g", w.listen, w.sefd_jy, w.events_interval_s);
	cfg_free(c);
	c = NULL;
	CHECK_OK(cfg_load_string("[web]\nlisten = example.org:80\n", &c, e, sizeof e), e);
	CHECK(web_settings_read(c, &w, e, sizeof e) == -EINVAL && strstr(e, "config:2") &&
	      strstr(e, "listen"), "a host name is refused with its line: %s", e);
	cfg_free(c);
	c = NULL;
	CHECK_OK(cfg_load_string("[web]\nsefd_jy = 0\n", &c, e, sizeof e), e);
	CHECK(web_settings_read(c, &w, e, sizeof e) == -EINVAL, "sefd_jy 0 refused");
	cfg_free(c);
}

int main(void)
{
	RUN(test_images_radiometer);
	RUN(test_sources);
	RUN(test_listen);
	return TEST_DONE();
}
