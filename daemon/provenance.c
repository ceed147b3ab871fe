/*
 * daemon/provenance.c — configuration digest and image provenance
 * (provenance.h).
 */
#include "daemon/provenance.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/astro.h"
#include "core/version.h"
#include "daemon/settings.h"
#include "daemon/stage_calibrate.h"
#include "daemon/stage_photometry.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *prov_config_text(const cfg *c)
{
	size_t nk, nlines = 0, cap = 0, len = 0;
	const cfg_known *k = contimg_config_known(&nk);
	char **lines = NULL, *text = NULL;

	/* Several rows may name one section: a key listed twice gives one line. */
	for (size_t i = 0; i < nk; i++) {
		for (const char *const *key = k[i].keys; *key; key++) {
			const char *v = cfg_lookup(c, k[i].section, *key);
			char *line;
			int n, dup = 0;

			if (!v)
				continue;
			n = snprintf(NULL, 0, "%s.%s=%s\n", k[i].section, *key, v);
			line = malloc((size_t)n + 1);
			if (!line)
				goto fail;
			snprintf(line, (size_t)n + 1, "%s.%s=%s\n", k[i].section, *key, v);
			for (size_t j = 0; j < nlines && !dup; j++)
				dup = !strcmp(lines[j], line);
			if (dup) {
				free(line);
				continue;
			}
			if (nlines == cap) {
				char **g = realloc(lines, (cap ? 2 * cap : 64) * sizeof *g);
				if (!g) {
					free(line);
					goto fail;
				}
				lines = g;
				cap = cap ? 2 * cap : 64;
			}
			lines[nlines++] = line;
			len += (size_t)n;
		}
	}
	qsort(lines, nlines, sizeof *lines, cmp_str);
	text = malloc(len + 1);
	if (!text)
		goto fail;
	text[0] = 0;
	len = 0;
	for (size_t j = 0; j < nlines; j++) {
		size_t l = strlen(lines[j]);
		memcpy(text + len, lines[j], l + 1);
		len += l;
	}
fail:
	for (size_t j = 0; j < nlines; j++)
		free(lines[j]);
	free(lines);
	return text;
}

int prov_config_digest(const cfg *c, char hex[SHA256_HEX_LEN])
{
	char *t = prov_config_text(c);

	if (!t)
		return -ENOMEM;
	sha256_hex(t, strlen(t), hex);
	free(t);
	return 0;
}

void prov_for_group(const pipe_ctx *ctx, double jd_mid, prov_store *store,
		    fitsout_provenance *p)
{
	static const char types[3] = { 'K', 'B', 'G' };

	memset(p, 0, sizeof *p);
	memset(store, 0, sizeof *store);
	p->version = contimg_version();
	if (ctx->cfg && prov_config_digest(ctx->cfg, store->digest) == 0)
		p->config_digest = store->digest;
	for (int i = 0; i < 3; i++) {
		const char *path = cal_result_applied_path(ctx->cal, types[i]);
		if (path && *path)
			store->tables[p->ncaltables++] = path;
	}
	p->caltables = store->tables;
	/* The group's state as `contimgctl show` names it (daemon/views.c). */
	p->calibration = ctx->calibrated == PHOT_CAL_FULL ? "full"
			 : ctx->calibrated == PHOT_CAL_BANDPASS ? "bandpass-only" : "none";
	p->instrument = "DSA-110";
	if (ctx->vis && astro_geodetic_to_ecef(ctx->vis->lat_rad, ctx->vis->lon_rad,
					       ctx->vis->alt_m, p->obsgeo_m) == 0)
		p->have_obsgeo = 1;
	p->mjd_avg = NAN;
	if (isfinite(jd_mid) && jd_mid > 0) {
		p->mjd_avg = astro_jd_to_mjd(jd_mid);
		if (astro_jd_to_iso(jd_mid, 3, store->date_avg, sizeof store->date_avg) == 0)
			p->date_avg = store->date_avg;
	}
}
