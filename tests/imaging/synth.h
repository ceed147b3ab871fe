/*
 * tests/imaging/synth.h — synthetic FIXED-phased visibility sets for the
 * imaging tests: a random 2-D array of nant antennas within ±extent_m, uvw
 * rotating slowly with time like an earth-rotation snapshot, and point
 * sources predicted by an explicit DFT with the core/vis.h sign convention
 * (including the w-term), plus optional Gaussian noise.
 */
#ifndef CONTIMG_TEST_SYNTH_H
#define CONTIMG_TEST_SYNTH_H

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/astro.h"
#include "core/vis.h"

typedef struct synth_src {
	double l, m;   /* direction cosines (l east) */
	double flux;   /* Jy (at SYNTH_REF_HZ when synth_make_spec gives an index) */
} synth_src;

#define SYNTH_REF_HZ 1.4e9

static double synth_rand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return ((*s >> 8) & 0xffffff) / 16777216.0;
}

static double synth_gauss(unsigned *s)
{
	double u1 = synth_rand(s) + 1e-12, u2 = synth_rand(s);
	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* XX = YY = Σ S(ν) e^{+2πi(ul + vm + w(n−1))} + noise (σ per real/imag part),
 * S(ν) = flux · (ν/SYNTH_REF_HZ)^alpha[i] (alpha NULL: flat spectra). */
static vis_set *synth_make_spec(int nant, int ntimes, int nchan, double extent_m,
				const synth_src *src, const double *alpha, int nsrc, double noise,
				unsigned seed)
{
	int nbls = nant * (nant + 1) / 2;
	vis_set *v = vis_new(ntimes, nbls, nchan, 2, nant);
	double (*pos)[3];
	unsigned s = seed;

	if (!v)
		return NULL;
	pos = malloc(nant * sizeof *pos);
	if (!pos) {
		vis_free(v);
		return NULL;
	}
	for (int a = 0; a < nant; a++) {
		pos[a][0] = (2 * synth_rand(&s) - 1) * extent_m;
		pos[a][1] = (2 * synth_rand(&s) - 1) * extent_m;
		pos[a][2] = 0.3 * pos[a][1] + (synth_rand(&s) - 0.5) * 2;
		v->ants[a].number = a;
		snprintf(v->ants[a].name, sizeof v->ants[a].name, "%d", a + 1);
		v->ants[a].diam_m = 4.65;
	}
	int b = 0;
	for (int a1 = 0; a1 < nant; a1++)
		for (int a2 = a1; a2 < nant; a2++, b++) {
			v->ant1[b] = a1;
			v->ant2[b] = a2;
		}
	v->pols[0] = VIS_POL_XX;
	v->pols[1] = VIS_POL_YY;
	v->chan_width_hz = 2e6;
	for (int c = 0; c < nchan; c++)
		v->freq_hz[c] = 1.311e9 + c * (1.87e8 / (nchan > 1 ? nchan - 1 : 1));
	v->int_time_s = 12.884901888;
	for (int t = 0; t < ntimes; t++)
		v->time_jd[t] = 2461100.7847 + t * v->int_time_s / 86400;
	v->lat_rad = 37.2339 * M_PI / 180;
	v->lon_rad = -118.2825 * M_PI / 180;
	v->phase_type = VIS_PHASE_FIXED;
	{
		/* The centre is the pointing (the CIRS meridian) at the mid time, in ICRS. */
		astro_frame f;
		astro_frame_init(&f, vis_mid_jd(v), v->lon_rad, 0);
		astro_frame_cirs_to_icrs(&f, astro_frame_meridian_ra_cirs(&f), 54.9 * M_PI / 180,
					 &v->phase_ra_rad, &v->phase_dec_rad);
	}
	v->pointing_dec_rad = 54.9 * M_PI / 180;
	v->has_pointing_dec = 1;
	snprintf(v->name, sizeof v->name, "2026-03-01T06:50:09");
	snprintf(v->telescope, sizeof v->telescope, "OVRO_MMA");
	snprintf(v->instrument, sizeof v->instrument, "DSA");
	for (int t = 0; t < ntimes; t++) {
		double ang = (t - ntimes / 2) * 0.003, ca = cos(ang), sa = sin(ang);
		for (b = 0; b < nbls; b++) {
			const double *p1 = pos[v->ant1[b]], *p2 = pos[v->ant2[b]];
			double bx = p2[0] - p1[0], by = p2[1] - p1[1], bz = p2[2] - p1[2];
			double *uvw = v->uvw_m + 3 * ((size_t)t * nbls + b);
			uvw[0] = ca * bx - sa * by;
			uvw[1] = sa * bx + ca * by;
			uvw[2] = bz;
			for (int c = 0; c < nchan; c++) {
				double k = v->freq_hz[c] / VIS_C_M_S;
				double complex acc = 0;
				if (v->ant1[b] != v->ant2[b])
					for (int i = 0; i < nsrc; i++) {
						double nm1 = sqrt(1 - src[i].l * src[i].l -
								  src[i].m * src[i].m) - 1;
						double ph = 2 * M_PI * k *
							    (uvw[0] * src[i].l + uvw[1] * src[i].m +
							     uvw[2] * nm1);
						double sv = src[i].flux;
						if (alpha && alpha[i] != 0)
							sv *= pow(v->freq_hz[c] / SYNTH_REF_HZ,
								  alpha[i]);
						acc += sv * cexp(I * ph);
					}
				for (int p = 0; p < 2; p++) {
					double complex n = noise * (synth_gauss(&s) + I * synth_gauss(&s));
					v->vis[vis_idx(v, t, b, c, p)] = (float complex)(acc + n);
				}
			}
		}
	}
	free(pos);
	return v;
}

static inline vis_set *synth_make(int nant, int ntimes, int nchan, double extent_m,
			   const synth_src *src, int nsrc, double noise, unsigned seed)
{
	return synth_make_spec(nant, ntimes, nchan, extent_m, src, NULL, nsrc, noise, seed);
}

#endif
