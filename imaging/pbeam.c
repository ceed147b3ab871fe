/*
 * imaging/pbeam.c — time- and band-averaged Airy beam of the drift scan.
 */
#include "imaging/pbeam.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/astro.h"
#include "core/beam.h"
#include "core/err.h"

#define NTAB 8192
#define PB_STEP_RAD (30.0 * M_PI / 648000.0) /* at most 30" between exact evaluations */

int pbeam_image(const pbeam_params *p, float *pb, char *err, size_t errlen)
{
	double (*pt)[3] = NULL, *tw = NULL, *tab = NULL, *node = NULL;
	double swt = 0, swc = 0, smax = 0;
	int nthreads = p->nthreads > 0 ? p->nthreads : omp_get_max_threads(), r = 0;

	const img_proj *pj = &p->proj;
	if (pj->nx <= 0 || pj->ny <= 0 || !(pj->cell_rad > 0) || p->ntimes <= 0 ||
	    p->nchan <= 0 || !(p->diam_m > 0))
		return err_set(err, errlen, -EINVAL, "pbeam: bad parameters");
	pt = malloc(p->ntimes * sizeof *pt);
	tw = malloc(p->ntimes * sizeof *tw);
	tab = malloc((NTAB + 2) * sizeof *tab);
	if (!pt || !tw || !tab) {
		r = err_set(err, errlen, -ENOMEM, "pbeam: out of memory");
		goto out;
	}
	/* Pointing of each integration in ICRS: the Earth-fixed (H = 0, dec) at t. */
	double c0[3];
	astro_dir(pj->ra0_rad, pj->dec0_rad, c0);
	double maxsep = 0;
	for (int t = 0; t < p->ntimes; t++) {
		astro_frame f;
		astro_eop eop = { p->dut1_s, p->xp_rad, p->yp_rad };
		double ra, dec, ra_c, dec_c;
		r = astro_frame_init_eop(&f, p->time_jd[t], p->lon_rad, &eop);
		if (r < 0) {
			r = err_set(err, errlen, -EIO, "pbeam: ERFA rejected time JD %.6f",
				    p->time_jd[t]);
			goto out;
		}
		astro_frame_hadec_to_cirs(&f, 0, p->pointing_dec_rad, &ra_c, &dec_c);
		astro_frame_cirs_to_icrs(&f, ra_c, dec_c, &ra, &dec);
		astro_dir(ra, dec, pt[t]);
		tw[t] = p->time_w ? p->time_w[t] : 1;
		swt += tw[t];
		double sep = astro_separation(ra, dec, pj->ra0_rad, pj->dec0_rad);
		if (sep > maxsep)
			maxsep = sep;
	}
	for (int c = 0; c < p->nchan; c++)
		swc += p->chan_w ? p->chan_w[c] : 1;
	if (!(swt > 0) || !(swc > 0)) {
		r = err_set(err, errlen, -EINVAL, "pbeam: zero total weight");
		goto out;
	}
	/* Largest angle any pixel can have from any pointing. */
	double hx = 0.5 * pj->nx * pj->cell_rad, hy = 0.5 * pj->ny * pj->cell_rad;
	/* A slant moves a pixel by (ξ, η)·(1 − n) <= (|ξ| + |η|)·r² from the
	 * orthographic position at intermediate radius r. */
	double rr = sqrt(hx * hx + hy * hy);
	double rmax = asin(fmin(1, rr * (1 + (fabs(pj->xi) + fabs(pj->eta)) * rr))) + maxsep + 1e-3;
	smax = rmax >= M_PI / 2 ? 1 : sin(rmax);
	/* Band-averaged pattern over sin θ. */
#pragma omp parallel for num_threads(nthreads) schedule(static)
	for (int i = 0; i <= NTAB + 1; i++) {
		double s = smax * i / NTAB, acc = 0;
		for (int c = 0; c < p->nchan; c++) {
			double w = p->chan_w ? p->chan_w[c] : 1;
			if (w > 0)
				acc += w * beam_airy(s, p->freq_hz[c], p->diam_m);
		}
		tab[i] = acc / swc;
	}
	/* The beam varies on degree scales: evaluate it every PB_STEP pixels
	 * (<= 30", and on the last row/column) and interpolate bilinearly; the
	 * error is ~(step/beam)² ~ 1e-5 (tests/imaging/test_pbeam.c). */
	int PB_STEP = (int)(PB_STEP_RAD / pj->cell_rad);
	if (PB_STEP < 1)
		PB_STEP = 1;
	int ncx = (pj->nx - 1 + PB_STEP - 1) / PB_STEP + 1, ncy = (pj->ny - 1 + PB_STEP - 1) / PB_STEP + 1;
	node = malloc((size_t)ncx * ncy * sizeof *node);
	if (!node) {
		r = err_set(err, errlen, -ENOMEM, "pbeam: out of memory");
		goto out;
	}
#pragma omp parallel for num_threads(nthreads) schedule(static)
	for (int jy = 0; jy < ncy; jy++) {
		for (int jx = 0; jx < ncx; jx++) {
			double x = jx * PB_STEP < pj->nx - 1 ? jx * PB_STEP : pj->nx - 1;
			double y = jy * PB_STEP < pj->ny - 1 ? jy * PB_STEP : pj->ny - 1;
			double ra, dec, d[3], acc = 0;
			if (proj_pix_to_radec(pj, x, y, &ra, &dec) < 0) {
				node[(size_t)jy * ncx + jx] = 0;
				continue;
			}
			astro_dir(ra, dec, d);
			for (int t = 0; t < p->ntimes; t++) {
				if (!(tw[t] > 0))
					continue;
				/* sin θ = |d × p| (accurate at small angles). */
				double cx = d[1] * pt[t][2] - d[2] * pt[t][1];
				double cy = d[2] * pt[t][0] - d[0] * pt[t][2];
				double cz = d[0] * pt[t][1] - d[1] * pt[t][0];
				double s = sqrt(cx * cx + cy * cy + cz * cz);
				double dot = d[0] * pt[t][0] + d[1] * pt[t][1] + d[2] * pt[t][2];
				double v;
				if (dot <= 0 || s > smax) {
					v = 0;
				} else {
					double q = s / smax * NTAB;
					int k = (int)q;
					v = tab[k] + (q - k) * (tab[k + 1] - tab[k]);
				}
				acc += tw[t] * v;
			}
			node[(size_t)jy * ncx + jx] = acc / swt;
		}
	}
#pragma omp parallel for num_threads(nthreads) schedule(static)
	for (int iy = 0; iy < pj->ny; iy++) {
		int jy = iy / PB_STEP < ncy - 1 ? iy / PB_STEP : ncy - 2;
		double y0 = jy * PB_STEP, y1 = (jy + 1) * PB_STEP < pj->ny - 1 ? (jy + 1) * PB_STEP : pj->ny - 1;
		double fy = y1 > y0 ? (iy - y0) / (y1 - y0) : 0;
		for (int ix = 0; ix < pj->nx; ix++) {
			int jx = ix / PB_STEP < ncx - 1 ? ix / PB_STEP : ncx - 2;
			double x0 = jx * PB_STEP, x1 = (jx + 1) * PB_STEP < pj->nx - 1 ? (jx + 1) * PB_STEP : pj->nx - 1;
			double fx = x1 > x0 ? (ix - x0) / (x1 - x0) : 0;
			const double *n0 = node + (size_t)jy * ncx + jx, *n1 = n0 + ncx;
			double v = (1 - fy) * ((1 - fx) * n0[0] + fx * n0[1]) +
				   fy * ((1 - fx) * n1[0] + fx * n1[1]);
			pb[(size_t)iy * pj->nx + ix] = (float)v;
		}
	}
out:
	free(node);
	free(pt);
	free(tw);
	free(tab);
	return r;
}

#define DDEC_STEP_RAD 1e-4 /* pbeam_at's central difference in δ_p */

int pbeam_at(const pbeam_params *p, const double *ra_rad, const double *dec_rad, size_t n,
	     double *ret_pb, double *ret_dlnpb_ddec, char *err, size_t errlen)
{
	/* pt[k][t]: the pointing of integration t at δ_p + (0, +h, −h)[k], ICRS. */
	double (*pt)[3] = NULL, *tw = NULL, swt = 0, swc = 0;
	const double dd[3] = { 0, DDEC_STEP_RAD, -DDEC_STEP_RAD };
	int nthreads = p->nthreads > 0 ? p->nthreads : omp_get_max_threads(), r = 0;

	if (p->ntimes <= 0 || p->nchan <= 0 || !(p->diam_m > 0) || (n && (!ra_rad || !dec_rad)))
		return err_set(err, errlen, -EINVAL, "pbeam: bad parameters");
	pt = malloc(3 * (size_t)p->ntimes * sizeof *pt);
	tw = malloc(p->ntimes * sizeof *tw);
	if (!pt || !tw) {
		r = err_set(err, errlen, -ENOMEM, "pbeam: out of memory");
		goto out;
	}
	for (int t = 0; t < p->ntimes; t++) {
		astro_frame f;
		astro_eop eop = { p->dut1_s, p->xp_rad, p->yp_rad };
		r = astro_frame_init_eop(&f, p->time_jd[t], p->lon_rad, &eop);
		if (r < 0) {
			r = err_set(err, errlen, -EIO, "pbeam: ERFA rejected time JD %.6f",
				    p->time_jd[t]);
			goto out;
		}
		for (int k = 0; k < 3; k++) {
			double ra, dec;
			astro_frame_cirs_to_icrs(&f, astro_frame_meridian_ra_cirs(&f),
						 p->pointing_dec_rad + dd[k], &ra, &dec);
			astro_dir(ra, dec, pt[(size_t)k * p->ntimes + t]);
		}
		tw[t] = p->time_w ? p->time_w[t] : 1;
		swt += tw[t];
	}
	for (int c = 0; c < p->nchan; c++)
		swc += p->chan_w ? p->chan_w[c] : 1;
	if (!(swt > 0) || !(swc > 0)) {
		r = err_set(err, errlen, -EINVAL, "pbeam: zero total weight");
		goto out;
	}
#pragma omp parallel for num_threads(nthreads) schedule(dynamic)
	for (size_t i = 0; i < n; i++) {
		double d[3], v[3] = { 0, 0, 0 };
		astro_dir(ra_rad[i], dec_rad[i], d);
		for (int k = 0; k < 3; k++) {
			for (int t = 0; t < p->ntimes; t++) {
				const double *q = pt[(size_t)k * p->ntimes + t];
				double cx = d[1] * q[2] - d[2] * q[1], cy = d[2] * q[0] - d[0] * q[2];
				double cz = d[0] * q[1] - d[1] * q[0];
				double s = sqrt(cx * cx + cy * cy + cz * cz), acc = 0;
				if (!(tw[t] > 0) || d[0] * q[0] + d[1] * q[1] + d[2] * q[2] <= 0)
					continue;
				for (int c = 0; c < p->nchan; c++) {
					double w = p->chan_w ? p->chan_w[c] : 1;
					if (w > 0)
						acc += w * beam_airy(s, p->freq_hz[c], p->diam_m);
				}
				v[k] += tw[t] * acc;
			}
			v[k] /= swt * swc;
		}
		if (ret_pb)
			ret_pb[i] = v[0];
		if (ret_dlnpb_ddec)
			ret_dlnpb_ddec[i] = v[0] > 0 && v[1] > 0 && v[2] > 0
						    ? (log(v[1]) - log(v[2])) / (2 * DDEC_STEP_RAD)
						    : NAN;
	}
out:
	free(pt);
	free(tw);
	return r;
}

void pbeam_correct(const float *img, const float *pb, size_t n, double cut, float *out)
{
	for (size_t j = 0; j < n; j++)
		out[j] = pb[j] >= cut && pb[j] > 0 ? img[j] / pb[j] : NAN;
}
