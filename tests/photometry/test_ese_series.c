/*
 * tests/photometry/test_ese_series.c — the science chain end to end at image
 * level: 100 daily epochs of a 400² image holding 324 catalog sources in
 * beam-correlated noise, every epoch with a random flux-scale error of 3 %.
 * Five sources have injected ESE dips (10–50 %, 14–56 days, a shape that is
 * not the fitted lens model), two have a single-epoch flare, two a linear
 * drift; the rest are stable.  Each epoch goes through the real forced
 * photometry, reference normalisation and incremental variability code; at
 * the end every light curve is ESE-scored.  Checks: normalised bright stable
 * sources scatter ≤ 1 % (printed), every ESE scores ≥ 0.6, nothing else does.
 */
#include "tests/test.h"

#include <stdint.h>

#include "core/err.h"
#include "photometry/ese.h"
#include "photometry/forced.h"
#include "photometry/normalize.h"
#include "photometry/variability.h"

/* This test's random sequence: a seed of its own. */
#define PHOTSYNTH_SEED 0xD1B54A32D192ED03ull
#include "tests/photometry/photsynth.h"

#define ARCSEC (M_PI / 180.0 / 3600.0)
enum { NX = 400, NY = 400, GRID = 18, SPACING = 22, NSRC = GRID * GRID, NEPOCH = 100 };
#define RMS_JY 2e-3
#define SCALE_ERR 0.03

/* Flat-bottomed dip with caustic shoulders (as in test_ese.c). */
static double dip(double t, double tc, double D, double depth)
{
	double x = (t - tc) / (D / 2), edge = 0.25, g = 1;
	if (fabs(x) < 1)
		g -= depth * (fabs(x) < 1 - edge ? 1 : 0.5 * (1 + cos(M_PI * (fabs(x) - (1 - edge)) / edge)));
	double sh = (fabs(x) - 1.1) / 0.08;
	return g + 0.4 * depth * exp(-0.5 * sh * sh);
}

enum kind { STABLE, REF, ESE, FLARE, DRIFT };

typedef struct src {
	double x, y, ra, dec, flux;
	int kind;
	double p1, p2, p3;  /* ESE: centre day, duration, depth; flare: day; drift: slope */
	/* light curve */
	double mjd[NEPOCH], raw[NEPOCH], nflux[NEPOCH], nerr[NEPOCH];
	int nn;
	var_state var;
} src;

static double truth_factor(const src *s, int ep)
{
	switch (s->kind) {
	case ESE: return dip(ep, s->p1, s->p2, s->p3);
	case FLARE: return ep == (int)s->p1 ? 1.5 : 1;
	case DRIFT: return 1 - s->p1 * ep / (NEPOCH - 1.0);
	case REF: return s->p1 > 0 && ep >= 50 ? 0.9 : 1; /* a reference that goes bad */
	default: return 1;
	}
}

static void test_series(void)
{
	static src s[NSRC];
	static float img_data[NX * NY], tmp[NX * NY];
	static double white[NX * NY];
	char errbuf[ERR_LEN] = "", *err = errbuf;
	sinproj sp = { 128.7 * M_PI / 180, 55.2 * M_PI / 180, NX / 2, NY / 2, 3 * ARCSEC };
	forced_image img = { 0 };
	img.nx = NX;
	img.ny = NY;
	img.cell_rad = sp.cell;
	img.bmaj_rad = img.bmin_rad = 18 * ARCSEC; /* 6 px circular: separable noise kernel */
	CHECK_NEAR(forced_beam(&img, 3, 0), 0.5, 1e-12); /* the injected shape is the beam */
	img.sky2pix = sin_s2p;
	img.sky2pix_ctx = &sp;
	img.data = img_data;
	forced_params fp;
	forced_params_default(&fp);
	fp.threads = 2;
	norm_params np;
	norm_params_default(&np);
	ese_params ep;
	ese_params_default(&ep);

	/* the catalog */
	for (int i = 0; i < NSRC; i++) {
		s[i].x = 11 + (i % GRID) * SPACING + urand() - 0.5;
		s[i].y = 11 + (i / GRID) * SPACING + urand() - 0.5;
		sin_p2s(&sp, s[i].x, s[i].y, &s[i].ra, &s[i].dec);
		s[i].flux = 0.02 * pow(25.0, urand()); /* 20 mJy – 0.5 Jy */
		s[i].kind = STABLE;
		var_init(&s[i].var);
	}
	for (int i = 0; i < 20; i++) { /* 20 bright references (SNR > 500) */
		s[i * 16 + 3].kind = REF;
		s[i * 16 + 3].flux = 1.0 + urand();
	}
	s[3].p1 = 1; /* this reference drops by 10 % at epoch 50 and must be retired */
	const double ese_dur[] = { 14, 28, 42, 56, 35 }, ese_depth[] = { 0.1, 0.3, 0.5, 0.2, 0.15 };
	for (int k = 0; k < 5; k++) {
		src *e = &s[k * 60 + 9];
		e->kind = ESE;
		e->flux = 0.3 + 0.1 * k;
		e->p1 = 35 + 8 * k;
		e->p2 = ese_dur[k];
		e->p3 = ese_depth[k];
	}
	s[101].kind = s[201].kind = FLARE;
	s[101].flux = s[201].flux = 0.4;
	s[101].p1 = 30;
	s[201].p1 = 77;
	s[151].kind = s[251].kind = DRIFT;
	s[151].flux = s[251].flux = 0.4;
	s[151].p1 = 0.2;
	s[251].p1 = -0.15;

	/* references: top-20 catalog SNR (catalog errors 2 mJy) */
	norm_candidate cand[NSRC];
	for (int i = 0; i < NSRC; i++) {
		cand[i].snr = s[i].flux / RMS_JY;
		cand[i].resolved = cand[i].confused = 0;
		cand[i].offset_rad = hypot(s[i].x - NX / 2, s[i].y - NY / 2) * sp.cell;
	}
	/* variable sources are fainter than the references, but make sure the
	 * selection does not depend on luck */
	size_t ref_idx[64];
	size_t nref = norm_select_refs(cand, NSRC, &np, ref_idx);
	CHECK(nref == 20, "references %zu", nref);
	for (size_t r = 0; r < nref; r++)
		CHECK(s[ref_idx[r]].kind == REF, "reference %zu is kind %d", r, s[ref_idx[r]].kind);
	norm_ref refs[64];
	for (size_t r = 0; r < nref; r++)
		norm_ref_init(&refs[r]);

	/* noise kernel: Gaussian of σ_b/√2 so the noise correlation is the beam */
	double sb = 6.0 / 2.354820045, sc = sb / M_SQRT2;
	int h = (int)ceil(3.5 * sc);
	double ker[64], ks = 0;
	for (int j = -h; j <= h; j++)
		ks += (ker[j + h] = exp(-0.5 * j * j / (sc * sc)));
	double knorm2 = 0;
	for (int j = -h; j <= h; j++)
		knorm2 += ker[j + h] * ker[j + h];
	double nscale = RMS_JY / knorm2; /* 2-D kernel norm² = (Σk²)² */

	static double ra[NSRC], dec[NSRC];
	for (int i = 0; i < NSRC; i++) {
		ra[i] = s[i].ra;
		dec[i] = s[i].dec;
	}
	static forced_result res[NSRC];
	int n_unnorm = 0, n_retired = 0, n_prov = 0, retired_bad_at = -1;
	double dbg_chi = 0;
	for (int e = 0; e < NEPOCH; e++) {
		double scale = 1 + SCALE_ERR * grand();
		/* correlated noise: white noise convolved along x then y */
		for (int i = 0; i < NX * NY; i++)
			white[i] = grand();
		for (int y = 0; y < NY; y++)
			for (int x = 0; x < NX; x++) {
				double acc = 0;
				for (int j = -h; j <= h; j++)
					acc += ker[j + h] * white[y * NX + (x + j + NX) % NX];
				tmp[y * NX + x] = (float)acc;
			}
		for (int y = 0; y < NY; y++)
			for (int x = 0; x < NX; x++) {
				double acc = 0;
				for (int j = -h; j <= h; j++)
					acc += ker[j + h] * tmp[((y + j + NY) % NY) * NX + x];
				img_data[y * NX + x] = (float)(acc * nscale);
			}
		for (int i = 0; i < NSRC; i++) {
			double amp = s[i].flux * truth_factor(&s[i], e) * scale;
			for (int y = (int)s[i].y - 10; y <= (int)s[i].y + 10; y++)
				for (int x = (int)s[i].x - 10; x <= (int)s[i].x + 10; x++)
					if (x >= 0 && y >= 0 && x < NX && y < NY)
						img_data[y * NX + x] += (float)(amp * exp(-4 * M_LN2 *
							((x - s[i].x) * (x - s[i].x) + (y - s[i].y) * (y - s[i].y)) / 36.0));
		}
		CHECK_OK(forced_measure(&img, NULL, &fp, ra, dec, NSRC, res, err, ERR_LEN), err);

		/* normalisation: baselines, then the epoch's correction */
		double rf[64], re[64];
		for (size_t r = 0; r < nref; r++) {
			rf[r] = res[ref_idx[r]].flux_jy;
			re[r] = res[ref_idx[r]].flux_err_jy;
			norm_ref_add_baseline(&refs[r], rf[r], &np);
		}
		norm_epoch ne;
		CHECK_OK(norm_epoch_correction(refs, rf, re, nref, &np, &ne), NULL);
		if (ne.flags & NORM_TOO_FEW_REFS)
			n_unnorm++;
		/* epochs normalised with still-growing baselines do not enter the
		 * light curves used for statistics (normalize.h) */
		if (ne.flags & NORM_PROVISIONAL) {
			n_prov++;
			continue;
		}
		for (int i = 0; i < NSRC; i++) {
			src *q = &s[i];
			double nf, nerr;
			if (res[i].flags & FORCED_BAD)
				continue;
			norm_apply(res[i].flux_jy, res[i].flux_err_jy, &ne, &nf, &nerr);
			if (!isfinite(nf))
				continue;
			q->mjd[q->nn] = 60000 + e;
			q->raw[q->nn] = res[i].flux_jy;
			q->nflux[q->nn] = nf;
			q->nerr[q->nn] = nerr;
			q->nn++;
			var_add(&q->var, 60000 + e, nf, nerr, VAR_VS_MIN);
		}
		/* retire references whose last 30 days are not constant */
		for (size_t r = 0; r < nref; r++) {
			src *q = &s[ref_idx[r]];
			if (!refs[r].retired &&
			    norm_should_retire(q->mjd, q->nflux, q->nerr, q->nn, 60000 + e, &np, &dbg_chi)) {
				if (getenv("PHOT_DEBUG"))
					printf("# retire ref %zu at epoch %d chi2 %g (nn %d, last %g ± %g, corr %g ± %g)\n", r, e, dbg_chi, q->nn, q->nflux[q->nn-1], q->nerr[q->nn-1], ne.correction, ne.correction_err);
				refs[r].retired = 1;
				if (ref_idx[r] == 3)
					retired_bad_at = e;
				else
					n_retired++;
			}
		}
	}
	CHECK(n_unnorm == 2, "un-normalised epochs %d (the baseline needs 3)", n_unnorm);
	CHECK(n_prov == 7, "provisional epochs %d (baselines complete after 10)", n_prov);
	CHECK(n_retired == 0, "stable references retired: %d", n_retired);
	printf("# the reference that dropped 10 %% at epoch 50 was retired at epoch %d\n", retired_bad_at);
	CHECK(retired_bad_at >= 50 && retired_bad_at <= 60, "bad reference retired at %d", retired_bad_at);

	/* bright stable sources: normalised scatter and χ²_ν */
	double scat[NSRC], rawscat[NSRC], chi[NSRC];
	int nb = 0;
	for (int i = 0; i < NSRC; i++) {
		if ((s[i].kind != STABLE && s[i].kind != REF) || s[i].flux < 0.3 || i == 3)
			continue;
		var_stats vs;
		var_get(&s[i].var, &vs);
		scat[nb] = vs.std / vs.mean;
		chi[nb] = vs.chi2_nu;
		var_stats rv;
		double re[NEPOCH];
		for (int k = 0; k < s[i].nn; k++)
			re[k] = s[i].nerr[k];
		var_batch(s[i].raw, re, s[i].nn, VAR_VS_MIN, &rv);
		rawscat[nb] = rv.std / rv.mean;
		nb++;
	}
	/* medians */
	for (int a = 0; a < nb; a++)
		for (int b = a + 1; b < nb; b++) {
			if (scat[b] < scat[a]) { double t = scat[a]; scat[a] = scat[b]; scat[b] = t; }
			if (rawscat[b] < rawscat[a]) { double t = rawscat[a]; rawscat[a] = rawscat[b]; rawscat[b] = t; }
			if (chi[b] < chi[a]) { double t = chi[a]; chi[a] = chi[b]; chi[b] = t; }
		}
	printf("# series: %d epochs, %d sources; %d bright (>= 0.3 Jy) stable sources: normalised "
	       "scatter median %.3f %% (max %.3f %%), raw %.2f %%, chi2_nu median %.2f\n",
	       NEPOCH, NSRC, nb, 100 * scat[nb / 2], 100 * scat[nb - 1], 100 * rawscat[nb / 2],
	       chi[nb / 2]);
	CHECK(nb >= 20, "bright stable sources %d", nb);
	CHECK(scat[nb / 2] <= 0.01, "median normalised scatter %g", scat[nb / 2]);
	CHECK(scat[nb - 1] <= 0.015, "worst normalised scatter %g", scat[nb - 1]);
	CHECK(rawscat[nb / 2] > 0.02, "raw scatter %g: the flux-scale errors were injected", rawscat[nb / 2]);
	CHECK(chi[nb / 2] > 0.6 && chi[nb / 2] < 1.6, "median chi2_nu %g: errors are honest", chi[nb / 2]);

	/* ESE scores */
	int false_pos = 0, gated = 0;
	for (int i = 0; i < NSRC; i++) {
		ese_result r;
		CHECK_OK(ese_score(s[i].mjd, s[i].nflux, s[i].nerr, s[i].nn, &ep, &r), NULL);
		gated += r.scored;
		if (s[i].kind == ESE) {
			printf("# ESE %2.0f d %2.0f %% (%.2f Jy): score %.3f, 2T %.0f d, amplitude %.2f\n",
			       s[i].p2, 100 * s[i].p3, s[i].flux, r.score, r.timescale_days, r.amplitude);
			CHECK(r.score >= 0.6, "ESE source %d score %g", i, r.score);
		} else {
			if (s[i].kind == FLARE || s[i].kind == DRIFT)
				printf("# %s: score %.3f (gated %d)\n", s[i].kind == FLARE ? "flare" : "drift",
				       r.score, r.scored);
			if (r.score >= 0.6) {
				false_pos++;
				printf("# false positive: source %d kind %d flux %.3f score %.3f\n", i,
				       s[i].kind, s[i].flux, r.score);
			}
		}
	}
	printf("# %d sources passed the variability gate; %d false positives\n", gated, false_pos);
	CHECK(false_pos == 0, "false positives %d", false_pos);
}

int main(void)
{
	RUN(test_series);
	return TEST_DONE();
}
