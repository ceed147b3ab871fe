/*
 * daemon/stage_phot_band.c — sub-band photometry (see stage_phot_band.h).
 */
#include "daemon/stage_phot_band.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "imaging/image.h"
#include "photometry/ese.h"
#include "photometry/forced.h"
#include "photometry/spindex.h"
#include "state/db.h"
#include "state/photdb.h"
#include "state/photdb_band.h"

#define DEG (M_PI / 180.0)

static int sky2pix(void *ctx, double ra, double dec, double *x, double *y)
{
	return image_radec_to_pix(ctx, ra, dec, x, y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The joint lens fit of one source from its stored sub-band light curve:
 * the normalised epochs (flux × the epoch's correction). */
static int refit_lens(sqlite3 *db, const char *source, int nsub, const double *freq_hz,
		      int *ret_done, char *err, size_t errlen)
{
	photdb_band_row *rows = NULL;
	size_t n = 0, ne = 0;
	double *mjd = NULL, *f = NULL, *e = NULL;
	int rc;

	*ret_done = 0;
	if ((rc = photdb_band_lightcurve(db, source, &rows, &n, err, errlen)) < 0)
		return rc;
	mjd = malloc((n ? n : 1) * sizeof *mjd);
	f = malloc((n ? n : 1) * nsub * sizeof *f);
	e = malloc((n ? n : 1) * nsub * sizeof *e);
	if (!mjd || !f || !e) {
		rc = err_set(err, errlen, -ENOMEM, "photometry: out of memory");
		goto out;
	}
	/* Rows come ordered by mjd, group, sub-band: one epoch per group with
	 * this sub-band count. */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && rows[j].group_id == rows[i].group_id)
			j++;
		for (int k = 0; k < nsub; k++)
			f[ne * nsub + k] = e[ne * nsub + k] = NAN;
		int ok = (int)(j - i) == nsub;
		for (size_t q = i; q < j && ok; q++) {
			const photdb_band_row *b = &rows[q];
			double c = b->correction;
			/* Normalised epochs only, as the MFS light curve the ESE
			 * score reads (an epoch without a correction is not in it). */
			if (b->subband < 0 || b->subband >= nsub || !isfinite(c)) {
				ok = 0;
				break;
			}
			f[ne * nsub + b->subband] = b->flux_jy * c;
			e[ne * nsub + b->subband] = b->flux_err_jy * c;
		}
		if (ok) {
			mjd[ne] = rows[i].mjd;
			ne++;
		}
		i = j;
	}
	ese_band_result r;
	if ((rc = ese_score_subband(mjd, ne, nsub, freq_hz, f, e, &r)) < 0) {
		err_set(err, errlen, rc, "photometry: sub-band lens fit of %s failed", source);
		goto out;
	}
	if (r.scored) {
		photdb_ese_band pb = { .n = r.n, .nsub = nsub, .decisive = r.decisive,
				       .consistency = r.consistency, .dchi2 = r.dchi2,
				       .chi2_chromatic = r.chi2_chromatic,
				       .chi2_achromatic = r.chi2_achromatic,
				       .lens_alpha = r.alpha_ref, .t0_mjd = r.t0_mjd,
				       .t_days = r.t_days, .ref_freq_hz = r.ref_freq_hz,
				       .updated_at = (double)time(NULL) };
		snprintf(pb.source, sizeof pb.source, "%s", source);
		if ((rc = photdb_ese_band_put(db, &pb, err, errlen)) < 0)
			goto out;
		*ret_done = 1;
	}
	rc = 0;
out:
	free(rows);
	free(mjd);
	free(f);
	free(e);
	return rc;
}

int stage_phot_subbands(pipe_ctx *ctx, const phot_settings *s, const catalog_source *src,
			size_t nsrc, phot_band_summary *ret, char *err, size_t errlen)
{
	const image_result *im = ctx->image;
	forced_result *fr = NULL;
	double *ra = NULL, *dec = NULL, *alphas = NULL, freq[SUBBAND_MAX];
	int rc = 0, in_tx = 0, nsub;
	size_t nm = nsrc ? nsrc : 1, na = 0;
	phot_band_summary sum = { 0 };

	sum.median_alpha = NAN;
	if (!im || im->nsub < 2 || !ctx->db || !nsrc)
		goto done;
	nsub = im->nsub;
	sum.nsub = nsub;
	double mjd = im->jd_mid - 2400000.5;
	double corr = ctx->phot ? ctx->phot->correction : NAN;
	fr = malloc(nm * nsub * sizeof *fr);
	ra = malloc(nm * sizeof *ra);
	dec = malloc(nm * sizeof *dec);
	alphas = malloc(nm * sizeof *alphas);
	if (!fr || !ra || !dec || !alphas) {
		rc = err_set(err, errlen, -ENOMEM, "photometry: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsrc; i++) {
		ra[i] = src[i].ra_deg * DEG;
		dec[i] = src[i].dec_deg * DEG;
	}
	/* The MFS method on every sub-band image, before the write lock. */
	for (int k = 0; k < nsub; k++) {
		const subband_image *o = &im->sub[k];
		freq[k] = o->freq_hz;
		forced_image fi = {
			.nx = im->nx, .ny = im->ny, .data = o->pbcor, .pb = o->pb,
			.cell_rad = im->cell_rad, .bmaj_rad = im->beam.bmaj_rad,
			.bmin_rad = im->beam.bmin_rad, .bpa_rad = im->beam.bpa_rad,
			.sky2pix = sky2pix, .sky2pix_ctx = (void *)im,
		};
		if ((rc = forced_measure(&fi, NULL, &s->fp, ra, dec, nsrc, fr + (size_t)k * nsrc,
					 err, errlen)))
			goto out;
	}
	if ((rc = db_begin(ctx->db, err, errlen)) < 0)
		goto out;
	in_tx = 1;
	for (size_t i = 0; i < nsrc; i++) {
		double f[SUBBAND_MAX], e[SUBBAND_MAX];
		int any = 0;
		for (int k = 0; k < nsub; k++) {
			const forced_result *r = &fr[(size_t)k * nsrc + i];
			f[k] = r->flux_jy;
			e[k] = r->flux_err_jy;
			any |= isfinite(r->flux_jy);
		}
		if (!any)
			continue;
		for (int k = 0; k < nsub; k++) {
			const forced_result *r = &fr[(size_t)k * nsrc + i];
			photdb_band_row row = { .group_id = ctx->group_id, .subband = k, .mjd = mjd,
						.freq_hz = freq[k], .flux_jy = r->flux_jy,
						.flux_err_jy = r->flux_err_jy,
						.local_rms_jy = r->rms_jy, .pb = r->pb,
						.forced_flags = r->flags, .correction = corr };
			snprintf(row.source, sizeof row.source, "%s", src[i].name);
			if ((rc = photdb_band_put(ctx->db, &row, err, errlen)) < 0)
				goto out;
			sum.nrows++;
		}
		spindex_result sr;
		if (spindex_fit(freq, f, e, nsub, &sr) >= 2) {
			photdb_spindex si = { .group_id = ctx->group_id, .mjd = mjd,
					      .alpha = sr.alpha, .alpha_err = sr.alpha_err,
					      .s0_jy = sr.s0, .nu0_hz = sr.nu0_hz, .chi2 = sr.chi2,
					      .npoints = sr.n };
			snprintf(si.source, sizeof si.source, "%s", src[i].name);
			if ((rc = photdb_spindex_put(ctx->db, &si, err, errlen)) < 0)
				goto out;
			sum.nspindex++;
			if (sr.alpha_err < 0.2)
				alphas[na++] = sr.alpha;
		}
		/* An ESE candidate: refit the joint sub-band lens. */
		photdb_cand c;
		char e2[256];
		rc = photdb_cand_get(ctx->db, src[i].name, &c, e2, sizeof e2);
		if (rc == 0) {
			int done;
			if ((rc = refit_lens(ctx->db, src[i].name, nsub, freq, &done, err, errlen)) <
			    0)
				goto out;
			sum.nlens += done;
		} else if (rc != -ENOENT) {
			err_set(err, errlen, rc, "%s", e2);
			goto out;
		}
	}
	rc = db_end(ctx->db, 1, err, errlen);
	in_tx = 0;
	if (rc < 0)
		goto out;
	if (na) {
		qsort(alphas, na, sizeof *alphas, cmp_double);
		sum.median_alpha = na % 2 ? alphas[na / 2] : 0.5 * (alphas[na / 2 - 1] + alphas[na / 2]);
	}
done:
	rc = 0;
	if (ret)
		*ret = sum;
out:
	if (in_tx) {
		char e2[256];
		db_end(ctx->db, 0, e2, sizeof e2);
	}
	free(fr);
	free(ra);
	free(dec);
	free(alphas);
	return rc;
}
