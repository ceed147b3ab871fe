/*
 * daemon/sim.c — simulate DSA-110 subband groups.  See daemon/sim.h.
 */
#include "daemon/sim.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/astro.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/gaintab.h"
#include "core/h5.h"
#include "core/predict.h"
#include "core/stats.h"
#include "core/uvh5.h"

/* Stream identifiers mixed into the seed so that every random quantity has its
 * own independent stream. */
enum { STREAM_GAINS = 1, STREAM_NOISE, STREAM_RFI, STREAM_NAN, STREAM_JITTER, STREAM_SKY,
       STREAM_CORRUPT };

/* ---- random numbers ------------------------------------------------------ */

uint64_t sim_mix(uint64_t seed, uint64_t x)
{
	/* splitmix64 (Steele, Lea & Flood 2014) of seed + golden ratio · (x + 1). */
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (x + 1);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = sim_mix(seed, (uint64_t)i);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** 1.0 (Blackman & Vigna, "Scrambled linear pseudorandom number
 * generators", ACM TOMS 47, 2021). */
uint64_t sim_rng_next(sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double sim_rng_uniform(sim_rng *r)
{
	return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

/* The ziggurat of Marsaglia & Tsang ("The ziggurat method for generating
 * random variables", J. Stat. Softw. 5(8), 2000) with 128 layers, in the form
 * that takes the layer, the sign and the abscissa from disjoint bits of one
 * 64-bit draw (Doornik, "An improved ziggurat method", 2005, points out the
 * correlation when they share bits).  About 5 ns per normal deviate against
 * 25 ns for Box–Muller: the noise of a full group is 172 million deviates. */
#define ZIG_N 128
#define ZIG_R 3.442619855899          /* start of the tail */
#define ZIG_V 9.91256303526217e-3     /* area of each layer */

static double zig_x[ZIG_N + 1], zig_f[ZIG_N + 1];
static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static void zig_init(void)
{
	/* x[0] is the width of the base strip (its area, tail included, is V);
	 * x[i+1] solves f(x[i+1]) = f(x[i]) + V / x[i] for f(x) = exp(−x²/2). */
	zig_x[0] = ZIG_V / exp(-0.5 * ZIG_R * ZIG_R);
	zig_x[1] = ZIG_R;
	for (int i = 1; i < ZIG_N - 1; i++) {
		double y = exp(-0.5 * zig_x[i] * zig_x[i]) + ZIG_V / zig_x[i];
		zig_x[i + 1] = sqrt(-2.0 * log(y));
	}
	zig_x[ZIG_N] = 0.0;
	for (int i = 0; i <= ZIG_N; i++)
		zig_f[i] = exp(-0.5 * zig_x[i] * zig_x[i]);
}

static inline double zig_normal(sim_rng *r)
{
	for (;;) {
		uint64_t u = sim_rng_next(r);
		int i = (int)(u & (ZIG_N - 1));
		double sign = (u & ZIG_N) ? -1.0 : 1.0;
		double z = (double)(u >> 11) * 0x1.0p-53 * zig_x[i];

		if (z < zig_x[i + 1])
			return sign * z; /* inside the layer's rectangle under the curve */
		if (i == 0) {
			/* The tail beyond R (Marsaglia 1964). */
			double a, b;
			do {
				a = -log(1.0 - sim_rng_uniform(r)) / ZIG_R;
				b = -log(1.0 - sim_rng_uniform(r));
			} while (b + b < a * a);
			return sign * (ZIG_R + a);
		}
		if (zig_f[i] + sim_rng_uniform(r) * (zig_f[i + 1] - zig_f[i]) < exp(-0.5 * z * z))
			return sign * z;
	}
}

static inline void gauss_pair(sim_rng *r, double *g1, double *g2)
{
	*g1 = zig_normal(r);
	*g2 = zig_normal(r);
}

double sim_rng_gauss(sim_rng *r)
{
	pthread_once(&zig_once, zig_init);
	return zig_normal(r);
}

/* ---- lists --------------------------------------------------------------- */

int sim_parse_list(const char *s, int *out, int max)
{
	int n = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	while (*p) {
		char *end;
		long a, b;

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		a = strtol(p, &end, 10);
		if (end == p)
			return -EINVAL;
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			b = strtol(p, &end, 10);
			if (end == p || b < a)
				return -EINVAL;
			p = end;
		}
		if (*p && *p != ',' && *p != ' ')
			return -EINVAL;
		if (b - a > 100000)
			return -EINVAL;
		for (long k = a; k <= b; k++) {
			if (n >= max)
				return -EINVAL;
			out[n++] = (int)k;
		}
	}
	return n;
}

/* ---- the array ----------------------------------------------------------- */

static void site_init(sim_array *a)
{
	memset(a, 0, sizeof *a);
	a->lat_rad = SIM_SITE_LAT_DEG * M_PI / 180.0;
	a->lon_rad = SIM_SITE_LON_DEG * M_PI / 180.0;
	a->alt_m = SIM_SITE_ALT_M;
	for (int i = 0; i < SIM_NSTATIONS; i++) {
		a->ants[i].number = i;
		snprintf(a->ants[i].name, sizeof a->ants[i].name, "%d", i + 1);
		a->ants[i].diam_m = SIM_DISH_M;
	}
}

/* The stations the real array leaves out of its data (README of the shared data). */
static int default_inactive(int station)
{
	return station == 10 || (station >= 21 && station <= 23) ||
	       (station >= 52 && station <= 67) || station == 117;
}

/* Station numbers; docs/simulator.md ("Baselines") says why this order. */
const int sim_dsa110_input_order[SIM_NSTATIONS] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
	21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,
	102, 116,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70,
	71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90,
	91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101,
	103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 117,
};

int sim_array_set_order(sim_array *a, const int *stations, int nstations, char *err,
			size_t errlen)
{
	int pos[SIM_NSTATIONS], order[SIM_NSTATIONS], n = 0;

	if (!stations) {
		memcpy(a->order, a->active, a->nactive * sizeof *a->order);
		return 0;
	}
	for (int s = 0; s < SIM_NSTATIONS; s++)
		pos[s] = -1;
	for (int i = 0; i < nstations; i++) {
		int s = stations[i];
		if (s < 1 || s > SIM_NSTATIONS)
			return err_set(err, errlen, -EINVAL, "input order: station %d is not one of 1..%d",
				       s, SIM_NSTATIONS);
		if (pos[s - 1] >= 0)
			return err_set(err, errlen, -EINVAL, "input order: station %d is listed twice", s);
		pos[s - 1] = i;
	}
	for (int i = 0; i < a->nactive; i++)
		if (pos[a->active[i]] < 0)
			return err_set(err, errlen, -EINVAL,
				       "input order: active station %d is not in the list",
				       a->active[i] + 1);
	for (int i = 0; i < nstations; i++) {
		int ant = stations[i] - 1;
		for (int k = 0; k < a->nactive; k++)
			if (a->active[k] == ant) {
				order[n++] = ant;
				break;
			}
	}
	memcpy(a->order, order, n * sizeof *order);
	return 0;
}

int sim_array_reversed(const sim_array *a)
{
	int n = 0;

	/* Row (order[i], order[j]) for i <= j, as sim_meta_new writes them. */
	for (int j = 0; j < a->nactive; j++)
		for (int i = 0; i < j; i++)
			n += a->order[i] > a->order[j];
	return n;
}

static void select_default(sim_array *a)
{
	a->nactive = 0;
	for (int s = 1; s <= SIM_NSTATIONS; s++)
		if (!default_inactive(s))
			a->active[a->nactive++] = s - 1;
	/* Cannot fail: the list holds every station. */
	sim_array_set_order(a, sim_dsa110_input_order, SIM_NSTATIONS, NULL, 0);
}

/* East/north/up offsets (metres) from the site → ECEF offsets.  The rotation is
 * exact for vectors; the built-in layout does not need the Earth's curvature. */
static void enu_to_ecef(const sim_array *a, double e, double n, double u, double out[3])
{
	double sl = sin(a->lat_rad), cl = cos(a->lat_rad);
	double so = sin(a->lon_rad), co = cos(a->lon_rad);

	out[0] = -so * e - sl * co * n + cl * co * u;
	out[1] = co * e - sl * so * n + cl * so * u;
	out[2] = cl * n + sl * u;
}

void sim_array_builtin(sim_array *a)
{
	/* Outriggers (east, north) in metres, roughly where the real ones are. */
	static const double outrigger[15][2] = {
		{190, -430}, {500, 150}, {500, 1010}, {500, 1460}, {500, 1630},
		{500, 1790}, {280, 1790}, {-80, 1780}, {-320, 1780}, {-480, 1780},
		{-780, 1780}, {-1190, 1780}, {-1130, 1230}, {-1080, -280}, {-1260, -260},
	};
	const double arm_e0 = -80.0, arm_n0 = -58.0, up = -39.4;

	site_init(a);
	/* Stations 1..51: the east–west arm, 7.9 m apart, centred on the junction. */
	for (int k = 0; k < 51; k++)
		enu_to_ecef(a, arm_e0 + (k - 25) * 7.9, arm_n0, up, a->ants[k].pos_m);
	/* Stations 52..102: the north–south arm, 8.66 m apart, north of the junction. */
	for (int k = 0; k < 51; k++)
		enu_to_ecef(a, arm_e0, arm_n0 + 8.66 * (k + 1), up, a->ants[51 + k].pos_m);
	/* Stations 103..117: outriggers. */
	for (int k = 0; k < 15; k++)
		enu_to_ecef(a, outrigger[k][0], outrigger[k][1], up, a->ants[102 + k].pos_m);
	select_default(a);
}

int sim_array_load_csv(sim_array *a, const char *path, char *err, size_t errlen)
{
	double lat[SIM_NSTATIONS], lon[SIM_NSTATIONS], elev[SIM_NSTATIONS], sorted[SIM_NSTATIONS];
	int seen[SIM_NSTATIONS] = {0}, has_elev[SIM_NSTATIONS] = {0};
	double site[3], median;
	char line[512];
	int lineno = 0, nelev = 0, rc = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return err_set(err, errlen, -ENOENT, "%s: cannot open station table: %s", path,
			       strerror(errno));
	while (fgets(line, sizeof line, f)) {
		char *field[6] = {0}, *p = line, *end;
		int nf = 0, station;

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		/* Split on commas (empty fields kept). */
		field[nf++] = p;
		while (*p && nf < 6) {
			if (*p == ',') {
				*p = 0;
				field[nf++] = p + 1;
			}
			p++;
		}
		if (nf < 4 || strncmp(field[1], "DSA-", 4) != 0)
			continue; /* title, date and header lines */
		station = (int)strtol(field[1] + 4, &end, 10);
		if (end == field[1] + 4 || *end)
			continue; /* e.g. the title ",DSA-110 Station Coordinates" */
		if (station < 1 || station > SIM_NSTATIONS) {
			rc = err_set(err, errlen, -EINVAL, "%s:%d: bad station name '%s'", path,
				     lineno, field[1]);
			goto out;
		}
		lat[station - 1] = strtod(field[2], &end);
		if (end == field[2] || *end) {
			rc = err_set(err, errlen, -EINVAL, "%s:%d: bad latitude '%s'", path, lineno,
				     field[2]);
			goto out;
		}
		lon[station - 1] = strtod(field[3], &end);
		if (end == field[3] || *end) {
			rc = err_set(err, errlen, -EINVAL, "%s:%d: bad longitude '%s'", path,
				     lineno, field[3]);
			goto out;
		}
		if (nf > 4 && field[4][0]) {
			elev[station - 1] = strtod(field[4], &end);
			if (end == field[4] || *end) {
				rc = err_set(err, errlen, -EINVAL, "%s:%d: bad elevation '%s'", path,
					     lineno, field[4]);
				goto out;
			}
			has_elev[station - 1] = 1;
			sorted[nelev++] = elev[station - 1];
		}
		seen[station - 1] = 1;
	}
	for (int s = 0; s < SIM_NSTATIONS; s++)
		if (!seen[s]) {
			rc = err_set(err, errlen, -EINVAL, "%s: station DSA-%03d is missing", path,
				     s + 1);
			goto out;
		}
	if (!nelev) {
		rc = err_set(err, errlen, -EINVAL, "%s: no station has an elevation", path);
		goto out;
	}
	/* The table leaves some elevations blank (DSA-117); the median is the
	 * elevation of the core, which is what the reference groups used. */
	median = stats_median_d(sorted, nelev);

	site_init(a);
	astro_geodetic_to_ecef(a->lat_rad, a->lon_rad, a->alt_m, site);
	for (int s = 0; s < SIM_NSTATIONS; s++) {
		double xyz[3];
		astro_geodetic_to_ecef(lat[s] * M_PI / 180.0, lon[s] * M_PI / 180.0,
				       has_elev[s] ? elev[s] : median, xyz);
		for (int k = 0; k < 3; k++)
			a->ants[s].pos_m[k] = xyz[k] - site[k];
	}
	select_default(a);
out:
	fclose(f);
	return rc;
}

int sim_array_select(sim_array *a, const int *stations, int nstations, int nants,
		     char *err, size_t errlen)
{
	int use[SIM_NSTATIONS] = {0}, list[SIM_NSTATIONS], n = 0;

	if (stations && nstations > 0) {
		for (int i = 0; i < nstations; i++) {
			if (stations[i] < 1 || stations[i] > SIM_NSTATIONS)
				return err_set(err, errlen, -EINVAL,
					       "station %d is not one of 1..%d", stations[i],
					       SIM_NSTATIONS);
			use[stations[i] - 1] = 1;
		}
	} else {
		for (int s = 1; s <= SIM_NSTATIONS; s++)
			use[s - 1] = !default_inactive(s);
	}
	for (int i = 0; i < SIM_NSTATIONS; i++)
		if (use[i])
			list[n++] = i;
	if (nants < 0 || nants == 1 || nants > n)
		return err_set(err, errlen, -EINVAL,
			       "cannot use %d antennas: %d stations are active (need 2..%d)", nants,
			       n, n);
	if (nants == 0 || nants == n) {
		memcpy(a->active, list, n * sizeof *list);
		a->nactive = n;
	} else {
		/* Spread the choice over the list so the long baselines stay. */
		for (int i = 0; i < nants; i++)
			a->active[i] = list[(int)floor((double)i * (n - 1) / (nants - 1) + 0.5)];
		a->nactive = nants;
	}
	return sim_array_set_order(a, sim_dsa110_input_order, SIM_NSTATIONS, err, errlen);
}

/* ---- observation geometry ------------------------------------------------ */

double sim_time_jd(const sim_obs *o, int t)
{
	return o->start_jd + (t + 0.5) * o->int_time_s / ASTRO_DAY_S;
}

double sim_mid_jd(const sim_obs *o)
{
	return o->start_jd + 0.5 * o->ntimes * o->int_time_s / ASTRO_DAY_S;
}

void sim_subband_freqs(int sb, int nchan, double *freq_hz, double *chan_width_hz)
{
	/* Upper edge of the band; every term below is a multiple of 1/16 Hz under
	 * 2^31, so the sums are exact in double. */
	double top_edge = SIM_TOP_CHAN_HZ + 0.5 * SIM_FINE_CHAN_HZ;
	double sub_hz = SIM_FINE_PER_SUB * SIM_FINE_CHAN_HZ;
	double w = sub_hz / nchan;

	for (int j = 0; j < nchan; j++)
		freq_hz[j] = top_edge - sb * sub_hz - (j + 0.5) * w;
	if (chan_width_hz)
		*chan_width_hz = w;
}

void sim_uvw(const double pos1[3], const double pos2[3], double lon_rad, double dec_rad,
	     double uvw_m[3])
{
	double r[3][3], b[3];

	for (int k = 0; k < 3; k++)
		b[k] = pos2[k] - pos1[k];
	/* Greenwich hour angle of the meridian phase centre: H_G = −longitude. */
	astro_uvw_matrix(-lon_rad, dec_rad, r);
	for (int i = 0; i < 3; i++)
		uvw_m[i] = r[i][0] * b[0] + r[i][1] * b[1] + r[i][2] * b[2];
}

static void set_freqs(vis_set *v, int sb)
{
	sim_subband_freqs(sb, v->nchan, v->freq_hz, &v->chan_width_hz);
}

int sim_meta_new(const sim_array *a, const sim_obs *o, int sb, vis_set **ret,
		 char *err, size_t errlen)
{
	int n = a->nactive, nbls, b = 0;
	vis_set *v;

	if (n < 2 || o->ntimes < 1 || o->nchan < 1 || sb < 0 || sb >= SIM_NSUB)
		return err_set(err, errlen, -EINVAL,
			       "bad simulation shape: %d antennas, %d integrations, %d channels, subband %d",
			       n, o->ntimes, o->nchan, sb);
	nbls = n * (n + 1) / 2;
	v = vis_new(o->ntimes, nbls, o->nchan, 2, SIM_NSTATIONS);
	if (!v)
		return err_set(err, errlen, -ENOMEM, "out of memory for a %d×%d×%d subband",
			       o->ntimes, nbls, o->nchan);
	memcpy(v->ants, a->ants, sizeof a->ants);
	v->nants_data = n;
	v->lat_rad = a->lat_rad;
	v->lon_rad = a->lon_rad;
	v->alt_m = a->alt_m;
	/* The correlator's order (dsa110-antpos get_baselines, as dsa110-meridian-fs
	 * calls it): for each antenna in input order, every antenna before it and
	 * then itself, so each run ends with the autocorrelation and a row has
	 * ant_1 > ant_2 where the input order is not ascending. */
	for (int j = 0; j < n; j++)
		for (int i = 0; i <= j; i++, b++) {
			v->ant1[b] = a->order[i];
			v->ant2[b] = a->order[j];
		}
	for (int t = 0; t < o->ntimes; t++)
		v->time_jd[t] = sim_time_jd(o, t);
	/* The writer stores float32(τ) (a float32 array times τ); the centres
	 * above step by the exact τ, as the writer's time stamps do. */
	v->int_time_s = (double)(float)o->int_time_s;
	for (b = 0; b < nbls; b++) {
		double uvw[3];
		sim_uvw(a->ants[v->ant1[b]].pos_m, a->ants[v->ant2[b]].pos_m, a->lon_rad,
			o->dec_rad, uvw);
		/* Stored as float32: model what a reader of the file will see. */
		for (int t = 0; t < o->ntimes; t++)
			for (int k = 0; k < 3; k++)
				v->uvw_m[((size_t)t * nbls + b) * 3 + k] = (double)(float)uvw[k];
	}
	v->pols[0] = VIS_POL_XX;
	v->pols[1] = VIS_POL_YY;
	v->phase_type = VIS_PHASE_DRIFT;
	v->phase_dec_rad = o->dec_rad;
	v->pointing_dec_rad = o->dec_rad + o->pointing_offset_rad;
	v->has_pointing_dec = 1;
	snprintf(v->telescope, sizeof v->telescope, "OVRO_MMA");
	snprintf(v->instrument, sizeof v->instrument, "DSA");
	sim_meta_set_subband(v, sb);
	*ret = v;
	return 0;
}

void sim_meta_set_subband(vis_set *v, int sb)
{
	size_t n = vis_nsamples(v);

	set_freqs(v, sb);
	snprintf(v->name, sizeof v->name, "sb%02d", sb);
	memset(v->vis, 0, n * sizeof *v->vis);
	memset(v->flags, 0, n * sizeof *v->flags);
	for (size_t i = 0; i < n; i++)
		v->weight[i] = SIM_NSAMPLES;
}

/* ---- gains --------------------------------------------------------------- */

void sim_gain_model_draw(uint64_t seed, int ant_number, sim_gain_model *g)
{
	sim_rng r;

	sim_rng_seed(&r, sim_mix(sim_mix(seed, STREAM_GAINS), (uint64_t)ant_number));
	for (int p = 0; p < 2; p++) {
		g->amp[p] = 1.0 + 0.1 * (2.0 * sim_rng_uniform(&r) - 1.0);
		g->ripple[p] = 0.05 * sim_rng_uniform(&r);
		g->ripple_period_hz[p] = 20e6 + 40e6 * sim_rng_uniform(&r);
		g->ripple_phase[p] = 2.0 * M_PI * sim_rng_uniform(&r);
		g->delay_s[p] = 3e-9 * (2.0 * sim_rng_uniform(&r) - 1.0);
		g->phase0[p] = M_PI * (2.0 * sim_rng_uniform(&r) - 1.0);
		g->drift_rad[p] = (30.0 * M_PI / 180.0) * sim_rng_uniform(&r);
		g->drift_period_s[p] = 3600.0 * (2.0 + 6.0 * sim_rng_uniform(&r));
		g->drift_phase[p] = 2.0 * M_PI * sim_rng_uniform(&r);
	}
}

double complex sim_gain_eval(const sim_gain_model *g, int pol, double t_jd, double freq_hz)
{
	/* Time measured from an epoch near the data (MJD 60000) keeps the drift's
	 * argument small enough for full double precision. */
	double t_s = (t_jd - 2460000.5) * ASTRO_DAY_S;
	double amp = g->amp[pol] *
		     (1.0 + g->ripple[pol] * sin(2.0 * M_PI * freq_hz / g->ripple_period_hz[pol] +
						 g->ripple_phase[pol]));
	double ph = g->phase0[pol] + 2.0 * M_PI * g->delay_s[pol] * (freq_hz - 1.4e9) +
		    g->drift_rad[pol] *
			    sin(2.0 * M_PI * fmod(t_s / g->drift_period_s[pol], 1.0) +
				g->drift_phase[pol]);
	return amp * cexp(I * ph);
}

/* ---- configuration ------------------------------------------------------- */

void sim_config_init(sim_config *c)
{
	memset(c, 0, sizeof *c);
	c->out_dir = ".";
	sim_array_builtin(&c->array);
	c->obs.int_time_s = SIM_INT_TIME_S;
	c->obs.ntimes = 24;
	c->obs.nchan = SIM_FINE_PER_SUB;
	c->obs.dec_rad = 54.9 * M_PI / 180.0;
	if (astro_iso_to_jd("2026-03-01T05:49:14.410", &c->obs.start_jd) != 0)
		c->obs.start_jd = 2461100.742527894; /* the same instant */
	c->nsub = SIM_NSUB;
	c->sefd_jy = 6500.0;
	c->seed = 1;
	c->noise_seed = 1;
	c->gains = 1;
	c->jitter_s = 2.0;
	c->write_truth = 1;
}

double sim_sigma_vis(double sefd_jy, double chan_width_hz, double int_time_s)
{
	/* Radiometer equation for one real or imaginary part of a cross-correlation
	 * of two identical antennas (Thompson, Moran & Swenson 2017, eq. 6.50). */
	return sefd_jy / sqrt(2.0 * chan_width_hz * int_time_s);
}

static int nthreads_of(const sim_config *c)
{
	return c->threads > 0 ? c->threads : omp_get_max_threads();
}

/* ---- RFI plan: which channels and which integration, from the seed ------- */

typedef struct rfi_plan {
	int nchan;                            /* narrow-band channels */
	int chan[SIM_NSUB * SIM_FINE_PER_SUB]; /* global channel numbers sb·nchan + c */
	double amp_jy[SIM_NSUB * SIM_FINE_PER_SUB];
	int burst_t;                          /* integration of the broadband burst, −1 none */
	double burst_jy;
} rfi_plan;

static void rfi_plan_make(const sim_config *c, rfi_plan *r)
{
	int total = SIM_NSUB * c->obs.nchan;
	sim_rng g;

	memset(r, 0, sizeof *r);
	r->burst_t = -1;
	if (!c->rfi)
		return;
	sim_rng_seed(&g, sim_mix(c->noise_seed, STREAM_RFI));
	/* About one channel in a hundred carries a narrow-band transmitter. */
	r->nchan = total / 100 > 0 ? total / 100 : 1;
	if (r->nchan > (int)(sizeof r->chan / sizeof *r->chan))
		r->nchan = (int)(sizeof r->chan / sizeof *r->chan);
	for (int k = 0; k < r->nchan; k++) {
		int ch, dup;
		do {
			ch = (int)(sim_rng_uniform(&g) * total);
			dup = 0;
			for (int j = 0; j < k; j++)
				dup |= r->chan[j] == ch;
		} while (dup);
		r->chan[k] = ch;
		r->amp_jy[k] = 50.0 * pow(10.0, sim_rng_uniform(&g)); /* 50–500 Jy */
	}
	r->burst_t = (int)(sim_rng_uniform(&g) * c->obs.ntimes);
	r->burst_jy = 30.0;
}

/* ---- one subband ---------------------------------------------------------- */

int sim_fill_subband(const sim_config *c, int sb, vis_set *v, sim_result *res,
		     char *err, size_t errlen)
{
	const sim_array *a = &c->array;
	int nact = a->nactive, nchan = v->nchan, ntimes = v->ntimes, nbls = v->nbls;
	int index_of[SIM_NSTATIONS], dead[SIM_NSTATIONS] = {0};
	int *pair_of = NULL, *row_of_pair = NULL; /* baseline ↔ ascending pair index */
	uint8_t *rev = NULL;                       /* [nbls] 1: ant_1 > ant_2 */
	double complex *gain = NULL;
	double sigma, t0;
	size_t nrows = (size_t)ntimes * nbls;
	int nthreads = nthreads_of(c), rc = 0;
	rfi_plan *rfi = NULL;

	/* Thread start-up and barriers cost more than a small subband's work
	 * (and spin badly on a busy machine). */
	if ((size_t)ntimes * nbls * nchan < 100000)
		nthreads = 1;

	if (v->npols != 2 || nchan != c->obs.nchan || ntimes != c->obs.ntimes ||
	    nbls != nact * (nact + 1) / 2)
		return err_set(err, errlen, -EINVAL, "sb%02d: visibility set does not match the configuration", sb);
	for (int i = 0; i < SIM_NSTATIONS; i++)
		index_of[i] = -1;
	for (int i = 0; i < nact; i++)
		index_of[a->active[i]] = i;
	for (int i = 0; i < c->ndead; i++)
		if (c->dead[i] >= 0 && c->dead[i] < SIM_NSTATIONS)
			dead[c->dead[i]] = 1;

	/* Every random number belongs to an unordered antenna pair {p < q} (indices
	 * in the ascending active list), numbered q (q + 1) / 2 + p: the row that
	 * pair has in the ascending layout.  So a baseline order only permutes
	 * the rows, and a reversed row gets the conjugate of its ascending twin. */
	pair_of = malloc(nbls * sizeof *pair_of);
	row_of_pair = malloc(nbls * sizeof *row_of_pair);
	rev = malloc(nbls);
	if (!pair_of || !row_of_pair || !rev) {
		rc = err_set(err, errlen, -ENOMEM, "sb%02d: out of memory", sb);
		goto out;
	}
	for (int k = 0; k < nbls; k++)
		row_of_pair[k] = -1;
	for (int b = 0; b < nbls; b++) {
		int a1 = v->ant1[b], a2 = v->ant2[b];
		int i1 = a1 >= 0 && a1 < SIM_NSTATIONS ? index_of[a1] : -1;
		int i2 = a2 >= 0 && a2 < SIM_NSTATIONS ? index_of[a2] : -1;
		int lo = i1 < i2 ? i1 : i2, hi = i1 < i2 ? i2 : i1, k = hi * (hi + 1) / 2 + lo;
		if (lo < 0 || row_of_pair[k] >= 0) {
			rc = err_set(err, errlen, -EINVAL, "sb%02d: baseline %d (%d, %d) is %s", sb, b, a1,
				     a2, lo < 0 ? "not between active antennas" : "listed twice");
			goto out;
		}
		pair_of[b] = k;
		row_of_pair[k] = b;
		rev[b] = i1 > i2;
	}

	/* The sky, through the prediction code calibration uses. */
	t0 = clk_mono_s();
	if (c->sky && c->sky->n > 0) {
		predict_params pp;
		predict_params_default(&pp);
		pp.nthreads = nthreads;
		rc = predict_vis(v, c->sky, &pp, PREDICT_OVERWRITE, err, errlen);
		if (rc < 0) {
			err_prefix(err, errlen, "sb%02d: predicting the sky", sb);
			goto out;
		}
	} else {
		memset(v->vis, 0, vis_nsamples(v) * sizeof *v->vis);
	}
	if (res)
		res->predict_s += clk_mono_s() - t0;

	t0 = clk_mono_s();
	/* Gains of this subband's channels: [t][active antenna][c][p]. */
	gain = malloc((size_t)ntimes * nact * nchan * 2 * sizeof *gain);
	if (!gain) {
		rc = err_set(err, errlen, -ENOMEM, "sb%02d: out of memory for gains", sb);
		goto out;
	}
	for (int i = 0; i < nact; i++) {
		sim_gain_model gm;
		sim_gain_model_draw(c->seed, a->active[i], &gm);
		for (int t = 0; t < ntimes; t++)
			for (int ch = 0; ch < nchan; ch++)
				for (int p = 0; p < 2; p++)
					gain[(((size_t)t * nact + i) * nchan + ch) * 2 + p] =
						c->gains ? sim_gain_eval(&gm, p, v->time_jd[t], v->freq_hz[ch]) : 1.0;
	}

	pthread_once(&zig_once, zig_init);
	/* The exact integration time (the file holds it rounded to float32). */
	sigma = c->sefd_jy > 0 ? sim_sigma_vis(c->sefd_jy, v->chan_width_hz, c->obs.int_time_s) : 0.0;
	{
		const uint64_t noise_seed = sim_mix(sim_mix(c->noise_seed, STREAM_NOISE), (uint64_t)sb);
		const double sefd = c->sefd_jy > 0 ? c->sefd_jy : 0.0;
		const int zero_dead = c->dead_mode == SIM_DEAD_ZERO;

		/* One pass over the data: system power on the autos, gains, dead
		 * antennas, noise.  Each row has its own random stream, so the result
		 * does not depend on the thread schedule. */
#pragma omp parallel for schedule(static) num_threads(nthreads)
		for (size_t row = 0; row < nrows; row++) {
			int t = (int)(row / nbls), b = (int)(row % nbls);
			int i1 = index_of[v->ant1[b]], i2 = index_of[v->ant2[b]];
			int is_auto = v->ant1[b] == v->ant2[b];
			int is_dead = dead[v->ant1[b]] || dead[v->ant2[b]];
			/* The noise of a reversed row is the conjugate of its pair's. */
			double conj_sign = rev[b] ? -1.0 : 1.0;
			const double complex *g1 = gain + ((size_t)t * nact + i1) * nchan * 2;
			const double complex *g2 = gain + ((size_t)t * nact + i2) * nchan * 2;
			float complex *out = v->vis + row * nchan * 2;
			sim_rng r;

			sim_rng_seed(&r, sim_mix(noise_seed, (size_t)t * nbls + pair_of[b]));
			for (int k = 0; k < nchan * 2; k++) {
				/* Real arithmetic: C's complex multiply would call
				 * __muldc3 for its NaN rules, 5x slower here. */
				double xr = crealf(out[k]), xi = cimagf(out[k]);
				double ar = creal(g1[k]), ai = cimag(g1[k]);
				double br = creal(g2[k]), bi = -cimag(g2[k]);
				double n1, n2;

				if (is_auto) {
					xr = (xr + sefd) * (ar * ar + ai * ai);
					xi = 0;
				} else {
					/* g1 · x · conj(g2) */
					double tr = ar * xr - ai * xi, ti = ar * xi + ai * xr;
					xr = tr * br - ti * bi;
					xi = tr * bi + ti * br;
				}
				if (is_dead)
					xr = xi = 0;
				if (sigma > 0 && !(is_dead && zero_dead)) {
					gauss_pair(&r, &n1, &n2);
					/* An autocorrelation is a real power: its one
					 * component carries the variance of both parts. */
					if (is_auto) {
						xr += M_SQRT2 * sigma * n1;
					} else {
						xr += sigma * n1;
						xi += conj_sign * sigma * n2;
					}
				}
				out[k] = CMPLXF((float)xr, (float)xi);
			}
		}
	}

	/* RFI: narrow-band transmitters in a few channels, one broadband burst. */
	rfi = malloc(sizeof *rfi);
	if (!rfi) {
		rc = err_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	rfi_plan_make(c, rfi);
	for (int k = 0; k < rfi->nchan; k++) {
		int ch = rfi->chan[k] - sb * nchan;
		sim_rng r;
		if (ch < 0 || ch >= nchan)
			continue;
		sim_rng_seed(&r, sim_mix(sim_mix(c->noise_seed, STREAM_RFI), (uint64_t)rfi->chan[k]));
		/* Draw in the ascending layout's row order (pairs), whatever the order. */
		for (size_t prow = 0; prow < nrows; prow++) {
			int b = row_of_pair[prow % nbls];
			/* A transmitter that comes and goes: the amplitude varies per row. */
			double amp = rfi->amp_jy[k] * (0.3 + 0.7 * sim_rng_uniform(&r));
			double ph = 2.0 * M_PI * sim_rng_uniform(&r);
			if (rev[b])
				ph = -ph;
			if (dead[v->ant1[b]] || dead[v->ant2[b]])
				continue; /* no signal path */
			for (int p = 0; p < 2; p++) {
				float complex *x = v->vis + vis_idx(v, (int)(prow / nbls), b, ch, p);
				if (v->ant1[b] == v->ant2[b])
					*x += (float)amp;
				else
					*x += (float complex)(amp * cexp(I * ph));
			}
		}
	}
	if (rfi->burst_t >= 0) {
		sim_rng r;
		sim_rng_seed(&r, sim_mix(sim_mix(sim_mix(c->noise_seed, STREAM_RFI), 1000000u), (uint64_t)sb));
		for (int k = 0; k < nbls; k++)
			for (int ch = 0; ch < nchan; ch++) {
				int b = row_of_pair[k];
				double ph = 2.0 * M_PI * sim_rng_uniform(&r);
				if (rev[b])
					ph = -ph;
				if (dead[v->ant1[b]] || dead[v->ant2[b]])
					continue;
				for (int p = 0; p < 2; p++) {
					float complex *x = v->vis + vis_idx(v, rfi->burst_t, b, ch, p);
					if (v->ant1[b] == v->ant2[b])
						*x += (float)rfi->burst_jy;
					else
						*x += (float complex)(rfi->burst_jy * cexp(I * ph));
				}
			}
	}
	if (res) {
		res->nrfi_chan = rfi->nchan;
		memcpy(res->rfi_chan, rfi->chan, rfi->nchan * sizeof *rfi->chan);
		res->rfi_burst_t = rfi->burst_t;
	}

	/* NaNs, at random samples: skip ahead by geometric gaps. */
	if (c->nan_frac > 0) {
		size_t n = vis_nsamples(v), i = 0;
		double lq = log1p(-fmin(c->nan_frac, 1.0 - 1e-12));
		sim_rng r;

		sim_rng_seed(&r, sim_mix(sim_mix(c->noise_seed, STREAM_NAN), (uint64_t)sb));
		for (;;) {
			double gap = c->nan_frac >= 1.0 ? 0.0 : floor(log(1.0 - sim_rng_uniform(&r)) / lq);
			if (gap >= (double)(n - i))
				break;
			i += (size_t)gap;
			{
				/* i counts samples in the ascending layout; find the row. */
				size_t per_row = (size_t)nchan * v->npols, prow = i / per_row;
				size_t row = prow / nbls * nbls + row_of_pair[prow % nbls];
				v->vis[row * per_row + i % per_row] = NAN + I * NAN;
			}
			if (++i >= n)
				break;
		}
	}
	if (res)
		res->noise_s += clk_mono_s() - t0;
out:
	free(rfi);
	free(gain);
	free(pair_of);
	free(row_of_pair);
	free(rev);
	return rc;
}

/* ---- names and times ------------------------------------------------------ */

/* "YYYY-MM-DDTHH:MM:SS" with the seconds truncated. */
static void format_trunc(double jd, char *buf, size_t len)
{
	char iso[64];

	if (astro_jd_to_iso(jd, 3, iso, sizeof iso) != 0) {
		snprintf(buf, len, "invalid-time");
		return;
	}
	iso[19] = 0; /* drop ".fff" */
	snprintf(buf, len, "%.19s", iso);
}

void sim_file_name(double start_jd, double jitter_s, int sb, char *buf, size_t len)
{
	char stamp[32];

	format_trunc(start_jd + jitter_s / ASTRO_DAY_S, stamp, sizeof stamp);
	snprintf(buf, len, "%s_sb%02d.hdf5", stamp, sb);
}

void sim_transit_radec(double mid_jd, double lon_rad, double dec_app_rad,
		       double *ret_ra_rad, double *ret_dec_rad)
{
	astro_frame f;

	astro_frame_init(&f, mid_jd, lon_rad, 0.0);
	astro_frame_cirs_to_icrs(&f, astro_frame_meridian_ra_cirs(&f), dec_app_rad, ret_ra_rad,
				 ret_dec_rad);
}

double sim_transit_jd(double ra_rad, double dec_rad, double lon_rad, double near_jd)
{
	/* Newton steps on the hour angle; the Earth turns 1.0027379 sidereal days
	 * per day. */
	double t = near_jd;

	for (int it = 0; it < 8; it++) {
		double h;
		if (astro_hour_angle(t, lon_rad, 0.0, ra_rad, dec_rad, &h, NULL) != 0)
			break;
		t -= h / (2.0 * M_PI * 1.00273781191135448);
		if (fabs(h) < 1e-10)
			break;
	}
	return t;
}

/* ---- random sky ----------------------------------------------------------- */

int sim_random_sky(sky_model *m, uint64_t seed, int n_per_beam, double ra_lo, double ra_hi,
		   double dec0, double radius, double smin_jy, double smax_jy,
		   char *err, size_t errlen)
{
	sim_rng r;
	double span = ra_hi - ra_lo, cosd = cos(dec0), dec_hi, dec_lo, ra_pad, target;
	double q = pow(smin_jy / smax_jy, 1.5);
	int count, made = 0, tries = 0;

	if (n_per_beam < 0 || radius <= 0 || smin_jy <= 0 || smax_jy < smin_jy || span < 0)
		return err_set(err, errlen, -EINVAL, "bad random-sky parameters");
	/* N per beam disc; a stream's strip adds its area in units of the disc. */
	target = n_per_beam * (1.0 + 2.0 * radius * span * cosd / (M_PI * radius * radius));
	count = (int)floor(target + 0.5);
	dec_lo = fmax(dec0 - radius, -M_PI / 2);
	dec_hi = fmin(dec0 + radius, M_PI / 2);
	ra_pad = fmax(fabs(cos(dec_lo)), fabs(cos(dec_hi)));
	ra_pad = ra_pad > 0.05 ? fmin(radius / ra_pad, M_PI) : M_PI;
	sim_rng_seed(&r, sim_mix(seed, STREAM_SKY));
	while (made < count) {
		double ra, dec, ra_c, sep, s, alpha;
		char name[32];

		if (++tries > 1000000)
			return err_set(err, errlen, -ERANGE, "cannot place random sources");
		/* Uniform on the sphere inside the bounding box, then keep those
		 * within `radius` of the nearest point of the pointing track. */
		ra = ra_lo - ra_pad + (span + 2 * ra_pad) * sim_rng_uniform(&r);
		dec = asin(sin(dec_lo) + (sin(dec_hi) - sin(dec_lo)) * sim_rng_uniform(&r));
		ra_c = ra < ra_lo ? ra_lo : ra > ra_hi ? ra_hi : ra;
		sep = astro_separation(ra, dec, ra_c, dec0);
		if (sep > radius)
			continue;
		/* Euclidean counts N(>S) ∝ S^−1.5 between smin and smax (inverse CDF
		 * of the truncated power law). */
		s = smin_jy * pow(1.0 - sim_rng_uniform(&r) * (1.0 - q), -1.0 / 1.5);
		alpha = -0.7 + 0.2 * sim_rng_gauss(&r);
		snprintf(name, sizeof name, "S%04d", made);
		if (sky_add_deg(m, name, astro_wrap_2pi(ra) * 180.0 / M_PI, dec * 180.0 / M_PI, s,
				alpha) != 0)
			return err_set(err, errlen, -ENOMEM, "out of memory for the random sky");
		made++;
	}
	return 0;
}

/* ---- files ---------------------------------------------------------------- */

static int mkdir_p(const char *dir, char *err, size_t errlen)
{
	char buf[1024];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof buf)
		return err_set(err, errlen, -EINVAL, "bad output directory '%s'", dir);
	memcpy(buf, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] == '/' || buf[i] == 0) {
			char ch = buf[i];
			buf[i] = 0;
			if (mkdir(buf, 0777) != 0 && errno != EEXIST)
				return err_set(err, errlen, -errno, "%s: cannot create directory: %s",
					       buf, strerror(errno));
			buf[i] = ch;
		}
	}
	return 0;
}

/* Damage a finished file the way a crashed writer or a bad disk would. */
static int corrupt_file(const char *path, int mode, uint64_t seed, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (mode == SIM_CORRUPT_TRUNCATE) {
		/* Cut it to a third: the superblock survives, the data do not. */
		if (truncate(path, st.st_size / 3) != 0)
			return err_set(err, errlen, -errno, "%s: truncate: %s", path, strerror(errno));
		return 0;
	}
	{
		unsigned char buf[65536];
		int fd = open(path, O_WRONLY | O_TRUNC);
		sim_rng r;
		int rc = 0;

		if (fd < 0)
			return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
		sim_rng_seed(&r, sim_mix(seed, STREAM_CORRUPT));
		for (int blk = 0; blk < 16 && !rc; blk++) {
			for (size_t i = 0; i < sizeof buf; i += 8) {
				uint64_t x = sim_rng_next(&r);
				memcpy(buf + i, &x, 8);
			}
			if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
				rc = err_set(err, errlen, -EIO, "%s: write failed", path);
		}
		if (close(fd) != 0 && !rc)
			rc = err_set(err, errlen, -EIO, "%s: close failed", path);
		return rc;
	}
}

/* The true gains of the group as a gain table: [time][active antenna]
 * [channel ascending over the nsub subbands][pol]; dead antennas get 0,
 * flagged. */
static gaintab *true_gains(const sim_config *c)
{
	const sim_array *a = &c->array;
	int nch = c->obs.nchan, total = c->nsub * nch;
	double *f = malloc(nch * sizeof *f);
	gaintab *g = gaintab_new(c->obs.ntimes, a->nactive, total, 2);

	if (!g || !f) {
		free(f);
		gaintab_free(g);
		return NULL;
	}
	for (int sb = 0; sb < c->nsub; sb++) {
		sim_subband_freqs(sb, nch, f, NULL);
		for (int ch = 0; ch < nch; ch++)
			g->freq_hz[(c->nsub - 1 - sb) * nch + (nch - 1 - ch)] = f[ch];
	}
	free(f);
	for (int t = 0; t < c->obs.ntimes; t++)
		g->time_mjd[t] = astro_jd_to_mjd(sim_time_jd(&c->obs, t));
	g->pols[0] = VIS_POL_XX;
	g->pols[1] = VIS_POL_YY;
	for (int i = 0; i < a->nactive; i++) {
		sim_gain_model gm;
		int is_dead = 0;

		g->antenna_numbers[i] = a->active[i];
		for (int k = 0; k < c->ndead; k++)
			is_dead |= c->dead[k] == a->active[i];
		sim_gain_model_draw(c->seed, a->active[i], &gm);
		for (int t = 0; t < g->ntime; t++)
			for (int ch = 0; ch < total; ch++)
				for (int p = 0; p < 2; p++) {
					size_t k = gaintab_idx(g, t, i, ch, p);
					double jd = sim_time_jd(&c->obs, t);
					g->gain[k] = is_dead ? 0.0f
						     : c->gains ? (float complex)sim_gain_eval(&gm, p, jd, g->freq_hz[ch])
								: 1.0f;
					g->flag[k] = (uint8_t)is_dead;
				}
	}
	g->refant = -1;
	g->valid_start_mjd = astro_jd_to_mjd(c->obs.start_jd);
	g->valid_end_mjd = astro_jd_to_mjd(c->obs.start_jd + c->obs.ntimes * c->obs.int_time_s / ASTRO_DAY_S);
	return g;
}

/* Add `time_jd` (what the reference truth files carry) next to gaintab's time_mjd. */
static int add_time_jd(const char *path, const sim_config *c, char *err, size_t errlen)
{
	const size_t n = (size_t)c->obs.ntimes;
	double *jd = malloc(n * sizeof *jd);
	h5_file *f = NULL;
	int rc = 0;

	if (!jd)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	for (int t = 0; t < c->obs.ntimes; t++)
		jd[t] = sim_time_jd(&c->obs, t);
	if (h5_file_open(path, H5_MODE_UPDATE, &f, NULL, 0) < 0) {
		rc = err_set(err, errlen, -EIO, "%s: cannot reopen to add time_jd", path);
		goto out;
	}
	if (h5_write(f, "time_jd", H5_TYPE_F64, 1, &n, jd, NULL, 0) < 0)
		rc = err_set(err, errlen, -EIO, "%s: cannot write time_jd", path);
	if (h5_file_close(f, NULL, 0) < 0 && !rc)
		rc = err_set(err, errlen, -EIO, "%s: close failed", path);
out:
	free(jd);
	return rc;
}

static int write_gains(const sim_config *c, const char *group, const char *path, char *err,
		       size_t errlen)
{
	char tmp[1100];
	gaintab *g = true_gains(c);
	int rc;

	if (!g)
		return err_set(err, errlen, -ENOMEM, "out of memory for the gain table");
	snprintf(g->source_group, sizeof g->source_group, "%s", group);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	rc = gaintab_write(tmp, g, err, errlen);
	if (!rc)
		rc = add_time_jd(tmp, c, err, errlen);
	if (!rc && rename(tmp, path) != 0)
		rc = err_set(err, errlen, -errno, "%s: rename: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	gaintab_free(g);
	return rc;
}

/* A JSON number printed with the fewest digits that read back exactly
 * (json-c's default %.17g turns 54.9 into 54.899999999999999). */
static json_object *jnum(double x)
{
	char buf[40];

	if (!isfinite(x))
		return NULL; /* JSON null */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	/* Keep it a float to readers that care ("6500" → "6500.0"). */
	if (!strpbrk(buf, ".eEn"))
		strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
	return json_object_new_double_s(x, buf);
}

static json_object *json_int_list(const int *x, int n, int offset)
{
	json_object *a = json_object_new_array();
	for (int i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_int(x[i] + offset));
	return a;
}

static int write_truth(const sim_config *c, const sim_result *res, const char *path,
		       const char *gains_name, char *err, size_t errlen)
{
	const sim_obs *o = &c->obs;
	json_object *j = json_object_new_object(), *files, *srcs, *g, *times, *rfi, *list;
	double f[SIM_FINE_PER_SUB * 64] = {0}, w, fmin, fmax, mid = sim_mid_jd(o);
	int miss[SIM_NSUB], nmiss = 0, corr[SIM_NSUB], ncorr = 0, rc = 0;
	char iso[64], tmp[1100];

	if (!j)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	if (o->nchan > (int)(sizeof f / sizeof *f)) {
		rc = err_set(err, errlen, -EINVAL, "too many channels");
		goto out;
	}
	sim_subband_freqs(c->nsub - 1, o->nchan, f, &w);
	fmin = f[o->nchan - 1];
	sim_subband_freqs(0, o->nchan, f, &w);
	fmax = f[0];

	json_object_object_add(j, "group", json_object_new_string(res->group));
	astro_jd_to_iso(o->start_jd, 3, iso, sizeof iso);
	json_object_object_add(j, "start_isot", json_object_new_string(iso));
	astro_jd_to_iso(mid, 3, iso, sizeof iso);
	json_object_object_add(j, "mid_isot", json_object_new_string(iso));
	/* Apparent (equinox-based) LST at the midpoint, as the reference writes it. */
	json_object_object_add(j, "ra_mid_app_deg",
			       jnum(astro_last(mid, c->array.lon_rad, 0.0) * 180.0 / M_PI));
	json_object_object_add(j, "dec", jnum(o->dec_rad * 180.0 / M_PI));
	/* Where the beam was centred (differs from "dec" with --pointing-offset). */
	json_object_object_add(j, "pointing_dec",
			       jnum((o->dec_rad + o->pointing_offset_rad) * 180.0 / M_PI));
	json_object_object_add(j, "nant", json_object_new_int(c->array.nactive));
	json_object_object_add(j, "nchan", json_object_new_int(o->nchan));
	json_object_object_add(j, "nsub", json_object_new_int(c->nsub));
	json_object_object_add(j, "ntimes", json_object_new_int(o->ntimes));
	json_object_object_add(j, "int_time", jnum(o->int_time_s));
	json_object_object_add(j, "int_time_file", jnum((double)(float)o->int_time_s));
	json_object_object_add(j, "sefd", jnum(c->sefd_jy));
	json_object_object_add(j, "sigma_vis", jnum(res->sigma_vis));
	json_object_object_add(j, "flux_scale", jnum(1.0));
	json_object_object_add(j, "dish", jnum(SIM_DISH_M));
	json_object_object_add(j, "lat", jnum(round(c->array.lat_rad * 180.0 / M_PI * 1e9) / 1e9));
	json_object_object_add(j, "lon", jnum(round(c->array.lon_rad * 180.0 / M_PI * 1e9) / 1e9));
	json_object_object_add(j, "alt", jnum(c->array.alt_m));
	json_object_object_add(j, "freq_min", jnum(fmin));
	json_object_object_add(j, "freq_max", jnum(fmax));
	json_object_object_add(j, "channel_width", jnum(w));
	json_object_object_add(j, "simulator", json_object_new_string("contimg-sim"));
	if (c->sky_label)
		json_object_object_add(j, "sky", json_object_new_string(c->sky_label));

	files = json_object_new_array();
	for (int sb = 0; sb < c->nsub; sb++) {
		if (res->files[sb][0])
			json_object_array_add(files, json_object_new_string(res->files[sb]));
		if (c->missing[sb])
			miss[nmiss++] = sb;
		else if (c->corrupt[sb])
			corr[ncorr++] = sb;
	}
	json_object_object_add(j, "files", files);
	json_object_object_add(j, "missing_subbands", json_int_list(miss, nmiss, 0));
	json_object_object_add(j, "corrupt_subbands", json_int_list(corr, ncorr, 0));
	json_object_object_add(j, "corrupt_mode",
			       json_object_new_string(c->corrupt_mode == SIM_CORRUPT_GARBAGE ? "garbage" : "truncate"));

	times = json_object_new_array();
	for (int t = 0; t < o->ntimes; t++)
		json_object_array_add(times, jnum(sim_time_jd(o, t)));
	json_object_object_add(j, "time_jd", times);
	json_object_object_add(j, "antenna_numbers", json_int_list(c->array.active, c->array.nactive, 0));
	/* The correlator input order that ordered the baselines (antenna numbers). */
	json_object_object_add(j, "input_order", json_int_list(c->array.order, c->array.nactive, 0));
	json_object_object_add(j, "reversed_baselines", json_object_new_int(sim_array_reversed(&c->array)));
	json_object_object_add(j, "dead_antennas", json_int_list(c->dead, c->ndead, 0));
	json_object_object_add(j, "dead_mode",
			       json_object_new_string(c->dead_mode == SIM_DEAD_ZERO ? "zero" : "noise"));
	json_object_object_add(j, "nan_frac", jnum(c->nan_frac));

	srcs = json_object_new_array();
	for (int i = 0; c->sky && i < c->sky->n; i++) {
		const sky_source *s = &c->sky->src[i];
		json_object *o1 = json_object_new_object();
		json_object_object_add(o1, "name", json_object_new_string(s->name));
		json_object_object_add(o1, "ra", jnum(s->ra_rad * 180.0 / M_PI));
		json_object_object_add(o1, "dec", jnum(s->dec_rad * 180.0 / M_PI));
		json_object_object_add(o1, "flux", jnum(sky_flux(s, SKY_REF_FREQ_HZ)));
		json_object_object_add(o1, "alpha", jnum(s->alpha));
		json_object_array_add(srcs, o1);
	}
	json_object_object_add(j, "sources", srcs);

	g = json_object_new_object();
	json_object_object_add(g, "seed", json_object_new_int64((int64_t)c->seed));
	json_object_object_add(g, "none", json_object_new_boolean(!c->gains));
	json_object_object_add(g, "file", json_object_new_string(gains_name));
	json_object_object_add(j, "gains", g);
	json_object_object_add(j, "seed", json_object_new_int64((int64_t)c->seed));
	json_object_object_add(j, "noise_seed", json_object_new_int64((int64_t)c->noise_seed));

	rfi = json_object_new_object();
	json_object_object_add(rfi, "enabled", json_object_new_boolean(c->rfi));
	list = json_object_new_array();
	for (int k = 0; k < res->nrfi_chan; k++) {
		int sb = res->rfi_chan[k] / o->nchan, ch = res->rfi_chan[k] % o->nchan;
		json_object *o1 = json_object_new_object();
		sim_subband_freqs(sb, o->nchan, f, NULL);
		json_object_object_add(o1, "subband", json_object_new_int(sb));
		json_object_object_add(o1, "channel", json_object_new_int(ch));
		json_object_object_add(o1, "freq_hz", jnum(f[ch]));
		json_object_array_add(list, o1);
	}
	json_object_object_add(rfi, "channels", list);
	json_object_object_add(rfi, "burst_time_index", json_object_new_int(res->rfi_burst_t));
	json_object_object_add(j, "rfi", rfi);

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (json_object_to_file_ext(tmp, j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED) != 0) {
		rc = err_set(err, errlen, -EIO, "%s: cannot write the truth file", tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		rc = err_set(err, errlen, -errno, "%s: rename: %s", path, strerror(errno));
		unlink(tmp);
	}
out:
	json_object_put(j);
	return rc;
}

/* ---- a whole group --------------------------------------------------------- */

/* One subband file: write under the correlator's temporary name, damage it
 * when asked, rename. */
static int write_subband(const sim_config *c, const vis_set *v, int sb, const char *path,
			 char *err, size_t errlen)
{
	char tmp[1200];
	int rc;

	/* A watcher must ignore this name until the rename. */
	snprintf(tmp, sizeof tmp, "%.*s_incomplete.hdf5", (int)(strlen(path) - 5), path);
	rc = uvh5_write_with(tmp, v, &(uvh5_write_opts){ .layout = UVH5_LAYOUT_DSA110,
							.storage = c->storage }, err, errlen);
	if (!rc && c->corrupt[sb])
		rc = corrupt_file(tmp, c->corrupt_mode, sim_mix(c->noise_seed, (uint64_t)sb), err, errlen);
	if (!rc && rename(tmp, path) != 0)
		rc = err_set(err, errlen, -errno, "%s: rename: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

/* At most this many subbands in flight (each holds a whole subband, 144 MB
 * at full size). */
#define SIM_MAX_PARALLEL_SUBBANDS 4

int sim_write_group(const sim_config *c, sim_result *ret, char *err, size_t errlen)
{
	sim_result *res = ret, part[SIM_MAX_PARALLEL_SUBBANDS];
	sim_config inner;
	vis_set *buf[SIM_MAX_PARALLEL_SUBBANDS] = {NULL};
	double jitter[SIM_NSUB];
	char name[64];
	int rc, todo[SIM_NSUB], ntodo = 0, threads = nthreads_of(c), outer, failed = 0;
	sim_rng r;

	memset(res, 0, sizeof *res);
	memset(part, 0, sizeof part);
	res->rfi_burst_t = -1;
	if (c->nsub < 1 || c->nsub > SIM_NSUB)
		return err_set(err, errlen, -EINVAL, "number of subbands %d is not 1..%d", c->nsub, SIM_NSUB);
	if (c->obs.nchan < 1 || c->obs.nchan > 4096 || c->obs.ntimes < 1 || c->obs.int_time_s <= 0)
		return err_set(err, errlen, -EINVAL, "bad shape: %d channels, %d integrations",
			       c->obs.nchan, c->obs.ntimes);
	rc = mkdir_p(c->out_dir, err, errlen);
	if (rc)
		return rc;
	format_trunc(c->obs.start_jd, res->group, sizeof res->group);
	/* Each correlator node opens its file a little after the group starts. */
	sim_rng_seed(&r, sim_mix(c->noise_seed, STREAM_JITTER));
	for (int sb = 0; sb < SIM_NSUB; sb++)
		jitter[sb] = c->jitter_s * sim_rng_uniform(&r);
	for (int sb = 0; sb < c->nsub; sb++) {
		if (c->missing[sb])
			continue;
		sim_file_name(c->obs.start_jd, jitter[sb], sb, res->files[sb], sizeof res->files[sb]);
		todo[ntodo++] = sb;
	}
	res->sigma_vis = c->sefd_jy > 0 ? sim_sigma_vis(c->sefd_jy,
							SIM_FINE_PER_SUB * SIM_FINE_CHAN_HZ / c->obs.nchan,
							c->obs.int_time_s)
					 : 0.0;
	{
		rfi_plan *plan = malloc(sizeof *plan);
		if (!plan)
			return err_set(err, errlen, -ENOMEM, "out of memory");
		rfi_plan_make(c, plan);
		res->nrfi_chan = plan->nchan;
		memcpy(res->rfi_chan, plan->chan, plan->nchan * sizeof *plan->chan);
		res->rfi_burst_t = plan->burst_t;
		free(plan);
	}

	/* Truth first, so whoever sees the subbands can already find it. */
	if (c->write_truth) {
		snprintf(name, sizeof name, "gains_%s.h5", res->group);
		snprintf(res->gains_path, sizeof res->gains_path, "%s/%s", c->out_dir, name);
		rc = write_gains(c, res->group, res->gains_path, err, errlen);
		if (rc)
			goto out;
		snprintf(res->truth_path, sizeof res->truth_path, "%s/truth_%s.json", c->out_dir,
			 res->group);
		rc = write_truth(c, res, res->truth_path, name, err, errlen);
		if (rc)
			goto out;
	}
	if (ntodo == 0)
		goto out; /* every subband missing */

	/* Whole subbands in parallel, each computed and written by one thread,
	 * like the correlator's nodes: no barriers inside a subband, and one
	 * thread's write overlaps the others' computation.  Threads left over
	 * (more threads than subbands in flight) go to each subband's OpenMP
	 * loops; nested regions are otherwise serial. */
	outer = threads < ntodo ? threads : ntodo;
	if (outer > SIM_MAX_PARALLEL_SUBBANDS)
		outer = SIM_MAX_PARALLEL_SUBBANDS;
	inner = *c;
	inner.threads = threads / outer > 1 ? threads / outer : 1;
	for (int k = 0; k < outer; k++) {
		rc = sim_meta_new(&c->array, &c->obs, todo[0], &buf[k], err, errlen);
		if (rc)
			goto out;
	}
#pragma omp parallel for num_threads(outer) schedule(dynamic, 1) if (outer > 1)
	for (int k = 0; k < ntodo; k++) {
		int me = omp_get_thread_num(), sb = todo[k], frc, stop;
		char path[1100], e[ERR_LEN] = "";
		double t0;

#pragma omp atomic read
		stop = failed;
		if (stop)
			continue;
		sim_meta_set_subband(buf[me], sb);
		frc = sim_fill_subband(&inner, sb, buf[me], &part[me], e, sizeof e);
		t0 = clk_mono_s();
		if (!frc) {
			snprintf(path, sizeof path, "%s/%s", c->out_dir, res->files[sb]);
			frc = write_subband(c, buf[me], sb, path, e, sizeof e);
		}
		part[me].write_s += clk_mono_s() - t0;
		if (frc) {
#pragma omp critical(sim_error)
			if (!failed) {
				failed = 1;
				rc = frc;
				err_set(err, errlen, frc, "%s", e);
			}
		}
	}
	for (int k = 0; k < outer; k++) {
		res->predict_s += part[k].predict_s;
		res->noise_s += part[k].noise_s;
		res->write_s += part[k].write_s;
	}
out:
	for (int k = 0; k < SIM_MAX_PARALLEL_SUBBANDS; k++)
		vis_free(buf[k]);
	return rc;
}
