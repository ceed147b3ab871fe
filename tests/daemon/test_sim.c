/*
 * tests/daemon/test_sim.c — the simulator against the reference groups and
 * against its own stated statistics.
 */
#include <complex.h>
#include <dirent.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "core/astro.h"
#include "core/err.h"
#include "core/gaintab.h"
#include "core/predict.h"
#include "daemon/sim.h"
#include "core/uvh5.h"
#include "tests/test.h"

#define REF_CAL "reference/cal-0834"

/* Path of the reference file of subband sb (names carry jittered stamps). */
static int ref_file(const char *dir, int sb, char *buf, size_t len)
{
	char tail[32];
	struct dirent *e;
	DIR *d = opendir(dir);
	int found = 0;

	if (!d)
		return 0;
	snprintf(tail, sizeof tail, "_sb%02d.hdf5", sb);
	while ((e = readdir(d)))
		if (strlen(e->d_name) > strlen(tail) &&
		    strcmp(e->d_name + strlen(e->d_name) - strlen(tail), tail) == 0) {
			snprintf(buf, len, "%s/%s", dir, e->d_name);
			found = 1;
		}
	closedir(d);
	return found;
}

/* Count directory entries containing `needle`. */
static int count_names(const char *dir, const char *needle)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strstr(e->d_name, needle) != NULL;
	closedir(d);
	return n;
}

static void test_rng(void)
{
	sim_rng a, b;
	double s1 = 0, s2 = 0, s4 = 0;
	long tail3 = 0;
	const int n = 2000000;
	int same = 1;

	sim_rng_seed(&a, 42);
	sim_rng_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		same &= sim_rng_next(&a) == sim_rng_next(&b);
	CHECK(same, "equal seeds must give equal streams");
	sim_rng_seed(&b, 43);
	CHECK(sim_rng_next(&a) != sim_rng_next(&b));
	/* Moments of the normal deviates: mean 0, variance 1, kurtosis 3, and
	 * P(|x| > 3) = 0.0026998 (the ziggurat's tail). */
	for (int i = 0; i < n; i++) {
		double x = sim_rng_gauss(&a);
		s1 += x;
		s2 += x * x;
		s4 += x * x * x * x;
		tail3 += fabs(x) > 3.0;
	}
	CHECK_NEAR(s1 / n, 0.0, 5.0 / sqrt(n));
	CHECK_NEAR(s2 / n, 1.0, 5.0 * sqrt(2.0 / n));
	CHECK_NEAR(s4 / n, 3.0, 5.0 * sqrt(96.0 / n));
	CHECK_NEAR((double)tail3 / n, 0.0026998, 5.0 * sqrt(0.0027 / n));
}

static void test_parse_list(void)
{
	int out[32];
	int n = sim_parse_list("1,5, 9-12", out, 32);

	CHECK(n == 6, "n = %d", n);
	CHECK(out[0] == 1 && out[1] == 5 && out[2] == 9 && out[5] == 12);
	CHECK(sim_parse_list("3-1", out, 32) < 0);
	CHECK(sim_parse_list("a", out, 32) < 0);
	CHECK(sim_parse_list("1-40", out, 32) < 0, "overflow must fail");
}

static void test_freqs(void)
{
	double f48[48], f6[6], w;

	/* SPEC §2: sb00 1498.64 → 1487.17 MHz, sb15 1322.86 → 1311.37 MHz, 244.140625 kHz. */
	sim_subband_freqs(0, 48, f48, &w);
	CHECK_NEAR(w, 244140.625, 0);
	CHECK_NEAR(f48[0] / 1e6, 1498.64, 0.005);
	CHECK_NEAR(f48[47] / 1e6, 1487.17, 0.005);
	sim_subband_freqs(15, 48, f48, NULL);
	CHECK_NEAR(f48[0] / 1e6, 1322.86, 0.005);
	CHECK_NEAR(f48[47] / 1e6, 1311.39, 0.005);
	/* Wider channels are the means of the correlator channels they cover. */
	for (int sb = 0; sb < 16; sb += 5) {
		sim_subband_freqs(sb, 48, f48, NULL);
		sim_subband_freqs(sb, 6, f6, &w);
		CHECK_NEAR(w, 8 * 244140.625, 0);
		for (int j = 0; j < 6; j++) {
			double m = 0;
			for (int k = 0; k < 8; k++)
				m += f48[8 * j + k] / 8;
			CHECK_NEAR(f6[j], m, 1e-6);
		}
	}
}

/* The built-in T: 117 stations, no two closer than a dish diameter, all
 * within 2.5 km, 96 active by default, and --nants picks distinct ones. */
static void test_builtin_array(void)
{
	char err[ERR_LEN] = "";
	sim_array a;
	double dmin = 1e9, rmax = 0;
	int distinct = 1;

	sim_array_builtin(&a);
	CHECK(a.nactive == 96, "%d active", a.nactive);
	for (int i = 0; i < SIM_NSTATIONS; i++) {
		const double *p = a.ants[i].pos_m;
		rmax = fmax(rmax, sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]));
		CHECK(a.ants[i].number == i && atoi(a.ants[i].name) == i + 1);
		for (int j = 0; j < i; j++) {
			const double *q = a.ants[j].pos_m;
			dmin = fmin(dmin, sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) +
					       (p[2] - q[2]) * (p[2] - q[2])));
		}
	}
	CHECK(dmin > SIM_DISH_M, "stations %.2f m apart", dmin);
	CHECK(rmax < 2500, "station %.0f m from the site", rmax);
	CHECK_OK(sim_array_select(&a, NULL, 0, 8, err, sizeof err), err);
	for (int i = 1; i < a.nactive; i++)
		distinct &= a.active[i] > a.active[i - 1];
	CHECK(a.nactive == 8 && distinct);
	{
		int st[3] = {1, 10, 117};
		CHECK_OK(sim_array_select(&a, st, 3, 0, err, sizeof err), err);
		CHECK(a.nactive == 3 && a.active[0] == 0 && a.active[1] == 9 && a.active[2] == 116);
		st[1] = 118;
		CHECK(sim_array_select(&a, st, 3, 0, err, sizeof err) == -EINVAL);
	}
}

/* (1) The reference group's geometry, rebuilt from the station table, its
 * start time and its pointing, must equal what the files hold. */
static void test_reference_geometry(void)
{
	char err[ERR_LEN] = "", path[1024];
	const char *dir = test_data(REF_CAL);
	sim_array arr;
	sim_obs obs;
	vis_set *ref = NULL, *sim = NULL;
	int stations[SIM_NSTATIONS], ns = 0;
	double max_uvw = 0, max_pos = 0, max_t = 0, max_f = 0;

	CHECK(ref_file(dir, 0, path, sizeof path), "no reference sb00 in %s", dir);
	if (sim_array_load_csv(&arr, test_data("dsa110/DSA110_Station_Coordinates.csv"), err,
			       sizeof err)) {
		CHECK(0, "%s", err);
		return;
	}
	CHECK(arr.nactive == 96, "default active = %d", arr.nactive);
	/* The reference's 24 antennas are the even spread over the default 96;
	 * its baselines are in ascending order (every row ant_1 <= ant_2). */
	CHECK_OK(sim_array_select(&arr, NULL, 0, 24, err, sizeof err), err);
	CHECK_OK(sim_array_set_order(&arr, NULL, 0, err, sizeof err), err);

	for (int sb = 0; sb < 16; sb++) {
		if (!ref_file(dir, sb, path, sizeof path)) {
			CHECK(0, "reference subband %d missing", sb);
			continue;
		}
		CHECK_OK(uvh5_read_meta(path, &ref, err, sizeof err), err);
		if (!ref)
			break;
		if (sb == 0) {
			int seen[SIM_NSTATIONS] = {0};
			for (int b = 0; b < ref->nbls; b++)
				seen[ref->ant1[b]] = seen[ref->ant2[b]] = 1;
			for (int a = 0; a < SIM_NSTATIONS; a++)
				if (seen[a])
					stations[ns++] = a + 1;
			CHECK(ns == arr.nactive, "reference has %d antennas", ns);
			for (int i = 0; i < ns && i < arr.nactive; i++)
				CHECK(arr.active[i] == stations[i] - 1, "antenna %d: %d vs %d", i,
				      arr.active[i], stations[i] - 1);
			CHECK_NEAR(ref->lat_rad, arr.lat_rad, 1e-12);
			CHECK_NEAR(ref->lon_rad, arr.lon_rad, 1e-12);
			CHECK_NEAR(ref->alt_m, arr.alt_m, 1e-9);
			CHECK_NEAR(ref->int_time_s, SIM_INT_TIME_S, 1e-9);
			obs.start_jd = ref->time_jd[0] - 0.5 * SIM_INT_TIME_S / ASTRO_DAY_S;
			obs.int_time_s = SIM_INT_TIME_S;
			obs.ntimes = ref->ntimes;
			obs.nchan = ref->nchan;
			obs.dec_rad = ref->pointing_dec_rad;
			CHECK(ref->has_pointing_dec);
		}
		CHECK_OK(sim_meta_new(&arr, &obs, sb, &sim, err, sizeof err), err);
		if (!sim) {
			vis_free(ref);
			break;
		}
		CHECK(sim->nbls == ref->nbls && sim->ntimes == ref->ntimes && sim->nchan == ref->nchan,
		      "shape %dx%dx%d vs %dx%dx%d", sim->ntimes, sim->nbls, sim->nchan, ref->ntimes,
		      ref->nbls, ref->nchan);
		if (sim->nbls == ref->nbls && sim->ntimes == ref->ntimes && sim->nchan == ref->nchan) {
			int same_bl = 1;
			for (int b = 0; b < ref->nbls; b++)
				same_bl &= sim->ant1[b] == ref->ant1[b] && sim->ant2[b] == ref->ant2[b];
			CHECK(same_bl, "sb%02d: baseline order differs", sb);
			for (size_t i = 0; i < (size_t)ref->ntimes * ref->nbls * 3; i++)
				max_uvw = fmax(max_uvw, fabs(sim->uvw_m[i] - ref->uvw_m[i]));
			for (int t = 0; t < ref->ntimes; t++)
				max_t = fmax(max_t, fabs(sim->time_jd[t] - ref->time_jd[t]));
			for (int c = 0; c < ref->nchan; c++)
				max_f = fmax(max_f, fabs(sim->freq_hz[c] - ref->freq_hz[c]));
			CHECK_NEAR(sim->chan_width_hz, ref->chan_width_hz, 0);
			CHECK(sim->nants == ref->nants, "Nants_telescope %d vs %d", sim->nants, ref->nants);
			for (int a = 0; a < ref->nants && a < sim->nants; a++) {
				for (int k = 0; k < 3; k++)
					max_pos = fmax(max_pos, fabs(sim->ants[a].pos_m[k] - ref->ants[a].pos_m[k]));
				CHECK(sim->ants[a].number == ref->ants[a].number);
				CHECK(strcmp(sim->ants[a].name, ref->ants[a].name) == 0, "name %s vs %s",
				      sim->ants[a].name, ref->ants[a].name);
			}
		}
		vis_free(sim);
		vis_free(ref);
		sim = ref = NULL;
	}
	/* Tolerances: positions to 1 µm (WGS84 arithmetic), uvw to 1e-4 m (both
	 * float32 roundings of the same double), times to 0.1 ms (a JD in a
	 * double resolves 40 µs), frequencies to 1 mHz. */
	CHECK(max_pos < 1e-6, "antenna positions differ by %.3g m", max_pos);
	CHECK(max_uvw < 1e-4, "uvw differs by %.3g m", max_uvw);
	CHECK(max_t * ASTRO_DAY_S < 1e-4, "times differ by %.3g s", max_t * ASTRO_DAY_S);
	CHECK(max_f < 1e-3, "frequencies differ by %.3g Hz", max_f);
	printf("# reference geometry: |Δpos| %.2g m, |Δuvw| %.2g m, |Δt| %.2g s, |Δf| %.2g Hz\n",
	       max_pos, max_uvw, max_t * ASTRO_DAY_S, max_f);
}

/* The simulator against the independent reference data: simulate the
 * reference group cal-0834 noise-free (its stations, times, pointing and sky),
 * apply the reference's true gains, and difference with its data.  Only the
 * reference's noise remains: χ²/dof = Σ(Δre² + Δim²)/σ² / (2N) must be 1 on
 * the cross-correlations (the README promises 1.000 for a correct model).  The
 * autocorrelations must exceed the model by SEFD·|g|². */
static void test_reference_data(void)
{
	static const int sbs[3] = {0, 7, 15};
	char err[ERR_LEN] = "", path[1024], gpath[1024], tpath[1024];
	const char *dir = test_data(REF_CAL);
	sky_model sky;
	sky_truth truth;
	sim_config c;
	gaintab *g = NULL;
	double chi2 = 0, chi2_nosky = 0, sefd_est = 0;
	long n = 0, nauto = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	gpath[0] = tpath[0] = 0;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "gains_", 6) == 0)
			snprintf(gpath, sizeof gpath, "%s/%s", dir, e->d_name);
		if (strncmp(e->d_name, "truth_", 6) == 0)
			snprintf(tpath, sizeof tpath, "%s/%s", dir, e->d_name);
	}
	if (d)
		closedir(d);
	CHECK(gpath[0] && tpath[0], "no truth/gains in %s", dir);
	sky_init(&sky);
	CHECK_OK(sky_load_truth_json(&sky, tpath, &truth, err, sizeof err), err);
	CHECK_OK(gaintab_read(gpath, &g, err, sizeof err), err);
	sim_config_init(&c);
	if (!g || sim_array_load_csv(&c.array, test_data("dsa110/DSA110_Station_Coordinates.csv"),
				     err, sizeof err) ||
	    sim_array_select(&c.array, NULL, 0, 24, err, sizeof err) ||
	    sim_array_set_order(&c.array, NULL, 0, err, sizeof err)) {
		CHECK(0, "%s", err);
		goto out;
	}
	c.gains = 0;
	c.sefd_jy = 0; /* the model alone */
	c.sky = &sky;
	for (int k = 0; k < 3; k++) {
		vis_set *ref = NULL, *sim = NULL, *g2 = NULL;
		double sigma = truth.sigma_vis;

		if (!ref_file(dir, sbs[k], path, sizeof path) || uvh5_read(path, &ref, err, sizeof err)) {
			CHECK(0, "cannot read reference sb%02d: %s", sbs[k], err);
			continue;
		}
		c.obs.start_jd = ref->time_jd[0] - 0.5 * SIM_INT_TIME_S / ASTRO_DAY_S;
		c.obs.ntimes = ref->ntimes;
		c.obs.nchan = ref->nchan;
		c.obs.dec_rad = ref->pointing_dec_rad;
		CHECK_OK(sim_meta_new(&c.array, &c.obs, sbs[k], &sim, err, sizeof err), err);
		if (sim && sim->nbls == ref->nbls) {
			CHECK_OK(sim_fill_subband(&c, sbs[k], sim, NULL, err, sizeof err), err);
			g2 = vis_dup(sim);
			CHECK_OK(gaintab_multiply(sim, g, 0, err, sizeof err), err);
			/* |g|² on the autos: the gains applied to ones. */
			for (size_t i = 0; g2 && i < vis_nsamples(g2); i++)
				g2->vis[i] = 1;
			if (g2)
				CHECK_OK(gaintab_multiply(g2, g, 0, err, sizeof err), err);
			for (size_t i = 0; g2 && i < vis_nsamples(ref); i++) {
				int b = (int)((i / (ref->nchan * ref->npols)) % ref->nbls);
				float complex dv = ref->vis[i] - sim->vis[i];
				if (ref->flags[i] || sim->flags[i])
					continue;
				if (ref->ant1[b] == ref->ant2[b]) {
					sefd_est += crealf(dv) / crealf(g2->vis[i]);
					nauto++;
					continue;
				}
				chi2 += (crealf(dv) * crealf(dv) + cimagf(dv) * cimagf(dv)) / (sigma * sigma);
				chi2_nosky += crealf(ref->vis[i] * conjf(ref->vis[i])) / (sigma * sigma);
				n += 2;
			}
		}
		vis_free(g2);
		vis_free(sim);
		vis_free(ref);
	}
	CHECK(n > 100000, "%ld samples", n);
	if (n > 0) {
		printf("# reference data: chi2/dof %.4f over %ld (data alone %.1f); autos - model = %.2f |g|^2 Jy\n",
		       chi2 / n, n, chi2_nosky / n, nauto ? sefd_est / nauto : 0.0);
		CHECK(fabs(chi2 / n - 1) < 0.01, "chi2/dof = %.4f", chi2 / n);
		CHECK(chi2_nosky / n > 2, "the test cannot tell a missing sky: %.3f", chi2_nosky / n);
	}
	if (nauto)
		CHECK(fabs(sefd_est / nauto / truth.sefd_jy - 1) < 1e-3, "autos: SEFD %.2f",
		      sefd_est / nauto);
out:
	gaintab_free(g);
	sky_release(&sky);
}

/* The stated noise and the reference truth's sigma_vis. */
static void test_sigma_formula(void)
{
	CHECK_NEAR(sim_sigma_vis(6500.0, 1953125.0, 12.884901888), 0.9162052611651776, 1e-12);
}

static void tiny_config(sim_config *c, const char *out, sky_model *sky)
{
	char err[ERR_LEN];

	sim_config_init(c);
	c->out_dir = out;
	c->obs.ntimes = 3;
	c->obs.nchan = 4;
	c->nsub = 16;
	c->sky = sky;
	if (sim_array_select(&c->array, NULL, 0, 6, err, sizeof err))
		fprintf(stderr, "%s\n", err);
}

static void small_sky(sky_model *sky, const sim_config *c)
{
	double ra, dec;
	sim_transit_radec(sim_mid_jd(&c->obs), c->array.lon_rad, c->obs.dec_rad, &ra, &dec);
	sky_add_deg(sky, "A", ra * 180 / M_PI + 0.3, dec * 180 / M_PI - 0.2, 3.0, -0.7);
	sky_add_deg(sky, "B", ra * 180 / M_PI - 0.5, dec * 180 / M_PI + 0.4, 1.0, 0.0);
}

/* Read all 16 subbands' data of a group directory into one flat array. */
static float complex *read_group(const char *dir, int nsub, size_t *ret_n)
{
	char path[1024], err[ERR_LEN];
	float complex *all = NULL;
	size_t n = 0;

	for (int sb = 0; sb < nsub; sb++) {
		vis_set *v = NULL;
		float complex *grow;
		if (!ref_file(dir, sb, path, sizeof path) || uvh5_read(path, &v, err, sizeof err)) {
			free(all);
			return NULL;
		}
		grow = realloc(all, (n + vis_nsamples(v)) * sizeof *all);
		if (!grow) {
			vis_free(v);
			free(all);
			return NULL;
		}
		all = grow;
		memcpy(all + n, v->vis, vis_nsamples(v) * sizeof *all);
		n += vis_nsamples(v);
		vis_free(v);
	}
	*ret_n = n;
	return all;
}

/* (2) Same seed → identical files' data; another seed → different.  (Thread
 * counts: test_thread_determinism.) */
static void test_seed_determinism(void)
{
	char err[ERR_LEN] = "", d[3][1024];
	sim_config c;
	sim_result res;
	sky_model sky;
	float complex *x[3];
	size_t n[3] = {0, 0, 0};

	sky_init(&sky);
	for (int k = 0; k < 3; k++) {
		snprintf(d[k], sizeof d[k], "%s/seed%d", test_tmpdir(), k);
		tiny_config(&c, d[k], &sky);
		if (k == 0)
			small_sky(&sky, &c);
		c.seed = c.noise_seed = k == 2 ? 8 : 7;
		c.threads = k == 1 ? 1 : 2;
		c.rfi = 1;
		CHECK_OK(sim_write_group(&c, &res, err, sizeof err), err);
		x[k] = read_group(d[k], 16, &n[k]);
		CHECK(x[k] != NULL, "cannot read group %s", d[k]);
	}
	if (x[0] && x[1] && x[2]) {
		CHECK(n[0] == n[1] && n[0] == n[2]);
		CHECK(memcmp(x[0], x[1], n[0] * sizeof *x[0]) == 0,
		      "the same seed gave different data");
		CHECK(memcmp(x[0], x[2], n[0] * sizeof *x[0]) != 0, "different seeds gave the same data");
	}
	for (int k = 0; k < 3; k++)
		free(x[k]);
	sky_release(&sky);
}

/* Thread count does not change the data (a subband big enough to be split
 * across threads: 24 antennas, 48 channels, 10 integrations). */
static void test_thread_determinism(void)
{
	char err[ERR_LEN] = "";
	sim_config c;
	sky_model sky;
	vis_set *v[2] = {NULL, NULL};

	sky_init(&sky);
	sim_config_init(&c);
	c.obs.ntimes = 10;
	c.rfi = 1;
	c.nan_frac = 0.001;
	c.seed = c.noise_seed = 21;
	CHECK_OK(sim_array_select(&c.array, NULL, 0, 24, err, sizeof err), err);
	small_sky(&sky, &c);
	c.sky = &sky;
	for (int k = 0; k < 2; k++) {
		c.threads = k + 1;
		CHECK_OK(sim_meta_new(&c.array, &c.obs, 2, &v[k], err, sizeof err), err);
		if (v[k])
			CHECK_OK(sim_fill_subband(&c, 2, v[k], NULL, err, sizeof err), err);
	}
	if (v[0] && v[1]) {
		CHECK((size_t)v[0]->ntimes * v[0]->nbls * v[0]->nchan >= 100000, "too small to thread");
		CHECK(memcmp(v[0]->vis, v[1]->vis, vis_nsamples(v[0]) * sizeof *v[0]->vis) == 0,
		      "1 and 2 threads gave different data");
	}
	vis_free(v[0]);
	vis_free(v[1]);
	sky_release(&sky);
}

/* (3) Noise only: the measured spread of cross-correlations is σ = SEFD /
 * sqrt(2 Δν τ); autos carry SEFD. */
static void test_noise_level(void)
{
	char err[ERR_LEN] = "";
	sim_config c;
	vis_set *v = NULL;
	double sr = 0, srr = 0, si = 0, sii = 0, sa = 0, saa = 0, sigma;
	long nc = 0, na = 0;

	sim_config_init(&c);
	c.obs.ntimes = 8;
	c.obs.nchan = 6;
	c.gains = 0;
	c.seed = c.noise_seed = 3;
	CHECK_OK(sim_array_select(&c.array, NULL, 0, 24, err, sizeof err), err);
	CHECK_OK(sim_meta_new(&c.array, &c.obs, 4, &v, err, sizeof err), err);
	if (!v)
		return;
	CHECK_OK(sim_fill_subband(&c, 4, v, NULL, err, sizeof err), err);
	/* The noise follows the exact integration time; the set (and the file)
	 * carry it rounded to float32, as the correlator's writer stores it. */
	sigma = sim_sigma_vis(c.sefd_jy, v->chan_width_hz, c.obs.int_time_s);
	CHECK_NEAR(sigma, 0.9162052611651776, 1e-12);
	CHECK(v->int_time_s == 12.884902000427246, "int_time_s %.17g", v->int_time_s);
	CHECK(c.obs.int_time_s == 12.884901888);
	for (int t = 0; t < v->ntimes; t++)
		for (int b = 0; b < v->nbls; b++)
			for (int ch = 0; ch < v->nchan; ch++)
				for (int p = 0; p < 2; p++) {
					float complex x = v->vis[vis_idx(v, t, b, ch, p)];
					if (v->ant1[b] == v->ant2[b]) {
						sa += crealf(x);
						saa += crealf(x) * crealf(x);
						na++;
						CHECK(cimagf(x) == 0);
					} else {
						sr += crealf(x);
						srr += crealf(x) * crealf(x);
						si += cimagf(x);
						sii += cimagf(x) * cimagf(x);
						nc++;
					}
				}
	{
		double sd_r = sqrt(srr / nc - (sr / nc) * (sr / nc));
		double sd_i = sqrt(sii / nc - (si / nc) * (si / nc));
		double mean_a = sa / na, sd_a = sqrt(saa / na - mean_a * mean_a);
		printf("# noise: %ld cross samples, std re %.4f im %.4f (sigma %.4f); autos mean %.1f std %.3f\n",
		       nc, sd_r, sd_i, sigma, mean_a, sd_a);
		CHECK(fabs(sd_r / sigma - 1) < 0.02, "std of real parts %.4f vs sigma %.4f", sd_r, sigma);
		CHECK(fabs(sd_i / sigma - 1) < 0.02, "std of imaginary parts %.4f vs sigma %.4f", sd_i, sigma);
		CHECK_NEAR(sr / nc, 0.0, 5 * sigma / sqrt(nc));
		CHECK_NEAR(mean_a, c.sefd_jy, 5 * M_SQRT2 * sigma / sqrt(na));
		CHECK(fabs(sd_a / (M_SQRT2 * sigma) - 1) < 0.1, "autos std %.3f", sd_a);
	}
	vis_free(v);
}

/* The gains in the data follow V_obs = g[a1] V conj(g[a2]) with the gains the
 * gains file holds: dividing them out (gaintab_divide) of a noise-free group
 * gives back the predicted model. */
static void test_gains_roundtrip(void)
{
	char err[ERR_LEN] = "", dir[1024], path[1024];
	sim_config c;
	sim_result res;
	sky_model sky;
	gaintab *g = NULL;
	vis_set *v = NULL, *model = NULL;
	double maxrel = 0, peak = 0;

	snprintf(dir, sizeof dir, "%s/gains", test_tmpdir());
	sky_init(&sky);
	tiny_config(&c, dir, &sky);
	small_sky(&sky, &c);
	c.sefd_jy = 0; /* no noise, no system power */
	c.seed = 11;
	CHECK_OK(sim_write_group(&c, &res, err, sizeof err), err);
	CHECK_OK(gaintab_read(res.gains_path, &g, err, sizeof err), err);
	if (!g)
		goto out;
	CHECK(g->ntime == 3 && g->nant == 6 && g->nchan == 64 && g->npol == 2,
	      "gains shape %d %d %d %d", g->ntime, g->nant, g->nchan, g->npol);
	for (int k = 1; k < g->nchan; k++)
		CHECK(g->freq_hz[k] > g->freq_hz[k - 1]);
	for (int i = 0; i < g->nant; i++) {
		sim_gain_model gm;
		sim_gain_model_draw(c.seed, g->antenna_numbers[i], &gm);
		double complex e = sim_gain_eval(&gm, 1, astro_mjd_to_jd(g->time_mjd[2]), g->freq_hz[7]);
		CHECK(cabs(g->gain[gaintab_idx(g, 2, i, 7, 1)] - e) < 1e-6);
		CHECK(cabs(e) > 0.8 && cabs(e) < 1.2, "|g| = %g", cabs(e));
	}
	CHECK(ref_file(dir, 9, path, sizeof path));
	CHECK_OK(uvh5_read(path, &v, err, sizeof err), err);
	if (!v)
		goto out;
	model = vis_dup(v);
	CHECK_OK(gaintab_divide(v, g, 1, err, sizeof err), err);
	if (model) {
		predict_params pp;
		double maxrev = 0, maxrev_cross = 0;
		long nrev = 0;
		predict_params_default(&pp);
		CHECK_OK(predict_vis(model, &sky, &pp, PREDICT_OVERWRITE, err, sizeof err), err);
		for (size_t i = 0; i < vis_nsamples(v); i++) {
			int b = (int)(i / ((size_t)v->nchan * v->npols) % v->nbls);
			double d = cabsf(v->vis[i] - model->vis[i]);
			peak = fmax(peak, cabsf(model->vis[i]));
			maxrel = fmax(maxrel, d);
			CHECK(v->flags[i] == 0);
			if (v->ant1[b] > v->ant2[b]) {
				/* The same rows against the wrong orientation's model. */
				maxrev = fmax(maxrev, d);
				maxrev_cross = fmax(maxrev_cross, cabsf(v->vis[i] - conjf(model->vis[i])));
				nrev++;
			}
		}
		/* The default (correlator) order has rows with ant_1 > ant_2: the
		 * gains of those rows follow the same relation, g[ant_1] V conj(g[ant_2]). */
		printf("# gains: residual after dividing the true gains %.2g of peak %.3g Jy; "
		       "%ld samples on rows with ant_1 > ant_2: %.2g (against the conjugate model %.3g)\n",
		       maxrel, peak, nrev, maxrev, maxrev_cross);
		CHECK(nrev > 0, "no reversed rows in the default order");
		CHECK(peak > 0.5, "model peak %g", peak);
		CHECK(maxrel < 1e-5 * peak, "residual after dividing the true gains: %g of %g", maxrel, peak);
		CHECK(maxrev_cross > 0.1 * peak, "the test cannot tell the orientation: %g", maxrev_cross);
	}
	/* time_jd is stored next to time_mjd, like the reference truth gains. */
	{
		hid_t f = H5Fopen(res.gains_path, H5F_ACC_RDONLY, H5P_DEFAULT);
		CHECK(f >= 0);
		if (f >= 0) {
			CHECK(H5Lexists(f, "time_jd", H5P_DEFAULT) > 0);
			H5Fclose(f);
		}
	}
out:
	vis_free(model);
	vis_free(v);
	gaintab_free(g);
	sky_release(&sky);
}

/* (4) A missing subband is not written; a corrupt one is written and fails
 * uvh5_read_header with a message; no temporary name survives. */
static void test_missing_corrupt(void)
{
	static const int mode[2] = {SIM_CORRUPT_TRUNCATE, SIM_CORRUPT_GARBAGE};

	for (int k = 0; k < 2; k++) {
		char err[ERR_LEN] = "", dir[1024], path[1024];
		sim_config c;
		sim_result res;
		uvh5_header h;

		snprintf(dir, sizeof dir, "%s/damaged%d", test_tmpdir(), k);
		tiny_config(&c, dir, NULL);
		c.missing[3] = 1;
		c.corrupt[5] = 1;
		c.corrupt_mode = mode[k];
		CHECK_OK(sim_write_group(&c, &res, err, sizeof err), err);
		CHECK(!ref_file(dir, 3, path, sizeof path), "missing subband 3 was written");
		CHECK(res.files[3][0] == 0);
		CHECK(count_names(dir, ".hdf5") == 15, "%d files", count_names(dir, ".hdf5"));
		CHECK(count_names(dir, "incomplete") == 0);
		CHECK(count_names(dir, ".tmp") == 0);
		CHECK(ref_file(dir, 5, path, sizeof path), "corrupt subband 5 was not written");
		err[0] = 0;
		CHECK(uvh5_read_header(path, &h, err, sizeof err) < 0, "corrupt file read fine");
		CHECK(err[0] != 0, "no message for the corrupt file");
		CHECK(ref_file(dir, 6, path, sizeof path));
		CHECK_OK(uvh5_read_header(path, &h, err, sizeof err), err);
		CHECK(h.nfreqs == 4 && h.ntimes == 3 && h.nbls == 21 && h.nants_telescope == 117);
	}
}

/* Dead antennas (zero mode), NaNs, and RFI where the result says. */
static void test_damage(void)
{
	char err[ERR_LEN] = "";
	sim_config c;
	sim_result res;
	vis_set *v = NULL;
	long nan = 0, dead_nonzero = 0, dead_total = 0;
	double rfi_pow = 0, other_pow = 0;
	long nrfi = 0, nother = 0;

	tiny_config(&c, "/nonexistent", NULL);
	c.obs.ntimes = 6;
	c.obs.nchan = 48;
	c.rfi = 1;
	c.nan_frac = 0.01;
	c.dead[0] = c.array.active[2];
	c.ndead = 1;
	c.dead_mode = SIM_DEAD_ZERO;
	memset(&res, 0, sizeof res);
	CHECK_OK(sim_meta_new(&c.array, &c.obs, 0, &v, err, sizeof err), err);
	if (!v)
		return;
	/* The RFI plan covers the band; fill the subband holding its first channel. */
	CHECK_OK(sim_fill_subband(&c, 0, v, &res, err, sizeof err), err);
	CHECK(res.nrfi_chan >= 1 && res.rfi_burst_t >= 0 && res.rfi_burst_t < 6);
	{
		int sb = res.rfi_chan[0] / 48;
		sim_meta_set_subband(v, sb);
		CHECK_OK(sim_fill_subband(&c, sb, v, &res, err, sizeof err), err);
		for (int t = 0; t < v->ntimes; t++)
			for (int b = 0; b < v->nbls; b++)
				for (int ch = 0; ch < v->nchan; ch++)
					for (int p = 0; p < 2; p++) {
						float complex x = v->vis[vis_idx(v, t, b, ch, p)];
						int is_dead = v->ant1[b] == c.dead[0] || v->ant2[b] == c.dead[0];
						int is_rfi = 0;
						if (isnan(crealf(x))) {
							nan++;
							continue;
						}
						if (is_dead) {
							dead_total++;
							dead_nonzero += x != 0;
							continue;
						}
						if (v->ant1[b] == v->ant2[b] || t == res.rfi_burst_t)
							continue;
						for (int k = 0; k < res.nrfi_chan; k++)
							is_rfi |= res.rfi_chan[k] == sb * 48 + ch;
						if (is_rfi) {
							rfi_pow += crealf(x * conjf(x));
							nrfi++;
						} else {
							other_pow += crealf(x * conjf(x));
							nother++;
						}
					}
	}
	CHECK(dead_total > 0 && dead_nonzero == 0, "%ld of %ld dead samples nonzero", dead_nonzero,
	      dead_total);
	{
		double frac = (double)nan / vis_nsamples(v);
		CHECK(fabs(frac - 0.01) < 0.003, "NaN fraction %g", frac);
	}
	CHECK(nrfi > 0 && nother > 0);
	if (nrfi > 0 && nother > 0)
		CHECK(rfi_pow / nrfi > 100 * other_pow / nother, "RFI power %g vs %g",
		      rfi_pow / nrfi, other_pow / nother);
	vis_free(v);
}

/* The correlator's input order and the baselines it makes (dsa110-antpos
 * get_baselines: for j, for i <= j, the row (o[i], o[j])). */
static void test_input_order(void)
{
	char err[ERR_LEN] = "";
	sim_array a;
	sim_obs obs;
	vis_set *v = NULL;
	int seen[SIM_NSTATIONS][SIM_NSTATIONS];
	int nrev = 0, rev_other = 0, twice = 0, auto_last = 1, a2_down = 0;

	sim_array_builtin(&a);
	CHECK(a.nactive == 96 && sim_array_reversed(&a) == 81, "default: %d antennas, %d reversed",
	      a.nactive, sim_array_reversed(&a));
	memset(&obs, 0, sizeof obs);
	obs.start_jd = 2461100.74;
	obs.int_time_s = SIM_INT_TIME_S;
	obs.ntimes = 2;
	obs.nchan = 1;
	obs.dec_rad = 0.9;
	CHECK_OK(sim_meta_new(&a, &obs, 0, &v, err, sizeof err), err);
	if (!v)
		return;
	memset(seen, 0, sizeof seen);
	for (int b = 0; b < v->nbls; b++) {
		int p = v->ant1[b], q = v->ant2[b];
		int lo = p < q ? p : q, hi = p < q ? q : p;
		twice += seen[lo][hi]++ > 0;
		if (p > q) {
			nrev++;
			/* Every reversed row starts at antenna 101 or 115 (DSA-102, DSA-116). */
			rev_other += p != 101 && p != 115;
		}
		if (b + 1 == v->nbls || v->ant2[b + 1] != q) {
			/* A run (one ant_2) ends with its autocorrelation. */
			auto_last &= p == q;
			a2_down += b + 1 < v->nbls && v->ant2[b + 1] < q;
		}
	}
	printf("# default input order, 96 antennas: %d baselines, %d with ant_1 > ant_2 "
	       "(ant_1 101 or 115: %d), runs of ant_2 going down %d times\n",
	       v->nbls, nrev, nrev - rev_other, a2_down);
	CHECK(v->nbls == 4656 && nrev == 81 && rev_other == 0 && twice == 0 && auto_last,
	      "nbls %d reversed %d other %d twice %d", v->nbls, nrev, rev_other, twice);
	CHECK(a2_down == 1, "ant_2 runs: %d descents", a2_down);
	/* uvw of every row, reversed ones included: pos[ant_2] − pos[ant_1]. */
	{
		double worst = 0;
		for (int b = 0; b < v->nbls; b++) {
			double uvw[3];
			sim_uvw(a.ants[v->ant1[b]].pos_m, a.ants[v->ant2[b]].pos_m, a.lon_rad, obs.dec_rad,
				uvw);
			for (int k = 0; k < 3; k++)
				worst = fmax(worst, fabs(v->uvw_m[3 * b + k] - (double)(float)uvw[k]));
		}
		CHECK(worst == 0, "uvw differs by %g m", worst);
	}
	vis_free(v);

	/* Subsets keep the order; the presets have reversed rows too. */
	CHECK_OK(sim_array_select(&a, NULL, 0, 8, err, sizeof err), err);
	CHECK(sim_array_reversed(&a) == 4 && a.order[4] == 101 && a.order[5] == 115,
	      "tiny: %d reversed", sim_array_reversed(&a));
	CHECK_OK(sim_array_select(&a, NULL, 0, 24, err, sizeof err), err);
	CHECK(sim_array_reversed(&a) == 11, "24 antennas: %d reversed", sim_array_reversed(&a));
	CHECK_OK(sim_array_set_order(&a, NULL, 0, err, sizeof err), err);
	CHECK(sim_array_reversed(&a) == 0);
	{
		int desc[SIM_NSTATIONS], bad[3] = {5, 5, 1};
		for (int i = 0; i < SIM_NSTATIONS; i++)
			desc[i] = SIM_NSTATIONS - i;
		CHECK_OK(sim_array_set_order(&a, desc, SIM_NSTATIONS, err, sizeof err), err);
		CHECK(sim_array_reversed(&a) == 24 * 23 / 2, "descending: %d", sim_array_reversed(&a));
		CHECK(sim_array_set_order(&a, bad, 3, err, sizeof err) == -EINVAL &&
		      strstr(err, "twice"), "%s", err);
		CHECK(sim_array_set_order(&a, desc, 100, err, sizeof err) == -EINVAL &&
		      strstr(err, "not in the list"), "%s", err);
		desc[0] = 118;
		CHECK(sim_array_set_order(&a, desc, 3, err, sizeof err) == -EINVAL);
		CHECK(sim_array_reversed(&a) == 24 * 23 / 2, "a failed call changed the order");
	}
}

/* The same group in any baseline order: the rows are a permutation of the
 * ascending layout's, those with ant_1 > ant_2 carrying the conjugate (and
 * −uvw) of their ascending twin, with gains, sky, noise, RFI, NaNs and a dead
 * antenna.  So nothing a pipeline computes may depend on the order beyond
 * rounding.  Orders: ascending, the default, and descending (every cross row
 * reversed). */
static void test_order_equivalence(void)
{
	char err[ERR_LEN] = "";
	sim_config c;
	sky_model sky;
	vis_set *v[3] = {NULL, NULL, NULL};
	int desc[SIM_NSTATIONS];

	for (int i = 0; i < SIM_NSTATIONS; i++)
		desc[i] = SIM_NSTATIONS - i;
	sky_init(&sky);
	sim_config_init(&c);
	c.obs.ntimes = 4;
	c.obs.nchan = 48;
	c.rfi = 1;
	c.nan_frac = 0.002;
	c.seed = c.noise_seed = 17;
	c.dead[0] = 115; /* DSA-116, an antenna of the reversed rows */
	c.ndead = 1;
	CHECK_OK(sim_array_select(&c.array, NULL, 0, 24, err, sizeof err), err);
	small_sky(&sky, &c);
	c.sky = &sky;
	for (int k = 0; k < 3; k++) {
		int rc = k == 0 ? sim_array_set_order(&c.array, NULL, 0, err, sizeof err)
		       : k == 1 ? sim_array_select(&c.array, NULL, 0, 24, err, sizeof err)
				: sim_array_set_order(&c.array, desc, SIM_NSTATIONS, err, sizeof err);
		CHECK_OK(rc, err);
		CHECK_OK(sim_meta_new(&c.array, &c.obs, 0, &v[k], err, sizeof err), err);
		if (v[k])
			CHECK_OK(sim_fill_subband(&c, 0, v[k], NULL, err, sizeof err), err);
	}
	for (int k = 1; k < 3 && v[0] && v[k]; k++) {
		const vis_set *A = v[0], *B = v[k];
		size_t per = (size_t)B->nchan * B->npols;
		long nrev = 0, nsamp = 0, nan_mismatch = 0, missing = 0;
		double worst = 0, uvw_worst = 0, peak = 0;
		for (int b = 0; b < B->nbls; b++) {
			int p = B->ant1[b], q = B->ant2[b], r = p > q, twin = -1;
			for (int j = 0; j < A->nbls && twin < 0; j++)
				if (A->ant1[j] == (r ? q : p) && A->ant2[j] == (r ? p : q))
					twin = j;
			if (twin < 0) {
				missing++;
				continue;
			}
			nrev += r;
			for (int t = 0; t < B->ntimes; t++) {
				const float complex *x = B->vis + ((size_t)t * B->nbls + b) * per;
				const float complex *y = A->vis + ((size_t)t * A->nbls + twin) * per;
				for (int kk = 0; kk < 3; kk++) {
					double u = B->uvw_m[((size_t)t * B->nbls + b) * 3 + kk];
					double w = A->uvw_m[((size_t)t * A->nbls + twin) * 3 + kk];
					uvw_worst = fmax(uvw_worst, fabs(u - (r ? -w : w)));
				}
				for (size_t i = 0; i < per; i++) {
					float complex yy = r ? conjf(y[i]) : y[i];
					if (isnan(crealf(x[i])) || isnan(crealf(yy))) {
						nan_mismatch += isnan(crealf(x[i])) != isnan(crealf(yy));
						continue;
					}
					peak = fmax(peak, cabsf(yy));
					worst = fmax(worst, cabsf(x[i] - yy));
					nsamp++;
				}
			}
		}
		printf("# order %s vs ascending: %d baselines, %ld with ant_1 > ant_2; %ld samples, "
		       "max |V - V_twin| %.3g Jy (peak %.3g Jy), NaN positions differ %ld, max |uvw + uvw_twin| %.3g m\n",
		       k == 1 ? "default" : "descending", B->nbls, nrev, nsamp, worst, peak,
		       nan_mismatch, uvw_worst);
		CHECK(missing == 0 && nrev == (k == 1 ? 11 : 24 * 23 / 2), "missing %ld, reversed %ld",
		      missing, nrev);
		CHECK(worst <= 1e-6 * peak, "data differ by %g of %g", worst, peak);
		CHECK(nan_mismatch == 0 && uvw_worst == 0);
	}
	for (int k = 0; k < 3; k++)
		vis_free(v[k]);
	sky_release(&sky);
}

/* What the file says: Header/integration_time is the float32 value the
 * correlator's writer stores; the centres step by the exact τ. */
static void test_file_integration_time(void)
{
	char err[ERR_LEN] = "", dir[1024], path[1024];
	sim_config c;
	sim_result res;
	vis_set *v = NULL;

	snprintf(dir, sizeof dir, "%s/inttime", test_tmpdir());
	tiny_config(&c, dir, NULL);
	c.nsub = 1;
	c.write_truth = 0;
	CHECK_OK(sim_write_group(&c, &res, err, sizeof err), err);
	CHECK(ref_file(dir, 0, path, sizeof path));
	CHECK_OK(uvh5_read(path, &v, err, sizeof err), err);
	if (!v)
		return;
	printf("# file: integration_time %.17g s (float32 of %.12g); centre 2 - centre 0 = %.9f s\n",
	       v->int_time_s, SIM_INT_TIME_S, (v->time_jd[2] - v->time_jd[0]) * ASTRO_DAY_S);
	CHECK(v->int_time_s == 12.884902000427246 && v->int_time_s == SIM_INT_TIME_FILE_S);
	for (int t = 0; t < v->ntimes; t++)
		CHECK(v->time_jd[t] == sim_time_jd(&c.obs, t), "time %d", t);
	for (size_t i = 0; i < vis_nsamples(v); i++)
		if (v->flags[i]) {
			CHECK(0, "the writer set a flag at sample %zu", i);
			break;
		}
	vis_free(v);
}

static void test_transit_and_random_sky(void)
{
	char err[ERR_LEN] = "";
	double mid, ra, dec, h, dec_app, t;
	sky_model a, b;
	sim_config c;
	double radius = 2.0 * M_PI / 180;

	sim_config_init(&c);
	mid = sim_mid_jd(&c.obs);
	sim_transit_radec(mid, c.array.lon_rad, c.obs.dec_rad, &ra, &dec);
	CHECK_OK(astro_hour_angle(mid, c.array.lon_rad, 0, ra, dec, &h, &dec_app), "");
	CHECK_NEAR(h, 0, 1e-9);
	CHECK_NEAR(dec_app, c.obs.dec_rad, 1e-9);
	t = sim_transit_jd(ra, dec, c.array.lon_rad, mid + 0.3);
	CHECK_NEAR((t - mid) * ASTRO_DAY_S, 0, 1e-3);

	sky_init(&a);
	sky_init(&b);
	CHECK_OK(sim_random_sky(&a, 5, 25, ra, ra, dec, radius, 0.005, 2.0, err, sizeof err), err);
	CHECK_OK(sim_random_sky(&b, 5, 25, ra, ra, dec, radius, 0.005, 2.0, err, sizeof err), err);
	CHECK(a.n == 25 && b.n == 25, "%d sources", a.n);
	for (int i = 0; i < a.n && i < b.n; i++) {
		CHECK(a.src[i].ra_rad == b.src[i].ra_rad && a.src[i].flux_jy == b.src[i].flux_jy);
		CHECK(astro_separation(a.src[i].ra_rad, a.src[i].dec_rad, ra, dec) <= radius);
		CHECK(a.src[i].flux_jy >= 0.005 && a.src[i].flux_jy <= 2.0);
	}
	sky_release(&a);
	sky_release(&b);
}

/* --pointing-offset: the beam in the data is centred 0.3° north of the
 * declination the files name, while phase_center_dec (and so the phasing
 * and uvw) stays the file's.  Autocorrelations without SEFD carry exactly
 * Σ S·A, so one source gives the beam at the true pointing, computed here
 * independently (ERFA apparent places, the Airy formula with libm's j1). */
static void test_pointing_offset(void)
{
	char err[ERR_LEN] = "", dir[1024], path[1024];
	const double off = 0.3 * M_PI / 180;
	sim_config c;
	sim_result res;
	sky_model sky;
	vis_set *v = NULL, *w = NULL;
	double ra, dec, worst = 0, worst_file = 0;

	snprintf(dir, sizeof dir, "%s/pointing", test_tmpdir());
	sky_init(&sky);
	tiny_config(&c, dir, &sky);
	c.sefd_jy = 0;
	c.gains = 0;
	c.nsub = 1;
	c.obs.pointing_offset_rad = off;
	sim_transit_radec(sim_mid_jd(&c.obs), c.array.lon_rad, c.obs.dec_rad, &ra, &dec);
	/* 1° north of the file's declination: 0.7° from the true pointing. */
	sky_add_deg(&sky, "N", ra * 180 / M_PI, dec * 180 / M_PI + 1.0, 2.0, 0.0);
	CHECK_OK(sim_meta_new(&c.array, &c.obs, 0, &v, err, sizeof err), err);
	if (!v)
		goto out;
	CHECK_NEAR(v->phase_dec_rad, c.obs.dec_rad, 0);
	CHECK_NEAR(v->pointing_dec_rad, c.obs.dec_rad + off, 1e-15);
	CHECK_OK(sim_fill_subband(&c, 0, v, NULL, err, sizeof err), err);
	for (int t = 0; t < v->ntimes; t++) {
		double jd = v->time_jd[t], ra_c, dec_c, ra_p;
		astro_frame f;
		CHECK_OK(astro_icrs_to_cirs(jd, sky.src[0].ra_rad, sky.src[0].dec_rad, &ra_c, &dec_c),
			 "");
		CHECK_OK(astro_frame_init(&f, jd, v->lon_rad, 0), "");
		ra_p = astro_frame_meridian_ra_cirs(&f);
		for (int ch = 0; ch < v->nchan; ch++) {
			double lam = VIS_C_M_S / v->freq_hz[ch];
			double th = astro_separation(ra_c, dec_c, ra_p, c.obs.dec_rad + off);
			double th0 = astro_separation(ra_c, dec_c, ra_p, c.obs.dec_rad);
			double x = M_PI * SIM_DISH_M * sin(th) / lam, x0 = M_PI * SIM_DISH_M * sin(th0) / lam;
			double a = pow(2 * j1(x) / x, 2), a0 = pow(2 * j1(x0) / x0, 2);
			/* the first antenna's autocorrelation is baseline 0 */
			double got = crealf(v->vis[vis_idx(v, t, 0, ch, 0)]) / 2.0;
			CHECK(v->ant1[0] == v->ant2[0]);
			worst = fmax(worst, fabs(got - a));
			worst_file = fmax(worst_file, fabs(got - a0));
		}
	}
	printf("# beam at the true pointing: max |auto/S - A| %.2g; against the file's "
	       "declination %.3f\n", worst, worst_file);
	CHECK(worst < 1e-5, "%g", worst);
	CHECK(worst_file > 0.1, "%g", worst_file);

	/* Written files name the fringe-stopping declination, not the beam's. */
	CHECK_OK(sim_write_group(&c, &res, err, sizeof err), err);
	CHECK(ref_file(dir, 0, path, sizeof path));
	CHECK_OK(uvh5_read(path, &w, err, sizeof err), err);
	if (w) {
		CHECK_NEAR(w->phase_dec_rad, c.obs.dec_rad, 1e-15);
		CHECK(w->has_pointing_dec);
		CHECK_NEAR(w->pointing_dec_rad, c.obs.dec_rad, 1e-15);
	}
	{
		char tp[1100], line[256];
		FILE *fp;
		double pd = NAN;
		snprintf(tp, sizeof tp, "%s", res.truth_path);
		fp = fopen(tp, "r");
		while (fp && fgets(line, sizeof line, fp))
			if (strstr(line, "\"pointing_dec\""))
				pd = atof(strchr(line, ':') + 1);
		if (fp)
			fclose(fp);
		CHECK_NEAR(pd, (c.obs.dec_rad + off) * 180 / M_PI, 1e-9);
	}
out:
	vis_free(v);
	vis_free(w);
	sky_release(&sky);
}

int main(void)
{
	RUN(test_rng);
	RUN(test_parse_list);
	RUN(test_freqs);
	RUN(test_builtin_array);
	RUN_REF(test_reference_geometry);
	RUN_REF(test_reference_data);
	RUN(test_sigma_formula);
	RUN(test_seed_determinism);
	RUN(test_thread_determinism);
	RUN(test_noise_level);
	RUN(test_gains_roundtrip);
	RUN(test_missing_corrupt);
	RUN(test_damage);
	RUN(test_input_order);
	RUN(test_order_equivalence);
	RUN(test_file_integration_time);
	RUN(test_transit_and_random_sky);
	RUN(test_pointing_offset);
	return TEST_DONE();
}
