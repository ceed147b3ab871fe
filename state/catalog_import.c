/*
 * state/catalog_import.c — the catalog's text importers: CSV, NVSS as a
 * VizieR table, and the VLA calibrator list (see catalog.h and
 * docs/catalogs.md).  They parse; state/catalog.c writes (catalog_batch_*,
 * catalog_store_cals).
 */
#include "state/catalog.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/astro.h"
#include "core/err.h"

#define DEG2RAD (M_PI / 180.0)
/* Same-named VLA list entries closer than this are one source listed twice. */
#define VLA_SAME_SOURCE_ARCSEC 10.0

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static int parse_double(const char *s, double *ret)
{
	char *end;
	double v;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end || !isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	size_t k = 0;
	while (s[k] && isspace((unsigned char)s[k]))
		k++;
	if (k)
		memmove(s, s + k, n - k + 1);
}

static void source_init(catalog_source *s, const char *origin)
{
	memset(s, 0, sizeof *s);
	s->spectral_index = s->e_flux_mjy = s->e_ra_arcsec = s->e_dec_arcsec = NAN;
	s->major_arcsec = s->minor_arcsec = s->snr = NAN;
	snprintf(s->origin, sizeof s->origin, "%s", origin);
}

/* ------------------------------------------------------------------ */
/* CSV import                                                           */

/* Split line in place on `sep`, trimming fields.  Returns the field count. */
static int split(char *line, char sep, char **f, int maxf)
{
	int n = 0;
	char *p = line;
	for (;;) {
		char *q = strchr(p, sep);
		if (n < maxf)
			f[n++] = p;
		if (!q)
			break;
		*q = 0;
		p = q + 1;
	}
	for (int i = 0; i < n; i++)
		trim(f[i]);
	return n;
}

int catalog_import_csv(catalog *c, const char *path, size_t *ret_n, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	catalog_batch *b = NULL;
	char *line = NULL;
	size_t cap = 0, n = 0, lineno = 0;
	int r = 0, seen_data = 0;

	if (!f)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if ((r = catalog_batch_begin(c, &b, err, errlen)) < 0)
		goto out;
	while (getline(&line, &cap, f) >= 0) {
		char *fld[8];
		int nf;
		catalog_source s;
		double v;

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		trim(line);
		if (!line[0] || line[0] == '#')
			continue;
		nf = split(line, ',', fld, 8);
		/* A header is a first row whose ra column is not a number. */
		if (!seen_data && (nf < 2 || parse_double(fld[1], &v) < 0)) {
			seen_data = 1;
			continue;
		}
		seen_data = 1;
		source_init(&s, "csv");
		if (nf < 4 || nf > 5 || !fld[0][0]) {
			r = err_set(err, errlen, -EINVAL, "%s:%zu: expected name,ra_deg,dec_deg,"
				    "flux_mjy[,spectral_index]", path, lineno);
			goto out;
		}
		snprintf(s.name, sizeof s.name, "%s", fld[0]);
		if (parse_double(fld[1], &s.ra_deg) < 0 || parse_double(fld[2], &s.dec_deg) < 0 ||
		    parse_double(fld[3], &s.flux_mjy) < 0 ||
		    (nf == 5 && fld[4][0] && parse_double(fld[4], &s.spectral_index) < 0)) {
			r = err_set(err, errlen, -EINVAL, "%s:%zu: bad number", path, lineno);
			goto out;
		}
		if (s.ra_deg < 0 || s.ra_deg >= 360 || fabs(s.dec_deg) > 90 || s.flux_mjy < 0) {
			r = err_set(err, errlen, -EINVAL, "%s:%zu: position or flux out of range",
				    path, lineno);
			goto out;
		}
		if ((r = catalog_batch_add(b, &s, err, errlen)) < 0)
			goto out;
		n++;
	}
out:
	r = catalog_batch_end(b, r, err, errlen);
	free(line);
	fclose(f);
	if (r == 0 && ret_n)
		*ret_n = n;
	return r;
}

/* ------------------------------------------------------------------ */
/* NVSS (VizieR TSV) import                                             */

/* Sexagesimal "hh mm ss.s" / "dd:mm:ss" (3 fields) or plain degrees.
 * hours = 1 scales the sexagesimal value by 15. */
static int parse_angle(const char *s, int hours, double *ret_deg)
{
	char buf[64];
	char *tok[4], *save = NULL, *p;
	int n = 0, neg;
	double a[3], v;

	snprintf(buf, sizeof buf, "%s", s);
	for (p = buf; *p; p++)
		if (strchr(":hmsd'\"", *p))
			*p = ' ';
	for (p = strtok_r(buf, " \t", &save); p && n < 4; p = strtok_r(NULL, " \t", &save))
		tok[n++] = p;
	if (n == 1) {
		if (parse_double(tok[0], &v) < 0)
			return -EINVAL;
		*ret_deg = v;
		return 0;
	}
	if (n != 3 && n != 2)
		return -EINVAL;
	neg = tok[0][0] == '-';
	for (int i = 0; i < n; i++)
		if (parse_double(tok[i], &a[i]) < 0)
			return -EINVAL;
	if (n == 2)
		a[2] = 0;
	v = fabs(a[0]) + a[1] / 60.0 + a[2] / 3600.0;
	if (a[1] < 0 || a[1] >= 60 || a[2] < 0 || a[2] >= 60)
		return -EINVAL;
	*ret_deg = (neg ? -v : v) * (hours ? 15.0 : 1.0);
	return 0;
}

int catalog_parse_angle(const char *s, int hours, double *ret_deg)
{
	/* A single number is decimal degrees whatever `hours` says. */
	return parse_angle(s, hours && strpbrk(s, " :hm"), ret_deg);
}

static int col_find(char **hdr, int n, const char *const *names)
{
	for (const char *const *nm = names; *nm; nm++)
		for (int i = 0; i < n; i++)
			if (!strcasecmp(hdr[i], *nm))
				return i;
	return -1;
}

static int is_dash_line(const char *s)
{
	int dash = 0;
	for (; *s; s++) {
		if (*s == '-')
			dash = 1;
		else if (*s != '\t' && *s != ' ' && *s != ';' && *s != '|')
			return 0;
	}
	return dash;
}

#define NVSS_MAXCOL 64

int catalog_import_nvss(catalog *c, const char *path, size_t *ret_n, char *err, size_t errlen)
{
	static const char *const c_ra[] = { "RAJ2000", "_RAJ2000", "RA", "ra_deg", NULL };
	static const char *const c_dec[] = { "DEJ2000", "_DEJ2000", "DEC", "dec_deg", NULL };
	static const char *const c_s[] = { "S1.4", "S1400", "Sint", "flux_mjy", NULL };
	static const char *const c_es[] = { "e_S1.4", "e_S1400", "e_Sint", NULL };
	static const char *const c_era[] = { "e_RAJ2000", NULL };
	static const char *const c_edec[] = { "e_DEJ2000", NULL };
	static const char *const c_maj[] = { "MajAxis", "Maj", NULL };
	static const char *const c_min[] = { "MinAxis", "Min", NULL };
	static const char *const c_lmaj[] = { "l_MajAxis", NULL };
	static const char *const c_name[] = { "NVSS", "Name", "name", NULL };
	static const char *const c_alpha[] = { "spectral_index", "alpha", "SpIdx", NULL };
	FILE *f = fopen(path, "r");
	catalog_batch *b = NULL;
	char *line = NULL, *hdrbuf = NULL;
	char *hdr[NVSS_MAXCOL];
	size_t cap = 0, n = 0, lineno = 0;
	int r = 0, nh = 0, data_started = 0, units_seen = 0;
	int i_ra = -1, i_dec = -1, i_s = -1, i_es, i_era, i_edec, i_maj, i_min, i_lmaj, i_name,
	    i_alpha;
	int era_time_s = 1; /* VizieR's NVSS gives e_RAJ2000 in seconds of time */
	int ra_deg_unit = 0;
	char sep = '\t';

	if (!f)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if ((r = catalog_batch_begin(c, &b, err, errlen)) < 0)
		goto out;
	i_es = i_era = i_edec = i_maj = i_min = i_lmaj = i_name = i_alpha = -1;
	while (getline(&line, &cap, f) >= 0) {
		char *fld[NVSS_MAXCOL];
		int nf;
		catalog_source s;
		double v;

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		if (line[0] == '#' || !line[strspn(line, " \t")])
			continue;
		if (!hdrbuf) {
			if (!strchr(line, '\t') && strchr(line, ';'))
				sep = ';';
			if (!(hdrbuf = strdup(line))) {
				r = err_set(err, errlen, -ENOMEM, "out of memory");
				goto out;
			}
			nh = split(hdrbuf, sep, hdr, NVSS_MAXCOL);
			i_ra = col_find(hdr, nh, c_ra);
			i_dec = col_find(hdr, nh, c_dec);
			i_s = col_find(hdr, nh, c_s);
			i_es = col_find(hdr, nh, c_es);
			i_era = col_find(hdr, nh, c_era);
			i_edec = col_find(hdr, nh, c_edec);
			i_maj = col_find(hdr, nh, c_maj);
			i_min = col_find(hdr, nh, c_min);
			i_lmaj = col_find(hdr, nh, c_lmaj);
			i_name = col_find(hdr, nh, c_name);
			i_alpha = col_find(hdr, nh, c_alpha);
			if (i_ra < 0 || i_dec < 0 || i_s < 0) {
				r = err_set(err, errlen, -EINVAL, "%s:%zu: header lacks RAJ2000, "
					    "DEJ2000 or S1.4 columns", path, lineno);
				goto out;
			}
			continue;
		}
		if (is_dash_line(line)) {
			data_started = 1;
			continue;
		}
		nf = split(line, sep, fld, NVSS_MAXCOL);
		/* The row after the header carries units unless dashes came first. */
		if (!data_started && !units_seen) {
			units_seen = 1;
			if (parse_angle(fld[i_ra < nf ? i_ra : 0], 1, &v) < 0 ||
			    (i_s < nf && parse_double(fld[i_s], &v) < 0)) {
				if (i_era >= 0 && i_era < nf)
					era_time_s = !strcmp(fld[i_era], "s");
				ra_deg_unit = i_ra < nf && !strcmp(fld[i_ra], "deg");
				continue;
			}
		}
		data_started = 1;
		if (nf <= i_ra || nf <= i_dec || nf <= i_s) {
			r = err_set(err, errlen, -EINVAL, "%s:%zu: %d columns, header has %d", path,
				    lineno, nf, nh);
			goto out;
		}
		source_init(&s, "nvss");
		if (parse_angle(fld[i_ra], !ra_deg_unit && strpbrk(fld[i_ra], " :h"), &s.ra_deg) < 0 ||
		    parse_angle(fld[i_dec], 0, &s.dec_deg) < 0 ||
		    parse_double(fld[i_s], &s.flux_mjy) < 0) {
			r = err_set(err, errlen, -EINVAL, "%s:%zu: bad position or S1.4", path,
				    lineno);
			goto out;
		}
		if (s.ra_deg < 0 || s.ra_deg >= 360 || fabs(s.dec_deg) > 90) {
			r = err_set(err, errlen, -EINVAL, "%s:%zu: position out of range", path,
				    lineno);
			goto out;
		}
		if (i_es >= 0 && i_es < nf && parse_double(fld[i_es], &v) == 0) {
			s.e_flux_mjy = v;
			if (v > 0)
				s.snr = s.flux_mjy / v;
		}
		if (i_era >= 0 && i_era < nf && parse_double(fld[i_era], &v) == 0)
			s.e_ra_arcsec = era_time_s ? v * 15.0 * cos(s.dec_deg * DEG2RAD) : v;
		if (i_edec >= 0 && i_edec < nf && parse_double(fld[i_edec], &v) == 0)
			s.e_dec_arcsec = v;
		if (i_maj >= 0 && i_maj < nf && parse_double(fld[i_maj], &v) == 0)
			s.major_arcsec = v;
		if (i_min >= 0 && i_min < nf && parse_double(fld[i_min], &v) == 0)
			s.minor_arcsec = v;
		if (i_alpha >= 0 && i_alpha < nf && parse_double(fld[i_alpha], &v) == 0)
			s.spectral_index = v;
		/* NVSS gives deconvolved sizes; "<" marks an upper limit (unresolved). */
		s.resolved = isfinite(s.major_arcsec) && s.major_arcsec > 0 &&
			     !(i_lmaj >= 0 && i_lmaj < nf && strchr(fld[i_lmaj], '<'));
		if (i_name >= 0 && i_name < nf && fld[i_name][0]) {
			snprintf(s.name, sizeof s.name, "%s%s", isdigit((unsigned char)fld[i_name][0])
				 ? "NVSS J" : "", fld[i_name]);
		} else {
			double ra_h = s.ra_deg / 15.0, ad = fabs(s.dec_deg);
			int h = (int)ra_h, m = (int)((ra_h - h) * 60);
			double sec = ((ra_h - h) * 60 - m) * 60;
			int dd = (int)ad, dm = (int)((ad - dd) * 60);
			int ds = (int)(((ad - dd) * 60 - dm) * 60);
			snprintf(s.name, sizeof s.name, "NVSS J%02d%02d%04.1f%c%02d%02d%02d", h, m,
				 floor(sec * 10) / 10, s.dec_deg < 0 ? '-' : '+', dd, dm, ds);
		}
		if ((r = catalog_batch_add(b, &s, err, errlen)) < 0)
			goto out;
		n++;
	}
	if (!hdrbuf) {
		r = err_set(err, errlen, -EINVAL, "%s: no header row", path);
		goto out;
	}
out:
	r = catalog_batch_end(b, r, err, errlen);
	free(line);
	free(hdrbuf);
	fclose(f);
	if (r == 0 && ret_n)
		*ret_n = n;
	return r;
}

/* ------------------------------------------------------------------ */
/* VLA calibrator list import                                           */

static int pos_rank(char code)
{
	switch (code) {
	case 'A': return 0;
	case 'B': return 1;
	case 'C': return 2;
	case 'T': return 3;
	default: return 4;
	}
}

/* "Aug01", "May01": the list's POS.REF column (month + year). */
static int is_posref(const char *t)
{
	return strlen(t) == 5 && isupper((unsigned char)t[0]) && islower((unsigned char)t[1]) &&
	       islower((unsigned char)t[2]) && isdigit((unsigned char)t[3]) &&
	       isdigit((unsigned char)t[4]);
}

static int is_number_tok(const char *t)
{
	double v;
	return parse_double(t, &v) == 0;
}

typedef struct vla_cals {
	catalog_cal *v;
	size_t n, cap;
} vla_cals;

static int vla_push(vla_cals *a, const catalog_cal *cal)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? 2 * a->cap : 256;
		catalog_cal *nv = realloc(a->v, nc * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		a->v = nv;
		a->cap = nc;
	}
	a->v[a->n++] = *cal;
	return 0;
}

/* A band row, e.g. " 20cm L  S P P P       8.80                      100   visplot".
 * Codes and flux are whitespace-separated; whether a lone number after the flux
 * is UVMIN or UVMAX is only told by its column, which the list shifts left by
 * three characters on some rows ("20cm L" vs "20cm    L"), so columns are
 * measured from the band letter: UVMIN ends ≤ 35 characters after it, UVMAX
 * ≥ 45 characters after it in every row of the list. */
static int parse_band_row(const char *line, catalog_band *b)
{
	const char *p = line;
	const char *tok[16];
	size_t len[16];
	int nt = 0, i, k;
	long letter_col;

	memset(b, 0, sizeof *b);
	b->flux_jy = b->uvmin_kl = b->uvmax_kl = NAN;
	while (*p && nt < 16) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		tok[nt] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		len[nt] = (size_t)(p - tok[nt]);
		nt++;
	}
	if (nt < 2 || len[0] < 3 || len[0] >= sizeof b->band || strncmp(tok[0] + len[0] - 2, "cm", 2))
		return -EINVAL;
	memcpy(b->band, tok[0], len[0]);
	if (len[1] != 1 || !isupper((unsigned char)tok[1][0]))
		return -EINVAL;
	b->code = tok[1][0];
	letter_col = tok[1] - line;
	/* Up to four single-character, non-digit configuration codes. */
	for (i = 2, k = 0; i < nt && k < 4 && len[i] == 1 && !isdigit((unsigned char)tok[i][0]);
	     i++, k++)
		b->quality[k] = (char)toupper((unsigned char)tok[i][0]);
	for (; k < 4; k++)
		b->quality[k] = '?';
	b->quality[4] = 0;
	if (i < nt) {
		char num[32];
		size_t l = len[i] < sizeof num ? len[i] : sizeof num - 1;
		memcpy(num, tok[i], l);
		num[l] = 0;
		if (is_number_tok(num))
			b->flux_jy = strtod(num, NULL);
		else if (strcmp(num, "?"))
			return 0; /* a word where the flux goes: keep the row without one */
		i++;
	}
	for (; i < nt; i++) {
		char num[32];
		size_t l = len[i] < sizeof num ? len[i] : sizeof num - 1;
		long end_col = (long)(tok[i] - line) + (long)len[i] - letter_col;
		memcpy(num, tok[i], l);
		num[l] = 0;
		if (!is_number_tok(num))
			continue; /* "visplot" and similar notes */
		if (end_col <= 40)
			b->uvmin_kl = strtod(num, NULL);
		else
			b->uvmax_kl = strtod(num, NULL);
	}
	return 0;
}

static int parse_j2000_line(char **t, int nt, catalog_cal *cal)
{
	memset(cal, 0, sizeof *cal);
	if (nt < 5 || strlen(t[0]) >= sizeof cal->name || strlen(t[2]) != 1)
		return -EINVAL;
	snprintf(cal->name, sizeof cal->name, "%s", t[0]);
	cal->pos_code = t[2][0];
	if (!strchr(t[3], 'h') || parse_angle(t[3], 1, &cal->ra_deg) < 0 ||
	    parse_angle(t[4], 0, &cal->dec_deg) < 0)
		return -EINVAL;
	if (cal->ra_deg < 0 || cal->ra_deg >= 360 || fabs(cal->dec_deg) > 90)
		return -EINVAL;
	/* Optional POS.REF (e.g. "Aug01") then ALT.NAME (e.g. "3C286", "JVAS"). */
	for (int i = 5; i < nt; i++)
		if (!is_posref(t[i])) {
			snprintf(cal->alt_name, sizeof cal->alt_name, "%s", t[i]);
			break;
		}
	return 0;
}

/* Fold a same-named entry into `into` (the same source listed twice). */
static void merge_cal(catalog_cal *into, const catalog_cal *from)
{
	if (pos_rank(from->pos_code) < pos_rank(into->pos_code)) {
		into->ra_deg = from->ra_deg;
		into->dec_deg = from->dec_deg;
		into->pos_code = from->pos_code;
	}
	if (!into->alt_name[0])
		snprintf(into->alt_name, sizeof into->alt_name, "%s", from->alt_name);
	for (int i = 0; i < from->nbands; i++) {
		int have = 0;
		for (int j = 0; j < into->nbands; j++)
			have |= !strcmp(into->bands[j].band, from->bands[i].band);
		if (!have && into->nbands < CATALOG_MAX_BANDS)
			into->bands[into->nbands++] = from->bands[i];
	}
}

/* Add a finished entry, merging or renaming repeats of a name. */
static int vla_finish(vla_cals *a, catalog_cal *cal)
{
	int suffix = 1;
	char base[32];

	snprintf(base, sizeof base, "%s", cal->name);
	for (size_t i = 0; i < a->n; i++) {
		catalog_cal *o = &a->v[i];
		size_t bl = strlen(base);
		if (strncmp(o->name, base, bl) || (o->name[bl] && o->name[bl] != '_'))
			continue;
		if (astro_separation(o->ra_deg * DEG2RAD, o->dec_deg * DEG2RAD, cal->ra_deg * DEG2RAD,
				     cal->dec_deg * DEG2RAD) / DEG2RAD * 3600 <= VLA_SAME_SOURCE_ARCSEC) {
			merge_cal(o, cal);
			return 0;
		}
		suffix++;
	}
	if (suffix > 1)
		snprintf(cal->name, sizeof cal->name, "%.20s_%d", base, suffix);
	return vla_push(a, cal);
}

int catalog_import_vla(catalog *c, const char *path, size_t *ret_n, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	vla_cals all = { 0 };
	catalog_cal cur;
	int have_cur = 0, r = 0;

	if (!f)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) >= 0) {
		char buf[512], *t[16], *save = NULL, *p;
		int nt = 0;

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		snprintf(buf, sizeof buf, "%s", line);
		for (p = strtok_r(buf, " \t", &save); p && nt < 16; p = strtok_r(NULL, " \t", &save))
			t[nt++] = p;
		if (nt >= 2 && !strcmp(t[1], "J2000")) {
			if (have_cur && (r = vla_finish(&all, &cur)) < 0)
				goto nomem;
			if (parse_j2000_line(t, nt, &cur) < 0) {
				r = err_set(err, errlen, -EINVAL, "%s:%zu: bad J2000 line", path,
					    lineno);
				goto out;
			}
			have_cur = 1;
		} else if (nt >= 2 && have_cur && strlen(t[0]) > 2 &&
			   !strcmp(t[0] + strlen(t[0]) - 2, "cm") && isdigit((unsigned char)t[0][0])) {
			catalog_band b;
			if (parse_band_row(line, &b) < 0) {
				r = err_set(err, errlen, -EINVAL, "%s:%zu: bad band row", path, lineno);
				goto out;
			}
			if (cur.nbands < CATALOG_MAX_BANDS)
				cur.bands[cur.nbands++] = b;
		}
		/* B1950 lines, the BAND header, rules, blanks and the file header carry
		 * nothing we keep. */
	}
	if (have_cur && (r = vla_finish(&all, &cur)) < 0)
		goto nomem;
	if (all.n == 0) {
		r = err_set(err, errlen, -EINVAL, "%s: no J2000 entries: not a VLA calibrator list",
			    path);
		goto out;
	}
	r = catalog_store_cals(c, all.v, all.n, err, errlen);
	goto out;
nomem:
	r = err_set(err, errlen, -ENOMEM, "catalog: out of memory");
out:
	if (r == 0 && ret_n)
		*ret_n = all.n;
	free(all.v);
	free(line);
	fclose(f);
	return r;
}
