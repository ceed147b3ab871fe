/*
 * daemon/sim.h — simulate DSA-110 subband groups (the engine behind contimg-sim).
 *
 * A group is ntimes integrations of the drift-scanning array written as up to
 * 16 UVH5 subband files in the correlator's layout (SPEC §2).  Everything that
 * is not the sky is built here: the array (built-in T or the real station
 * table), baselines in the correlator's order, times, uvw, the frequency grid,
 * per-antenna complex gains, radiometer noise, RFI, dead antennas, NaNs,
 * missing and corrupt files, file-name jitter and the atomic rename.  The sky
 * is predicted by core/predict (the same code calibration uses), so the
 * reference test of core/predict also validates the simulator.
 *
 * Conventions follow core/vis.h and ../shared/data/README.md: antenna number =
 * station − 1, names "1".."117"; baselines in the correlator's order, built
 * from its antenna input order o[0..n) as dsa110-antpos get_baselines does:
 * for j = 0..n−1, for i = 0..j, the row (ant_1, ant_2) = (o[i], o[j]) — so
 * each run ends with an autocorrelation, and ant_1 > ant_2 wherever the input
 * order is not ascending (sim_array.order, sim_array_set_order); uvw =
 * R(H_G = −longitude, δ0) · (pos[ant_2] − pos[ant_1]) of the row as written,
 * the same every integration; V_obs(a1,a2) = g[a1] · V_true(a1,a2) ·
 * conj(g[a2]) with V_true(a1,a2) the visibility of that orientation.
 *
 * Determinism: every random quantity comes from xoshiro256** streams derived
 * from the user's seed and the quantity's coordinates (antenna, subband, row),
 * never from the thread schedule, so the same seed gives bit-identical files
 * for any thread count.
 *
 * A tool for tests, demos and benchmarks, not part of the pipeline, so it
 * lives on the programs' floor beside contimg-sim (daemon/contimg-sim.c); the
 * tests link it with the other daemon objects.  Written like library code: no
 * logging, no exit; errors per core/err.h.
 */
#ifndef CONTIMG_DAEMON_SIM_H
#define CONTIMG_DAEMON_SIM_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sky.h"
#include "core/vis.h"

/* DSA-110 constants (checked against ../shared/data/reference). */
#define SIM_NSTATIONS 117
#define SIM_NSUB 16                      /* subbands per group, sb00 = highest */
#define SIM_FINE_PER_SUB 48              /* correlator channels per subband */
#define SIM_FINE_CHAN_HZ 244140.625      /* correlator channel width */
#define SIM_TOP_CHAN_HZ 1498643200.0     /* centre of the highest channel (sb00, ch 0) */
#define SIM_INT_TIME_S 12.884901888      /* integration time: 96 × 0.134217728 s, the spacing
					* of the integration centres (docs/simulator.md) */
/* What the correlator's writer puts in Header/integration_time: the same value
 * rounded to float32 (dsa110-meridian-fs multiplies a float32 array of ones by
 * it), 12.884902000427246 s. */
#define SIM_INT_TIME_FILE_S ((double)(float)SIM_INT_TIME_S)
#define SIM_DISH_M 4.65
#define SIM_NSAMPLES 24.0f               /* nsamples the correlator writes */
#define SIM_SITE_LAT_DEG 37.2339
#define SIM_SITE_LON_DEG (-118.2825)
#define SIM_SITE_ALT_M 1222.0

/* ---- random numbers: xoshiro256** (Blackman & Vigna 2018) seeded by splitmix64 ---- */
typedef struct sim_rng {
	uint64_t s[4];
} sim_rng;

/* Seed a stream; equal seeds give equal streams. */
void sim_rng_seed(sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(sim_rng *r);
/* Uniform on [0, 1) with 53 random bits. */
double sim_rng_uniform(sim_rng *r);
/* Standard normal (128-layer ziggurat). */
double sim_rng_gauss(sim_rng *r);
/* Mix a seed with a coordinate (splitmix64 finaliser): derives independent
 * stream seeds such as sim_mix(sim_mix(seed, SUBBAND), row). */
uint64_t sim_mix(uint64_t seed, uint64_t x);

/* ---- the array ---- */
typedef struct sim_array {
	vis_ant ants[SIM_NSTATIONS];  /* index = antenna number = station − 1 */
	double lat_rad, lon_rad, alt_m; /* site (the reference point of pos_m) */
	int nactive;
	int active[SIM_NSTATIONS];    /* antenna numbers in the data, ascending */
	int order[SIM_NSTATIONS];     /* the same antennas in the correlator's input
				       * order, which orders the baselines (above) */
} sim_array;

/* The correlator input order contimg-sim uses by default, as station numbers
 * (all 117): 1–51, 102, 116, 52–101, 103–115, 117.  The real 96-antenna order
 * is not in DSA's public repositories; this one is consistent with what is:
 * the commissioning orders in dsa110-cnf and dsa110-pyutils wire DSA-102 and
 * DSA-116 in right after a first block of core antennas, and the rows with
 * ant_1 > ant_2 in 2026 files involve antennas 101 and 115 only
 * (dsa110-continuum).  With it every reversed row has ant_1 = 101 or 115:
 * 81 of the 4656 baselines of the 96 default antennas (docs/simulator.md). */
extern const int sim_dsa110_input_order[SIM_NSTATIONS];

/* The built-in T-shaped layout: 51 stations on an east–west arm, 51 on a
 * north–south arm, 15 outriggers out to ~1.5 km, at the DSA-110 site.  Active
 * antennas: the default DSA-110 set (all but stations 10, 21–23, 52–67, 117). */
void sim_array_builtin(sim_array *a);

/* Load the station table (format of DSA110_Station_Coordinates.csv: lines
 * ",DSA-NNN,lat_deg,lon_deg,elev_m"; other lines ignored).  Positions are the
 * WGS84 ECEF offsets from the DSA-110 site; a station with no elevation gets
 * the median elevation of the others.  All 117 stations must be present.
 * Active antennas: the default set.  Errors: -ENOENT, -EINVAL (bad line). */
int sim_array_load_csv(sim_array *a, const char *path, char *err, size_t errlen);

/* Choose the antennas in the data.  stations: list of active station numbers
 * (1..117), or NULL/0 for the default DSA-110 set; then, when 0 < nants <
 * count, keep nants of them spread evenly over the list (index round(i (n−1) /
 * (nants−1)), which picks the reference groups' 24 of the 96).  The input
 * order becomes sim_dsa110_input_order's (sim_array_set_order to change it).
 * -EINVAL on a bad station number or nants. */
int sim_array_select(sim_array *a, const int *stations, int nstations, int nants,
		     char *err, size_t errlen);

/* Set the correlator input order of the active antennas: the order in which
 * they appear in stations (station numbers 1..117, each at most once;
 * stations that are not active are skipped, so one list serves any subset),
 * or ascending antenna numbers when stations is NULL (every row then has
 * ant_1 <= ant_2, the layout of the reference groups).  -EINVAL, a unchanged,
 * when a station number is bad or repeated or an active station is missing. */
int sim_array_set_order(sim_array *a, const int *stations, int nstations, char *err,
			size_t errlen);

/* Rows with ant_1 > ant_2 among the array's baselines (autos included in the
 * count of all, nactive (nactive + 1) / 2). */
int sim_array_reversed(const sim_array *a);

/* Parse "1,5,9-12" into out[] (at most max entries); returns the count or
 * -EINVAL.  Used for station, subband and antenna lists. */
int sim_parse_list(const char *s, int *out, int max);

/* ---- observation geometry ---- */
typedef struct sim_obs {
	double start_jd;   /* UTC JD of the leading edge of integration 0 */
	double int_time_s; /* SIM_INT_TIME_S: spacing of the centres, noise σ; files
			    * hold it rounded to float32 (vis_set.int_time_s) */
	int ntimes;
	int nchan;         /* channels per subband (1..48 divides the subband evenly) */
	double dec_rad;    /* apparent declination of the pointing */
	double pointing_offset_rad; /* where the dishes really point, minus dec_rad: the beam
				     * is centred at dec_rad + this while the files keep
				     * phase_center_dec = dec_rad (a writer not restarted
				     * after a re-pointing); default 0 */
} sim_obs;

/* Centre of integration t: start + (t + 1/2) int_time. */
double sim_time_jd(const sim_obs *o, int t);
/* Mean of the integration centres (the group midpoint). */
double sim_mid_jd(const sim_obs *o);

/* Channel centres of subband sb (0..15) with nchan channels, descending as in
 * the files.  The band is fixed: subband sb covers the 48 correlator channels
 * 48 sb .. 48 sb + 47 counted down from SIM_TOP_CHAN_HZ; nchan < 48 channels
 * split that range evenly (so each centre is the mean of the correlator
 * channels it covers when nchan divides 48 — the reference groups' rule). */
void sim_subband_freqs(int sb, int nchan, double *freq_hz, double *chan_width_hz);

/* uvw of the baseline pos2 − pos1 (ECEF offsets) for meridian phasing at
 * apparent declination dec_rad at a site of east longitude lon_rad. */
void sim_uvw(const double pos1[3], const double pos2[3], double lon_rad, double dec_rad,
	     double uvw_m[3]);

/* Allocate a vis_set for subband sb and fill every piece of metadata: all
 * 117 antennas, the baselines of the active antennas (autos included) in the
 * correlator order (a->order, above), times, int_time_s = the float32 value
 * the correlator writes, uvw (rounded to float32 as stored, so the model
 * matches what a reader sees), frequencies, XX/YY, DRIFT phasing with
 * phase_dec = o->dec_rad and pointing_dec = o->dec_rad + o->pointing_offset_rad
 * (the beam predict_vis applies), telescope OVRO_MMA, instrument DSA.
 * vis = 0, flags = 0 (the writer never sets a flag), weight = SIM_NSAMPLES.
 * Caller frees with vis_free. */
int sim_meta_new(const sim_array *a, const sim_obs *o, int sb, vis_set **ret,
		 char *err, size_t errlen);
/* Refill the metadata of an existing set of the right shape for subband sb
 * (only the frequencies change between subbands; data are zeroed). */
void sim_meta_set_subband(vis_set *v, int sb);

/* ---- instrumental gains ---- */
/* Per-antenna, per-pol gain model, drawn from the seed and the antenna number
 * only (the same antenna gets the same gains in every group and array):
 *   g(t, ν) = a (1 + r sin(2π ν / P + ψ)) · exp(i [φ0 + 2π τ (ν − ν0)
 *             + d sin(2π t / T + χ)])
 * a ~ 1 ± 0.1 amplitude, r ≤ 5 % bandpass ripple of period P 20–60 MHz, τ a
 * delay of ±3 ns about ν0 = 1.4 GHz, φ0 uniform, and a slow phase drift of
 * amplitude d ≤ 30° and period T 2–8 h in absolute time. */
typedef struct sim_gain_model {
	double amp[2], ripple[2], ripple_period_hz[2], ripple_phase[2];
	double delay_s[2], phase0[2];
	double drift_rad[2], drift_period_s[2], drift_phase[2];
} sim_gain_model;

void sim_gain_model_draw(uint64_t seed, int ant_number, sim_gain_model *ret);
double complex sim_gain_eval(const sim_gain_model *g, int pol, double t_jd, double freq_hz);

/* ---- a whole group ---- */
enum sim_dead_mode { SIM_DEAD_NOISE = 0, SIM_DEAD_ZERO = 1 };
enum sim_corrupt_mode { SIM_CORRUPT_TRUNCATE = 0, SIM_CORRUPT_GARBAGE = 1 };

typedef struct sim_config {
	const char *out_dir;
	sim_array array;       /* with the active antennas chosen */
	sim_obs obs;
	int nsub;              /* write sb00 .. sb(nsub−1); 1..16 */
	const sky_model *sky;  /* NULL or empty: noise/instrument only */
	double sefd_jy;        /* 0: no noise and no auto power offset */
	uint64_t seed;         /* the gains (fixed per antenna across groups) */
	uint64_t noise_seed;   /* noise, RFI, NaNs, jitter, corruption (contimg-sim:
				* seed + group index in a stream) */
	int gains;             /* 1: apply the gain model; 0: unit gains */
	int rfi;               /* 1: add narrow-band channels and a broadband burst */
	int dead[SIM_NSTATIONS]; int ndead;   /* antenna numbers */
	int dead_mode;         /* enum sim_dead_mode */
	int missing[SIM_NSUB]; /* 1: do not write this subband */
	int corrupt[SIM_NSUB]; /* 1: write this subband damaged */
	int corrupt_mode;      /* enum sim_corrupt_mode */
	double nan_frac;       /* fraction of samples set to NaN */
	/* dead antennas get no signal (sky, SEFD, RFI); SIM_DEAD_NOISE keeps the noise */
	double jitter_s;       /* file-name timestamps: start + U(0, jitter_s) */
	int threads;           /* OpenMP threads for prediction and noise; 0 = default
				* (subbands under 1e5 samples per pol use one) */
	int write_truth;       /* write truth_<group>.json and gains_<group>.h5 */
	int storage;           /* enum uvh5_storage of the subband files: 0 (default)
				* chunked as the correlator writes them */
	const char *sky_label; /* truth "sky" description (e.g. the CSV path), may be NULL */
} sim_config;

/* Defaults: full DSA-110 size at the site, built-in array, SEFD 6500 Jy,
 * seed 1, gains on, 16 subbands, 48 channels, 24 integrations, dec 54.9°,
 * start 2026-03-01T05:49:14.410, jitter 2 s, write_truth 1. */
void sim_config_init(sim_config *c);

/* Radiometer noise per real and imaginary part: SEFD / sqrt(2 Δν τ). */
double sim_sigma_vis(double sefd_jy, double chan_width_hz, double int_time_s);

typedef struct sim_result {
	char group[32];                  /* "YYYY-MM-DDTHH:MM:SS" of the start */
	char files[SIM_NSUB][64];        /* base names written ("" when missing) */
	char truth_path[1024];
	char gains_path[1024];
	double sigma_vis;
	double predict_s, noise_s, write_s; /* seconds per phase, summed over the
					     * subbands computed in parallel */
	int rfi_chan[SIM_NSUB * SIM_FINE_PER_SUB]; int nrfi_chan; /* global channel numbers (sb·nchan + c) */
	int rfi_burst_t;                 /* integration of the broadband burst, −1 none */
} sim_result;

/* Simulate one group into c->out_dir (created if needed): the subband files
 * (each written as NAME_incomplete.hdf5 and renamed when complete), and when
 * write_truth, truth_<group>.json and gains_<group>.h5 (written first, also
 * via a temporary name).  Up to min(threads, 4) subbands are computed and
 * written at once, so files appear in no particular subband order (as from
 * the correlator's nodes).  Returns 0 or a negative errno with the reason. */
int sim_write_group(const sim_config *c, sim_result *ret, char *err, size_t errlen);

/* Fill the data of one subband (v from sim_meta_new/sim_meta_set_subband with
 * subband sb and c's array and shape): V = g[a1] (M + SEFD·[auto]) conj(g[a2])
 * + noise with M from predict_vis (DRIFT), then dead antennas, RFI, NaNs.
 * The random numbers belong to the unordered antenna pair, not to the row:
 * the same seed in any baseline order gives the same visibilities, those of
 * a row with ant_1 > ant_2 being the complex conjugates (to float rounding)
 * of the pair's ascending twin, noise and RFI included; the ascending order
 * reproduces the simulator's output before baseline orders existed, bit for
 * bit.  v may hold the active antennas' baselines in any order and
 * orientation, each pair once.
 * res (may be NULL) accumulates predict_s/noise_s and gets the RFI plan.
 * Exposed for tests and benchmarks (no file I/O).  -EINVAL on a shape
 * mismatch or a baseline set that is not every pair once, -ENOMEM, or
 * predict_vis's error. */
int sim_fill_subband(const sim_config *c, int sb, vis_set *v, sim_result *res,
		     char *err, size_t errlen);

/* File name of subband sb for a group starting at start_jd with the given
 * jitter seconds added: "YYYY-MM-DDTHH:MM:SS_sbNN.hdf5" (seconds truncated). */
void sim_file_name(double start_jd, double jitter_s, int sb, char *buf, size_t len);

/* The ICRS direction on the meridian at mid_jd: the CIRS (ERA + longitude,
 * dec_app_rad) direction converted back with ERFA (radians).  A source put
 * there transits at mid_jd; also the pointing centre of a group in ICRS. */
void sim_transit_radec(double mid_jd, double lon_rad, double dec_app_rad,
		       double *ret_ra_rad, double *ret_dec_rad);

/* Time of the transit (H = 0 at the site) of an ICRS direction nearest to
 * near_jd (within half a sidereal day). */
double sim_transit_jd(double ra_rad, double dec_rad, double lon_rad, double near_jd);

/* Append random sources to m: n_per_beam sources per disc of `radius` around
 * the pointing track (dec0, RA from ra_lo to ra_hi, ICRS radians; ra_lo ==
 * ra_hi for one group: exactly n_per_beam sources), uniform on the sphere,
 * fluxes (Jy at 1.4 GHz) from Euclidean counts N(>S) ∝ S^−1.5 between smin_jy
 * and smax_jy, spectral indices N(−0.7, 0.2), names "S0000"....  The same seed
 * gives the same sources.  -EINVAL, -ENOMEM. */
int sim_random_sky(sky_model *m, uint64_t seed, int n_per_beam, double ra_lo, double ra_hi,
		   double dec0, double radius, double smin_jy, double smax_jy,
		   char *err, size_t errlen);

#endif
