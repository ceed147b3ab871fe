/*
 * imaging/proj.h — the pixel geometry of contimg's images: the FITS SIN
 * projection about an ICRS centre, orthographic or slant orthographic.
 *
 * Pixel (x, y) (0-based, fractional allowed) has the intermediate
 * coordinates (radians)
 *
 *     X = −(x − nx/2)·cell,   Y = (y − ny/2)·cell
 *
 * (east to the left, the phase centre at pixel (nx/2, ny/2), FITS CRPIX =
 * nx/2 + 1), and X, Y relate to the direction cosines (l, m, n) of the
 * direction about the centre (astro_lmn) by the generalised SIN projection
 * of Calabretta & Greisen 2002 (A&A 395, 1077, §5.1.5, eq. 38):
 *
 *     X = l + ξ (1 − n),   Y = m + η (1 − n)
 *
 * ξ = η = 0 is the ordinary orthographic SIN.  A slant projection is what an
 * interferometer whose baselines lie in a plane w = −ξ u − η v sees without
 * any w-term: the phase u·l + v·m + w·(n − 1) equals u·X + v·Y + w'·(n − 1)
 * with w' = w + ξ u + η v, so imaging in (X, Y) leaves only the small
 * residual w' to correct (imaging/grid.h).  FITS writes ξ, η as PV2_1,
 * PV2_2 on the latitude axis of RA---SIN / DEC--SIN; WCSLIB, astropy and
 * DS9 read them.
 *
 * The inverse solves the quadratic for t = 1 − n (the smaller root):
 *     (1 + ξ² + η²) t² − 2 (1 + ξX + ηY) t + (X² + Y²) = 0.
 */
#ifndef CONTIMG_PROJ_H
#define CONTIMG_PROJ_H

typedef struct img_proj {
	int nx, ny;
	double cell_rad;
	double ra0_rad, dec0_rad;   /* ICRS reference point (pixel nx/2, ny/2) */
	double xi, eta;             /* SIN slant (PV2_1, PV2_2); 0, 0: orthographic */
} img_proj;

/* 1 − n of the direction at intermediate coordinates (X, Y), or -1 when
 * (X, Y) is outside the projection's domain. */
double proj_one_minus_n(const img_proj *p, double X, double Y);

/* ICRS direction of pixel (x, y).  Returns -1 (and leaves the outputs) when
 * the pixel lies outside the projection's domain. */
int proj_pix_to_radec(const img_proj *p, double x, double y, double *ret_ra,
		      double *ret_dec);

/* Pixel of an ICRS direction; -1 when it is on the far hemisphere. */
int proj_radec_to_pix(const img_proj *p, double ra, double dec, double *ret_x,
		      double *ret_y);

#endif
