/*
 * core/sky.c — point-source sky models (see sky.h).
 */
#include "core/sky.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/err.h"

void sky_init(sky_model *m)
{
	memset(m, 0, sizeof *m);
}

void sky_release(sky_model *m)
{
	if (!m)
		return;
	free(m->src);
	memset(m, 0, sizeof *m);
}

int sky_add(sky_model *m, const sky_source *s)
{
	if (m->n == m->cap) {
		int cap = m->cap ? 2 * m->cap : 64;
		sky_source *p = realloc(m->src, (size_t)cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		m->src = p;
		m->cap = cap;
	}
	m->src[m->n++] = *s;
	return 0;
}

int sky_add_deg(sky_model *m, const char *name, double ra_deg, double dec_deg, double flux_jy,
		double alpha)
{
	sky_source s;

	memset(&s, 0, sizeof s);
	snprintf(s.name, sizeof s.name, "%s", name ? name : "");
	s.ra_rad = ra_deg * M_PI / 180;
	s.dec_rad = dec_deg * M_PI / 180;
	s.flux_jy = flux_jy;
	s.ref_freq_hz = SKY_REF_FREQ_HZ;
	s.alpha = alpha;
	return sky_add(m, &s);
}

double sky_flux(const sky_source *s, double freq_hz)
{
	if (s->alpha == 0)
		return s->flux_jy;
	return s->flux_jy * pow(freq_hz / s->ref_freq_hz, s->alpha);
}

/* Split a CSV line in place on commas (no quoting in our catalogs); trims blanks. */
static int split_csv(char *line, char **f, int maxf)
{
	int n = 0;
	char *p = line;

	while (n < maxf) {
		char *e = strchr(p, ',');
		char *end;
		if (e)
			*e = 0;
		while (isspace((unsigned char)*p))
			p++;
		end = p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			*--end = 0;
		f[n++] = p;
		if (!e)
			break;
		p = e + 1;
	}
	return n;
}

static int parse_num(const char *s, double *ret)
{
	char *end;
	double x;

	if (!*s)
		return -1;
	x = strtod(s, &end);
	if (*end || !isfinite(x))
		return -1;
	*ret = x;
	return 0;
}

int sky_load_csv(sky_model *m, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[4096];
	int lineno = 0, r = 0;

	if (!fp)
		return err_set(err, errlen, -ENOENT, "%s: cannot open: %s", path, strerror(errno));
	while (fgets(line, sizeof line, fp)) {
		char *f[8];
		int nf;
		double ra, dec, mjy, alpha = 0;

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		if (!line[strspn(line, " \t")] || line[strspn(line, " \t")] == '#')
			continue;
		nf = split_csv(line, f, 8);
		if (nf < 4) {
			if (lineno == 1)
				continue;
			r = err_set(err, errlen, -EINVAL, "%s:%d: expected name,ra_deg,dec_deg,flux_mjy[,spectral_index]",
				    path, lineno);
			goto out;
		}
		if (parse_num(f[2], &dec) != 0 && lineno == 1)
			continue; /* header */
		if (parse_num(f[1], &ra) || parse_num(f[2], &dec) || parse_num(f[3], &mjy) ||
		    (nf >= 5 && *f[4] && parse_num(f[4], &alpha))) {
			r = err_set(err, errlen, -EINVAL, "%s:%d: malformed number", path, lineno);
			goto out;
		}
		if (dec < -90 || dec > 90) {
			r = err_set(err, errlen, -EINVAL, "%s:%d: declination %g out of range", path, lineno, dec);
			goto out;
		}
		r = sky_add_deg(m, f[0], ra, dec, mjy * 1e-3, alpha);
		if (r) {
			err_set(err, errlen, r, "%s: out of memory", path);
			goto out;
		}
	}
	if (ferror(fp))
		r = err_set(err, errlen, -EIO, "%s: read error", path);
out:
	fclose(fp);
	return r;
}

static double jnum(json_object *o, const char *key, double dflt)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return dflt;
	return json_object_get_double(v);
}

static void jstr(json_object *o, const char *key, char *buf, size_t len)
{
	json_object *v;
	if (json_object_object_get_ex(o, key, &v) && v)
		snprintf(buf, len, "%s", json_object_get_string(v));
}

int sky_load_truth_json(sky_model *m, const char *path, sky_truth *ret_truth, char *err,
			size_t errlen)
{
	json_object *root = json_object_from_file(path), *srcs;
	sky_truth t;
	int r = 0;
	size_t n;

	if (!root)
		return err_set(err, errlen, -ENOENT, "%s: cannot read JSON: %s", path,
			       json_util_get_last_err() ? json_util_get_last_err() : "?");
	if (!json_object_object_get_ex(root, "sources", &srcs) ||
	    !json_object_is_type(srcs, json_type_array)) {
		r = err_set(err, errlen, -EINVAL, "%s: no `sources` array", path);
		goto out;
	}
	n = json_object_array_length(srcs);
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(srcs, i), *v;
		const char *name = "";
		double ra = jnum(s, "ra", NAN), dec = jnum(s, "dec", NAN), fl = jnum(s, "flux", NAN);

		if (json_object_object_get_ex(s, "name", &v) && v)
			name = json_object_get_string(v);
		if (!isfinite(ra) || !isfinite(dec) || !isfinite(fl)) {
			r = err_set(err, errlen, -EINVAL, "%s: source %zu lacks ra/dec/flux", path, i);
			goto out;
		}
		r = sky_add_deg(m, name, ra, dec, fl, jnum(s, "alpha", 0));
		if (r) {
			err_set(err, errlen, r, "%s: out of memory", path);
			goto out;
		}
	}
	if (ret_truth) {
		memset(&t, 0, sizeof t);
		t.sigma_vis = jnum(root, "sigma_vis", NAN);
		t.sefd_jy = jnum(root, "sefd", NAN);
		t.dec_deg = jnum(root, "dec", NAN);
		t.dish_m = jnum(root, "dish", NAN);
		t.lat_deg = jnum(root, "lat", NAN);
		t.lon_deg = jnum(root, "lon", NAN);
		t.alt_m = jnum(root, "alt", NAN);
		jstr(root, "mid_isot", t.mid_isot, sizeof t.mid_isot);
		jstr(root, "start_isot", t.start_isot, sizeof t.start_isot);
		*ret_truth = t;
	}
out:
	json_object_put(root);
	return r;
}
