/*
 * core/sky.h — a sky model: a list of point sources with power-law spectra.
 *
 *     S(ν) = flux_jy · (ν / ref_freq_hz)^alpha
 *
 * Positions are ICRS, radians.  A sky_model is embedded by the caller:
 * sky_init() / sky_release(); sky_release frees the source array (the struct
 * itself stays the caller's).  Loading appends to the model.
 */
#ifndef CONTIMG_SKY_H
#define CONTIMG_SKY_H

#include <stddef.h>

#define SKY_REF_FREQ_HZ 1.4e9 /* catalog fluxes are at 1.4 GHz */

typedef struct sky_source {
	char name[64];
	double ra_rad, dec_rad; /* ICRS */
	double flux_jy;         /* at ref_freq_hz */
	double ref_freq_hz;
	double alpha;           /* spectral index, S ∝ ν^alpha */
} sky_source;

typedef struct sky_model {
	int n, cap;
	sky_source *src; /* [n], owned by the model */
} sky_model;

void sky_init(sky_model *m);
void sky_release(sky_model *m);

/* Append a copy of *s.  -ENOMEM on allocation failure (model unchanged). */
int sky_add(sky_model *m, const sky_source *s);

/* Convenience: append a source given in degrees with flux in Jy at 1.4 GHz. */
int sky_add_deg(sky_model *m, const char *name, double ra_deg, double dec_deg,
		double flux_jy, double alpha);

/* Flux density at freq_hz. */
double sky_flux(const sky_source *s, double freq_hz);

/* Load a CSV catalog `name,ra_deg,dec_deg,flux_mjy[,spectral_index]` (a
 * header line is skipped when its third field is not a number; blank lines and
 * lines starting with '#' are skipped; missing spectral index = 0).  Appends to m.
 * -ENOENT when the file cannot be opened, -EINVAL with the line number on a
 * malformed line (m is left with the sources read before it). */
int sky_load_csv(sky_model *m, const char *path, char *err, size_t errlen);

/* What a reference truth JSON (../shared/data/reference/.../truth_*.json) says
 * besides the sources. */
typedef struct sky_truth {
	double sigma_vis;   /* noise per real/imag part, Jy */
	double sefd_jy;
	double dec_deg;     /* pointing declination */
	double dish_m;
	double lat_deg, lon_deg, alt_m;
	char mid_isot[40];
	char start_isot[40];
} sky_truth;

/* Load `sources` (name, ra, dec in degrees, flux in Jy at 1.4 GHz, alpha) of a
 * truth JSON (json-c), appending to m; fill *ret_truth when non-NULL.
 * -ENOENT / -EINVAL with the reason in err. */
int sky_load_truth_json(sky_model *m, const char *path, sky_truth *ret_truth,
			char *err, size_t errlen);

#endif
