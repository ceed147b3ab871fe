/*
 * tests/photometry/test_epoch.c — the epoch's decisions (photometry/epoch.h)
 * on constructed fields whose answers follow from the definitions by hand:
 * the reference SNR and its fallbacks, which sources are candidates and
 * references, the baseline from the first 10 calibrated epochs (usable from
 * 3), the correction as the median of current/baseline after 3σ MAD
 * clipping with at least 3 survivors and its error, the normalised flux and
 * its error, what happens with too few references, provisional and
 * uncalibrated epochs, re-runs, retirement by χ²_ν > 2 over the last 30 days
 * (at least 20 points, this epoch included), and the ESE gate, window and
 * candidate decision.  No image: the forced photometry is given.
 */
#include "tests/test.h"

#include <errno.h>

#include "photometry/epoch.h"

#define DEG (M_PI / 180.0)
#define RA0 (128.7 * DEG)
#define DEC0 (55.2 * DEG)
#define MEDIAN_EFF 1.2533141373155 /* sqrt(pi/2) */

enum { NMAX = 16 };

/* A field: what epoch_input points at. */
typedef struct field {
	size_t n;
	epoch_source src[NMAX];
	forced_result fr[NMAX];
	epoch_ref ref[NMAX];
	epoch_lc ref_lc[NMAX];
	int counted[NMAX];
	var_state var[NMAX];
} field;

/* n sources 0.05° apart north of the centre, catalog SNR 100, measured
 * 1.0 ± 0.01 Jy, no history. */
static void field_init(field *f, size_t n)
{
	memset(f, 0, sizeof *f);
	f->n = n;
	for (size_t i = 0; i < n; i++) {
		f->src[i] = (epoch_source){ .ra_rad = RA0, .dec_rad = DEC0 + 0.05 * DEG * (double)i,
					    .snr = 100, .flux_mjy = 1000, .e_flux_mjy = 10 };
		f->fr[i] = (forced_result){ .flux_jy = 1.0, .flux_err_jy = 0.01, .rms_jy = 0.01,
					    .pb = 1, .npix = 100, .group_size = 1 };
		epoch_ref_init(&f->ref[i]);
		var_init(&f->var[i]);
	}
}

static epoch_input field_input(const field *f, double mjd, int calibrated)
{
	return (epoch_input){ .mjd = mjd, .calibrated = calibrated, .ra0_rad = RA0,
			      .dec0_rad = DEC0, .n = f->n, .src = f->src, .fr = f->fr,
			      .ref = f->ref, .ref_lc = f->ref_lc, .counted = f->counted,
			      .var = f->var };
}

/* A reference with a complete baseline of `epochs` raw fluxes equal to b. */
static void give_baseline(field *f, size_t i, double b, int epochs, const norm_params *p)
{
	epoch_ref_init(&f->ref[i]);
	for (int k = 0; k < epochs; k++)
		norm_ref_add_baseline(&f->ref[i].norm, b, p);
}

/* The sources chosen as references, in order, as a string "0 2 3". */
static const char *chosen(const epoch_result *r)
{
	static char buf[128];
	size_t k = 0;
	buf[0] = 0;
	for (size_t j = 0; j < r->nref && k + 4 < sizeof buf; j++)
		k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%zu", j ? " " : "", r->ref[j].src);
	return buf;
}

/* χ²_ν about the weighted mean of the points in (now − window, now], NAN
 * below min points — written out here, independently of normalize.c. */
static double chi2_window(const double *t, const double *f, const double *e, size_t n, double now,
			  double window, int min_points)
{
	double sw = 0, swf = 0, s2 = 0;
	int k = 0;
	for (size_t i = 0; i < n; i++)
		if (t[i] > now - window && t[i] <= now) {
			sw += 1 / (e[i] * e[i]);
			swf += f[i] / (e[i] * e[i]);
			k++;
		}
	if (k < min_points)
		return NAN;
	for (size_t i = 0; i < n; i++)
		if (t[i] > now - window && t[i] <= now)
			s2 += (f[i] - swf / sw) * (f[i] - swf / sw) / (e[i] * e[i]);
	return s2 / (k - 1);
}

static void test_reference_snr_and_candidates(void)
{
	static field f;
	epoch_params p;
	epoch_params_default(&p);
	field_init(&f, 11);
	f.src[0].snr = 60;                      /* the catalog's SNR wins over flux/error (100) */
	f.src[1].snr = NAN;                     /* catalog flux / error: 300 / 2.5 = 120 */
	f.src[1].flux_mjy = 300;
	f.src[1].e_flux_mjy = 2.5;
	f.src[2].snr = NAN;                     /* no catalog error: measured 0.8 / 0.01 = 80 */
	f.src[2].e_flux_mjy = NAN;
	f.fr[2].flux_jy = 0.8;
	f.src[3].snr = NAN;                     /* error 0 is no error: measured 0.3 / 0.01 = 30 */
	f.src[3].e_flux_mjy = 0;
	f.fr[3].flux_jy = 0.3;
	f.src[4].snr = 200;                     /* fitted with a neighbour */
	f.fr[4].flags = FORCED_BLENDED;
	f.src[5].snr = 300;
	f.src[5].resolved = 1;
	f.src[6].snr = 400;
	f.src[6].confused = 1;
	f.src[7].snr = 500;                     /* 1.6° from the centre */
	f.src[7].dec_rad = DEC0 + 1.6 * DEG;
	f.src[8].snr = 150;                     /* below the pb cut: no flux */
	f.fr[8].flags = FORCED_PB_CUT;
	f.fr[8].flux_jy = f.fr[8].flux_err_jy = NAN;
	f.src[9].snr = 49.9;
	f.src[10].snr = 70;
	double want[11] = { 60, 120, 80, 30, NAN, 300, 400, 500, NAN, 49.9, 70 };
	for (int i = 0; i < 11; i++) {
		double snr = epoch_ref_snr(&f.src[i], &f.fr[i]);
		if (isnan(want[i]))
			CHECK(isnan(snr), "source %d SNR %g, want none", i, snr);
		else
			CHECK_NEAR(snr, want[i], 1e-12 * want[i]);
	}
	epoch_input in = field_input(&f, 61000, 1);
	size_t *idx = NULL, n = 0;
	CHECK_OK(epoch_ref_candidates(&in, &p.norm, &idx, &n), NULL);
	char got[64] = "";
	for (size_t k = 0, w = 0; k < n && w + 4 < sizeof got; k++)
		w += (size_t)snprintf(got + w, sizeof got - w, "%s%zu", k ? " " : "", idx[k]);
	printf("# candidates by SNR: %s (want 1 2 10 0)\n", got);
	CHECK(!strcmp(got, "1 2 10 0"), "candidates %s", got);
	free(idx);
	/* the chosen references are the candidates (none retired, ref_max 20) */
	epoch_result r;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(!strcmp(chosen(&r), "1 2 10 0"), "references %s", chosen(&r));
	CHECK_NEAR(r.ref[1].state.snr, 80, 1e-12);
	epoch_result_release(&r);
	/* at most ref_max, best first */
	p.norm.ref_max = 2;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(!strcmp(chosen(&r), "1 2"), "references with ref_max 2: %s", chosen(&r));
	epoch_result_release(&r);
}

/* A retired reference is skipped and the next candidate takes its place. */
static void test_retired_reference_replaced(void)
{
	static field f;
	epoch_params p;
	epoch_params_default(&p);
	p.norm.ref_max = 4;
	field_init(&f, 6);
	for (int i = 0; i < 6; i++) {
		f.src[i].snr = 600 - 100 * i;
		give_baseline(&f, (size_t)i, 1.0, 10, &p.norm);
	}
	epoch_input in = field_input(&f, 61000, 1);
	epoch_result r;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(!strcmp(chosen(&r), "0 1 2 3"), "references %s", chosen(&r));
	epoch_result_release(&r);
	f.ref[1].norm.retired = 1;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	printf("# reference 1 retired: the references are %s (want 0 2 3 4)\n", chosen(&r));
	CHECK(!strcmp(chosen(&r), "0 2 3 4"), "references %s", chosen(&r));
	epoch_result_release(&r);
}

/* Baselines: the median of the first 10 calibrated raw fluxes, usable from the
 * 3rd; uncalibrated epochs do not count; the correction and σ_c then. */
static void test_baseline_first_ten(void)
{
	static field f;
	epoch_params p;
	epoch_params_default(&p);
	field_init(&f, 4);
	f.src[3].snr = 10; /* the target, not a reference */
	const double s[12] = { 1.00, 1.10, 0.90, 1.05, 0.95, 1.20, 0.80, 1.02, 0.98, 1.01, 5.0, 5.0 };
	/* the median of the first ten by hand: 0.80 0.90 0.95 0.98 [1.00 1.01] 1.02 1.05 1.10 1.20 */
	const double med10 = (1.00 + 1.01) / 2;
	int nfinal = 0;
	for (int e = 0; e < 12; e++) {
		for (int k = 0; k < 4; k++) {
			double b = k < 3 ? 1 + 0.5 * k : 2.0;
			f.fr[k].flux_jy = b * s[e];
			f.fr[k].flux_err_jy = 0.01 * b * s[e];
		}
		if (e == 5) {
			/* an uncalibrated epoch in between: normalised with the baselines
			 * so far, but it does not extend them and nothing is stored */
			epoch_input u = field_input(&f, 61000 + e - 0.5, 0);
			for (int k = 0; k < 3; k++)
				f.fr[k].flux_jy *= 7;
			epoch_result r;
			CHECK_OK(epoch_run(&u, &p, &r), NULL);
			for (size_t k = 0; k < r.nref; k++)
				CHECK(r.ref[k].store == 0 && r.ref[k].state.norm.nbase == 5,
				      "uncalibrated: store %d nbase %d", r.ref[k].store,
				      r.ref[k].state.norm.nbase);
			CHECK(!r.final && r.nvar == 0 && (r.norm.flags & NORM_PROVISIONAL),
			      "uncalibrated: final %d nvar %zu flags %#x", r.final, r.nvar, r.norm.flags);
			epoch_result_release(&r);
			for (int k = 0; k < 3; k++)
				f.fr[k].flux_jy /= 7;
		}
		epoch_input in = field_input(&f, 61000 + e, 1);
		epoch_result r;
		CHECK_OK(epoch_run(&in, &p, &r), NULL);
		CHECK(r.nref == 3, "epoch %d: %zu references", e, r.nref);
		for (size_t k = 0; k < r.nref; k++) {
			const epoch_ref_out *o = &r.ref[k];
			double b = 1 + 0.5 * (double)o->src;
			CHECK(o->store == 1, "epoch %d: calibrated references are stored", e);
			CHECK(o->state.norm.nbase == (e < 10 ? e + 1 : 10), "epoch %d: nbase %d", e,
			      o->state.norm.nbase);
			if (e < 2)
				CHECK(isnan(o->state.norm.baseline), "epoch %d: baseline %g from %d epochs",
				      e, o->state.norm.baseline, o->state.norm.nbase);
			else if (e == 2) /* median of 1.00 1.10 0.90 */
				CHECK_NEAR(o->state.norm.baseline, b * 1.00, 1e-12);
			else if (e >= 9)
				CHECK_NEAR(o->state.norm.baseline, b * med10, 1e-12);
			f.ref[o->src] = o->state;
		}
		if (e < 2) {
			/* too few only because the baselines are filling: also
			 * provisional, so the stage re-runs it later (issue 17) */
			CHECK(r.norm.flags == (NORM_TOO_FEW_REFS | NORM_PROVISIONAL) &&
			      isnan(r.norm.correction) && isnan(r.row[3].norm_flux_jy) && !r.final,
			      "epoch %d: flags %#x correction %g", e, r.norm.flags, r.norm.correction);
		} else if (e < 9) {
			CHECK(r.norm.flags == NORM_PROVISIONAL && !r.final && r.nvar == 0 &&
			      !r.row[3].in_variability && isfinite(r.row[3].norm_flux_jy),
			      "epoch %d: flags %#x final %d nvar %zu", e, r.norm.flags, r.final, r.nvar);
			if (e == 2) /* every ratio is 0.90 / 1.00 */
				CHECK_NEAR(r.norm.correction, 0.90, 1e-12);
		} else {
			CHECK(r.norm.flags == 0 && r.final && r.nvar == 4,
			      "epoch %d: flags %#x final %d nvar %zu", e, r.norm.flags, r.final, r.nvar);
			nfinal++;
		}
		if (e == 11) {
			/* ratios 5/1.005 each, ratio errors 0.05/1.005: σ_c from the errors */
			double c = 5.0 / med10, sc = MEDIAN_EFF * (0.05 / med10) / sqrt(3.0);
			printf("# baseline %.4f from the first 10 epochs; epoch 12: correction %.6f ± "
			       "%.3e (%d references), target %.6f ± %.3e Jy\n", f.ref[0].norm.baseline,
			       r.norm.correction, r.norm.correction_err, r.norm.nref_used,
			       r.row[3].norm_flux_jy, r.row[3].norm_flux_err_jy);
			CHECK_NEAR(r.norm.correction, c, 1e-12);
			CHECK_NEAR(r.norm.correction_err, sc, 1e-12);
			CHECK(r.norm.nref_used == 3, "used %d", r.norm.nref_used);
			/* the target: 10 ± 0.1 Jy raw */
			CHECK_NEAR(r.row[3].norm_flux_jy, 10 / c, 1e-12);
			CHECK_NEAR(r.row[3].norm_flux_err_jy,
				   sqrt(0.1 * 0.1 + (10 * sc / c) * (10 * sc / c)) / c, 1e-12);
		}
		epoch_result_release(&r);
	}
	CHECK(nfinal == 3, "final epochs %d", nfinal);
}

/* The correction: median of current/baseline after 3σ MAD clipping. */
static void test_clipping(void)
{
	static field f;
	epoch_params p;
	epoch_params_default(&p);
	field_init(&f, 6);
	const double ratio[5] = { 1.02, 0.98, 1.00, 1.01, 1.50 };
	for (int i = 0; i < 5; i++) {
		give_baseline(&f, (size_t)i, 1.0, 10, &p.norm);
		f.fr[i].flux_jy = ratio[i];
		f.fr[i].flux_err_jy = 1e-4;
	}
	f.src[5].snr = 10;
	/* by hand: median 1.01, |r − 1.01| = .01 .03 .01 0 .49, MAD 0.01, 3σ = 0.0445:
	 * 1.50 goes; the median of 1.02 0.98 1.00 1.01 is 1.005 */
	double kept[4] = { 1.02, 0.98, 1.00, 1.01 }, mean = 1.0025, var = 0;
	for (int i = 0; i < 4; i++)
		var += (kept[i] - mean) * (kept[i] - mean) / 3;
	double sc = MEDIAN_EFF * sqrt(var / 4);
	epoch_input in = field_input(&f, 61000, 1);
	epoch_result r;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	printf("# ratios 1.02 0.98 1.00 1.01 1.50: correction %.6f ± %.6f from %d (%d clipped)\n",
	       r.norm.correction, r.norm.correction_err, r.norm.nref_used, r.norm.nref_clipped);
	CHECK_NEAR(r.norm.correction, 1.005, 1e-12);
	CHECK_NEAR(r.norm.correction_err, sc, 1e-12);
	CHECK(r.norm.nref_used == 4 && r.norm.nref_clipped == 1 && r.norm.flags == 0 && r.final,
	      "used %d clipped %d flags %#x", r.norm.nref_used, r.norm.nref_clipped, r.norm.flags);
	/* every measured source is normalised, the clipped reference too */
	CHECK_NEAR(r.row[4].norm_flux_jy, 1.50 / 1.005, 1e-12);
	epoch_result_release(&r);
	/* without clipping the median of all five is 1.01 */
	p.norm.clip_sigma = 1000;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK_NEAR(r.norm.correction, 1.01, 1e-12);
	epoch_result_release(&r);
	p.norm.clip_sigma = 3;
	/* three references 1.00 1.01 2.0: the clip leaves two, fewer than 3 */
	f.fr[2].flux_jy = 2.0;
	f.src[3].snr = f.src[4].snr = 10;
	f.fr[1].flux_jy = 1.00;
	f.fr[0].flux_jy = 1.01;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	printf("# ratios 1.01 1.00 2.0: %d survive the clip, flags %#x (too few)\n",
	       r.norm.nref_used, r.norm.flags);
	CHECK(r.nref == 3 && r.norm.nref_used == 2 && r.norm.flags == NORM_TOO_FEW_REFS &&
	      isnan(r.norm.correction) && !r.final && r.nvar == 0 && isnan(r.row[5].norm_flux_jy),
	      "refs %zu used %d flags %#x", r.nref, r.norm.nref_used, r.norm.flags);
	epoch_result_release(&r);
}

/* Too few references: nothing is normalised, nothing enters the statistics,
 * no reference is retired, but the baselines still grow. */
static void test_too_few_references(void)
{
	static field f;
	epoch_params p;
	epoch_params_default(&p);
	field_init(&f, 5);
	give_baseline(&f, 0, 1.0, 10, &p.norm);
	give_baseline(&f, 1, 1.0, 10, &p.norm);
	give_baseline(&f, 2, 1.0, 10, &p.norm);
	f.ref[2].norm.retired = 1;           /* retired: not a reference */
	give_baseline(&f, 3, 1.0, 1, &p.norm); /* one stored epoch + this one: no baseline yet */
	f.src[4].snr = 10;
	/* a light curve that would retire reference 0 on a final epoch */
	double t[25], fl[25], er[25];
	for (int k = 0; k < 25; k++) {
		t[k] = 61000 - 25 + k;
		fl[k] = k % 2 ? 1.05 : 0.95;
		er[k] = 0.01;
	}
	f.ref_lc[0] = (epoch_lc){ t, fl, er, 25 };
	epoch_input in = field_input(&f, 61000, 1);
	epoch_result r;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	printf("# references %s, %d ratios usable: flags %#x\n", chosen(&r), r.norm.nref_used,
	       r.norm.flags);
	CHECK(!strcmp(chosen(&r), "0 1 3"), "references %s", chosen(&r));
	CHECK((r.norm.flags & NORM_TOO_FEW_REFS) && isnan(r.norm.correction) && !r.final,
	      "flags %#x correction %g", r.norm.flags, r.norm.correction);
	CHECK(r.nvar == 0 && r.nretired == 0, "nvar %zu retired %zu", r.nvar, r.nretired);
	for (int i = 0; i < 5; i++)
		CHECK(r.row[i].measured && isnan(r.row[i].norm_flux_jy) && !r.row[i].in_variability,
		      "row %d: %g in_var %d", i, r.row[i].norm_flux_jy, r.row[i].in_variability);
	CHECK(r.ref[2].store && r.ref[2].state.norm.nbase == 2 && isnan(r.ref[2].state.norm.baseline),
	      "reference 3: store %d nbase %d", r.ref[2].store, r.ref[2].state.norm.nbase);
	epoch_result_release(&r);
	/* the same with the third reference's baseline usable: normalised */
	give_baseline(&f, 3, 1.0, 2, &p.norm);
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(r.norm.nref_used == 3 && (r.norm.flags & NORM_PROVISIONAL) &&
	      !(r.norm.flags & NORM_TOO_FEW_REFS), "used %d flags %#x", r.norm.nref_used,
	      r.norm.flags);
	epoch_result_release(&r);
}

/* Retirement: χ²_ν about the weighted mean over (now − 30 d, now] > 2 with at
 * least 20 points, this epoch's point included. */
static void test_retirement(void)
{
	static field f;
	epoch_params p;
	epoch_params_default(&p);
	const double now = 61000;
	enum { NREF = 6, NPT = 64 };
	static double t[NREF][NPT], fl[NREF][NPT], er[NREF][NPT];
	size_t np[NREF] = { 0 };
	field_init(&f, NREF + 1);
	for (int i = 0; i < NREF; i++) {
		f.src[i].snr = 1000 - 10 * i;
		give_baseline(&f, (size_t)i, 1.0, 10, &p.norm);
	}
	f.src[NREF].snr = 10;
	/* alternating 1 ± a, error 0.01, one point a day before now */
	struct { int npts; double a; } lc[NREF] = {
		{ 25, 0.05 },   /* 0: clearly variable: retired */
		{ 18, 0.05 },   /* 1: 18 + this epoch = 19 < 20 points: kept */
		{ 19, 0.05 },   /* 2: 19 + this epoch = 20: retired */
		{ 22, 0 },      /* 3: constant in the window, variable before it: kept */
		{ 24, 0.0125 }, /* 4: χ²_ν below 2: kept */
		{ 24, 0.015 },  /* 5: χ²_ν above 2: retired */
	};
	for (int i = 0; i < NREF; i++) {
		size_t k = 0;
		if (i == 3) {
			/* 30 variable days outside the window, one exactly on its edge */
			for (int d = 60; d >= 30; d--, k++) {
				t[i][k] = now - d;
				fl[i][k] = d == 30 ? 2.0 : d % 2 ? 1.2 : 0.8;
				er[i][k] = 0.01;
			}
		}
		for (int d = lc[i].npts; d >= 1; d--, k++) {
			t[i][k] = now - d;
			fl[i][k] = 1 + (d % 2 ? lc[i].a : -lc[i].a);
			er[i][k] = 0.01;
		}
		np[i] = k;
		f.ref_lc[i] = (epoch_lc){ t[i], fl[i], er[i], k };
	}
	epoch_input in = field_input(&f, now, 1);
	epoch_result r;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(r.final && r.nref == NREF, "final %d refs %zu", r.final, r.nref);
	/* this epoch's point of each reference: 1.0 / c with c = 1 */
	double sc = MEDIAN_EFF * 0.01 / sqrt((double)NREF);
	CHECK_NEAR(r.norm.correction, 1.0, 1e-15);
	CHECK_NEAR(r.norm.correction_err, sc, 1e-15);
	const int want[NREF] = { 1, 0, 1, 0, 0, 1 };
	for (int i = 0; i < NREF; i++) {
		const epoch_ref_out *o = &r.ref[i];
		t[i][np[i]] = now;
		fl[i][np[i]] = 1.0;
		er[i][np[i]] = sqrt(1e-4 + sc * sc);
		double chi2 = chi2_window(t[i], fl[i], er[i], np[i] + 1, now, 30, 20);
		printf("# reference %d: %zu points in the light curve, chi2_nu over 30 d %.3f -> %s\n",
		       i, np[i] + 1, chi2, o->retired_now ? "retired" : "kept");
		CHECK(o->src == (size_t)i && o->retired_now == want[i] &&
		      o->state.norm.retired == want[i], "reference %d retired %d (chi2_nu %g)", i,
		      o->retired_now, chi2);
		CHECK(want[i] == (chi2 > 2), "reference %d: the hand χ²_ν %g", i, chi2);
		if (want[i]) {
			CHECK_NEAR(o->state.retire_chi2_nu, chi2, 1e-9 * chi2);
			CHECK(o->state.retired_mjd == now && o->store, "retired_mjd %g store %d",
			      o->state.retired_mjd, o->store);
		}
	}
	CHECK(r.nretired == 3, "retired %zu", r.nretired);
	epoch_result_release(&r);
	/* one reference still filling its baseline among five complete ones
	 * does not make the epoch provisional: it is left out (issue 17) */
	give_baseline(&f, 0, 1.0, 5, &p.norm);
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	printf("# one incomplete baseline of 6: flags 0x%x, %d references used\n", r.norm.flags,
	       r.norm.nref_used);
	CHECK(!(r.norm.flags & NORM_PROVISIONAL) && r.norm.nref_used == NREF - 1 && r.final,
	      "one incomplete: flags 0x%x used %d", r.norm.flags, r.norm.nref_used);
	epoch_result_release(&r);
	/* a provisional (fewer than min_refs complete) or uncalibrated epoch
	 * retires nobody */
	for (int i = 0; i < 4; i++)
		give_baseline(&f, i, 1.0, 5, &p.norm);
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK((r.norm.flags & NORM_PROVISIONAL) && r.nretired == 0, "provisional: retired %zu",
	      r.nretired);
	epoch_result_release(&r);
	for (int i = 0; i < 4; i++)
		give_baseline(&f, i, 1.0, 10, &p.norm);
	in.calibrated = 0;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(r.nretired == 0 && !r.final, "uncalibrated: retired %zu", r.nretired);
	epoch_result_release(&r);
}

/* The statistics' updates: one var_add of the normalised point for sources
 * not yet counted; re-runs, bad fits and non-final epochs add nothing. */
static void test_variability_updates(void)
{
	static field f;
	epoch_params p;
	epoch_params_default(&p);
	field_init(&f, 8);
	for (int i = 0; i < 4; i++)
		give_baseline(&f, (size_t)i, 1.0, 10, &p.norm);
	for (int i = 4; i < 8; i++) {
		f.src[i].snr = 10;
		f.fr[i].flux_jy = 0.5;
		f.fr[i].flux_err_jy = 0.005;
		for (int k = 0; k < 5; k++)
			var_add(&f.var[i], 60990 + k, 0.5 + 0.01 * (k % 3), 0.005, VAR_VS_MIN);
	}
	f.counted[5] = 1;                          /* a re-run: already counted */
	f.fr[6].flags = FORCED_CORE_MISSING;        /* measured, no flux */
	f.fr[6].flux_jy = f.fr[6].flux_err_jy = NAN;
	f.fr[7].flags = FORCED_OUTSIDE;             /* not measured */
	epoch_input in = field_input(&f, 61000, 1);
	epoch_result r;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	double sc = MEDIAN_EFF * 0.01 / 2;
	CHECK(r.final && r.nmeasured == 7 && r.nvalid == 6, "final %d measured %zu valid %zu",
	      r.final, r.nmeasured, r.nvalid);
	CHECK_NEAR(r.row[4].norm_flux_jy, 0.5, 1e-15);
	CHECK_NEAR(r.row[4].norm_flux_err_jy, sqrt(0.005 * 0.005 + 0.25 * sc * sc), 1e-15);
	var_state want = f.var[4];
	var_add(&want, 61000, r.row[4].norm_flux_jy, r.row[4].norm_flux_err_jy, VAR_VS_MIN);
	CHECK(r.row[4].var >= 0 && r.row[4].in_variability, "source 4 var %ld", r.row[4].var);
	if (r.row[4].var >= 0) {
		const epoch_var *v = &r.var[r.row[4].var];
		CHECK(v->src == 4 && !memcmp(&v->st, &want, sizeof want) && v->vs.n == 6 &&
		      isnan(v->ese_score) && !v->gated, "source 4: n %ld", v->vs.n);
	}
	CHECK(r.row[5].in_variability && r.row[5].var < 0, "re-run: in_var %d var %ld",
	      r.row[5].in_variability, r.row[5].var);
	CHECK(r.row[6].measured && !r.row[6].in_variability && r.row[6].var < 0, "bad fit");
	CHECK(!r.row[7].measured, "outside");
	CHECK(r.nvar == 5, "updates %zu (4 references + source 4)", r.nvar);
	epoch_result_release(&r);
	/* not final: nothing enters; a counted row stays counted */
	in.calibrated = 0;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(r.nvar == 0 && !r.row[4].in_variability && r.row[5].in_variability,
	      "uncalibrated: nvar %zu", r.nvar);
	epoch_result_release(&r);
}

static uint64_t rng = 0x5DEECE66Dull;

/* n daily points ending the day before t_end: a dip of the given depth
 * centred on t_dip (a Clegg et al. 1998 lens, α = 1, crossing its width in
 * hw days: an ESE as photometry/ese.h models it), or a drift, with 1 % noise. */
static size_t make_lc(double *t, double *f, double *e, int n, double t_end, double t_dip,
		      double hw, double depth, double drift)
{
	for (int k = 0; k < n; k++) {
		t[k] = t_end - n + k;
		double g = depth > 0 ? 1 - depth * (1 - ese_lens_gain(1.0, 0.3, (t[k] - t_dip) / hw)) /
						   (1 - ese_lens_gain(1.0, 0.3, 0)) : 1;
		f[k] = g * (1 - drift * k / n) + 0.01 * test_grand(&rng);
		e[k] = 0.01;
	}
	return (size_t)n;
}

/* The ESE gate, the 365-day window, this epoch's point, the decisions. */
static void test_ese_gate_and_candidates(void)
{
	static field f;
	epoch_params p;
	epoch_params_default(&p);
	const double now = 61100;
	field_init(&f, 8);
	for (int i = 0; i < 4; i++)
		give_baseline(&f, (size_t)i, 1.0, 10, &p.norm);
	static double t[8][128], fl[8][128], er[8][128];
	size_t n[8] = { 0 };
	/* 4: a 30 % dip over 30 days, 80 days of history, and 10 points older
	 * than 365 days that must not be fitted */
	for (int k = 0; k < 10; k++) {
		t[4][k] = now - 500 + k;
		fl[4][k] = 0.2;
		er[4][k] = 0.01;
	}
	n[4] = 10 + make_lc(t[4] + 10, fl[4] + 10, er[4] + 10, 80, now, now - 40, 15, 0.3, 0);
	n[5] = make_lc(t[5], fl[5], er[5], 30, now, 0, 0, 0, 0);    /* constant, 30 epochs */
	n[6] = make_lc(t[6], fl[6], er[6], 10, now, 0, 0, 0, 0);    /* constant, 10 epochs */
	n[7] = make_lc(t[7], fl[7], er[7], 80, now, 0, 0, 0, 0.2);  /* a 20 % drift */
	f.fr[7].flux_jy = 0.8; /* the drift goes on */
	epoch_lc lcs[8];
	for (int i = 4; i < 8; i++) {
		f.src[i].snr = 10;
		/* the statistics hold what entered them: the window does not apply */
		for (size_t k = 0; k < n[i]; k++)
			var_add(&f.var[i], t[i][k], fl[i][k], er[i][k], VAR_VS_MIN);
		lcs[i] = (epoch_lc){ t[i], fl[i], er[i], n[i] };
	}
	epoch_input in = field_input(&f, now, 1);
	epoch_result r;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(r.nvar == 8, "updates %zu", r.nvar);
	epoch_lc lc[8];
	for (size_t k = 0; k < r.nvar; k++)
		lc[k] = r.var[k].src >= 4 ? lcs[r.var[k].src] : (epoch_lc){ 0 };
	CHECK_OK(epoch_score_ese(&in, lc, &p, &r), NULL);
	const epoch_var *v[8] = { 0 };
	for (size_t k = 0; k < r.nvar; k++)
		v[r.var[k].src] = &r.var[k];
	if (!v[4] || !v[5] || !v[6] || !v[7]) {
		CHECK(0, "missing updates");
		epoch_result_release(&r);
		return;
	}
	/* the dip: the fit of the window's points plus this epoch's, by hand */
	ese_result direct;
	double tt[128], ff[128], ee[128];
	size_t m = 0;
	for (size_t k = 10; k < n[4]; k++, m++) {
		tt[m] = t[4][k];
		ff[m] = fl[4][k];
		ee[m] = er[4][k];
	}
	tt[m] = now;
	ff[m] = r.row[4].norm_flux_jy;
	ee[m] = r.row[4].norm_flux_err_jy;
	CHECK_OK(ese_score(tt, ff, ee, m + 1, &p.ese, &direct), NULL);
	printf("# dip: n %ld chi2_nu %.1f gated %d score %.3f (direct fit %.3f) -> %s\n",
	       v[4]->vs.n, v[4]->vs.chi2_nu, v[4]->gated, v[4]->ese_score, direct.score,
	       v[4]->cand == EPOCH_CAND_UPSERT ? "candidate" : "not a candidate");
	CHECK(v[4]->gated && v[4]->vs.n == 91, "dip gated %d n %ld", v[4]->gated, v[4]->vs.n);
	CHECK(v[4]->ese.score == direct.score && v[4]->ese.t0_mjd == direct.t0_mjd,
	      "dip score %g vs the direct fit %g", v[4]->ese.score, direct.score);
	CHECK(v[4]->ese_score >= 0.6 && v[4]->cand == EPOCH_CAND_UPSERT, "dip score %g cand %d",
	      v[4]->ese_score, v[4]->cand);
	/* the points older than the window would have changed it */
	ese_result all;
	double ta[128], fa[128], ea[128];
	memcpy(ta, t[4], n[4] * sizeof *ta);
	memcpy(fa, fl[4], n[4] * sizeof *fa);
	memcpy(ea, er[4], n[4] * sizeof *ea);
	ta[n[4]] = now;
	fa[n[4]] = ff[m];
	ea[n[4]] = ee[m];
	CHECK_OK(ese_score(ta, fa, ea, n[4] + 1, &p.ese, &all), NULL);
	CHECK(all.score != direct.score, "old points change the fit (%g)", all.score);
	/* constant, 31 epochs: not gated, score 0 */
	printf("# constant: n %ld chi2_nu %.2f V %.4f gated %d ese_score %g; 11 epochs: %g; "
	       "drift: chi2_nu %.1f score %.3f\n", v[5]->vs.n, v[5]->vs.chi2_nu, v[5]->vs.v,
	       v[5]->gated, v[5]->ese_score, v[6]->ese_score, v[7]->vs.chi2_nu, v[7]->ese_score);
	CHECK(!v[5]->gated && v[5]->vs.n == 31 && v[5]->ese_score == 0 &&
	      v[5]->cand == EPOCH_CAND_NONE, "constant: gated %d score %g", v[5]->gated,
	      v[5]->ese_score);
	/* 11 epochs: too few to score */
	CHECK(!v[6]->gated && isnan(v[6]->ese_score) && v[6]->cand == EPOCH_CAND_NONE,
	      "short: score %g", v[6]->ese_score);
	/* the drift passes the gate, is scored, and scores low: only a refresh */
	CHECK(v[7]->gated && v[7]->ese.scored && v[7]->ese_score < 0.6 &&
	      v[7]->cand == EPOCH_CAND_REFRESH, "drift: gated %d scored %d score %g cand %d",
	      v[7]->gated, v[7]->ese.scored, v[7]->ese_score, v[7]->cand);
	CHECK(r.nscored == 2 && r.ncandidates == 1, "scored %zu candidates %zu", r.nscored,
	      r.ncandidates);
	/* the candidate threshold is inclusive */
	epoch_params q = p;
	q.ese.candidate_score = direct.score;
	CHECK_OK(epoch_score_ese(&in, lc, &q, &r), NULL);
	CHECK(v[4]->cand == EPOCH_CAND_UPSERT && r.ncandidates == 1, "score = threshold: cand %d",
	      v[4]->cand);
	q.ese.candidate_score = nextafter(direct.score, 2);
	CHECK_OK(epoch_score_ese(&in, lc, &q, &r), NULL);
	CHECK(v[4]->cand == EPOCH_CAND_REFRESH && r.ncandidates == 0, "score < threshold: cand %d",
	      v[4]->cand);
	epoch_result_release(&r);

	/* a re-run of an old group: this epoch's point enters at its own time,
	 * the later points stay in the fit */
	double mid = t[4][10 + 40] + 0.5;
	in.mjd = mid;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	for (size_t k = 0; k < r.nvar; k++)
		lc[k] = r.var[k].src >= 4 ? lcs[r.var[k].src] : (epoch_lc){ 0 };
	CHECK_OK(epoch_score_ese(&in, lc, &p, &r), NULL);
	m = 0;
	for (size_t k = 10; k < n[4]; k++) {
		if (k == 10 + 41) {
			tt[m] = mid;
			ff[m] = r.row[4].norm_flux_jy;
			ee[m] = r.row[4].norm_flux_err_jy;
			m++;
		}
		tt[m] = t[4][k];
		ff[m] = fl[4][k];
		ee[m] = er[4][k];
		m++;
	}
	CHECK_OK(ese_score(tt, ff, ee, m, &p.ese, &direct), NULL);
	const epoch_var *w = NULL;
	for (size_t k = 0; k < r.nvar; k++)
		if (r.var[k].src == 4)
			w = &r.var[k];
	CHECK(w && w->gated && w->ese.score == direct.score, "re-run: score %g vs %g",
	      w ? w->ese.score : NAN, direct.score);
	epoch_result_release(&r);
}

static void test_rebuild_and_errors(void)
{
	/* the running sums rebuilt from a stored light curve equal the sums kept
	 * one epoch at a time; bad points are skipped */
	double t[6] = { 1, 2, 3, 4, 5, 6 }, f[6] = { 1.0, 1.1, NAN, 0.9, 1.05, 1.0 },
	       e[6] = { 0.1, 0.1, 0.1, 0.1, 0, 0.1 };
	var_state a, b;
	var_init(&a);
	for (int k = 0; k < 6; k++)
		var_add(&a, t[k], f[k], e[k], VAR_VS_MIN);
	epoch_lc lc = { t, f, e, 6 };
	epoch_var_rebuild(&lc, &b);
	CHECK(!memcmp(&a, &b, sizeof a) && b.n == 4, "rebuilt n %ld", b.n);
	/* missing inputs */
	static field fl;
	field_init(&fl, 3);
	epoch_params p;
	epoch_params_default(&p);
	epoch_input in = field_input(&fl, 61000, 1);
	in.var = NULL;
	epoch_result r;
	CHECK(epoch_run(&in, &p, &r) == -EINVAL, "no running state");
	epoch_result_release(&r);
	/* an empty field */
	in = field_input(&fl, 61000, 1);
	in.n = 0;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(r.nref == 0 && r.nmeasured == 0 && r.norm.flags == NORM_TOO_FEW_REFS, "empty");
	CHECK_OK(epoch_score_ese(&in, NULL, &p, &r), NULL);
	epoch_result_release(&r);
	epoch_result_release(NULL);
}

/* Issue 17: a source's statistics rebuilt with this epoch inserted at its
 * time equal var_add of the same points in time order (bit for bit), however
 * late the epoch comes; base_ready keeps the caller's baseline; a bad-quality
 * epoch is normalised and flagged but neither final, nor counted, nor stored
 * into a baseline. */
static void test_time_order_and_quality(void)
{
	epoch_params p;
	epoch_params_default(&p);
	field f;
	field_init(&f, 6);
	for (size_t i = 0; i < 5; i++)
		give_baseline(&f, i, 1.0, 10, &p.norm);
	/* source 5 is not a reference (low SNR); its stored light curve has the
	 * days 1..9 except 4, and epoch 4 arrives now */
	f.src[5].snr = 10;
	f.fr[5].flux_jy = 0.5;
	f.fr[5].flux_err_jy = 0.01;
	double t[8], fl[8], e[8], all_t[9], all_f[9], all_e[9];
	size_t k = 0, m = 0;
	for (int d = 1; d <= 9; d++) {
		double v = 0.5 + 0.01 * ((d * 7) % 5), er = 0.01 + 0.001 * d;
		if (d != 4) {
			t[k] = 60000 + d;
			fl[k] = v;
			e[k] = er;
			k++;
		}
		all_t[m] = 60000 + d;
		all_f[m] = d == 4 ? NAN : v;
		all_e[m] = er;
		m++;
	}
	epoch_lc lc[6] = { { 0 } };
	lc[5] = (epoch_lc){ .mjd = t, .flux = fl, .err = e, .n = k };
	int rebuild[6] = { 0, 0, 0, 0, 0, 1 };
	epoch_input in = field_input(&f, 60004, 1);
	in.base_ready = 1;
	in.rebuild = rebuild;
	in.rebuild_lc = lc;
	epoch_result r;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(r.final && r.row[5].in_variability && r.row[5].var >= 0, "final %d in_var %d",
	      r.final, r.row[5].in_variability);
	/* the normalised point of epoch 4 goes at day 4 */
	all_f[3] = r.row[5].norm_flux_jy;
	all_e[3] = r.row[5].norm_flux_err_jy;
	var_state want;
	var_init(&want);
	for (size_t j = 0; j < m; j++)
		var_add(&want, all_t[j], all_f[j], all_e[j], VAR_VS_MIN);
	const var_state *got = &r.var[r.row[5].var].st;
	printf("# late epoch rebuilt in time order: n %ld mean %.17g (in order %.17g)\n", got->n,
	       got->mean, want.mean);
#define SAME(a, b) ((a) == (b) || (isnan(a) && isnan(b)))
	CHECK(got->n == 9 && SAME(got->mean, want.mean) && SAME(got->m2, want.m2) &&
	      SAME(got->s2w, want.s2w) && SAME(got->wmean, want.wmean) &&
	      SAME(got->vs, want.vs) && SAME(got->m, want.m) && got->nup == want.nup &&
	      got->nlo == want.nlo,
	      "rebuilt state differs from var_add in time order");
	/* base_ready: the references' baselines are not extended */
	CHECK(r.ref[0].state.norm.nbase == 10, "nbase %d", r.ref[0].state.norm.nbase);
	epoch_result_release(&r);
	/* a bad-quality epoch */
	in.bad_quality = 1;
	rebuild[5] = 0;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	printf("# bad-quality epoch: flags %#x final %d nvar %zu store %d\n", r.norm.flags, r.final,
	       r.nvar, r.ref[0].store);
	CHECK((r.norm.flags & NORM_BAD_QUALITY) && !r.final && r.nvar == 0 &&
	      !r.row[5].in_variability && isfinite(r.row[5].norm_flux_jy) && !r.ref[0].store,
	      "bad quality: flags %#x final %d nvar %zu", r.norm.flags, r.final, r.nvar);
	epoch_result_release(&r);
	/* a re-run that makes a counted point unusable drops it from the rebuild */
	in.bad_quality = 1;
	rebuild[5] = 1;
	CHECK_OK(epoch_run(&in, &p, &r), NULL);
	CHECK(r.nvar == 1 && r.var[0].st.n == 8 && !r.row[5].in_variability && !r.var[0].gated,
	      "bad re-run: nvar %zu n %ld", r.nvar, r.nvar ? r.var[0].st.n : -1L);
	epoch_result_release(&r);
}

int main(void)
{
	RUN(test_reference_snr_and_candidates);
	RUN(test_retired_reference_replaced);
	RUN(test_baseline_first_ten);
	RUN(test_clipping);
	RUN(test_too_few_references);
	RUN(test_retirement);
	RUN(test_variability_updates);
	RUN(test_ese_gate_and_candidates);
	RUN(test_rebuild_and_errors);
	RUN(test_time_order_and_quality);
	return TEST_DONE();
}
