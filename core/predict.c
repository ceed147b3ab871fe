/*
 * core/predict.c — model visibilities of a point-source sky (see predict.h).
 *
 * Per integration the geometry of every source (direction cosines in the uvw
 * frame, beam argument) is computed once with ERFA; per channel the amplitude
 * S(ν)·A(ν) is tabulated; then each row is a sum over sources of a phasor
 * advanced channel by channel (one complex multiply per channel instead of a
 * sincos, re-anchored every RECUR_ANCHOR channels so rounding cannot grow).
 */
#include "core/predict.h"

#include <complex.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/astro.h"
#include "core/beam.h"
#include "core/err.h"

#define RECUR_ANCHOR 256 /* a multiple of LANES; double rounding after 256 steps ~1e-14 */
#define LANES 8

void predict_params_default(predict_params *p)
{
	memset(p, 0, sizeof *p);
	p->nthreads = 0;
	p->use_beam = 1;
	p->diam_m = 0;
	p->dut1_s = 0;
	p->xp_rad = 0;
	p->yp_rad = 0;
	p->min_beam = 0;
}

/* Everything about integration t that does not depend on the source. */
typedef struct tgeom {
	astro_frame f;
	double q[3][3];       /* FIXED: east/north/centre basis of the centre's apparent direction */
	double jinv[2][2];    /* FIXED: apparent → ICRS tangent-plane offsets (astro_frame_fixed_basis) */
	double ra_p, dec_p;   /* pointing in CIRS */
	double dec0;          /* DRIFT: phase-centre declination (terrestrial) */
	int fixed;
} tgeom;

static int tgeom_init(const vis_set *v, int t, const astro_eop *eop, tgeom *g, char *err,
		      size_t errlen)
{
	int r = astro_frame_init_eop(&g->f, v->time_jd[t], v->lon_rad, eop);

	if (r)
		return err_set(err, errlen, r, "%s: time %d (JD %.6f) outside ERFA's range", v->name, t,
			       v->time_jd[t]);
	g->fixed = v->phase_type == VIS_PHASE_FIXED;
	g->dec0 = v->phase_dec_rad;
	/* The pointing is fixed to the Earth: (H = 0, δ_p) in terrestrial
	 * coordinates, in CIRS for the beam's angle. */
	astro_frame_hadec_to_cirs(&g->f, 0, v->has_pointing_dec ? v->pointing_dec_rad
								 : v->phase_dec_rad, &g->ra_p, &g->dec_p);
	if (g->fixed) {
		double j[2][2], det;
		astro_frame_fixed_basis(&g->f, v->phase_ra_rad, v->phase_dec_rad, g->q, j);
		det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
		g->jinv[0][0] = j[1][1] / det;
		g->jinv[0][1] = -j[0][1] / det;
		g->jinv[1][0] = -j[1][0] / det;
		g->jinv[1][1] = j[0][0] / det;
	}
	return 0;
}

/* (l, m, n − 1) of an ICRS position in the frame of the uvw, and sin θ from
 * the pointing.  n − 1 is formed as −(l² + m²)/(1 + n) to keep its precision
 * near the centre. */
static void src_geom(const tgeom *g, double ra, double dec, double lmn1[3], double *sin_theta)
{
	double ri, di, n, pl, pm, pn;

	astro_frame_icrs_to_cirs(&g->f, ra, dec, &ri, &di);
	if (g->fixed) {
		/* Apparent direction on the centre's apparent basis; the stored uvw
		 * carry Jᵀ, so (l, m) go through J⁻¹ and u l + v m stays exact,
		 * while n − 1 keeps the exact apparent geometry. */
		double s[3], la, ma;
		astro_frame_icrs_to_gcrs_dir(&g->f, ra, dec, s);
		la = g->q[0][0] * s[0] + g->q[0][1] * s[1] + g->q[0][2] * s[2];
		ma = g->q[1][0] * s[0] + g->q[1][1] * s[1] + g->q[1][2] * s[2];
		n = g->q[2][0] * s[0] + g->q[2][1] * s[1] + g->q[2][2] * s[2];
		lmn1[0] = g->jinv[0][0] * la + g->jinv[0][1] * ma;
		lmn1[1] = g->jinv[1][0] * la + g->jinv[1][1] * ma;
		lmn1[2] = n > 0 ? -(la * la + ma * ma) / (1 + n) : n - 1;
	} else {
		/* Reference recipe: H = ERA + lon − RA_CIRS; the centre is at H = 0.
		 * With polar motion H and δ are terrestrial (the frame of the
		 * file's uvw), which only tilts them by xp, yp. */
		double h, dt;
		astro_frame_cirs_to_hadec(&g->f, ri, di, &h, &dt);
		double sd = sin(dt), cd = cos(dt), s0 = sin(g->dec0), c0 = cos(g->dec0);
		double l = -cd * sin(h), m = sd * c0 - cd * s0 * cos(h);
		n = sd * s0 + cd * c0 * cos(h);
		lmn1[0] = l;
		lmn1[1] = m;
		lmn1[2] = n > 0 ? -(l * l + m * m) / (1 + n) : n - 1;
	}
	astro_lmn(ri, di, g->ra_p, g->dec_p, &pl, &pm, &pn);
	*sin_theta = pn >= 0 ? sqrt(pl * pl + pm * pm) : 1.0; /* back hemisphere: x at sin θ = 1 */
}

int predict_source_geometry(const vis_set *v, int t, double ra_rad, double dec_rad,
			    const astro_eop *eop, double ret_lmn[3], double *ret_sin_theta, char *err,
			    size_t errlen)
{
	tgeom g;
	double lmn1[3], st;
	int r;

	if (t < 0 || t >= v->ntimes)
		return err_set(err, errlen, -EINVAL, "%s: time index %d out of range", v->name, t);
	r = tgeom_init(v, t, eop, &g, err, errlen);
	if (r)
		return r;
	src_geom(&g, ra_rad, dec_rad, lmn1, &st);
	if (ret_lmn) {
		ret_lmn[0] = lmn1[0];
		ret_lmn[1] = lmn1[1];
		ret_lmn[2] = lmn1[2] + 1;
	}
	if (ret_sin_theta)
		*ret_sin_theta = st;
	return 0;
}

/* 1 when freq_hz is evenly spaced (so a constant step phasor works). */
static int freqs_uniform(const vis_set *v, double *ret_step)
{
	double d;

	if (v->nchan < 2) {
		*ret_step = 0;
		return 1;
	}
	d = v->freq_hz[1] - v->freq_hz[0];
	for (int c = 2; c < v->nchan; c++)
		if (fabs(v->freq_hz[c] - v->freq_hz[c - 1] - d) > 1e-6 * fabs(d))
			return 0;
	*ret_step = d;
	return 1;
}

int predict_vis(vis_set *v, const sky_model *m, const predict_params *pp, int mode, char *err,
		size_t errlen)
{
	predict_params p;
	double diam, dnu = 0, *amp = NULL, *geo = NULL;
	float polw[4];
	int ns = m ? m->n : 0, nc = v->nchan, ncp, uniform, r = 0, nthreads;
	size_t rowlen = (size_t)v->nchan * v->npols;

	if (pp)
		p = *pp;
	else
		predict_params_default(&p);
	if (mode < PREDICT_OVERWRITE || mode > PREDICT_SUBTRACT)
		return err_set(err, errlen, -EINVAL, "predict: unknown mode %d", mode);
	if (v->phase_type == VIS_PHASE_FIXED &&
	    (!isfinite(v->phase_ra_rad) || !isfinite(v->phase_dec_rad)))
		return err_set(err, errlen, -EINVAL, "%s: fixed phase centre not set", v->name);
	if (!isfinite(v->lon_rad) || !isfinite(v->phase_dec_rad))
		return err_set(err, errlen, -EINVAL, "%s: no site longitude or phase declination", v->name);
	diam = p.diam_m > 0 ? p.diam_m : (v->nants > 0 && v->ants[0].diam_m > 0 ? v->ants[0].diam_m
									      : BEAM_DSA110_DIAM_M);
	for (int q = 0; q < v->npols; q++) {
		int c = v->pols[q];
		/* Unpolarised: parallel hands and Stokes I see I, cross-hands nothing. */
		polw[q] = (c == VIS_POL_XX || c == VIS_POL_YY || c == VIS_POL_RR || c == VIS_POL_LL ||
			   c == VIS_POL_I) ? 1.0f : 0.0f;
	}
	astro_eop eop = { p.dut1_s, p.xp_rad, p.yp_rad };
	uniform = freqs_uniform(v, &dnu);
	nthreads = p.nthreads > 0 ? p.nthreads : omp_get_max_threads();
	/* Small sets: extra threads only spin at the barriers (badly so on a
	 * loaded machine); give each thread at least ~1e5 phasor updates. */
	{
		double work = (double)v->nbls * nc * (ns > 0 ? ns : 1);
		if (work / 1e5 < nthreads)
			nthreads = work < 1e5 ? 1 : (int)(work / 1e5);
	}

	if (mode == PREDICT_OVERWRITE)
		memset(v->vis, 0, vis_nsamples(v) * sizeof *v->vis);
	if (ns == 0)
		return 0;
	/* Rows of the amplitude table padded with zeros to whole LANES blocks, so
	 * the inner loop always runs LANES iterations (unrolled, vectorised). */
	ncp = (nc + LANES - 1) / LANES * LANES;
	amp = calloc((size_t)ns * ncp, sizeof *amp);
	geo = malloc((size_t)ns * 3 * sizeof *geo);
	if (!amp || !geo) {
		r = err_set(err, errlen, -ENOMEM, "predict: out of memory");
		goto out;
	}

	for (int t = 0; t < v->ntimes; t++) {
		tgeom g;
		double sign = mode == PREDICT_SUBTRACT ? -1.0 : 1.0;

		r = tgeom_init(v, t, &eop, &g, err, errlen);
		if (r)
			goto out;
		/* Source geometry and amplitude table for this integration. */
#pragma omp parallel for num_threads(nthreads) schedule(static)
		for (int s = 0; s < ns; s++) {
			const sky_source *src = &m->src[s];
			double st, lmn1[3];
			src_geom(&g, src->ra_rad, src->dec_rad, lmn1, &st);
			for (int k = 0; k < 3; k++)
				geo[s * 3 + k] = 2 * M_PI * lmn1[k] / VIS_C_M_S;
			for (int c = 0; c < nc; c++) {
				double a = p.use_beam ? beam_airy(st, v->freq_hz[c], diam) : 1.0;
				if (a < p.min_beam)
					a = 0;
				amp[(size_t)s * ncp + c] = sign * a * sky_flux(src, v->freq_hz[c]);
			}
		}

#pragma omp parallel num_threads(nthreads)
		{
			/* Real and imaginary accumulators apart, and the phasor advanced
			 * LANES channels at a time from LANES precomputed powers of the
			 * step: the inner loop has no dependency chain and vectorises. */
			double *accr = malloc((size_t)ncp * sizeof *accr);
			double *acci = malloc((size_t)ncp * sizeof *acci);
			int ok = accr && acci;
#pragma omp for schedule(static)
			for (int b = 0; b < v->nbls; b++) {
				size_t row = (size_t)t * v->nbls + b;
				const double *uvw = v->uvw_m + row * 3;
				float complex *out = v->vis + row * rowlen;

				if (!ok)
					continue;
				memset(accr, 0, (size_t)ncp * sizeof *accr);
				memset(acci, 0, (size_t)ncp * sizeof *acci);
				for (int s = 0; s < ns; s++) {
					const double *gs = geo + s * 3, *as = amp + (size_t)s * ncp;
					/* Phase per Hz: +2π (u l + v m + w (n − 1)) / c. */
					double k = uvw[0] * gs[0] + uvw[1] * gs[1] + uvw[2] * gs[2];
					if (uniform) {
						double sr[LANES], si[LANES], str = cos(k * dnu), sti = sin(k * dnu);
						double s8r, s8i, pr = 1, pi = 0;
						sr[0] = 1;
						si[0] = 0;
						for (int j = 1; j < LANES; j++) {
							sr[j] = sr[j - 1] * str - si[j - 1] * sti;
							si[j] = sr[j - 1] * sti + si[j - 1] * str;
						}
						s8r = sr[LANES - 1] * str - si[LANES - 1] * sti;
						s8i = sr[LANES - 1] * sti + si[LANES - 1] * str;
						for (int c0 = 0; c0 < nc; c0 += LANES) {
							double tr;
							if (c0 % RECUR_ANCHOR == 0) {
								pr = cos(k * v->freq_hz[c0]);
								pi = sin(k * v->freq_hz[c0]);
							}
							for (int j = 0; j < LANES; j++) {
								double er = pr * sr[j] - pi * si[j];
								double ei = pr * si[j] + pi * sr[j];
								accr[c0 + j] += as[c0 + j] * er;
								acci[c0 + j] += as[c0 + j] * ei;
							}
							tr = pr * s8r - pi * s8i;
							pi = pr * s8i + pi * s8r;
							pr = tr;
						}
					} else {
						for (int c = 0; c < nc; c++) {
							double ph = k * v->freq_hz[c];
							accr[c] += as[c] * cos(ph);
							acci[c] += as[c] * sin(ph);
						}
					}
				}
				for (int c = 0; c < nc; c++)
					for (int q = 0; q < v->npols; q++) {
						float complex *o = out + (size_t)c * v->npols + q;
						*o = CMPLXF(crealf(*o) + polw[q] * (float)accr[c],
							    cimagf(*o) + polw[q] * (float)acci[c]);
					}
			}
			free(accr);
			free(acci);
			if (!ok) {
#pragma omp atomic write
				r = -ENOMEM;
			}
		}
		if (r) {
			err_set(err, errlen, r, "predict: out of memory");
			goto out;
		}
	}
out:
	free(amp);
	free(geo);
	return r;
}
