/*
 * tests/core/test_fluxscale.c — the flux-density standards (core/fluxscale.h)
 * against the published Perley & Butler (2017, ApJS 230, 7) polynomials and
 * against the VLA calibrator list's independent L-band fluxes.
 *
 * The coefficient table below is typed here from the paper's table of fitted
 * coefficients (a_0 .. a_5, ν in GHz, S in Jy, and the fitted range), as
 * transcribed with its uncertainties in jrseti/FluxDensities
 * (flux_densities.py, "Table 5. Fitted Coefficients for the Twenty Sources"),
 * independently of core/fluxscale.c; the test evaluates it itself.
 */
#include <errno.h>

#include "core/fluxscale.h"
#include "tests/test.h"

static const struct {
	const char *name;
	double a[6];
	double fmin_ghz, fmax_ghz;
} paper[] = {
	/* 3C48:  1.3253 ± 0.0005, -0.7553 ± 0.0009, -0.1914 ± 0.0011, 0.0498 ± 0.0009 */
	{ "3C48", { 1.3253, -0.7553, -0.1914, 0.0498, 0, 0 }, 0.05, 50 },
	/* 3C138: 1.0088 ± 0.0009, -0.4981 ± 0.0022, -0.155 ± 0.003, -0.010 ± 0.07,
	 *        0.022 ± 0.003 */
	{ "3C138", { 1.0088, -0.4981, -0.155, -0.010, 0.022, 0 }, 0.2, 50 },
	/* 3C147: 1.4516 ± 0.0010, -0.6961 ± 0.0017, -0.201 ± 0.005, 0.064 ± 0.004,
	 *        -0.046 ± 0.004, 0.029 ± 0.003 */
	{ "3C147", { 1.4516, -0.6961, -0.201, 0.064, -0.046, 0.029 }, 0.05, 50 },
	/* 3C286: 1.2481 ± 0.0005, -0.4507 ± 0.0009, -0.1798 ± 0.0011, 0.0357 ± 0.0009 */
	{ "3C286", { 1.2481, -0.4507, -0.1798, 0.0357, 0, 0 }, 0.05, 50 },
};

static double paper_flux(int k, double ghz)
{
	double x = log10(ghz), lg = 0;
	for (int i = 5; i >= 0; i--)
		lg = lg * x + paper[k].a[i];
	return pow(10, lg);
}

/* At a few frequencies across the fitted range (and DSA-110's band), the
 * flux equals the paper's polynomial to rounding. */
static void test_paper_values(void)
{
	static const double ghz[] = { 0.074, 0.33, 1.0, 1.3114, 1.405, 1.4986, 3.0, 8.4, 22.0, 43.0 };

	CHECK(fluxscale_count() == 4);
	for (int k = 0; k < 4; k++) {
		int std = fluxscale_find(paper[k].name);
		double lo, hi, worst = 0;

		CHECK(std >= 0 && !strcmp(fluxscale_name(std), paper[k].name), "%s", paper[k].name);
		CHECK(fluxscale_range_hz(std, &lo, &hi) == 0 && lo == paper[k].fmin_ghz * 1e9 &&
		      hi == paper[k].fmax_ghz * 1e9, "%s range", paper[k].name);
		for (size_t i = 0; i < sizeof ghz / sizeof ghz[0]; i++) {
			double s = fluxscale_flux_jy(std, ghz[i] * 1e9, NULL), want;
			if (ghz[i] < paper[k].fmin_ghz)
				continue;
			want = paper_flux(k, ghz[i]);
			worst = fmax(worst, fabs(s / want - 1));
			CHECK_NEAR(s, want, 1e-12 * want);
		}
		printf("# %-6s S(1.4 GHz) = %.3f Jy, S(0.33) = %.2f, S(43) = %.3f; worst relative "
		       "difference from the paper's polynomial %.1e\n", paper[k].name,
		       fluxscale_flux_jy(std, 1.4e9, NULL), paper_flux(k, 0.33), paper_flux(k, 43.0),
		       worst);
	}
}

/* The local index is the slope of log S against log ν. */
static void test_spectral_index(void)
{
	for (int k = 0; k < 4; k++) {
		int std = fluxscale_find(paper[k].name);
		for (double ghz = 0.3; ghz < 40; ghz *= 2.1) {
			double alpha = NAN, h = 1e-4;
			double s1 = paper_flux(k, ghz * pow(10, -h)), s2 = paper_flux(k, ghz * pow(10, h));
			double num = (log10(s2) - log10(s1)) / (2 * h);

			fluxscale_flux_jy(std, ghz * 1e9, &alpha);
			CHECK_NEAR(alpha, num, 1e-7);
		}
	}
	{
		double alpha;
		fluxscale_flux_jy(fluxscale_find("3C286"), 1.4e9, &alpha);
		printf("# 3C286 local index at 1.4 GHz: %.4f\n", alpha);
	}
}

/* The VLA calibrator list (shared/data/catalogs/vlacalibrators.txt) gives each
 * standard's 20 cm flux as an epoch measurement: PB17 agrees to a few percent
 * (3C48, 3C138 and 3C147 vary).  The list is read here, not typed in. */
static void test_vla_list(void)
{
	static const char *const list_name[4] = { "0137+331", "0521+166", "0542+498", "1331+305" };
	double list_jy[4] = { NAN, NAN, NAN, NAN };
	FILE *f = fopen(test_data("catalogs/vlacalibrators.txt"), "r");
	char line[512];
	int cur = -1;

	if (!f) {
		printf("# skip: no VLA calibrator list in the shared data\n");
		return;
	}
	while (fgets(line, sizeof line, f)) {
		char name[32], kind[16];
		if (sscanf(line, "%31s %15s", name, kind) == 2 && !strcmp(kind, "J2000")) {
			cur = -1;
			for (int k = 0; k < 4; k++)
				if (!strcmp(name, list_name[k]))
					cur = k;
		} else if (cur >= 0 && !strncmp(line, " 20cm", 5)) {
			/* " 20cm    L  P P P P      15.00 ...": the flux follows the codes */
			char *p = line + 5, *end;
			for (;;) {
				double v = strtod(p, &end);
				if (end != p && v > 0.5) {
					list_jy[cur] = v;
					break;
				}
				if (!*p)
					break;
				p = end != p ? end : p + 1;
			}
			cur = -1;
		}
	}
	fclose(f);
	for (int k = 0; k < 4; k++) {
		int std = fluxscale_find(list_name[k]);
		double s = fluxscale_flux_jy(std, 1.4e9, NULL);

		CHECK(std == fluxscale_find(paper[k].name), "%s", list_name[k]);
		CHECK(isfinite(list_jy[k]), "%s: no 20cm flux found in the list", list_name[k]);
		CHECK_NEAR(s, list_jy[k], 0.03 * list_jy[k]);
		printf("# %-6s (%s): PB17 %.2f Jy at 1.4 GHz, VLA list %.2f Jy at 20 cm (%+.1f %%)\n",
		       paper[k].name, list_name[k], s, list_jy[k], 100 * (s / list_jy[k] - 1));
	}
}

static void test_names(void)
{
	double s = 0, a = 0;
	static const char *const alias[4][3] = { { "3C48", "0137+331", "J0137+3309" },
						 { "3C138", "0521+166", "J0521+1638" },
						 { "3C147", "0542+498", "J0542+4951" },
						 { "3C286", "1331+305", "J1331+3030" } };

	for (int k = 0; k < 4; k++)
		for (int j = 0; j < 3; j++)
			CHECK(fluxscale_find(alias[k][j]) == fluxscale_find(paper[k].name), "%s",
			      alias[k][j]);
	CHECK(fluxscale_find("3c 286") == fluxscale_find("3C286"));
	CHECK(fluxscale_find(" j1331+3030 ") == fluxscale_find("3C286"));
	CHECK(fluxscale_find("3C28") < 0 && fluxscale_find("3C2866") < 0);
	CHECK(fluxscale_find("0834+555") < 0 && fluxscale_find("") < 0 && fluxscale_find(NULL) < 0);
	CHECK(fluxscale_lookup("3C286", 1.4e9, &s, &a) == 0 &&
	      s == fluxscale_flux_jy(fluxscale_find("3C286"), 1.4e9, NULL));
	CHECK(fluxscale_lookup("3C286", 0, &s, NULL) == -ENOENT);
	CHECK(fluxscale_lookup("0834+555", 1.4e9, &s, NULL) == -ENOENT);
	CHECK(isnan(fluxscale_flux_jy(4, 1.4e9, NULL)) && isnan(fluxscale_flux_jy(-1, 1.4e9, NULL)));
	CHECK(isnan(fluxscale_flux_jy(0, -1, NULL)) && fluxscale_name(4) == NULL);
	/* The power law of the other models. */
	CHECK_NEAR(fluxscale_power_law_jy(8.8, 1.4e9, -0.7, 2.8e9), 8.8 * pow(2, -0.7), 1e-12);
	CHECK(fluxscale_power_law_jy(8.8, 1.4e9, 0, 1.3e9) == 8.8);
}

int main(void)
{
	RUN(test_paper_values);
	RUN(test_spectral_index);
	RUN(test_vla_list);
	RUN(test_names);
	return TEST_DONE();
}
