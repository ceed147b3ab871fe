/*
 * tests/imaging/test_declinations.c — the imager at pointing declinations far
 * from the reference groups' 55°: south of the zenith (the array's plane
 * tilts the other way), at the zenith (no tilt), and near the pole (the
 * strongest tilt and the fastest change of the uv plane with time).
 *
 * For each declination a noiseless DSA-110 group (24 of the real stations
 * when ../shared/data is there, the built-in T otherwise; unit gains) with
 * six 1 Jy sources spread to 1.4° from the centre is simulated, converted
 * and imaged over 3.4°.  Every source must be found at its ICRS position
 * (to 0.1 pixel) in the image's own projection, which off the zenith is the
 * slant SIN of the array's plane: the slant must be chosen, must shrink |w|
 * at least tenfold, and give positions that agree with the orthographic
 * image made with ES w-stacking (wplane_fit = 0).
 * The simulator predicts with the exact geometry (core/predict.h, checked
 * against the independent reference data), not with the imager's
 * projection, so a wrong slant sign or frame shows up as an offset.
 */
#include <unistd.h>

#include "core/astro.h"
#include "core/convert.h"
#include "core/err.h"
#include "daemon/sim.h"
#include "imaging/image.h"
#include "imaging/proj.h"
#include "tests/test.h"

#define DEG (M_PI / 180)
#define AS (M_PI / 648000)
#define NSRC 6

/* Offsets (X, Y) of the sources from the pointing, degrees. */
static const double off_deg[NSRC][2] = {
	{ 0, 0 }, { 1.2, 0.1 }, { -1.1, 0.5 }, { 0.2, -1.3 }, { 0.9, 0.9 }, { -0.8, -1.0 },
};

typedef struct run {
	double xi, eta, wmax, worst_px, worst_as;
	int nplanes, wkernel;
	double pix[NSRC][2];
} run;

static vis_set *simulate(double dec_deg, sky_model *sky, char *name, size_t len)
{
	char err[ERR_LEN] = "", dir[1024];
	static char files[SIM_NSUB][1200];
	const char *paths[SIM_NSUB];
	sim_config c;
	sim_result res;
	convert_params cp;
	vis_set *v = NULL;
	double ra0, dec0;

	sim_config_init(&c);
	snprintf(dir, sizeof dir, "%s/dec%+03.0f", test_tmpdir(), dec_deg);
	c.out_dir = dir;
	const char *csv = test_data("dsa110/DSA110_Station_Coordinates.csv");
	if (access(csv, R_OK) == 0)
		CHECK_OK(sim_array_load_csv(&c.array, csv, err, sizeof err), err);
	CHECK_OK(sim_array_select(&c.array, NULL, 0, 24, err, sizeof err), err);
	c.obs.dec_rad = dec_deg * DEG;
	c.obs.nchan = 2;
	c.nsub = SIM_NSUB;
	c.sefd_jy = 0;
	c.gains = 0;
	c.jitter_s = 0;
	c.write_truth = 0;
	c.threads = 2;
	/* The sources sit at fixed orthographic offsets from the ICRS position
	 * of the pointing at the mid time. */
	sim_transit_radec(sim_mid_jd(&c.obs), c.array.lon_rad, c.obs.dec_rad, &ra0, &dec0);
	img_proj o = { 2, 2, 1, ra0, dec0, 0, 0 };
	for (int i = 0; i < NSRC; i++) {
		double ra, dec;
		/* Pixel (1 − X, 1 + Y) of a 2-pixel image with 1-radian cells is the
		 * direction at intermediate coordinates (X, Y). */
		proj_pix_to_radec(&o, 1 - off_deg[i][0] * DEG, 1 + off_deg[i][1] * DEG, &ra, &dec);
		char nm[16];
		snprintf(nm, sizeof nm, "P%d", i);
		CHECK_OK(sky_add_deg(sky, nm, ra / DEG, dec / DEG, 1.0, 0.0), "sky_add_deg");
	}
	c.sky = sky;
	if (sim_write_group(&c, &res, err, sizeof err)) {
		CHECK_OK(-1, err);
		return NULL;
	}
	for (int sb = 0; sb < SIM_NSUB; sb++) {
		snprintf(files[sb], sizeof files[sb], "%s/%s", dir, res.files[sb]);
		paths[sb] = files[sb];
	}
	convert_params_default(&cp);
	cp.nthreads = 2;
	CHECK_OK(convert_load_group(paths, SIM_NSUB, &cp, &v, NULL, err, sizeof err), err);
	snprintf(name, len, "%s", res.group);
	return v;
}

static int image_and_measure(const vis_set *v, const sky_model *sky, int wplane_fit, run *ret)
{
	char err[ERR_LEN] = "";
	image_params p;
	image_result *r = NULL;

	image_params_default(&p);
	p.nx = p.ny = 1536;
	p.cell_rad = 8 * AS;
	p.nthreads = 2;
	p.wplane_fit = wplane_fit;
	p.clean.auto_threshold = 0;
	p.clean.threshold_jy = 0.005;
	p.clean.niter = 3000;
	CHECK_OK(image_run(v, &p, &r, err, sizeof err), err);
	if (!r)
		return -1;
	memset(ret, 0, sizeof *ret);
	ret->xi = r->xi;
	ret->eta = r->eta;
	ret->wmax = r->grid.wmax;
	ret->nplanes = r->grid.nplanes;
	ret->wkernel = r->grid.wkernel;
	for (int i = 0; i < sky->n; i++) {
		double x0, y0, x, y, pk;
		CHECK(image_radec_to_pix(r, sky->src[i].ra_rad, sky->src[i].dec_rad, &x0, &y0) == 0);
		CHECK(image_peak_fit(r->image, r->nx, r->ny, (int)lround(x0), (int)lround(y0), 3,
				     &x, &y, &pk) == 0);
		double d = hypot(x - x0, y - y0);
		ret->pix[i][0] = x;
		ret->pix[i][1] = y;
		ret->worst_px = fmax(ret->worst_px, d);
		double ra, dec;
		CHECK(image_pix_to_radec(r, x, y, &ra, &dec) == 0);
		ret->worst_as = fmax(ret->worst_as, astro_separation(ra, dec, sky->src[i].ra_rad,
								     sky->src[i].dec_rad) / AS);
	}
	image_result_free(r);
	return 0;
}

static void check_declination(double dec_deg, int compare)
{
	sky_model sky;
	char name[64] = "";
	run s, o;

	sky_init(&sky);
	vis_set *v = simulate(dec_deg, &sky, name, sizeof name);
	if (!v) {
		sky_release(&sky);
		return;
	}
	/* The largest |w| in wavelengths, for comparison with |w'|. */
	double wmax = 0, fhi = 0;
	for (size_t k = 0; k < (size_t)v->ntimes * v->nbls; k++)
		wmax = fmax(wmax, fabs(v->uvw_m[3 * k + 2]));
	for (int c = 0; c < v->nchan; c++)
		fhi = fmax(fhi, v->freq_hz[c]);
	wmax *= fhi / VIS_C_M_S;
	if (image_and_measure(v, &sky, 1, &s) == 0) {
		printf("# dec %+.0f: slant (%.4f, %.4f), |w'| <= %.1f of |w| <= %.1f wavelengths, "
		       "%d %s planes; worst source offset %.3f px (%.2f\")\n",
		       dec_deg, s.xi, s.eta, s.wmax, wmax, s.nplanes,
		       s.wkernel == GRID_W_LAGRANGE ? "Lagrange" : "ES", s.worst_px, s.worst_as);
		/* Off the zenith the array's tilt makes |w| thousands of
		 * wavelengths and the slant removes nearly all of it; at the
		 * zenith only the terrain is left and no slant is taken. */
		if (wmax > 1000) {
			CHECK(s.xi != 0 || s.eta != 0, "no slant chosen at dec %g", dec_deg);
			CHECK(s.wmax < 0.1 * wmax, "slant left |w'| %g of %g", s.wmax, wmax);
		} else {
			CHECK(s.xi == 0 && s.eta == 0, "slant (%g, %g) at the zenith", s.xi, s.eta);
		}
		CHECK(s.nplanes <= 6, "%d w-planes", s.nplanes);
		CHECK(s.worst_px < 0.1, "dec %g: a source %.3f px off", dec_deg, s.worst_px);
	}
	if (compare && image_and_measure(v, &sky, 0, &o) == 0) {
		printf("# dec %+.0f orthographic: %d %s planes; worst offset %.3f px (%.2f\")\n",
		       dec_deg, o.nplanes, o.wkernel == GRID_W_LAGRANGE ? "Lagrange" : "ES",
		       o.worst_px, o.worst_as);
		CHECK(o.xi == 0 && o.eta == 0);
		CHECK(o.worst_px < 0.1, "orthographic: a source %.3f px off", o.worst_px);
		/* Both images put every source on the same sky position. */
		CHECK(fabs(o.worst_as - s.worst_as) < 0.5, "%.2f\" vs %.2f\"", o.worst_as,
		      s.worst_as);
	}
	vis_free(v);
	sky_release(&sky);
}

static void test_south(void)
{
	check_declination(-25, 1);
}

static void test_zenith(void)
{
	check_declination(37.2, 0);
}

static void test_north(void)
{
	check_declination(80, 0);
}

int main(void)
{
#if defined(__SANITIZE_ADDRESS__)
	/* Minutes under ASan; the same imaging code runs under the sanitizers in
	 * the other tests/imaging/ tests on small images. */
	printf("ok - test_declinations.c # SKIP under AddressSanitizer\n");
	return 0;
#endif
	RUN(test_south);
	RUN(test_zenith);
	RUN(test_north);
	return TEST_DONE();
}
