/*
 * daemon/ctl_plot.c — contimgctl's pictures: plot image, plot stamp,
 * plot caltable, stamps (docs/cli.md, docs/plots.md).  The lightcurve
 * picture is `lightcurve --png|--svg` (ctl_phot.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/pipeline.h"
#include "daemon/quicklook.h"
#include "daemon/stage_photometry.h"
#include "plot/calplot.h"
#include "plot/qlook.h"
#include "plot/stamp.h"
#include "state/calreg.h"
#include "state/catalog.h"
#include "state/photdb.h"
#include "state/report.h"

/* A library error → the exit code. */
static int exit_of(int r)
{
	switch (r) {
	case -ENOENT: return CTL_NOT_FOUND;
	case -EINVAL: case -ERANGE: return CTL_USAGE;
	default: return CTL_FAILED;
	}
}

static int parse_pos_double(const char *s, double *ret)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v > 0) || !isfinite(v))
		return -1;
	*ret = v;
	return 0;
}

/* The catalog's path: [catalog] path, else state_dir/catalog.sqlite. */
static int catalog_path_of(const ctl_state *st, char *buf, size_t len)
{
	const char *p = cfg_get_str(st->cfg, "catalog", "path", "");
	if (*p) {
		snprintf(buf, len, "%s", p);
		return 0;
	}
	return catalog_default_path(st->s->state_dir, buf, len);
}

/* ---- plot image FITS OUT [--catalog] [--asinh] [--max-px N] ---- */

int ctl_plot_image(int argc, char **argv, const ctl_env *env)
{
	const char *fits = NULL, *out = NULL;
	int with_cat = 0, stretch = PLOT_STRETCH_LINEAR, max_px = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--catalog"))
			with_cat = 1;
		else if (!strcmp(argv[i], "--asinh"))
			stretch = PLOT_STRETCH_ASINH;
		else if (!strcmp(argv[i], "--max-px") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 16 || v > 8192)
				return ctl_usage(env);
			max_px = (int)v;
		} else if (argv[i][0] != '-' && !fits)
			fits = argv[i];
		else if (argv[i][0] != '-' && !out)
			out = argv[i];
		else
			return ctl_usage(env);
	}
	if (!fits || !out)
		return ctl_usage(env);
	ctl_state st;
	int rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	char err[ERR_LEN], cpath[4300] = "";
	double min_flux = 0;
	if (with_cat) {
		phot_settings ps;
		if (catalog_path_of(&st, cpath, sizeof cpath) < 0) {
			fprintf(stderr, "contimgctl: [paths] state_dir too long\n");
			return ctl_end(&st, CTL_USAGE);
		}
		if (phot_settings_read(st.cfg, &ps, err, sizeof err) == 0)
			min_flux = ps.min_flux_mjy;
	}
	plot_qlook_info in;
	int r = quicklook_write(fits, NULL, out, cpath, min_flux, max_px, stretch, &in, err, sizeof err);
	plot_release_statics(); /* nothing draws after this in the process */
	if (r < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return ctl_end(&st, exit_of(r));
	}
	printf("wrote %s (%d x %d, image binned %dx%d, %d catalog sources circled)\n", out,
	       in.width, in.height, in.factor, in.factor, in.ncircled);
	return ctl_end(&st, CTL_OK);
}

/* ---- plot stamp FITS RA DEC OUT [--size ARCMIN] [--pixels N] ---- */

int ctl_plot_stamp(int argc, char **argv, const ctl_env *env)
{
	const char *pos[4] = { 0 };
	int npos = 0, npix = 0;
	double size_arcmin = 2;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			if (parse_pos_double(argv[++i], &size_arcmin))
				return ctl_usage(env);
		} else if (!strcmp(argv[i], "--pixels") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > PLOT_STAMP_MAX)
				return ctl_usage(env);
			npix = (int)v;
		} else if (npos < 4 && (argv[i][0] != '-' || (npos == 2 && argv[i][1] &&
							       argv[i][1] != '-'))) {
			pos[npos++] = argv[i]; /* a negative declination is a value */
		} else {
			return ctl_usage(env);
		}
	}
	double ra, dec;
	if (npos != 4)
		return ctl_usage(env);
	if (catalog_parse_angle(pos[1], 1, &ra) || catalog_parse_angle(pos[2], 0, &dec) ||
	    dec < -90 || dec > 90) {
		fprintf(stderr, "contimgctl: bad position '%s' '%s'\n", pos[1], pos[2]);
		return CTL_USAGE;
	}
	ctl_state st;
	int rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	char err[ERR_LEN];
	plot_stamp s;
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = plot_stamp_cut(pos[0], ra, dec, size_arcmin / 60.0, npix, &s, err, sizeof err);
	if (r == 0) {
		char title[96];
		snprintf(title, sizeof title, "%s %s  (%.1f')", pos[1], pos[2],
			 s.n * s.cell_deg * 60);
		r = plot_stamp_render(&s, 1, NULL, title, plot_format_of(pos[3]), &buf, &len, err,
				      sizeof err);
		if (r == 0)
			r = plot_write_file(pos[3], buf, len, err, sizeof err);
		if (r == 0)
			printf("wrote %s (%d x %d pixels around pixel %d, %d)\n", pos[3], s.n, s.n,
			       s.x0 + s.n / 2, s.y0 + s.n / 2);
		plot_stamp_release(&s);
	}
	plot_release_statics();
	free(buf);
	if (r < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return ctl_end(&st, exit_of(r));
	}
	return ctl_end(&st, CTL_OK);
}

/* ---- plot caltable ID|FILE OUT ---- */

int ctl_plot_caltable(int argc, char **argv, const ctl_env *env)
{
	const char *which = NULL, *out = NULL;
	for (int i = 2; i < argc; i++) {
		if (argv[i][0] != '-' && !which)
			which = argv[i];
		else if (argv[i][0] != '-' && !out)
			out = argv[i];
		else
			return ctl_usage(env);
	}
	if (!which || !out)
		return ctl_usage(env);
	char err[ERR_LEN], *end;
	long long id = strtoll(which, &end, 10);
	calreg_entry e;
	const char *path = which;
	ctl_state st = { 0 };
	int rc;
	if (!*end && id > 0) {
		/* A registered table by id (contimgctl caltables). */
		if ((rc = ctl_begin(env, &st)) != CTL_OK)
			return rc;
		int r = calreg_get(st.db, id, &e, err, sizeof err);
		if (r < 0) {
			if (r == -ENOENT)
				fprintf(stderr, "contimgctl: no calibration table %lld\n", id);
			else
				fprintf(stderr, "contimgctl: %s\n", err);
			return ctl_end(&st, r == -ENOENT ? CTL_NOT_FOUND : CTL_UNREACHABLE);
		}
		path = e.path;
	}
	calplot_info in;
	int r = calplot_write(path, out, NULL, &in, err, sizeof err);
	plot_release_statics();
	if (r < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return ctl_end(&st, r == -ENOENT ? CTL_NOT_FOUND : r == -EINVAL ? CTL_USAGE
										  : CTL_FAILED);
	}
	printf("wrote %s (%s, %d curves, %zu good solutions)\n", out,
	       in.x == CALPLOT_VS_FREQ ? "against frequency"
	       : in.x == CALPLOT_VS_TIME ? "against time" : "against antenna",
	       in.ncurves, in.ngood);
	return ctl_end(&st, CTL_OK);
}

/* ---- stamps SOURCE OUT [--size ARCMIN] [--last N] ---- */

int ctl_stamps(int argc, char **argv, const ctl_env *env)
{
	const char *source = NULL, *out = NULL;
	double size_arcmin = 2;
	long last = 8;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			if (parse_pos_double(argv[++i], &size_arcmin))
				return ctl_usage(env);
		} else if (!strcmp(argv[i], "--last") && i + 1 < argc) {
			char *end;
			last = strtol(argv[++i], &end, 10);
			if (*end || last < 1 || last > 64)
				return ctl_usage(env);
		} else if (argv[i][0] != '-' && !source)
			source = argv[i];
		else if (argv[i][0] != '-' && !out)
			out = argv[i];
		else
			return ctl_usage(env);
	}
	if (!source || !out)
		return ctl_usage(env);
	ctl_state st;
	int rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	char err[ERR_LEN];
	photdb_row *rows = NULL;
	size_t n = 0, used = 0, k = 0;
	char **paths = NULL, (*labels)[32] = NULL;
	const char **lab = NULL;
	if (photdb_lightcurve(st.db, source, &rows, &n, err, sizeof err)) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_UNREACHABLE;
		goto out;
	}
	if (n == 0) {
		fprintf(stderr, "contimgctl: no photometry for source '%s'\n", source);
		rc = CTL_NOT_FOUND;
		goto out;
	}
	/* The last `last` epochs, oldest first: each one's pbcor image (what
	 * forced photometry measured). */
	size_t first = n > (size_t)last ? n - (size_t)last : 0;
	paths = calloc(n - first, sizeof *paths);
	labels = calloc(n - first, sizeof *labels);
	lab = calloc(n - first, sizeof *lab);
	if (!paths || !labels || !lab) {
		rc = CTL_FAILED;
		goto out;
	}
	for (size_t i = first; i < n; i++) {
		report_detail d;
		if (report_detail_get(st.db, rows[i].group_id, &d, err, sizeof err) != 1)
			continue;
		for (size_t p = 0; p < d.nproducts; p++)
			if (!strcmp(d.products[p].name, "pbcor")) {
				paths[k] = strdup(d.products[p].path);
				snprintf(labels[k], sizeof labels[k], "%s", d.group.name);
				lab[k] = labels[k];
				if (paths[k])
					k++;
				break;
			}
		report_detail_release(&d);
	}
	if (!k) {
		fprintf(stderr, "contimgctl: no image of '%s' is registered\n", source);
		rc = CTL_NOT_FOUND;
		goto out;
	}
	int r = plot_stamp_strip_write((const char *const *)paths, lab, k, rows[n - 1].ra_deg,
				       rows[n - 1].dec_deg, size_arcmin / 60.0, out, &used, err,
				       sizeof err);
	plot_release_statics();
	if (r < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = r == -ERANGE ? CTL_NOT_FOUND : exit_of(r);
		goto out;
	}
	printf("wrote %s (%zu epochs of %s)\n", out, used, source);
	rc = CTL_OK;
out:
	for (size_t i = 0; paths && i < k; i++)
		free(paths[i]);
	free(paths);
	free(labels);
	free(lab);
	free(rows);
	return ctl_end(&st, rc);
}
