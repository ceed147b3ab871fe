/*
 * state/catalog.h — the catalog database: sky sources and calibrators.
 *
 * A separate SQLite file (conventionally <state_dir>/catalog.sqlite, see
 * catalog_default_path) with its own schema, versioned by PRAGMA user_version,
 * in WAL mode so contimgctl can read while the daemon (or an import) writes.
 * Two tables:
 *
 *   sources      NVSS-like continuum sources: name (unique), ra/dec (J2000/ICRS,
 *                degrees), flux at 1.4 GHz (mJy), spectral index, errors,
 *                deconvolved major/minor axis, resolved and confused flags, SNR
 *                and the origin of the row ("csv", "nvss").
 *   calibrators  the VLA calibrator list: name (unique, the J2000 IAU name),
 *                J2000 position, position-accuracy code, alternative name (3C286
 *                ...), and per-band rows (band "20cm", code 'L', flux in Jy,
 *                uvmin/uvmax in kilolambda, A/B/C/D-configuration quality codes).
 *
 * Imports are idempotent: every row is upserted by name inside one transaction,
 * so importing the same file twice leaves the same database.
 *
 * Calibrator flux models (catalog_cal_model): for 3C48, 3C138, 3C147 and 3C286
 * the Perley & Butler (2017, ApJS 230, 7) polynomials (core/fluxscale.h, which
 * needs no database) override the list's fluxes; otherwise a source-catalog entry at the calibrator's position (within
 * CATALOG_MATCH_ARCSEC, e.g. from reference/catalog.csv) gives flux and
 * spectral index; otherwise the list's L-band (20cm) flux with a flat spectrum.
 *
 * Angles are degrees at this API's edges (as stored) unless a name says _rad.
 * Errors follow core/err.h: 0 or a negative errno, message in err.
 * A catalog handle is not thread-safe; open one per thread.
 */
#ifndef CONTIMG_CATALOG_H
#define CONTIMG_CATALOG_H

#include <stddef.h>

#define CATALOG_FILE "catalog.sqlite"
#define CATALOG_MAX_BANDS 12       /* band rows kept per calibrator */
#define CATALOG_MATCH_ARCSEC 10.0  /* calibrator ↔ source cross-match radius */
#define CATALOG_L_BAND_HZ 1.4e9    /* reference frequency of sources.flux_mjy */

typedef struct catalog catalog; /* opaque handle */

typedef struct catalog_source {
	char name[64];
	double ra_deg, dec_deg;     /* J2000 / ICRS */
	double flux_mjy;            /* at 1.4 GHz */
	double spectral_index;      /* S ∝ ν^alpha; NAN when unknown */
	double e_flux_mjy;          /* NAN when unknown (same for the fields below) */
	double e_ra_arcsec, e_dec_arcsec;
	double major_arcsec, minor_arcsec; /* deconvolved size; NAN/0 = unresolved */
	int resolved;               /* 1 when the catalog says extended */
	int confused;               /* 1 when blended with a neighbour */
	double snr;                 /* flux / error; NAN when unknown */
	char origin[16];            /* "csv", "nvss" */
	double sep_deg;             /* filled by near queries: distance from the centre */
} catalog_source;

typedef struct catalog_band {
	char band[8];       /* "20cm", "6cm", "0.7cm" ... */
	char code;          /* 'L', 'C', 'X', 'U', 'K', 'Q', 'P' */
	char quality[5];    /* A,B,C,D configuration codes: 'P' primary (<3 %),
	                     * 'S' secondary (3–10 %), 'W' weak, 'C' confused,
	                     * 'X' unusable, '?' unknown; NUL-terminated */
	double flux_jy;     /* NAN when the list gives '?' */
	double uvmin_kl;    /* NAN when absent */
	double uvmax_kl;    /* NAN when absent */
} catalog_band;

typedef struct catalog_cal {
	char name[32];      /* J2000 IAU name, e.g. "0834+555" */
	char alt_name[32];  /* e.g. "3C286", "" when none */
	double ra_deg, dec_deg; /* J2000 */
	char pos_code;      /* position accuracy: 'A' <2 mas, 'B' 2–10 mas, 'C' 10–150 mas, 'T' >150 mas */
	int nbands;
	catalog_band bands[CATALOG_MAX_BANDS];
	double sep_deg;     /* filled by near queries */
} catalog_cal;

/* How a calibrator's spectrum is modelled (catalog_cal_model). */
enum catalog_model_kind {
	CATALOG_MODEL_PB17 = 1,    /* Perley & Butler 2017 polynomial */
	CATALOG_MODEL_SOURCE = 2,  /* matched source-catalog entry (flux + alpha) */
	CATALOG_MODEL_LIST = 3,    /* VLA list L-band flux, flat spectrum */
};

/* A calibrator's model for calibration: position and spectrum. */
typedef struct catalog_calmodel {
	char name[32];
	double ra_rad, dec_rad;  /* J2000 / ICRS */
	double ref_freq_hz;      /* reference frequency of flux_jy */
	double flux_jy;          /* at ref_freq_hz */
	double alpha;            /* power-law index at ref_freq_hz (PB17: local slope) */
	int kind;                /* enum catalog_model_kind */
	int pb17_index;          /* kind == PB17: the standard's index in core/fluxscale.h */
} catalog_calmodel;

/* ---- opening ---- */

/* Write "<state_dir>/catalog.sqlite" into buf.  Returns 0 or -ENAMETOOLONG. */
int catalog_default_path(const char *state_dir, char *buf, size_t len);

/* Open (creating and migrating when readonly == 0) the catalog at path.
 * readonly = 1 opens an existing file without writing (fails -ENOENT when
 * missing); a file this process may write is opened read-write with
 * query_only set, so that closing it removes the -wal and -shm files as a
 * writer's close does.  *ret_cat must be released with catalog_close(). */
int catalog_open(const char *path, int readonly, catalog **ret_cat, char *err, size_t errlen);

/* Close; catalog_close(NULL) is a no-op. */
void catalog_close(catalog *c);

/* ---- imports (state/catalog_import.c; each one transaction; upsert by name;
 * *ret_n = rows read) ---- */

/* CSV: `name,ra_deg,dec_deg,flux_mjy[,spectral_index]`, header line optional,
 * '#' comments and blank lines ignored.  -EINVAL (with the line number) on a
 * malformed row; nothing is written in that case. */
int catalog_import_csv(catalog *c, const char *path, size_t *ret_n, char *err, size_t errlen);

/* The VLA calibrator list text format (catalogs/vlacalibrators.txt).  A name
 * that repeats within 10″ of its first position is the same source (band rows
 * merged, the better position code wins); one that repeats elsewhere is a
 * different source and is stored as "<name>_2" (…_3).  *ret_n = calibrators
 * stored. */
int catalog_import_vla(catalog *c, const char *path, size_t *ret_n, char *err, size_t errlen);

/* NVSS from a VizieR TSV (VIII/65): '#' comments, a header row naming the
 * columns (RAJ2000 DEJ2000 — sexagesimal "hh mm ss.ss" or degrees — S1.4,
 * e_S1.4, MajAxis, MinAxis, NVSS or Name ...), then unit and dash rows.
 * Unknown columns are ignored; RAJ2000, DEJ2000 and S1.4 are required.
 * Names default to "NVSS Jhhmmss.s+ddmmss".  resolved = MajAxis given and
 * MajAxis > 0 without a '<' limit; snr = S1.4 / e_S1.4. */
int catalog_import_nvss(catalog *c, const char *path, size_t *ret_n, char *err, size_t errlen);

/* ---- writing: the database side of the imports ---- */

/* A source import in progress: one write transaction (BEGIN IMMEDIATE) with
 * the upsert prepared.  catalog_batch_begin starts it (*ret, ended by
 * catalog_batch_end in every case); catalog_batch_add upserts one source by
 * name; catalog_batch_end(b, r, ...) finishes with the outcome r so far: when
 * r is 0 it recomputes every source's `confused` flag and commits, otherwise
 * (or when that fails) it rolls back; it frees b (NULL: returns r) and returns
 * the outcome.  Errors: -EIO with SQLite's message, -ENOMEM. */
typedef struct catalog_batch catalog_batch;
int catalog_batch_begin(catalog *c, catalog_batch **ret, char *err, size_t errlen);
int catalog_batch_add(catalog_batch *b, const catalog_source *s, char *err, size_t errlen);
int catalog_batch_end(catalog_batch *b, int r, char *err, size_t errlen);

/* Upsert n calibrators by name with their band rows (replacing the stored
 * bands of each), in one transaction; nothing is written on failure. */
int catalog_store_cals(catalog *c, const catalog_cal *cals, size_t n, char *err, size_t errlen);

/* ---- queries ---- */

/* Sources within radius_deg of (ra_deg, dec_deg) with flux_mjy >= min_flux_mjy,
 * brightest first (sep_deg filled).  radius_deg >= 180 returns every source.
 * A calibrator may also be catalogued as a source (within CATALOG_MATCH_ARCSEC
 * of its position): drop that entry when adding a calibrator model to a sky
 * model, or the calibrator is counted twice.
 * *ret_src is malloc'd (caller frees; NULL when *ret_n == 0). */
int catalog_sources_near(catalog *c, double ra_deg, double dec_deg, double radius_deg,
			 double min_flux_mjy, catalog_source **ret_src, size_t *ret_n,
			 char *err, size_t errlen);

/* Calibrators whose J2000 dec lies within half_width_deg of dec_deg and whose
 * L-band model flux (catalog_cal_model at 1.4 GHz) is >= min_flux_jy, brightest
 * first.  half_width_deg >= 180 and min_flux_jy <= 0 return everything.
 * *ret_cal is malloc'd (caller frees). */
int catalog_cals_near_dec(catalog *c, double dec_deg, double half_width_deg,
			  double min_flux_jy, catalog_cal **ret_cal, size_t *ret_n,
			  char *err, size_t errlen);

/* Calibrators within radius_deg of (ra_deg, dec_deg) (sep_deg filled), nearest
 * first; *ret_cal malloc'd (caller frees). */
int catalog_cals_near(catalog *c, double ra_deg, double dec_deg, double radius_deg,
		      catalog_cal **ret_cal, size_t *ret_n, char *err, size_t errlen);

/* One calibrator by name ("0834+555") or alternative name ("3C286", case-
 * insensitive).  -ENOENT when absent. */
int catalog_cal_get(catalog *c, const char *name, catalog_cal *ret_cal, char *err, size_t errlen);

/* One source by exact name.  -ENOENT when absent. */
int catalog_source_get(catalog *c, const char *name, catalog_source *ret_src, char *err,
		       size_t errlen);

/* Parse an angle: decimal degrees ("128.73", "-0.5"), or sexagesimal with
 * ':' / blanks / h m s / d ' " separators ("08:34:54.9", "08h34m54.9s",
 * "+55 34 21.1", "55d34'21.07\"").  Sexagesimal values are hours when
 * hours != 0 (right ascension), degrees otherwise.  -EINVAL when malformed. */
int catalog_parse_angle(const char *s, int hours, double *ret_deg);

/* Count rows: either pointer may be NULL. */
int catalog_counts(catalog *c, size_t *ret_sources, size_t *ret_cals, char *err, size_t errlen);

/* ---- flux models ---- */

/* The calibrator's model (see the top of this file for the precedence).
 * -ERANGE when the calibrator has no usable L-band flux and no PB17 model. */
int catalog_cal_model(catalog *c, const catalog_cal *cal, catalog_calmodel *ret_model,
		      char *err, size_t errlen);

/* Flux density (Jy) of the model at freq_hz (exact polynomial for PB17). */
double catalog_model_flux_jy(const catalog_calmodel *m, double freq_hz);

/* Perley & Butler 2017 flux of a named flux-scale calibrator ("3C286",
 * "1331+305", "3C48", "0137+331", "3C138", "0521+166", "3C147", "0542+498";
 * case-insensitive) at freq_hz.  Returns 0 and fills *ret_flux_jy (and the local
 * spectral index dlogS/dlogν into *ret_alpha if non-NULL), or -ENOENT when the
 * name has no PB17 model.  The same as core/fluxscale.h fluxscale_lookup (the
 * physics lives there; this name stays for its callers). */
int catalog_pb17_flux(const char *name, double freq_hz, double *ret_flux_jy, double *ret_alpha);

/* L-band (band code 'L') flux of a calibrator list entry in Jy, NAN when absent. */
double catalog_cal_lband_jy(const catalog_cal *cal);

#endif
