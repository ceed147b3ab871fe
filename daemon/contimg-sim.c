/*
 * contimg-sim — write simulated DSA-110 subband groups (SPEC §2 layout).
 *
 * The command line is documented by `contimg-sim --help` and docs/simulator.md.
 * Everything but option handling lives in daemon/sim.c.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/astro.h"
#include "core/beam.h"
#include "core/clock.h"
#include "core/err.h"
#include "daemon/sim.h"
#include "core/sky.h"
#include "core/uvh5.h"
#include "core/version.h"

static const char usage[] =
"usage: contimg-sim [options]\n"
"Write simulated DSA-110 subband groups: 16 files YYYY-MM-DDTHH:MM:SS_sbNN.hdf5 per\n"
"group (each written as ..._incomplete.hdf5 and renamed when complete), plus\n"
"truth_<group>.json and gains_<group>.h5.\n"
"\n"
"Output and size\n"
"  --out DIR                output directory, created if needed (default .)\n"
"  --full                   96 of 117 antennas, 16x48 channels, 24 integrations (default)\n"
"  --tiny                   8 antennas, 16x4 channels, 4 integrations\n"
"                           (the options below override a preset in any order)\n"
"  --nants N                antennas in the data, spread evenly over the active stations\n"
"  --nchan-per-subband N    channels per subband (default 48; fewer = wider channels,\n"
"                           same band)\n"
"  --subbands N             write sb00..sb(N-1) (default 16)\n"
"  --ntimes N               integrations of 12.884901888 s (default 24)\n"
"  --no-truth               do not write the truth JSON and the gains file\n"
"  --layout chunked|contiguous\n"
"                           storage of the data arrays: chunked and resizable as the\n"
"                           correlator writes them (default), or contiguous\n"
"Array and pointing\n"
"  --stations CSV           station table (format of DSA110_Station_Coordinates.csv);\n"
"                           default: a built-in T-shaped layout\n"
"  --active LIST            active station numbers, e.g. 1-9,11-20 (default: all but\n"
"                           10,21-23,52-67,117)\n"
"  --order dsa110|ascending|LIST\n"
"                           the correlator's antenna input order, which orders the\n"
"                           baselines: dsa110 (default; 1-51,102,116,52-101,103-115,117,\n"
"                           so some rows have ant_1 > ant_2, as in the real files),\n"
"                           ascending (every row ant_1 <= ant_2, as in the reference\n"
"                           groups) or station numbers (inactive ones are skipped)\n"
"  --start ISO|now          UTC start of the group (default 2026-03-01T05:49:14.410)\n"
"  --dec DEG                apparent declination of the pointing (default 54.9, or the\n"
"                           calibrator's apparent declination with --calibrator)\n"
"  --pointing-offset DEG    the dishes point DEG north of --dec (apparent) while the\n"
"                           files keep phase_center_dec = --dec, as when the correlator's\n"
"                           writer was not restarted after a re-pointing (default 0)\n"
"Sky\n"
"  --sky CSV                catalog: name,ra_deg,dec_deg,flux_mjy[,spectral_index]\n"
"  --random N               N random sources per primary beam (default 20 when no --sky)\n"
"  --calibrator NAME,RA,DEC,FLUX\n"
"                           a bright source (degrees, Jy) transiting at the group\n"
"                           midpoint: the start moves to its transit nearest --start;\n"
"                           RA '-' puts it on the meridian at the midpoint instead,\n"
"                           DEC '-' at the pointing declination; a source of that\n"
"                           name in --sky is used as it is (not added twice)\n"
"  --vary NAME,DEPTH,MJD0,WIDTH_D\n"
"                           scale the flux of source NAME by 1 - DEPTH exp(-x^2/2),\n"
"                           x = (MJD - MJD0) / WIDTH_D at each group's midpoint: an\n"
"                           ESE-like dip (DEPTH < 0: a brightening) for light-curve demos;\n"
"                           repeatable\n"
"Instrument\n"
"  --sefd JY                system equivalent flux density (default 6500; 0 = no noise)\n"
"  --seed N                 seed of gains, noise, RFI, jitter, random sky (default 1)\n"
"  --gains | --no-gains     per-antenna complex gains on (default) or unit gains\n"
"  --rfi                    narrow-band RFI in ~1%% of the channels and a broadband burst\n"
"  --dead-ants LIST         dead stations (antenna numbers are station - 1)\n"
"  --dead-mode noise|zero   dead antennas give noise only (default) or exact zeros\n"
"  --nans FRAC              fraction of samples set to NaN\n"
"  --missing LIST           subbands not written, e.g. 3,7\n"
"  --corrupt LIST           subbands written damaged\n"
"  --corrupt-mode truncate|garbage   cut the file to a third (default) or random bytes\n"
"  --jitter S               file-name timestamps = start + U(0, S) seconds (default 2)\n"
"Streaming and speed\n"
"  --stream N               write N groups (noise seed = seed + group index)\n"
"  --interval S             wall-clock seconds between groups (default 0)\n"
"  --step S                 observation time between group starts (default the group\n"
"                           length, 309.24 s; 86164.0905 revisits the same field)\n"
"  --threads N              threads for prediction and noise (default: all cores)\n"
"  --quiet                  no progress lines\n"
"  --help, --version\n"
"Exit status: 0 success, 2 bad usage or input, 1 a group could not be written.\n";

enum {
	OPT_OUT = 256, OPT_START, OPT_DEC, OPT_NANTS, OPT_STATIONS, OPT_ACTIVE, OPT_NCHAN,
	OPT_SUBBANDS, OPT_NTIMES, OPT_SKY, OPT_RANDOM, OPT_CAL, OPT_SEFD, OPT_SEED, OPT_GAINS,
	OPT_NO_GAINS, OPT_RFI, OPT_DEAD, OPT_DEAD_MODE, OPT_MISSING, OPT_CORRUPT,
	OPT_CORRUPT_MODE, OPT_NANS, OPT_JITTER, OPT_STREAM, OPT_INTERVAL, OPT_STEP, OPT_THREADS,
	OPT_FULL, OPT_TINY, OPT_NO_TRUTH, OPT_QUIET, OPT_HELP, OPT_VARY, OPT_POINTING_OFFSET, OPT_ORDER, OPT_LAYOUT,
	OPT_VERSION,
};

static const struct option longopts[] = {
	{"out", required_argument, 0, OPT_OUT},
	{"start", required_argument, 0, OPT_START},
	{"dec", required_argument, 0, OPT_DEC},
	{"nants", required_argument, 0, OPT_NANTS},
	{"stations", required_argument, 0, OPT_STATIONS},
	{"active", required_argument, 0, OPT_ACTIVE},
	{"nchan-per-subband", required_argument, 0, OPT_NCHAN},
	{"subbands", required_argument, 0, OPT_SUBBANDS},
	{"ntimes", required_argument, 0, OPT_NTIMES},
	{"sky", required_argument, 0, OPT_SKY},
	{"random", required_argument, 0, OPT_RANDOM},
	{"calibrator", required_argument, 0, OPT_CAL},
	{"sefd", required_argument, 0, OPT_SEFD},
	{"seed", required_argument, 0, OPT_SEED},
	{"gains", no_argument, 0, OPT_GAINS},
	{"no-gains", no_argument, 0, OPT_NO_GAINS},
	{"rfi", no_argument, 0, OPT_RFI},
	{"dead-ants", required_argument, 0, OPT_DEAD},
	{"dead-mode", required_argument, 0, OPT_DEAD_MODE},
	{"missing", required_argument, 0, OPT_MISSING},
	{"corrupt", required_argument, 0, OPT_CORRUPT},
	{"corrupt-mode", required_argument, 0, OPT_CORRUPT_MODE},
	{"nans", required_argument, 0, OPT_NANS},
	{"jitter", required_argument, 0, OPT_JITTER},
	{"stream", required_argument, 0, OPT_STREAM},
	{"interval", required_argument, 0, OPT_INTERVAL},
	{"step", required_argument, 0, OPT_STEP},
	{"threads", required_argument, 0, OPT_THREADS},
	{"full", no_argument, 0, OPT_FULL},
	{"tiny", no_argument, 0, OPT_TINY},
	{"no-truth", no_argument, 0, OPT_NO_TRUTH},
	{"quiet", no_argument, 0, OPT_QUIET},
	{"help", no_argument, 0, OPT_HELP},
	{"vary", required_argument, 0, OPT_VARY},
	{"pointing-offset", required_argument, 0, OPT_POINTING_OFFSET},
	{"order", required_argument, 0, OPT_ORDER},
	{"layout", required_argument, 0, OPT_LAYOUT},
	{"version", no_argument, 0, OPT_VERSION},
	{0, 0, 0, 0},
};

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "contimg-sim: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see contimg-sim --help)\n");
	return 2;
}

static int num(const char *s, double *ret)
{
	char *end;
	double x = strtod(s, &end);
	if (end == s || *end || !isfinite(x))
		return -1;
	*ret = x;
	return 0;
}

static int inum(const char *s, long lo, long hi, int *ret)
{
	char *end;
	long x = strtol(s, &end, 10);
	if (end == s || *end || x < lo || x > hi)
		return -1;
	*ret = (int)x;
	return 0;
}

typedef struct cal_opt {
	int set;
	char name[64];
	int ra_transit, dec_pointing; /* '-' given */
	double ra_deg, dec_deg, flux_jy;
} cal_opt;

/* Split s into exactly four comma-separated fields (pointers into buf). */
static int split4(const char *s, char *buf, size_t len, char *f[4])
{
	char *save = NULL, *p;
	int n = 0;

	snprintf(buf, len, "%s", s);
	for (p = strtok_r(buf, ",", &save); p && n < 4; p = strtok_r(NULL, ",", &save))
		f[n++] = p;
	return n == 4 && !strtok_r(NULL, ",", &save) ? 0 : -1;
}

static int parse_cal(const char *s, cal_opt *c)
{
	char buf[256], *f[4];

	if (split4(s, buf, sizeof buf, f))
		return -1;
	snprintf(c->name, sizeof c->name, "%s", f[0]);
	c->ra_transit = strcmp(f[1], "-") == 0;
	c->dec_pointing = strcmp(f[2], "-") == 0;
	if ((!c->ra_transit && num(f[1], &c->ra_deg)) || (!c->dec_pointing && num(f[2], &c->dec_deg)) ||
	    num(f[3], &c->flux_jy) || c->flux_jy < 0)
		return -1;
	if (!c->dec_pointing && fabs(c->dec_deg) > 90)
		return -1;
	c->set = 1;
	return 0;
}

/* A flux dip (or spike) of one source in time. */
typedef struct vary_opt {
	char name[64];
	double depth, mjd0, width_d;
} vary_opt;

#define MAX_VARY 16

static int parse_vary(const char *s, vary_opt *v)
{
	char buf[256], *f[4];

	if (split4(s, buf, sizeof buf, f))
		return -1;
	snprintf(v->name, sizeof v->name, "%s", f[0]);
	if (num(f[1], &v->depth) || v->depth > 1 || num(f[2], &v->mjd0) || num(f[3], &v->width_d) ||
	    v->width_d <= 0)
		return -1;
	return 0;
}

/* Subset of `all` within max_sep of (ra0, dec0), into out (initialised). */
static int sky_near(const sky_model *all, double ra0, double dec0, double max_sep, sky_model *out)
{
	for (int i = 0; i < all->n; i++)
		if (astro_separation(all->src[i].ra_rad, all->src[i].dec_rad, ra0, dec0) <= max_sep)
			if (sky_add(out, &all->src[i]) != 0)
				return -ENOMEM;
	return 0;
}

int main(int argc, char **argv)
{
	sim_config c;
	sky_model sky, group_sky;
	cal_opt cal = {0};
	char err[ERR_LEN] = "";
	const char *stations_csv = NULL, *sky_csv = NULL, *start_iso = NULL;
	int active[SIM_NSTATIONS], nactive = 0, nants = 0, nrandom = -1, dec_set = 0;
	int order[SIM_NSTATIONS], norder = -1; /* --order: -1 dsa110, 0 ascending, > 0 a list */
	int nstream = 1, quiet = 0, opt, rc, status = 0, list[4096], n;
	int preset = 0, given[4] = {0, 0, 0, 0}; /* --nants, --nchan-per-subband, --subbands, --ntimes */
	vary_opt vary[MAX_VARY];
	int nvary = 0;
	double dec_deg = 54.9, interval_s = 0, step_s = -1, pointing_offset_deg = 0;
	double group_days, half_days, radius, start_jd;
	double *mid_ra = NULL, mid_dec = 0;

	sim_config_init(&c);
	sky_init(&sky);
	sky_init(&group_sky);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_OUT: c.out_dir = optarg; break;
		case OPT_START: start_iso = optarg; break;
		case OPT_DEC:
			if (num(optarg, &dec_deg) || fabs(dec_deg) > 90)
				return bad("bad --dec '%s' (degrees, -90..90)", optarg);
			dec_set = 1;
			break;
		case OPT_POINTING_OFFSET:
			if (num(optarg, &pointing_offset_deg) || fabs(pointing_offset_deg) > 10)
				return bad("bad --pointing-offset '%s' (degrees, -10..10)", optarg);
			break;
		case OPT_NANTS:
			if (inum(optarg, 2, SIM_NSTATIONS, &nants))
				return bad("bad --nants '%s' (2..117)", optarg);
			given[0] = 1;
			break;
		case OPT_STATIONS: stations_csv = optarg; break;
		case OPT_ACTIVE:
			nactive = sim_parse_list(optarg, active, SIM_NSTATIONS);
			if (nactive < 2)
				return bad("bad --active '%s' (station numbers, e.g. 1-9,11-20)", optarg);
			break;
		case OPT_NCHAN:
			if (inum(optarg, 1, 4096, &c.obs.nchan))
				return bad("bad --nchan-per-subband '%s' (1..4096)", optarg);
			given[1] = 1;
			break;
		case OPT_SUBBANDS:
			if (inum(optarg, 1, SIM_NSUB, &c.nsub))
				return bad("bad --subbands '%s' (1..16)", optarg);
			given[2] = 1;
			break;
		case OPT_NTIMES:
			if (inum(optarg, 1, 100000, &c.obs.ntimes))
				return bad("bad --ntimes '%s'", optarg);
			given[3] = 1;
			break;
		case OPT_SKY: sky_csv = optarg; break;
		case OPT_RANDOM:
			if (inum(optarg, 0, 1000000, &nrandom))
				return bad("bad --random '%s'", optarg);
			break;
		case OPT_CAL:
			if (parse_cal(optarg, &cal))
				return bad("bad --calibrator '%s' (NAME,RA_DEG,DEC_DEG,FLUX_JY)", optarg);
			break;
		case OPT_SEFD:
			if (num(optarg, &c.sefd_jy) || c.sefd_jy < 0)
				return bad("bad --sefd '%s'", optarg);
			break;
		case OPT_SEED: {
			char *end;
			errno = 0;
			c.seed = strtoull(optarg, &end, 0);
			if (end == optarg || *end || errno)
				return bad("bad --seed '%s'", optarg);
			break;
		}
		case OPT_GAINS: c.gains = 1; break;
		case OPT_NO_GAINS: c.gains = 0; break;
		case OPT_RFI: c.rfi = 1; break;
		case OPT_DEAD:
			n = sim_parse_list(optarg, list, SIM_NSTATIONS);
			if (n < 0)
				return bad("bad --dead-ants '%s' (station numbers)", optarg);
			for (int i = 0; i < n; i++) {
				if (list[i] < 1 || list[i] > SIM_NSTATIONS)
					return bad("bad --dead-ants '%s' (station numbers 1..117)", optarg);
				c.dead[i] = list[i] - 1;
			}
			c.ndead = n;
			break;
		case OPT_DEAD_MODE:
			if (strcmp(optarg, "noise") == 0)
				c.dead_mode = SIM_DEAD_NOISE;
			else if (strcmp(optarg, "zero") == 0)
				c.dead_mode = SIM_DEAD_ZERO;
			else
				return bad("bad --dead-mode '%s' (noise or zero)", optarg);
			break;
		case OPT_MISSING:
		case OPT_CORRUPT:
			n = sim_parse_list(optarg, list, 4096);
			if (n < 0)
				return bad("bad subband list '%s'", optarg);
			for (int i = 0; i < n; i++) {
				if (list[i] < 0 || list[i] >= SIM_NSUB)
					return bad("bad subband list '%s' (0..15)", optarg);
				if (opt == OPT_MISSING)
					c.missing[list[i]] = 1;
				else
					c.corrupt[list[i]] = 1;
			}
			break;
		case OPT_CORRUPT_MODE:
			if (strcmp(optarg, "truncate") == 0)
				c.corrupt_mode = SIM_CORRUPT_TRUNCATE;
			else if (strcmp(optarg, "garbage") == 0)
				c.corrupt_mode = SIM_CORRUPT_GARBAGE;
			else
				return bad("bad --corrupt-mode '%s' (truncate or garbage)", optarg);
			break;
		case OPT_NANS:
			if (num(optarg, &c.nan_frac) || c.nan_frac < 0 || c.nan_frac > 1)
				return bad("bad --nans '%s' (0..1)", optarg);
			break;
		case OPT_JITTER:
			if (num(optarg, &c.jitter_s) || c.jitter_s < 0 || c.jitter_s > 3600)
				return bad("bad --jitter '%s' (seconds)", optarg);
			break;
		case OPT_STREAM:
			if (inum(optarg, 1, 10000000, &nstream))
				return bad("bad --stream '%s'", optarg);
			break;
		case OPT_INTERVAL:
			if (num(optarg, &interval_s) || interval_s < 0)
				return bad("bad --interval '%s' (seconds)", optarg);
			break;
		case OPT_STEP:
			if (num(optarg, &step_s) || step_s <= 0)
				return bad("bad --step '%s' (seconds)", optarg);
			break;
		case OPT_THREADS:
			if (inum(optarg, 1, 1024, &c.threads))
				return bad("bad --threads '%s'", optarg);
			break;
		case OPT_FULL: preset = OPT_FULL; break;
		case OPT_TINY: preset = OPT_TINY; break;
		case OPT_NO_TRUTH: c.write_truth = 0; break;
		case OPT_LAYOUT:
			if (strcmp(optarg, "chunked") == 0)
				c.storage = UVH5_STORAGE_CHUNKED;
			else if (strcmp(optarg, "contiguous") == 0)
				c.storage = UVH5_STORAGE_CONTIGUOUS;
			else
				return bad("bad --layout '%s' (chunked or contiguous)", optarg);
			break;
		case OPT_QUIET: quiet = 1; break;
		case OPT_HELP: fputs(usage, stdout); return 0;
		case OPT_VERSION: printf("contimg-sim %s\n", contimg_version()); return 0;
		case OPT_ORDER:
			if (strcmp(optarg, "dsa110") == 0) {
				norder = -1;
			} else if (strcmp(optarg, "ascending") == 0) {
				norder = 0;
			} else {
				norder = sim_parse_list(optarg, order, SIM_NSTATIONS);
				if (norder < 1)
					return bad("bad --order '%s' (dsa110, ascending or station numbers)",
						   optarg);
			}
			break;
		case OPT_VARY:
			if (nvary >= MAX_VARY || parse_vary(optarg, &vary[nvary]))
				return bad("bad --vary '%s' (NAME,DEPTH,MJD0,WIDTH_DAYS; at most 16)", optarg);
			nvary++;
			break;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	/* Size presets fill in what the explicit options did not set. */
	if (preset == OPT_TINY) {
		nants = given[0] ? nants : 8;
		c.obs.nchan = given[1] ? c.obs.nchan : 4;
		c.nsub = given[2] ? c.nsub : SIM_NSUB;
		c.obs.ntimes = given[3] ? c.obs.ntimes : 4;
	} else if (preset == OPT_FULL) {
		nants = given[0] ? nants : 0;
		c.obs.nchan = given[1] ? c.obs.nchan : SIM_FINE_PER_SUB;
		c.nsub = given[2] ? c.nsub : SIM_NSUB;
		c.obs.ntimes = given[3] ? c.obs.ntimes : 24;
	}

	/* The array. */
	if (stations_csv) {
		rc = sim_array_load_csv(&c.array, stations_csv, err, sizeof err);
		if (rc)
			return bad("%s", err);
	}
	rc = sim_array_select(&c.array, nactive ? active : NULL, nactive, nants, err, sizeof err);
	if (rc)
		return bad("%s", err);
	if (norder >= 0) {
		rc = sim_array_set_order(&c.array, norder ? order : NULL, norder, err, sizeof err);
		if (rc)
			return bad("bad --order: %s", err);
	}

	/* Times and pointing. */
	if (start_iso && strcmp(start_iso, "now") == 0) {
		time_t now = time(NULL);
		struct tm tm;
		char iso[64];
		gmtime_r(&now, &tm);
		strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
		if (astro_iso_to_jd(iso, &c.obs.start_jd))
			return bad("cannot convert the current time '%s'", iso);
	} else if (start_iso && astro_iso_to_jd(start_iso, &c.obs.start_jd)) {
		return bad("bad --start '%s' (YYYY-MM-DDTHH:MM:SS[.fff], UTC)", start_iso);
	}
	group_days = c.obs.ntimes * c.obs.int_time_s / ASTRO_DAY_S;
	half_days = 0.5 * group_days;
	c.obs.dec_rad = dec_deg * M_PI / 180.0;
	if (cal.set && !cal.ra_transit) {
		/* Move the group so the calibrator transits at its midpoint. */
		double cal_dec = cal.dec_pointing ? c.obs.dec_rad : cal.dec_deg * M_PI / 180.0;
		double mid = sim_transit_jd(cal.ra_deg * M_PI / 180.0, cal_dec, c.array.lon_rad,
					    c.obs.start_jd + half_days);
		double h, dec_app;
		c.obs.start_jd = mid - half_days;
		if (!dec_set && !cal.dec_pointing &&
		    astro_hour_angle(mid, c.array.lon_rad, 0.0, cal.ra_deg * M_PI / 180.0, cal_dec, &h,
				     &dec_app) == 0)
			c.obs.dec_rad = dec_app;
	}
	c.obs.pointing_offset_rad = pointing_offset_deg * M_PI / 180.0;
	if (fabs(c.obs.dec_rad + c.obs.pointing_offset_rad) > M_PI / 2)
		return bad("%s", "--dec plus --pointing-offset is beyond a pole");
	if (step_s <= 0)
		step_s = group_days * ASTRO_DAY_S;
	start_jd = c.obs.start_jd;

	/* The sky: catalog, random sources along the pointing track, calibrator. */
	if (sky_csv) {
		rc = sky_load_csv(&sky, sky_csv, err, sizeof err);
		if (rc)
			return bad("%s", err);
	}
	mid_ra = calloc(nstream, sizeof *mid_ra);
	if (!mid_ra)
		return bad("%s", "out of memory");
	for (int k = 0; k < nstream; k++) {
		double ra, dec;
		sim_transit_radec(start_jd + k * step_s / ASTRO_DAY_S + half_days, c.array.lon_rad,
				  c.obs.dec_rad, &ra, &dec);
		/* Unwrap so the track is continuous. */
		mid_ra[k] = k ? mid_ra[k - 1] + astro_wrap_pi(ra - mid_ra[k - 1]) : ra;
		if (k == 0)
			mid_dec = dec;
	}
	radius = beam_radius(0.2, SKY_REF_FREQ_HZ, SIM_DISH_M);
	if (nrandom < 0)
		nrandom = sky_csv ? 0 : 20;
	if (nrandom > 0) {
		double lo = mid_ra[0], hi = mid_ra[0];
		for (int k = 1; k < nstream; k++) {
			lo = fmin(lo, mid_ra[k]);
			hi = fmax(hi, mid_ra[k]);
		}
		if (hi - lo > 2 * M_PI)
			hi = lo + 2 * M_PI;
		rc = sim_random_sky(&sky, c.seed, nrandom, lo, hi, mid_dec, radius, 0.005, 2.0, err,
				    sizeof err);
		if (rc)
			return bad("%s", err);
	}
	if (cal.set) {
		double ra, dec;
		sim_transit_radec(start_jd + half_days, c.array.lon_rad,
				  cal.dec_pointing ? c.obs.dec_rad : cal.dec_deg * M_PI / 180.0, &ra, &dec);
		if (!cal.ra_transit) {
			ra = cal.ra_deg * M_PI / 180.0;
			dec = cal.dec_pointing ? mid_dec : cal.dec_deg * M_PI / 180.0;
		}
		int in_catalog = 0;
		/* A calibrator the catalog already holds is not added twice (that
		 * would double its flux); the option then only sets the time. */
		for (int i = 0; i < sky.n; i++)
			in_catalog |= strcmp(sky.src[i].name, cal.name) == 0;
		if (!in_catalog &&
		    sky_add_deg(&sky, cal.name, ra * 180.0 / M_PI, dec * 180.0 / M_PI, cal.flux_jy, 0.0))
			return bad("%s", "out of memory");
	}
	c.sky_label = sky_csv ? sky_csv : nrandom > 0 ? "random" : cal.set ? "calibrator" : "none";

	for (int k = 0; k < nstream; k++) {
		sim_result res;
		double t0 = clk_mono_s(), ra0, dec0;

		c.obs.start_jd = start_jd + k * step_s / ASTRO_DAY_S;
		c.noise_seed = c.seed + (uint64_t)k;
		/* Only what can matter: sources within 10° of the pointing (the Airy
		 * sidelobes there are below 2e-3). */
		sim_transit_radec(c.obs.start_jd + half_days, c.array.lon_rad, c.obs.dec_rad, &ra0, &dec0);
		group_sky.n = 0;
		if (sky_near(&sky, ra0, dec0, 10.0 * M_PI / 180.0, &group_sky))
			return bad("%s", "out of memory");
		for (int v = 0; v < nvary; v++) {
			double x = (astro_jd_to_mjd(c.obs.start_jd + half_days) - vary[v].mjd0) / vary[v].width_d;
			for (int i = 0; i < group_sky.n; i++)
				if (strcmp(group_sky.src[i].name, vary[v].name) == 0)
					group_sky.src[i].flux_jy *= 1.0 - vary[v].depth * exp(-0.5 * x * x);
		}
		c.sky = &group_sky;
		rc = sim_write_group(&c, &res, err, sizeof err);
		if (rc) {
			fprintf(stderr, "contimg-sim: %s\n", err);
			status = 1;
			break;
		}
		if (!quiet) {
			int nf = 0;
			for (int sb = 0; sb < c.nsub; sb++)
				nf += res.files[sb][0] != 0;
			printf("group %s: %d files in %s, %d antennas, %d sources, sigma %.4g Jy; "
			       "predict %.2f s, noise %.2f s, write %.2f s, total %.2f s\n",
			       res.group, nf, c.out_dir, c.array.nactive, group_sky.n, res.sigma_vis,
			       res.predict_s, res.noise_s, res.write_s, clk_mono_s() - t0);
			fflush(stdout);
		}
		if (k + 1 < nstream && interval_s > 0) {
			double left = interval_s - (clk_mono_s() - t0);
			if (left > 0) {
				struct timespec ts = {(time_t)left, (long)((left - floor(left)) * 1e9)};
				while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
					;
			}
		}
	}
	free(mid_ra);
	sky_release(&sky);
	sky_release(&group_sky);
	return status;
}
