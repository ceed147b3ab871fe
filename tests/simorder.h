/*
 * tests/simorder.h — one simulated group in two baseline orders, loaded like
 * the pipeline loads a group (subband files → convert_load_group).
 *
 * The same sky, gains, noise, RFI and dead antennas are written twice by
 * daemon/sim: once with every row ant_1 <= ant_2 (ascending, the layout of the
 * reference groups) and once in a correlator input order, where some rows
 * have ant_1 > ant_2 (docs/simulator.md, "Baselines").  The simulator gives a
 * pair the same random numbers in any order, so the two groups hold the same
 * measurements and everything computed from them must agree to rounding.
 *
 * Array: the real stations (../shared/data/dsa110/DSA110_Station_Coordinates.csv),
 * 28 of the 96 default antennas — the even spread that includes DSA-102 and
 * DSA-116 (antenna numbers 101 and 115), whose rows the default input order
 * reverses (21 of the 406 baselines).  A calibrator (8.8 Jy, flat) transits
 * at the mid time 0.5° north of the pointing, with two fainter sources.
 *
 * Header-only (static inline functions) for the unit tests that need it.
 */
#ifndef CONTIMG_TESTS_SIMORDER_H
#define CONTIMG_TESTS_SIMORDER_H

#include <complex.h>

#include "core/convert.h"
#include "core/err.h"
#include "core/predict.h"
#include "daemon/sim.h"
#include "core/sky.h"
#include "core/vis.h"
#include "tests/test.h"

#define SIMORDER_NANT 28
#define SIMORDER_NSUB 16

typedef struct simorder_opts {
	int nchan;         /* channels per subband (default 6: 1.95 MHz) */
	int ntimes;        /* integrations (default 24) */
	int rfi;           /* the simulator's RFI */
	int dead;          /* antenna number of a dead antenna (zero mode), or -1 */
	int rephase;       /* convert_load_group rephases (as the pipeline does) */
	const int *order;  /* station list for the second group (NULL: the default) */
	int norder;
} simorder_opts;

typedef struct simorder {
	sim_config c;
	sky_model sky;
	sim_result res[2];
	vis_set *v[2];           /* [0] ascending, [1] correlator order */
	float complex *model[2]; /* predict_vis of the sky, like the calibrator model */
} simorder;

static inline void simorder_opts_init(simorder_opts *o)
{
	memset(o, 0, sizeof *o);
	o->nchan = 6;
	o->ntimes = 24;
	o->dead = -1;
	o->rephase = 1;
}

static inline void simorder_free(simorder *s)
{
	for (int k = 0; k < 2; k++) {
		vis_free(s->v[k]);
		free(s->model[k]);
	}
	sky_release(&s->sky);
	memset(s, 0, sizeof *s);
}

/* Simulate into test_tmpdir()/name_{asc,cor}, load both, predict the models. */
static inline int simorder_make(simorder *s, const char *name, const simorder_opts *o)
{
	static char dir[2][1024], files[SIMORDER_NSUB][2200];
	const char *paths[SIMORDER_NSUB];
	char err[ERR_LEN] = "";
	double ra, dec;
	int r;

	memset(s, 0, sizeof *s);
	sky_init(&s->sky);
	sim_config_init(&s->c);
	r = sim_array_load_csv(&s->c.array, test_data("dsa110/DSA110_Station_Coordinates.csv"), err,
			       sizeof err);
	if (!r)
		r = sim_array_select(&s->c.array, NULL, 0, SIMORDER_NANT, err, sizeof err);
	CHECK_OK(r, err);
	if (r)
		return -1;
	s->c.obs.nchan = o->nchan;
	s->c.obs.ntimes = o->ntimes;
	s->c.nsub = SIMORDER_NSUB;
	s->c.seed = 7;
	s->c.noise_seed = 2027;
	s->c.rfi = o->rfi;
	s->c.jitter_s = 0;
	s->c.threads = 2;
	if (o->dead >= 0) {
		s->c.dead[0] = o->dead;
		s->c.ndead = 1;
		s->c.dead_mode = SIM_DEAD_ZERO;
	}
	sim_transit_radec(sim_mid_jd(&s->c.obs), s->c.array.lon_rad,
			  s->c.obs.dec_rad + 0.5 * M_PI / 180, &ra, &dec);
	r = sky_add_deg(&s->sky, "CAL", ra * 180 / M_PI, dec * 180 / M_PI, 8.8, 0.0);
	r = r ? r : sky_add_deg(&s->sky, "S1", ra * 180 / M_PI + 0.9, dec * 180 / M_PI - 0.4, 0.6, -0.7);
	r = r ? r : sky_add_deg(&s->sky, "S2", ra * 180 / M_PI - 1.1, dec * 180 / M_PI - 0.8, 0.4, -0.7);
	CHECK_OK(r, "sky_add_deg");
	s->c.sky = &s->sky;
	for (int k = 0; k < 2 && !r; k++) {
		convert_params cp;
		predict_params pp;
		vis_set shell;

		snprintf(dir[k], sizeof dir[k], "%s/%s_%s", test_tmpdir(), name, k ? "cor" : "asc");
		s->c.out_dir = dir[k];
		r = k == 0 ? sim_array_set_order(&s->c.array, NULL, 0, err, sizeof err)
		    : o->order ? sim_array_set_order(&s->c.array, o->order, o->norder, err, sizeof err)
			       : sim_array_set_order(&s->c.array, sim_dsa110_input_order, SIM_NSTATIONS,
						     err, sizeof err);
		r = r ? r : sim_write_group(&s->c, &s->res[k], err, sizeof err);
		CHECK_OK(r, err);
		if (r)
			break;
		for (int sb = 0; sb < SIMORDER_NSUB; sb++) {
			snprintf(files[sb], sizeof files[sb], "%s/%s", dir[k], s->res[k].files[sb]);
			paths[sb] = files[sb];
		}
		convert_params_default(&cp);
		cp.nthreads = 2;
		cp.rephase = o->rephase;
		r = convert_load_group(paths, SIMORDER_NSUB, &cp, &s->v[k], NULL, err, sizeof err);
		CHECK_OK(r, err);
		if (r)
			break;
		s->model[k] = malloc(vis_nsamples(s->v[k]) * sizeof *s->model[k]);
		if (!s->model[k]) {
			r = -ENOMEM;
			break;
		}
		shell = *s->v[k]; /* predict_vis writes only ->vis */
		shell.vis = s->model[k];
		predict_params_default(&pp);
		pp.nthreads = 2;
		r = predict_vis(&shell, &s->sky, &pp, PREDICT_OVERWRITE, err, sizeof err);
		CHECK_OK(r, err);
	}
	return r ? -1 : 0;
}

/* Rows of b's set with ant_1 > ant_2. */
static inline int simorder_reversed(const vis_set *v)
{
	int n = 0;
	for (int b = 0; b < v->nbls; b++)
		n += v->ant1[b] > v->ant2[b];
	return n;
}

/* twin[b] = the baseline of A joining the antennas of B's baseline b (-1
 * none); rev[b] = 1 when the two are of opposite orientation.  Caller frees. */
static inline int simorder_twins(const vis_set *A, const vis_set *B, int **ret_twin, uint8_t **ret_rev)
{
	int *twin = malloc(B->nbls * sizeof *twin);
	uint8_t *rev = malloc(B->nbls);

	if (!twin || !rev) {
		free(twin);
		free(rev);
		return -ENOMEM;
	}
	for (int b = 0; b < B->nbls; b++) {
		twin[b] = -1;
		rev[b] = 0;
		for (int j = 0; j < A->nbls; j++) {
			if (A->ant1[j] == B->ant1[b] && A->ant2[j] == B->ant2[b]) {
				twin[b] = j;
				break;
			}
			if (A->ant1[j] == B->ant2[b] && A->ant2[j] == B->ant1[b]) {
				twin[b] = j;
				rev[b] = 1;
				break;
			}
		}
	}
	*ret_twin = twin;
	*ret_rev = rev;
	return 0;
}

#endif
