/*
 * core/eop.c — the IERS finals tables (see eop.h).
 */
#include "core/eop.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <erfa.h>

#include "core/err.h"

#define AS2R (M_PI / 648000.0)
#define LINE_COLS 185   /* the last column the format uses */

typedef struct eop_row {
	int mjd;
	double xp_as, yp_as;  /* polar motion, arcsec */
	double ut1_tai_s;     /* UT1 − TAI: continuous across leap seconds */
	int measured;         /* polar motion and UT1 both measured (I or Bulletin B) */
	int bulletin_b;       /* the values are Bulletin B's */
} eop_row;

struct eop_table {
	atomic_int refs;
	char *name;
	int n, cap;
	eop_row *rows;
	double last_measured_mjd;
	int nb;
};

const char *eop_quality_name(int quality)
{
	switch (quality) {
	case EOP_MEASURED:
		return "measured";
	case EOP_PREDICTED:
		return "predicted";
	case EOP_OUTSIDE:
		return "outside the table";
	default:
		return "?";
	}
}

eop_table *eop_table_ref(const eop_table *t)
{
	eop_table *m = (eop_table *)t;
	if (m)
		atomic_fetch_add(&m->refs, 1);
	return m;
}

void eop_table_free(const eop_table *t)
{
	eop_table *m = (eop_table *)t;
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	free(m->name);
	free(m->rows);
	free(m);
}

void eop_table_get_info(const eop_table *t, eop_table_info *ret)
{
	ret->name = t->name;
	ret->nrows = t->n;
	ret->first_mjd = t->rows[0].mjd;
	ret->last_mjd = t->rows[t->n - 1].mjd;
	ret->last_measured_mjd = t->last_measured_mjd;
	ret->nbulletin_b = t->nb;
}

/* ---- parsing ---- */

/* One line being parsed: its text padded with blanks to LINE_COLS. */
typedef struct line {
	const char *name;   /* file name for messages */
	int no;             /* 1-based line number */
	char c[LINE_COLS + 1];
} line;

static int line_err(const line *l, int col, char *err, size_t errlen, const char *what,
		    const char *field)
{
	return err_set(err, errlen, -EINVAL, "%s:%d:%d: %s%s%s", l->name, l->no, col, field,
		       field[0] ? ": " : "", what);
}

/* Columns a..b (1-based, inclusive) all blank. */
static int blank(const line *l, int a, int b)
{
	for (int i = a; i <= b; i++)
		if (l->c[i - 1] != ' ')
			return 0;
	return 1;
}

/* The first non-blank column in a..b, or 0. */
static int first_nonblank(const line *l, int a, int b)
{
	for (int i = a; i <= b; i++)
		if (l->c[i - 1] != ' ')
			return i;
	return 0;
}

/* A Fortran Fw.d field in columns a..b: right-justified, optional sign,
 * digits with at most one decimal point (".182400" and "-.1253000" occur),
 * no embedded blanks.  *ret_present = 0 when the field is blank. */
static int field_f(const line *l, int a, int b, const char *name, double *ret, int *ret_present,
		   char *err, size_t errlen)
{
	char buf[32];
	int i = a, ndig = 0, ndot = 0;

	*ret_present = 0;
	while (i <= b && l->c[i - 1] == ' ')
		i++;
	if (i > b)
		return 0;
	int start = i;
	if (l->c[i - 1] == '-' || l->c[i - 1] == '+')
		i++;
	for (; i <= b; i++) {
		char ch = l->c[i - 1];
		if (ch >= '0' && ch <= '9')
			ndig++;
		else if (ch == '.' && !ndot)
			ndot++;
		else
			return line_err(l, i, err, errlen, ch == ' ' ? "blank inside the number"
							       : "not a digit, sign or decimal point",
					name);
	}
	if (!ndig)
		return line_err(l, start, err, errlen, "no digits", name);
	memcpy(buf, l->c + start - 1, (size_t)(b - start + 1));
	buf[b - start + 1] = 0;
	*ret = strtod(buf, NULL);
	*ret_present = 1;
	return 0;
}

/* A Fortran I2 field (right-justified digits). */
static int field_i2(const line *l, int a, const char *name, int *ret, char *err, size_t errlen)
{
	char c0 = l->c[a - 1], c1 = l->c[a];

	if (c1 < '0' || c1 > '9')
		return line_err(l, a + 1, err, errlen, "expected a digit", name);
	if (c0 != ' ' && (c0 < '0' || c0 > '9'))
		return line_err(l, a, err, errlen, "expected a digit or a blank", name);
	*ret = (c0 == ' ' ? 0 : c0 - '0') * 10 + (c1 - '0');
	return 0;
}

/* A flag column: 'I', 'P' or blank (*ret = 0). */
static int field_flag(const line *l, int col, const char *name, char *ret, char *err,
		      size_t errlen)
{
	char ch = l->c[col - 1];
	if (ch != 'I' && ch != 'P' && ch != ' ')
		return line_err(l, col, err, errlen, "expected I, P or blank", name);
	*ret = ch == ' ' ? 0 : ch;
	return 0;
}

/* Separator columns that the format leaves blank. */
static int check_blanks(const line *l, char *err, size_t errlen)
{
	static const int sep[][2] = { { 7, 7 }, { 16, 16 }, { 18, 18 }, { 37, 37 }, { 56, 57 },
				      { 79, 79 }, { 94, 95 }, { 97, 97 }, { 116, 116 } };
	for (size_t k = 0; k < sizeof sep / sizeof sep[0]; k++) {
		int c = first_nonblank(l, sep[k][0], sep[k][1]);
		if (c)
			return line_err(l, c, err, errlen, "this column is blank in the format", "");
	}
	return 0;
}

/* A group of fields that is all present or all blank.  Returns 1 present,
 * 0 blank, < 0 error naming the first missing one. */
typedef struct fspec {
	int a, b;
	const char *name;
} fspec;

static int field_group(const line *l, const fspec *f, int n, double *vals, char *err,
		       size_t errlen)
{
	int present[8], np = 0, r;

	for (int k = 0; k < n; k++) {
		r = field_f(l, f[k].a, f[k].b, f[k].name, &vals[k], &present[k], err, errlen);
		if (r < 0)
			return r;
		np += present[k];
	}
	if (np == 0)
		return 0;
	for (int k = 0; k < n; k++)
		if (!present[k])
			return line_err(l, f[k].a, err, errlen, "blank while the rest of its group is given",
					f[k].name);
	return 1;
}

static int add_row(eop_table *t, const eop_row *r)
{
	if (t->n == t->cap) {
		int cap = t->cap ? 2 * t->cap : 1024;
		eop_row *p = realloc(t->rows, (size_t)cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		t->rows = p;
		t->cap = cap;
	}
	t->rows[t->n++] = *r;
	return 0;
}

/* TAI − UTC (s) at a UTC MJD (ERFA's leap-second table). */
static int tai_utc(double mjd, double *ret)
{
	int iy, im, id;
	double fd;

	if (!isfinite(mjd) || eraJd2cal(ASTRO_MJD0, mjd, &iy, &im, &id, &fd) != 0)
		return -EINVAL;
	/* +1 is "dubious year" (beyond the table's confident range): still the
	 * best value; < 0 means no value. */
	return eraDat(iy, im, id, fd, ret) < 0 ? -EINVAL : 0;
}

/* Parse one padded line; *ret_kind: 1 a row with values (in *row), 0 a row
 * with the date only. */
static int parse_line(const line *l, eop_row *row, int *ret_kind, char *err, size_t errlen)
{
	static const fspec pm[] = { { 19, 27, "PM-x" }, { 28, 36, "PM-x error" },
				    { 38, 46, "PM-y" }, { 47, 55, "PM-y error" } };
	static const fspec ut[] = { { 59, 68, "UT1-UTC" }, { 69, 78, "UT1-UTC error" } };
	static const fspec lod[] = { { 80, 86, "LOD" }, { 87, 93, "LOD error" } };
	static const fspec nut[] = { { 98, 106, "dX/dPsi" }, { 107, 115, "dX/dPsi error" },
				     { 117, 125, "dY/dEpsilon" }, { 126, 134, "dY/dEpsilon error" } };
	static const fspec bb[] = { { 135, 144, "Bulletin B PM-x" }, { 145, 154, "Bulletin B PM-y" },
				    { 155, 165, "Bulletin B UT1-UTC" } };
	static const fspec bn[] = { { 166, 175, "Bulletin B dX/dPsi" },
				    { 176, 185, "Bulletin B dY/dEpsilon" } };
	int yy, mo, dd, iy, im, id, r, has_pm, has_ut, has_nut, has_b;
	double mjd, v[4], vu[2], vb[3], fd;
	char fpm = 0, fut = 0, fnut = 0;
	int present;

	if ((r = field_i2(l, 1, "year", &yy, err, errlen)) < 0 ||
	    (r = field_i2(l, 3, "month", &mo, err, errlen)) < 0 ||
	    (r = field_i2(l, 5, "day", &dd, err, errlen)) < 0 ||
	    (r = check_blanks(l, err, errlen)) < 0)
		return r;
	if ((r = field_f(l, 8, 15, "MJD", &mjd, &present, err, errlen)) < 0)
		return r;
	if (!present)
		return line_err(l, 8, err, errlen, "missing", "MJD");
	if (mjd != floor(mjd) || mjd < 0 || mjd > 1e6)
		return line_err(l, 8, err, errlen, "not the MJD of a day's 0h UTC", "MJD");
	/* The two-digit year and the date must be the MJD's (readme.finals2000A). */
	if (eraJd2cal(ASTRO_MJD0, mjd, &iy, &im, &id, &fd) != 0 ||
	    iy != yy + (mjd >= 51544 ? 2000 : 1900) || im != mo || id != dd)
		return line_err(l, 1, err, errlen, "the date is not the MJD's", "date");

	if ((r = field_flag(l, 17, "polar motion flag", &fpm, err, errlen)) < 0 ||
	    (r = field_flag(l, 58, "UT1-UTC flag", &fut, err, errlen)) < 0 ||
	    (r = field_flag(l, 96, "nutation flag", &fnut, err, errlen)) < 0)
		return r;
	double scratch[4];
	if ((has_pm = field_group(l, pm, 4, v, err, errlen)) < 0)
		return has_pm;
	if ((has_ut = field_group(l, ut, 2, vu, err, errlen)) < 0)
		return has_ut;
	if ((r = field_group(l, lod, 2, scratch, err, errlen)) < 0)
		return r;
	if ((has_nut = field_group(l, nut, 4, scratch, err, errlen)) < 0)
		return has_nut;
	if ((has_b = field_group(l, bb, 3, vb, err, errlen)) < 0)
		return has_b;
	if ((r = field_group(l, bn, 2, scratch, err, errlen)) < 0)
		return r;
	/* A flag goes with its values. */
	if (!!fpm != has_pm)
		return line_err(l, fpm ? 19 : 17, err, errlen,
				fpm ? "flag given without values" : "values given without a flag",
				"polar motion");
	if (!!fut != has_ut)
		return line_err(l, fut ? 59 : 58, err, errlen,
				fut ? "flag given without values" : "values given without a flag",
				"UT1-UTC");
	if (!!fnut != has_nut)
		return line_err(l, fnut ? 98 : 96, err, errlen,
				fnut ? "flag given without values" : "values given without a flag",
				"nutation");
	if (has_pm != has_ut)
		return line_err(l, has_pm ? 58 : 17, err, errlen,
				"polar motion and UT1-UTC must both be given or both be blank", "");
	if (!has_pm) {
		if (has_b || has_nut)
			return line_err(l, has_b ? 135 : 96, err, errlen,
					"a row without Bulletin A polar motion and UT1-UTC has other values",
					"");
		*ret_kind = 0;
		row->mjd = (int)mjd;
		return 0;
	}
	if (!(fabs(v[0]) < 2) || !(fabs(v[2]) < 2))
		return line_err(l, fabs(v[0]) < 2 ? 38 : 19, err, errlen, "|polar motion| >= 2\"", "");
	if (!(fabs(vu[0]) < 1))
		return line_err(l, 59, err, errlen, "|UT1-UTC| >= 1 s", "");
	if (has_b && (!(fabs(vb[0]) < 2) || !(fabs(vb[1]) < 2) || !(fabs(vb[2]) < 1)))
		return line_err(l, 135, err, errlen, "Bulletin B value out of range", "");

	double dat;
	if (tai_utc(mjd, &dat) < 0)
		return line_err(l, 8, err, errlen, "ERFA has no TAI - UTC for this date", "MJD");
	row->mjd = (int)mjd;
	row->bulletin_b = has_b;
	row->xp_as = has_b ? vb[0] : v[0];
	row->yp_as = has_b ? vb[1] : v[2];
	row->ut1_tai_s = (has_b ? vb[2] : vu[0]) - dat;
	row->measured = has_b || (fpm == 'I' && fut == 'I');
	*ret_kind = 1;
	return 0;
}

int eop_table_parse(const char *text, size_t len, const char *name, eop_table **ret, char *err,
		    size_t errlen)
{
	eop_table *t = calloc(1, sizeof *t);
	line l;
	size_t pos = 0;
	int r = 0, ended = 0, end_line = 0, prev_date_mjd = -1;

	if (!t)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	atomic_init(&t->refs, 1);
	t->name = strdup(name ? name : "");
	if (!t->name) {
		r = err_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	t->last_measured_mjd = NAN;
	l.name = t->name;
	l.no = 0;
	while (pos < len) {
		size_t e = pos, n;
		while (e < len && text[e] != '\n')
			e++;
		n = e - pos;
		if (n && text[pos + n - 1] == '\r')
			n--;
		l.no++;
		/* Columns past the last field may hold blanks only. */
		for (size_t i = LINE_COLS; i < n; i++)
			if (text[pos + i] != ' ') {
				r = line_err(&l, (int)i + 1, err, errlen,
					     "text after the last column of the format (185)", "");
				goto out;
			}
		memset(l.c, ' ', LINE_COLS);
		l.c[LINE_COLS] = 0;
		memcpy(l.c, text + pos, n < LINE_COLS ? n : LINE_COLS);
		pos = e + 1;
		for (int i = 0; i < LINE_COLS; i++)
			if ((unsigned char)l.c[i] < 0x20 || (unsigned char)l.c[i] > 0x7e) {
				r = line_err(&l, i + 1, err, errlen, "not a printable ASCII character", "");
				goto out;
			}
		if (blank(&l, 1, LINE_COLS))
			continue;

		eop_row row;
		int kind = 0;
		r = parse_line(&l, &row, &kind, err, errlen);
		if (r < 0)
			goto out;
		/* One row per day, in order, dated rows included. */
		if (prev_date_mjd >= 0 && row.mjd != prev_date_mjd + 1) {
			r = line_err(&l, 8, err, errlen, "not the day after the previous row", "MJD");
			goto out;
		}
		prev_date_mjd = row.mjd;
		if (!kind) {
			if (!ended)
				end_line = l.no;
			ended = 1;
			continue;
		}
		if (ended) {
			r = err_set(err, errlen, -EINVAL,
				    "%s:%d:17: values resume after rows without values (from line %d)",
				    l.name, l.no, end_line);
			goto out;
		}
		if ((r = add_row(t, &row)) < 0) {
			err_set(err, errlen, r, "out of memory");
			goto out;
		}
		if (row.measured)
			t->last_measured_mjd = row.mjd;
		t->nb += row.bulletin_b;
	}
	if (t->n == 0) {
		r = err_set(err, errlen, -EINVAL, "%s: no daily row with polar motion and UT1-UTC",
			    t->name);
		goto out;
	}
	*ret = t;
	t = NULL;
out:
	eop_table_free(t);
	return r;
}

int eop_table_load(const char *path, eop_table **ret, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int r;

	if (!f)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	do {
		if (cap - len < 65536) {
			char *p = realloc(buf, cap ? 2 * cap : 1 << 20);
			if (!p) {
				r = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = p;
			cap = cap ? 2 * cap : 1 << 20;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		r = err_set(err, errlen, -EIO, "%s: read error", path);
		goto out;
	}
	r = eop_table_parse(buf, len, path, ret, err, errlen);
out:
	free(buf);
	fclose(f);
	return r;
}

/* ---- lookup ---- */

int eop_lookup(const eop_table *t, double mjd_utc, eop_value *ret)
{
	const eop_row *a, *b;
	double w, ut1_tai, dat;
	eop_value v;

	if (!isfinite(mjd_utc) || tai_utc(mjd_utc, &dat) < 0)
		return -EINVAL;
	memset(&v, 0, sizeof v);
	double k = floor(mjd_utc - t->rows[0].mjd);
	if (k < 0) {
		a = b = &t->rows[0];
		w = 0;
		v.quality = EOP_OUTSIDE;
		v.days_outside = t->rows[0].mjd - mjd_utc;
	} else if (k >= t->n - 1) {
		a = b = &t->rows[t->n - 1];
		w = 0;
		if (mjd_utc > a->mjd) {
			v.quality = EOP_OUTSIDE;
			v.days_outside = mjd_utc - a->mjd;
		}
	} else {
		a = &t->rows[(int)k];
		b = a + 1;
		w = mjd_utc - a->mjd;
	}
	if (v.quality != EOP_OUTSIDE)
		v.quality = a->measured && (w == 0 || b->measured) ? EOP_MEASURED : EOP_PREDICTED;
	ut1_tai = a->ut1_tai_s + w * (b->ut1_tai_s - a->ut1_tai_s);
	v.eop.dut1_s = ut1_tai + dat;
	v.eop.xp_rad = (a->xp_as + w * (b->xp_as - a->xp_as)) * AS2R;
	v.eop.yp_rad = (a->yp_as + w * (b->yp_as - a->yp_as)) * AS2R;
	*ret = v;
	return 0;
}
