/*
 * core/eop.h — Earth orientation parameters (UT1 − UTC and polar motion) from
 * the IERS Rapid Service/Prediction Centre's daily tables.
 *
 * Files: `finals2000A.all`, `finals2000A.data`, `finals2000A.daily`,
 * `finals.all`, `finals.data`, `finals.daily` — one fixed-width line per UTC
 * day, the layout of the IERS/USNO `readme.finals2000A` (columns 1-based):
 *
 *     1-2 I2 year (+1900 for MJD <= 51543, +2000 for MJD >= 51544)
 *     3-4 I2 month   5-6 I2 day   8-15 F8.2 MJD (UTC, 0h)
 *     17 A1 flag of the Bulletin A polar motion: I (IERS, measured) or P (predicted)
 *     19-27 F9.6 PM-x (arcsec)   28-36 F9.6 its error
 *     38-46 F9.6 PM-y (arcsec)   47-55 F9.6 its error
 *     58 A1 flag of the Bulletin A UT1 − UTC (I or P)
 *     59-68 F10.7 UT1 − UTC (s)  69-78 F10.7 its error
 *     80-86 F7.4 LOD (ms)        87-93 F7.4 its error        (not always filled)
 *     96 A1 flag of the Bulletin A nutation (I or P)
 *     98-106 F9.3 dX (finals2000A) or dPsi (finals) (mas)   107-115 F9.3 its error
 *     117-125 F9.3 dY or dEpsilon (mas)                       126-134 F9.3 its error
 *     135-144 F10.6 Bulletin B PM-x   145-154 F10.6 Bulletin B PM-y (arcsec)
 *     155-165 F11.7 Bulletin B UT1 − UTC (s)
 *     166-175 F10.3 Bulletin B dX/dPsi   176-185 F10.3 Bulletin B dY/dEpsilon (mas)
 *
 * Every other column up to 185 is blank.  A group of columns is either wholly
 * present or wholly blank (LOD, the nutation block, the Bulletin B polar
 * motion and UT1, the Bulletin B nutation); the tail of `finals2000A.all`
 * has rows with the date only, which end the table.  The parser checks all
 * of it — digits, signs, decimal points, blank separators, flags, the date
 * against the MJD, consecutive days, |PM| < 2", |UT1 − UTC| < 1 s — and
 * refuses the whole file on the first violation with "FILE:LINE:COLUMN:
 * what is wrong" in err.  Carriage returns at line ends are accepted.
 *
 * Values used: the Bulletin B (final, IERS C04) polar motion and UT1 − UTC
 * where a row has them, otherwise Bulletin A (they differ by ~10 µs and
 * ~0.1 mas).  The celestial pole offsets are validated but not used (the
 * IAU 2006/2000A model without them is good to ~0.3 mas here).
 *
 * Lookup (eop_lookup) by UTC MJD: linear interpolation between the two daily
 * rows around the time — of UT1 − TAI, which has no leap-second jumps, then
 * UT1 − UTC = (UT1 − TAI) + (TAI − UTC at that instant, ERFA's leap-second
 * table), so a lookup on the day before a leap second gives the right value
 * and the jump happens at the leap itself.  Linear interpolation of daily
 * values errs by at most 1/8 of the second difference: ~0.05 ms of UT1 and
 * ~0.1 mas of polar motion.  The result says whether both rows used are
 * measured (I flags, or Bulletin B), predicted (a P flag: the table's
 * predictions are used past its last measured day), or whether the time lies
 * outside the table (then the nearest row's values are held, UT1 − TAI held
 * rather than UT1 − UTC, and days_outside says how far).
 *
 * Ownership: a table is immutable once loaded and reference counted (like
 * core/config.h's cfg), so threads may share it; eop_table_load/parse return
 * one reference, eop_table_ref adds one, eop_table_free drops one (NULL ok).
 * Library code: nothing here logs.
 */
#ifndef CONTIMG_EOP_H
#define CONTIMG_EOP_H

#include <stddef.h>

#include "core/astro.h"

enum eop_quality {
	EOP_MEASURED = 0,   /* both rows used measured (I flags or Bulletin B) */
	EOP_PREDICTED = 1,  /* at least one row used is a prediction (P) */
	EOP_OUTSIDE = 2,    /* before the first or after the last row: nearest row held */
};

/* "measured", "predicted", "outside the table" ("?" for anything else). */
const char *eop_quality_name(int quality);

typedef struct eop_table eop_table;

/* Read and validate a finals file.  -ENOENT/-EACCES/-EIO when it cannot be
 * read, -EINVAL with "PATH:LINE:COLUMN: ..." when it is malformed or holds no
 * row with values, -ENOMEM. */
int eop_table_load(const char *path, eop_table **ret, char *err, size_t errlen);

/* The same from text in memory; name stands for the file in messages. */
int eop_table_parse(const char *text, size_t len, const char *name, eop_table **ret,
		    char *err, size_t errlen);

eop_table *eop_table_ref(const eop_table *t);
void eop_table_free(const eop_table *t);

typedef struct eop_table_info {
	const char *name;          /* the path (or name) it was read from; lives with the table */
	int nrows;                 /* daily rows with values */
	double first_mjd;          /* first and last row with values (UTC MJD) */
	double last_mjd;
	double last_measured_mjd;  /* last row whose polar motion and UT1 are measured;
				      NAN when every row is a prediction */
	int nbulletin_b;           /* rows whose Bulletin B values are used */
} eop_table_info;

void eop_table_get_info(const eop_table *t, eop_table_info *ret);

typedef struct eop_value {
	astro_eop eop;             /* dut1_s, xp_rad, yp_rad at the time */
	int quality;               /* enum eop_quality */
	double days_outside;       /* EOP_OUTSIDE: days from the nearest row; else 0 */
} eop_value;

/* Earth orientation at the UTC MJD (see above).  -EINVAL for a non-finite
 * time or one ERFA has no TAI − UTC for. */
int eop_lookup(const eop_table *t, double mjd_utc, eop_value *ret);

#endif
