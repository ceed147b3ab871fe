/*
 * tests/state/test_catalog.c — the catalog database: imports, queries, flux models.
 */
#include "tests/test.h"

#include <math.h>

#include "core/err.h"
#include "state/catalog.h"

static char err[ERR_LEN];

static catalog *open_fresh(const char *name)
{
	char path[1024];
	catalog *c = NULL;
	snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
	unlink(path);
	CHECK_OK(catalog_open(path, 0, &c, err, sizeof err), err);
	return c;
}

/* Count J2000 entry lines of the list independently of the parser. */
static int count_j2000_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512], a[64], b[64];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%63s %63s", a, b) == 2 && !strcmp(b, "J2000"))
			n++;
	fclose(f);
	return n;
}

static const catalog_band *band(const catalog_cal *c, const char *name)
{
	for (int i = 0; i < c->nbands; i++)
		if (!strcmp(c->bands[i].band, name))
			return &c->bands[i];
	return NULL;
}

static void test_vla_import(void)
{
	const char *vla = test_data("catalogs/vlacalibrators.txt");
	catalog *c = open_fresh("vla.sqlite");
	catalog_cal cal;
	const catalog_band *b;
	size_t n = 0, ncal = 0;
	int lines = count_j2000_lines(vla);

	CHECK(lines == 1865, "J2000 lines %d", lines);
	CHECK_OK(catalog_import_vla(c, vla, &n, err, sizeof err), err);
	/* Four names repeat in the list: 0354+801 (0.03″ apart) and 1914+166
	 * (5.6″, a C- and a B-code position) are one source each; 0632+159 and
	 * 1300+142 are pairs of different sources ~5′ apart. */
	CHECK(n == (size_t)lines - 2, "calibrators %zu", n);
	CHECK_OK(catalog_counts(c, NULL, &ncal, err, sizeof err), err);
	CHECK(ncal == n);

	CHECK_OK(catalog_cal_get(c, "0834+555", &cal, err, sizeof err), err);
	/* 08h34m54.904117s, +55°34'21.070980" */
	CHECK_NEAR(cal.ra_deg, (8 + 34 / 60.0 + 54.904117 / 3600.0) * 15, 1e-9);
	CHECK_NEAR(cal.dec_deg, 55 + 34 / 60.0 + 21.070980 / 3600.0, 1e-9);
	CHECK(cal.pos_code == 'A');
	CHECK(cal.nbands == 6, "%d bands", cal.nbands);
	b = band(&cal, "20cm");
	CHECK(b && b->code == 'L' && !strcmp(b->quality, "SPPP"));
	CHECK(b && fabs(b->flux_jy - 8.80) < 1e-9);
	CHECK(b && isnan(b->uvmin_kl) && fabs(b->uvmax_kl - 100) < 1e-9);
	CHECK_NEAR(catalog_cal_lband_jy(&cal), 8.80, 1e-9);
	b = band(&cal, "90cm");
	CHECK(b && b->code == 'P' && fabs(b->flux_jy - 9) < 1e-9 && isnan(b->uvmax_kl));

	/* A lone number after the flux in the UVMIN column ... */
	CHECK_OK(catalog_cal_get(c, "0006-063", &cal, err, sizeof err), err);
	CHECK(cal.dec_deg < 0);
	CHECK_NEAR(cal.dec_deg, -(6 + 23 / 60.0 + 35.3353 / 3600.0), 1e-9);
	b = band(&cal, "20cm");
	CHECK(b && fabs(b->uvmin_kl - 45) < 1e-9 && isnan(b->uvmax_kl));
	/* ... and in the UVMAX column of a row shifted left ("20cm L  X P P P"). */
	CHECK_OK(catalog_cal_get(c, "3C48", &cal, err, sizeof err), err);
	CHECK(!strcmp(cal.name, "0137+331"));
	b = band(&cal, "20cm");
	CHECK(b && fabs(b->flux_jy - 16.50) < 1e-9 && !strcmp(b->quality, "XPPP"));
	CHECK(b && isnan(b->uvmin_kl) && fabs(b->uvmax_kl - 40) < 1e-9);
	/* Unknown flux '?', and a lower-case quality code. */
	CHECK_OK(catalog_cal_get(c, "0922-399", &cal, err, sizeof err), err);
	b = band(&cal, "20cm");
	CHECK(b && isnan(b->flux_jy));
	CHECK(isnan(catalog_cal_lband_jy(&cal)));
	CHECK_OK(catalog_cal_get(c, "0403-360", &cal, err, sizeof err), err);
	b = band(&cal, "0.7cm");
	CHECK(b && !strcmp(b->quality, "SSSS"));
	/* Same-named entries. */
	CHECK_OK(catalog_cal_get(c, "0632+159_2", &cal, err, sizeof err), err);
	CHECK(catalog_cal_get(c, "0354+801_2", &cal, err, sizeof err) == -ENOENT);
	CHECK_OK(catalog_cal_get(c, "0354+801", &cal, err, sizeof err), err);
	CHECK(band(&cal, "20cm") && band(&cal, "0.7cm"), "merged bands: %d", cal.nbands);
	/* "JVAS" is a survey tag shared by many entries, not a name. */
	CHECK(catalog_cal_get(c, "JVAS", &cal, err, sizeof err) == -ENOENT);

	/* Idempotent: a second import changes nothing. */
	CHECK_OK(catalog_import_vla(c, vla, &n, err, sizeof err), err);
	CHECK_OK(catalog_counts(c, NULL, &ncal, err, sizeof err), err);
	CHECK(ncal == (size_t)lines - 2, "after re-import %zu", ncal);
	CHECK_OK(catalog_cal_get(c, "0834+555", &cal, err, sizeof err), err);
	CHECK(cal.nbands == 6);
	catalog_close(c);
}

static void test_csv_import(void)
{
	catalog *c = open_fresh("csv.sqlite");
	catalog_source *s = NULL;
	size_t n = 0, nsrc = 0;
	int lines = 0;
	char line[256];
	FILE *f = fopen(test_data("reference/catalog.csv"), "r");

	CHECK(f != NULL);
	while (f && fgets(line, sizeof line, f))
		lines++;
	if (f)
		fclose(f);
	CHECK_OK(catalog_import_csv(c, test_data("reference/catalog.csv"), &n, err, sizeof err),
		 err);
	CHECK(n == (size_t)lines - 1, "rows %zu of %d lines", n, lines); /* minus the header */
	CHECK_OK(catalog_import_csv(c, test_data("reference/catalog.csv"), &n, err, sizeof err),
		 err);
	CHECK_OK(catalog_counts(c, &nsrc, NULL, err, sizeof err), err);
	CHECK(nsrc == (size_t)lines - 1, "idempotent: %zu", nsrc);

	/* Near the cal-0834 pointing (RA 128.755, dec 54.9): 0834+555 is 0.67° away. */
	CHECK_OK(catalog_sources_near(c, 128.755417, 54.9, 1.0, 1000.0, &s, &n, err, sizeof err),
		 err);
	CHECK(n == 1, "bright sources within 1°: %zu", n);
	if (n >= 1) {
		CHECK(!strcmp(s[0].name, "0834+555"));
		CHECK_NEAR(s[0].flux_mjy, 8800, 1e-6);
		CHECK_NEAR(s[0].spectral_index, 0.0, 1e-12);
		CHECK_NEAR(s[0].sep_deg, 0.6726, 0.001);
		CHECK(!strcmp(s[0].origin, "csv"));
	}
	free(s);
	/* Every returned source lies inside the cone, sorted by flux, and the
	 * complement is outside it: compare with a brute-force scan of all rows. */
	{
		catalog_source *all = NULL, *near = NULL;
		size_t na = 0, nn = 0, inside = 0;
		CHECK_OK(catalog_sources_near(c, 0, 0, 180, -1, &all, &na, err, sizeof err), err);
		CHECK(na == nsrc);
		CHECK_OK(catalog_sources_near(c, 129.0, 55.0, 1.2, 0, &near, &nn, err, sizeof err),
			 err);
		for (size_t i = 0; i < na; i++) {
			double d1 = all[i].dec_deg * M_PI / 180, d0 = 55.0 * M_PI / 180;
			double da = (all[i].ra_deg - 129.0) * M_PI / 180;
			double cosd = sin(d1) * sin(d0) + cos(d1) * cos(d0) * cos(da);
			if (acos(fmin(1, cosd)) * 180 / M_PI <= 1.2)
				inside++;
		}
		CHECK(nn == inside && nn > 5 && nn < na, "near %zu brute %zu of %zu", nn, inside,
		      na);
		for (size_t i = 1; i < nn; i++)
			CHECK(near[i - 1].flux_mjy >= near[i].flux_mjy);
		free(all);
		free(near);
	}
	catalog_close(c);
}

static void test_csv_errors(void)
{
	char path[1024];
	catalog *c = open_fresh("bad.sqlite");
	size_t n = 99, nsrc = 1;
	FILE *f;

	snprintf(path, sizeof path, "%s/bad.csv", test_tmpdir());
	f = fopen(path, "w");
	fprintf(f, "# comment\nA,10.0,20.0,5.0\nB,11.0,xx,6.0\n");
	fclose(f);
	CHECK(catalog_import_csv(c, path, &n, err, sizeof err) == -EINVAL);
	CHECK(strstr(err, ":3:") != NULL, "%s", err);
	CHECK(n == 99);
	/* Nothing of the failed file was kept. */
	CHECK_OK(catalog_counts(c, &nsrc, NULL, err, sizeof err), err);
	CHECK(nsrc == 0);
	/* No header, no spectral index, and a close pair is flagged confused. */
	f = fopen(path, "w");
	fprintf(f, "A,10.0,20.0,5.0\nB,10.005,20.0,6.0,-0.8\nC,50,-30,7\n");
	fclose(f);
	CHECK_OK(catalog_import_csv(c, path, &n, err, sizeof err), err);
	CHECK(n == 3);
	{
		catalog_source *s = NULL;
		size_t k = 0;
		CHECK_OK(catalog_sources_near(c, 0, 0, 180, 0, &s, &k, err, sizeof err), err);
		CHECK(k == 3);
		for (size_t i = 0; i < k; i++) {
			if (!strcmp(s[i].name, "A"))
				CHECK(isnan(s[i].spectral_index) && s[i].confused);
			if (!strcmp(s[i].name, "B"))
				CHECK(fabs(s[i].spectral_index + 0.8) < 1e-12 && s[i].confused);
			if (!strcmp(s[i].name, "C"))
				CHECK(!s[i].confused);
		}
		free(s);
	}
	catalog_close(c);
}

static void test_nvss_import(void)
{
	char path[1024];
	catalog *c = open_fresh("nvss.sqlite");
	catalog_source *s = NULL;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/nvss.tsv", test_tmpdir());
	f = fopen(path, "w");
	/* The layout VizieR writes for VIII/65/nvss as tab-separated values. */
	fprintf(f, "#\n#   VizieR Astronomical Server vizier.cds.unistra.fr\n#RESOURCE=yCat_8065\n"
		   "#Name: VIII/65\n\n"
		   "NVSS\tRAJ2000\tDEJ2000\te_RAJ2000\te_DEJ2000\tS1.4\te_S1.4\tl_MajAxis\t"
		   "MajAxis\tl_MinAxis\tMinAxis\n"
		   "\t\"h:m:s\"\t\"d:m:s\"\ts\tarcsec\tmJy\tmJy\t\tarcsec\t\tarcsec\n"
		   "-------------\t-----------\t-----------\t-----\t----\t-------\t-----\t-\t"
		   "-----\t-\t-----\n"
		   "083454+553421\t08 34 54.90\t+55 34 21.1\t0.01\t0.1\t8900.0\t267.0\t\t"
		   "12.3\t\t5.0\n"
		   "083000-010000\t08 30 00.00\t-01 00 00.0\t0.30\t4.0\t3.5\t0.4\t<\t"
		   "40.0\t<\t30.0\n");
	fclose(f);
	CHECK_OK(catalog_import_nvss(c, path, &n, err, sizeof err), err);
	CHECK(n == 2, "%zu rows", n);
	CHECK_OK(catalog_import_nvss(c, path, &n, err, sizeof err), err);
	CHECK_OK(catalog_sources_near(c, 0, 0, 180, 0, &s, &n, err, sizeof err), err);
	CHECK(n == 2);
	if (n == 2) {
		CHECK(!strcmp(s[0].name, "NVSS J083454+553421"), "%s", s[0].name);
		CHECK_NEAR(s[0].ra_deg, (8 + 34 / 60.0 + 54.90 / 3600) * 15, 1e-9);
		CHECK_NEAR(s[0].dec_deg, 55 + 34 / 60.0 + 21.1 / 3600, 1e-9);
		CHECK_NEAR(s[0].flux_mjy, 8900, 1e-9);
		CHECK_NEAR(s[0].e_flux_mjy, 267, 1e-9);
		CHECK_NEAR(s[0].snr, 8900 / 267.0, 1e-9);
		/* e_RAJ2000 in seconds of time → arcsec on the sky. */
		CHECK_NEAR(s[0].e_ra_arcsec, 0.01 * 15 * cos(s[0].dec_deg * M_PI / 180), 1e-9);
		CHECK(s[0].resolved == 1 && !strcmp(s[0].origin, "nvss"));
		CHECK_NEAR(s[1].dec_deg, -1.0, 1e-12);
		CHECK(s[1].resolved == 0, "upper limit is unresolved");
		CHECK(isnan(s[1].spectral_index));
	}
	free(s);

	/* VizieR adds computed _RAJ2000/_DEJ2000 (degrees) in front; the catalog's
	 * own RAJ2000/DEJ2000 columns are the ones used. */
	f = fopen(path, "w");
	fprintf(f, "#Column\t_RAJ2000\t(F10.6)\tRight ascension\n"
		   "_RAJ2000\t_DEJ2000\tNVSS\tRAJ2000\tDEJ2000\tS1.4\te_S1.4\n"
		   "deg\tdeg\t\t\"h:m:s\"\t\"d:m:s\"\tmJy\tmJy\n"
		   "----------\t----------\t----\t----\t----\t----\t----\n"
		   "128.728750\t+55.572528\t083454+553421\t08 34 54.90\t+55 34 21.1\t8800.0\t"
		   "264.0\n"
		   "1.000000\t-0.500000\t000400-003000\t00 04 00.00\t-00 30 00.0\t12.5\t0.5\n");
	fclose(f);
	CHECK_OK(catalog_import_nvss(c, path, &n, err, sizeof err), err);
	CHECK(n == 2);
	CHECK_OK(catalog_sources_near(c, 1.0, -0.5, 0.01, 0, &s, &n, err, sizeof err), err);
	CHECK(n == 1 && s && !strcmp(s[0].name, "NVSS J000400-003000"));
	if (n == 1) {
		CHECK_NEAR(s[0].dec_deg, -0.5, 1e-12);
		CHECK_NEAR(s[0].snr, 25, 1e-9);
	}
	free(s);
	/* Upserted by name: the first file's 0834 row now has the new flux. */
	CHECK_OK(catalog_sources_near(c, 0, 0, 180, 0, &s, &n, err, sizeof err), err);
	CHECK(n == 3 && s && fabs(s[0].flux_mjy - 8800) < 1e-9);
	free(s);
	catalog_close(c);
}

static void test_pb17(void)
{
	double s, alpha, s2;
	catalog *c = open_fresh("pb17.sqlite");
	catalog_cal cal;
	catalog_calmodel m;
	static const struct {
		const char *name;
		double list_20cm_jy; /* the VLA list's 20cm flux, an independent measurement */
	} std[] = { { "3C286", 15.00 }, { "3C48", 16.50 }, { "3C147", 22.5 }, { "3C138", 8.47 } };

	/* Perley & Butler 2017: 3C286 is ≈ 14.9 Jy at L band (1.4 GHz). */
	CHECK_OK(catalog_pb17_flux("3C286", 1.4e9, &s, &alpha), "");
	CHECK_NEAR(s, 14.9, 0.02 * 14.9);
	CHECK(alpha < -0.45 && alpha > -0.55, "alpha %g", alpha);
	/* The local index describes the polynomial's slope. */
	CHECK_OK(catalog_pb17_flux("3c 286", 1.41e9, &s2, NULL), "");
	CHECK_NEAR(log(s2 / s) / log(1.41 / 1.4), alpha, 0.002);
	CHECK(catalog_pb17_flux("0834+555", 1.4e9, &s, NULL) == -ENOENT);

	CHECK_OK(catalog_import_vla(c, test_data("catalogs/vlacalibrators.txt"), NULL, err,
				    sizeof err), err);
	for (size_t i = 0; i < sizeof std / sizeof std[0]; i++) {
		CHECK_OK(catalog_cal_get(c, std[i].name, &cal, err, sizeof err), err);
		CHECK_OK(catalog_cal_model(c, &cal, &m, err, sizeof err), err);
		CHECK(m.kind == CATALOG_MODEL_PB17, "%s", std[i].name);
		/* PB17 overrides the list flux, and agrees with it to a few percent. */
		CHECK_NEAR(catalog_model_flux_jy(&m, 1.4e9), std[i].list_20cm_jy,
			   0.03 * std[i].list_20cm_jy);
		CHECK(fabs(catalog_model_flux_jy(&m, 1.4e9) - std[i].list_20cm_jy) > 1e-3);
	}
	/* 0834+555 without a source catalog: the list's 8.80 Jy, flat. */
	CHECK_OK(catalog_cal_get(c, "0834+555", &cal, err, sizeof err), err);
	CHECK_OK(catalog_cal_model(c, &cal, &m, err, sizeof err), err);
	CHECK(m.kind == CATALOG_MODEL_LIST);
	CHECK_NEAR(catalog_model_flux_jy(&m, 1.3e9), 8.80, 1e-12);
	/* With the reference catalog it takes the matched source's flux and index. */
	CHECK_OK(catalog_import_csv(c, test_data("reference/catalog.csv"), NULL, err, sizeof err),
		 err);
	CHECK_OK(catalog_cal_model(c, &cal, &m, err, sizeof err), err);
	CHECK(m.kind == CATALOG_MODEL_SOURCE);
	CHECK_NEAR(m.flux_jy, 8.8, 1e-9);
	CHECK_NEAR(m.alpha, 0.0, 1e-12);
	CHECK_NEAR(m.ra_rad * 180 / M_PI, 128.72876715, 1e-7);
	catalog_close(c);
}

static void test_cals_near_dec(void)
{
	catalog *c = open_fresh("strip.sqlite");
	catalog_cal *v = NULL;
	size_t n = 0;
	int has0834 = 0;

	CHECK_OK(catalog_import_vla(c, test_data("catalogs/vlacalibrators.txt"), NULL, err,
				    sizeof err), err);
	CHECK_OK(catalog_cals_near_dec(c, 54.9, 2.0, 2.0, &v, &n, err, sizeof err), err);
	CHECK(n >= 1 && n < 40, "%zu calibrators >= 2 Jy in the strip", n);
	for (size_t i = 0; i < n; i++) {
		catalog_calmodel m;
		CHECK(fabs(v[i].dec_deg - 54.9) <= 2.0);
		CHECK_OK(catalog_cal_model(c, &v[i], &m, err, sizeof err), err);
		CHECK(catalog_model_flux_jy(&m, 1.4e9) >= 2.0);
		has0834 |= !strcmp(v[i].name, "0834+555");
	}
	CHECK(has0834);
	free(v);
	/* Cone around 0834+555 finds it first (nearest). */
	CHECK_OK(catalog_cals_near(c, 128.73, 55.57, 0.5, &v, &n, err, sizeof err), err);
	CHECK(n >= 1 && !strcmp(v[0].name, "0834+555") && v[0].sep_deg < 0.01);
	free(v);
	catalog_close(c);
}

static void test_readonly(void)
{
	char path[1024];
	catalog *c = NULL;
	snprintf(path, sizeof path, "%s/absent.sqlite", test_tmpdir());
	CHECK(catalog_open(path, 1, &c, err, sizeof err) == -ENOENT);
	CHECK(c == NULL);
	snprintf(path, sizeof path, "%s/csv.sqlite", test_tmpdir());
	CHECK_OK(catalog_open(path, 1, &c, err, sizeof err), err);
	catalog_close(c);
	catalog_close(NULL);
}

static void test_parse_angle(void)
{
	double v = 0;
	CHECK(catalog_parse_angle("08:34:54.904117", 1, &v) == 0);
	CHECK_NEAR(v, 128.72876715, 1e-8);
	CHECK(catalog_parse_angle("08h34m54.904117s", 1, &v) == 0);
	CHECK_NEAR(v, 128.72876715, 1e-8);
	CHECK(catalog_parse_angle("128.5", 1, &v) == 0 && v == 128.5);
	CHECK(catalog_parse_angle("-00 30 00", 0, &v) == 0 && v == -0.5);
	CHECK(catalog_parse_angle("55d34'21.07098\"", 0, &v) == 0);
	CHECK_NEAR(v, 55.57251972, 1e-8);
	CHECK(catalog_parse_angle("12:61:00", 0, &v) == -EINVAL);
	CHECK(catalog_parse_angle("abc", 0, &v) == -EINVAL);
	CHECK(catalog_parse_angle("", 0, &v) == -EINVAL);
}

int main(void)
{
	RUN(test_parse_angle);
	RUN(test_vla_import);
	RUN_REF(test_csv_import);
	RUN(test_csv_errors);
	RUN(test_nvss_import);
	RUN_REF(test_pb17);
	RUN(test_cals_near_dec);
	RUN_REF(test_readonly); /* opens the catalog test_csv_import made */
	return TEST_DONE();
}
