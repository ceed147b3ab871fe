/*
 * tests/integration/alertsim.c — drives the photometry stage's two calls,
 * phot_process_epoch() then alert_emit_epoch() (exactly what
 * stage_photometry() does after imaging), on a deterministic series of
 * synthetic pbcor images, for tests/integration/test_alerts.sh.
 *
 *   alertsim CONFIG FROM TO
 *
 * reads CONFIG as contimgd does (contimg_config_load: [paths], [photometry],
 * [alerts]), opens (creating) the state database, and processes epochs
 * FROM..TO-1: one group per epoch (named 2026-01-DDTHH:00:00 from the epoch
 * index, created when absent, so running an epoch again re-runs its group),
 * one 256² image per epoch, 64 catalog sources on a grid (8 bright
 * references), a 3 % flux-scale error per epoch, beam-correlated noise.
 * Source ESE1 goes through a Gaussian-lens dip (ese_lens_gain, α 0.5, source
 * size 0.1, T 8 d, lensed fraction 0.6) centred on epoch 45; source FLARE
 * has a symmetric 30 % flare around epoch 30 (a decoy that must not alert).
 * Every image is a function of its epoch index only (its own random seed), so
 * a re-run measures the same fluxes.  Prints one line per epoch:
 *
 *   epoch E mjd M ESE1 score S ongoing O alerts N
 *
 * Exit 0, or 1 with the reason on stderr.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "daemon/alert.h"
#include "daemon/settings.h"
#include "daemon/stage_photometry.h"
#include "daemon/util.h"
#include "photometry/ese.h"
#include "state/alertdb.h"
#include "state/db.h"
#include "state/photdb.h"

#define ARCSEC (M_PI / 180.0 / 3600.0)
#define DEG (M_PI / 180.0)

enum { NX = 256, NY = 256, GRID = 8, NSRC = GRID * GRID, ESE = 13, FLARE = 22 };

static uint64_t rng;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

static double grand(void)
{
	return sqrt(-2 * log(urand())) * cos(2 * M_PI * urand());
}

typedef struct sinproj {
	double ra0, dec0, cx, cy, cell;
} sinproj;

static int sin_s2p(void *ctx, double ra, double dec, double *x, double *y)
{
	const sinproj *s = ctx;
	double l = cos(dec) * sin(ra - s->ra0);
	double m = sin(dec) * cos(s->dec0) - cos(dec) * sin(s->dec0) * cos(ra - s->ra0);
	double n = sin(dec) * sin(s->dec0) + cos(dec) * cos(s->dec0) * cos(ra - s->ra0);
	if (n <= 0)
		return -1;
	*x = s->cx - l / s->cell;
	*y = s->cy + m / s->cell;
	return 0;
}

static void sin_p2s(const sinproj *s, double x, double y, double *ra, double *dec)
{
	double l = -(x - s->cx) * s->cell, m = (y - s->cy) * s->cell;
	double n = sqrt(1 - l * l - m * m);
	*dec = asin(m * cos(s->dec0) + n * sin(s->dec0));
	*ra = s->ra0 + atan2(l, n * cos(s->dec0) - m * sin(s->dec0));
}

/* Beam-correlated noise (circular Gaussian beam of fwhm_px) plus point
 * sources of amplitude amp[i] at (x[i], y[i]). */
static void make_image(float *d, double *white, double fwhm_px, double rms, const double *x,
		       const double *y, const double *amp)
{
	double sc = fwhm_px / 2.354820045 / M_SQRT2, ker[64], k2 = 0;
	int h = (int)ceil(3.5 * sc);
	for (int j = -h; j <= h; j++) {
		ker[j + h] = exp(-0.5 * j * j / (sc * sc));
		k2 += ker[j + h] * ker[j + h];
	}
	static float tmp[NX * NY];
	for (int i = 0; i < NX * NY; i++)
		white[i] = grand();
	for (int r = 0; r < NY; r++)
		for (int c = 0; c < NX; c++) {
			double acc = 0;
			for (int j = -h; j <= h; j++)
				acc += ker[j + h] * white[(size_t)r * NX + (c + j + NX) % NX];
			tmp[(size_t)r * NX + c] = (float)acc;
		}
	for (int r = 0; r < NY; r++)
		for (int c = 0; c < NX; c++) {
			double acc = 0;
			for (int j = -h; j <= h; j++)
				acc += ker[j + h] * tmp[(size_t)((r + j + NY) % NY) * NX + c];
			d[(size_t)r * NX + c] = (float)(acc * rms / k2);
		}
	int b = (int)ceil(2 * fwhm_px);
	for (int i = 0; i < NSRC; i++)
		for (int r = (int)y[i] - b; r <= (int)y[i] + b; r++)
			for (int c = (int)x[i] - b; c <= (int)x[i] + b; c++)
				if (r >= 0 && c >= 0 && r < NY && c < NX) {
					double dx = c - x[i], dy = r - y[i];
					d[(size_t)r * NX + c] += (float)(amp[i] * exp(-4 * M_LN2 *
						(dx * dx + dy * dy) / (fwhm_px * fwhm_px)));
				}
}

static int group_for(sqlite3 *db, int e, int64_t *ret_id, char *name, size_t len, char *err)
{
	snprintf(name, len, "2026-01-%02dT%02d:00:00", 1 + e / 24, e % 24);
	int64_t id = -1;
	int r = db_query_int(db, &id, err, ERR_LEN, "SELECT id FROM groups WHERE name = ?", "s",
			     name);
	if (r < 0)
		return r;
	if (r == 0) {
		r = db_exec(db, err, ERR_LEN, "INSERT INTO groups (name, t_first, state, n_expected, "
			    "created_at, updated_at) VALUES (?, ?, 'completed', 16, 0, 0)", "sI",
			    name, (int64_t)(1767225600 + 3600 * e));
		if (r < 0)
			return r;
		r = db_query_int(db, &id, err, ERR_LEN, "SELECT id FROM groups WHERE name = ?",
				 "s", name);
		if (r < 0)
			return r;
	}
	*ret_id = id;
	return 0;
}

int main(int argc, char **argv)
{
	char err[ERR_LEN] = "";
	contimg_config *conf = NULL;
	sqlite3 *db = NULL;
	if (argc != 4) {
		fprintf(stderr, "usage: alertsim CONFIG FROM TO\n");
		return 1;
	}
	int from = atoi(argv[2]), to = atoi(argv[3]);
	log_init("alertsim", LOG_FORMAT_TEXT, LOG_INFO);
	if (contimg_config_load(argv[1], 0, &conf, err, sizeof err) < 0) {
		fprintf(stderr, "alertsim: %s\n", err);
		return 1;
	}
	if (util_mkdir_p(conf->pipe.state_dir) < 0 ||
	    db_open(conf->pipe.db_path, 1, &db, err, sizeof err) < 0) {
		fprintf(stderr, "alertsim: %s: %s\n", conf->pipe.db_path, err);
		return 1;
	}
	phot_settings s = conf->phot;
	s.fp.threads = 2;

	/* the field: fixed geometry and catalog (seed independent of the epochs) */
	sinproj sp = { 128.7 * DEG, 55.2 * DEG, NX / 2, NY / 2, 3 * ARCSEC };
	forced_image img = { .nx = NX, .ny = NY, .cell_rad = sp.cell, .bmaj_rad = 18 * ARCSEC,
			     .bmin_rad = 18 * ARCSEC, .sky2pix = sin_s2p, .sky2pix_ctx = &sp };
	static catalog_source cat[NSRC];
	double x[NSRC], y[NSRC], flux[NSRC], amp[NSRC];
	rng = 0x5DEECE66Dull;
	for (int i = 0; i < NSRC; i++) {
		x[i] = 16 + (i % GRID) * 32 + urand() - 0.5;
		y[i] = 16 + (i / GRID) * 32 + urand() - 0.5;
		double ra, dec;
		sin_p2s(&sp, x[i], y[i], &ra, &dec);
		snprintf(cat[i].name, sizeof cat[i].name, "SRC%02d", i);
		cat[i].ra_deg = ra / DEG;
		cat[i].dec_deg = dec / DEG;
		flux[i] = i % 8 == 0 ? 1.0 + 0.1 * i / 8 : 0.02 + 0.07 * urand();
		cat[i].flux_mjy = 1e3 * flux[i];
		cat[i].snr = flux[i] / 2e-3;
		cat[i].e_flux_mjy = 2;
		cat[i].major_arcsec = NAN;
		cat[i].spectral_index = NAN;
	}
	/* names that need escaping in XML and in a file name */
	snprintf(cat[ESE].name, sizeof cat[ESE].name, "ESE1 J0834+55<&>");
	flux[ESE] = 0.4;
	cat[ESE].flux_mjy = 400;
	cat[ESE].snr = 40;
	snprintf(cat[FLARE].name, sizeof cat[FLARE].name, "FLARE");
	flux[FLARE] = 0.3;
	cat[FLARE].snr = 40;
	cat[FLARE].flux_mjy = 300;
	cat[FLARE + 1].resolved = 1;
	cat[FLARE + 1].major_arcsec = 45;

	float *d = malloc(NX * NY * sizeof *d);
	double *white = malloc(NX * NY * sizeof *white);
	if (!d || !white)
		return 1;
	img.data = d;
	int rc = 0;
	for (int e = from; e < to; e++) {
		rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(e + 1) * 0xD1B54A32D192ED03ull;
		double scale = 1 + 0.03 * grand();
		for (int i = 0; i < NSRC; i++) {
			double g = 1;
			if (i == ESE)
				g = 1 - 0.6 + 0.6 * ese_lens_gain(0.5, 0.1, (e - 45.0) / 8.0);
			if (i == FLARE)
				g = 1 + 0.3 * exp(-0.5 * pow((e - 30.0) / 3.0, 2));
			amp[i] = flux[i] * g * scale;
		}
		make_image(d, white, 6, 2e-3, x, y, amp);
		int64_t gid;
		char gname[32];
		if (group_for(db, e, &gid, gname, sizeof gname, err) < 0) {
			fprintf(stderr, "alertsim: group: %s\n", err);
			rc = 1;
			break;
		}
		phot_result *pr = NULL;
		/* the two calls of stage_photometry() */
		if (phot_process_epoch(db, gid, 61000 + e, 1, &img, sp.ra0, sp.dec0, cat, NSRC, &s,
				       &pr, err, sizeof err) < 0) {
			fprintf(stderr, "alertsim: epoch %d: %s\n", e, err);
			rc = 1;
			break;
		}
		alert_emit_epoch(db, &conf->alerts, conf->pipe.products_dir, gid, gname, pr);
		photdb_var v;
		double score = NAN;
		if (photdb_var_get(db, cat[ESE].name, &v, NULL, 0, err, sizeof err) == 0)
			score = v.ese_score;
		int ongoing = 0;
		for (size_t k = 0; k < pr->ncand; k++)
			if (!strcmp(pr->cand[k].c.source, cat[ESE].name))
				ongoing = pr->cand[k].c.ongoing;
		int64_t na = 0;
		alertdb_count(db, &na, err, sizeof err);
		printf("epoch %d mjd %d ESE1 score %.3f ongoing %d alerts %lld\n", e, 61000 + e, score,
		       ongoing, (long long)na);
		phot_result_free(pr);
	}
	free(d);
	free(white);
	db_close(db);
	contimg_config_free(conf);
	return rc;
}
