/*
 * daemon/ctl_phot.c — contimgctl's science commands: variability, lightcurve,
 * candidates, candidate.  JSON contracts in docs/cli.md; exit codes in
 * daemon/ctl.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/stage_photometry.h"
#include "daemon/views.h"
#include "photometry/ese.h"
#include "photometry/normalize.h"
#include "photometry/variability.h"
#include "plot/lcplot.h"
#include "state/db.h"
#include "state/photdb.h"

static json_object *jnum(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL; /* NULL serialises as null */
}

/* ---- variability --csv FILE [--json] ---- */

/* Read `mjd,flux,flux_err` rows (a header line, '#' comments and blank lines
 * are skipped).  Returns 0 or -errno with the reason in err. */
static int read_lc_csv(const char *path, double **ret_t, double **ret_f, double **ret_e,
		       size_t *ret_n, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[4096];
	double *t = NULL, *f = NULL, *e = NULL;
	size_t n = 0, cap = 0;
	int rc = 0, lineno = 0;
	if (!fp)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, fp)) {
		lineno++;
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
			continue;
		double v[3];
		char *q = p;
		int ok = 1;
		for (int k = 0; k < 3 && ok; k++) {
			char *end;
			v[k] = strtod(q, &end);
			if (end == q) {
				ok = 0;
				break;
			}
			while (*end == ' ' || *end == '\t')
				end++;
			if (k < 2) {
				if (*end != ',') {
					ok = 0;
					break;
				}
				end++;
			}
			q = end;
		}
		if (!ok) {
			if (n == 0 && lineno == 1)
				continue; /* the header */
			rc = err_set(err, errlen, -EINVAL, "%s:%d: expected mjd,flux,flux_err", path,
				     lineno);
			goto out;
		}
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 256;
			double *a = realloc(t, nc * sizeof *a), *b, *c;
			if (a)
				t = a;
			b = realloc(f, nc * sizeof *b);
			if (b)
				f = b;
			c = realloc(e, nc * sizeof *c);
			if (c)
				e = c;
			if (!a || !b || !c) {
				rc = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
				goto out;
			}
			cap = nc;
		}
		t[n] = v[0];
		f[n] = v[1];
		e[n] = v[2];
		n++;
	}
	if (ferror(fp))
		rc = err_set(err, errlen, -EIO, "%s: read error", path);
out:
	fclose(fp);
	if (rc) {
		free(t);
		free(f);
		free(e);
		return rc;
	}
	*ret_t = t;
	*ret_f = f;
	*ret_e = e;
	*ret_n = n;
	return 0;
}

int ctl_variability(int argc, char **argv, const ctl_env *env)
{
	const char *csv = NULL;
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--csv") && i + 1 < argc)
			csv = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else
			return ctl_usage(env);
	}
	if (!csv)
		return ctl_usage(env);
	char err[ERR_LEN];
	double *t = NULL, *f = NULL, *e = NULL;
	size_t n = 0;
	int r = read_lc_csv(csv, &t, &f, &e, &n, err, sizeof err);
	if (r) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return r == -ENOENT ? CTL_NOT_FOUND : CTL_USAGE;
	}
	var_stats vs;
	ese_result er;
	ese_params ep;
	ese_params_default(&ep);
	var_batch(f, e, n, VAR_VS_MIN, &vs);
	r = ese_score(t, f, e, n, &ep, &er);
	free(t);
	free(f);
	free(e);
	if (r) {
		fprintf(stderr, "contimgctl: out of memory\n");
		return CTL_FAILED;
	}
	const char *names[] = { "mean", "std", "min", "max", "chi2_nu", "eta", "v",
				"sigma_deviation", "vs", "m", "ese_score" };
	double vals[] = { vs.mean, vs.std, vs.min, vs.max, vs.chi2_nu, vs.eta, vs.v,
			  vs.sigma_deviation, vs.vs, vs.m, er.score };
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "n", json_object_new_int64(vs.n));
		for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++)
			json_object_object_add(o, names[k], jnum(vals[k]));
		ctl_print_json(o);
		json_object_put(o);
	} else {
		printf("%-16s %ld\n", "n", vs.n);
		for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
			if (isfinite(vals[k]))
				printf("%-16s %.10g\n", names[k], vals[k]);
			else
				printf("%-16s -\n", names[k]);
		}
		if (er.scored)
			printf("ese: amplitude %.3f, timescale %.1f d, asymmetry %+.2f, t0 MJD %.2f, "
			       "dBIC %.1f\n", er.amplitude, er.timescale_days, er.asymmetry,
			       er.t0_mjd, er.dbic);
	}
	return CTL_OK;
}

/* ---- lightcurve SOURCE [--csv|--json|--svg FILE|--png FILE] ---- */

static void csv_num(double v, int last)
{
	if (isfinite(v))
		printf("%.10g", v);
	putchar(last ? '\n' : ',');
}

int ctl_lightcurve(int argc, char **argv, const ctl_env *env)
{
	const char *source = NULL, *svg = NULL;
	int mode = 0; /* 0 text, 1 csv, 2 json, 3 a picture to the file svg */
	plot_format pfmt = PLOT_SVG;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--csv"))
			mode = 1;
		else if (!strcmp(argv[i], "--json"))
			mode = 2;
		else if ((!strcmp(argv[i], "--svg") || !strcmp(argv[i], "--png")) && i + 1 < argc) {
			mode = 3;
			pfmt = argv[i][2] == 's' ? PLOT_SVG : PLOT_PNG;
			svg = argv[++i];
		} else if (argv[i][0] != '-' && !source)
			source = argv[i];
		else
			return ctl_usage(env);
	}
	if (!source)
		return ctl_usage(env);
	ctl_state st;
	int rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	char err[ERR_LEN];
	photdb_row *rows = NULL;
	size_t n = 0;
	double *t = NULL, *f = NULL, *e = NULL;
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
	if (mode == 2) {
		json_object *o = view_lightcurve_json(source, rows, n);
		ctl_print_json(o);
		json_object_put(o);
	} else if (mode == 1) {
		printf("mjd,flux_jy,flux_err_jy,normalized_flux_jy,normalized_flux_err_jy,correction,"
		       "flags,flux_raw,flux_unit,quality\n");
		for (size_t i = 0; i < n; i++) {
			csv_num(rows[i].mjd, 0);
			csv_num(view_flux_in_jy(&rows[i]) ? rows[i].flux_jy : NAN, 0);
			csv_num(rows[i].flux_err_jy, 0);
			csv_num(rows[i].normalized_flux_jy, 0);
			csv_num(rows[i].normalized_flux_err_jy, 0);
			csv_num(rows[i].correction, 0);
			printf("%u,", view_point_flags(&rows[i]));
			csv_num(rows[i].flux_jy, 0);
			printf("%s,%s\n", view_flux_in_jy(&rows[i]) ? "Jy" : "uncal",
			       rows[i].norm_flags & NORM_BAD_QUALITY ? "bad" : "good");
		}
	} else if (mode == 3) {
		/* t, f, e: normalised; then raw fluxes and errors; then the model. */
		enum { NMODEL = 400 };
		t = malloc((3 * n + 2 * NMODEL) * sizeof *t);
		f = malloc(n * sizeof *f);
		e = malloc(n * sizeof *e);
		if (!t || !f || !e) {
			rc = CTL_FAILED;
			goto out;
		}
		double *raw = t + n, *raw_e = t + 2 * n, *mt = t + 3 * n, *mf = mt + NMODEL;
		int *bad = calloc(n, sizeof *bad); /* failed-quality epochs, marked in the plot */
		if (!bad) {
			rc = CTL_FAILED;
			goto out;
		}
		/* The baseline period: the leading epochs that were not (finally)
		 * normalised while the references' baselines were being built. */
		double b0 = NAN, b1 = NAN;
		for (size_t i = 0; i < n; i++) {
			t[i] = rows[i].mjd;
			f[i] = rows[i].normalized_flux_jy;
			e[i] = rows[i].normalized_flux_err_jy;
			raw[i] = rows[i].flux_jy;
			raw_e[i] = rows[i].flux_err_jy;
			bad[i] = (rows[i].norm_flags & NORM_BAD_QUALITY) != 0;
		}
		for (size_t i = 0; i < n; i++) {
			if (!(rows[i].norm_flags & (NORM_TOO_FEW_REFS | NORM_PROVISIONAL)))
				break;
			if (isnan(b0))
				b0 = rows[i].mjd;
			b1 = rows[i].mjd;
		}
		photdb_cand c;
		ese_result er;
		size_t nmodel = 0;
		double w0 = NAN, w1 = NAN;
		char mlabel[64] = "";
		if (photdb_cand_get(st.db, source, &c, err, sizeof err) == 0) {
			memset(&er, 0, sizeof er);
			er.scored = 1;
			er.score = c.score;
			er.f0 = c.f0;
			er.t0_mjd = c.t0_mjd;
			er.t_days = c.t_days;
			er.alpha = c.alpha;
			er.src_size = c.src_size;
			/* The model over the data's span (the plot clips it). */
			double lo = t[0], hi = t[n - 1], pad = 0.05 * (hi - lo) + 1;
			for (int k = 0; k < NMODEL; k++) {
				mt[k] = lo - pad + (hi - lo + 2 * pad) * k / (NMODEL - 1.0);
				mf[k] = ese_model_flux(&er, mt[k]);
			}
			nmodel = NMODEL;
			snprintf(mlabel, sizeof mlabel, "ESE model, score %.2f", c.score);
			if (isfinite(c.t0_mjd) && c.timescale_days > 0) {
				w0 = c.t0_mjd - 0.5 * c.timescale_days;
				w1 = c.t0_mjd + 0.5 * c.timescale_days;
			}
		}
		char title[256];
		snprintf(title, sizeof title, "%s \xe2\x80\x94 light curve", source);
		lcplot_data lc = { .title = title, .n = n, .mjd = t, .norm_flux = f, .norm_err = e,
				   .raw_flux = raw, .raw_err = raw_e, .yscale = 1e3, .unit = "mJy",
				   .base_mjd0 = b0, .base_mjd1 = b1, .win_mjd0 = w0, .win_mjd1 = w1,
				   .nmodel = nmodel, .model_mjd = mt, .model_flux = mf,
				   .model_label = mlabel, .bad = bad };
		lcplot_info li;
		int wr = lcplot_write(&lc, svg, pfmt, &li, err, sizeof err);
		free(bad);
		plot_release_statics(); /* contimgctl draws nothing more */
		if (wr) {
			fprintf(stderr, "contimgctl: %s\n", err);
			rc = CTL_FAILED;
			goto out;
		}
		char nb[64] = "";
		if (li.nbad)
			snprintf(nb, sizeof nb, ", %zu failed quality (open squares)", li.nbad);
		if (li.raw)
			printf("wrote %s (%zu points, raw fluxes: none is normalised yet%s)\n", svg,
			       li.npoints, nb);
		else
			printf("wrote %s (%zu points%s)\n", svg, li.npoints, nb);
	} else {
		printf("%-12s %12s %10s %12s %10s %10s %6s\n", "mjd", "flux_mjy", "err_mjy",
		       "norm_mjy", "err_mjy", "corr", "flags");
		for (size_t i = 0; i < n; i++) {
			printf("%-12.5f", rows[i].mjd);
			const double v[] = { 1e3 * rows[i].flux_jy, 1e3 * rows[i].flux_err_jy,
					     1e3 * rows[i].normalized_flux_jy,
					     1e3 * rows[i].normalized_flux_err_jy, rows[i].correction };
			const int w[] = { 12, 10, 12, 10, 10 };
			for (int k = 0; k < 5; k++) {
				if (isfinite(v[k]))
					printf(" %*.*f", w[k], k == 4 ? 4 : 3, v[k]);
				else
					printf(" %*s", w[k], "-");
			}
			printf(" %#6x\n", view_point_flags(&rows[i]));
		}
	}
	rc = CTL_OK;
out:
	free(rows);
	free(t);
	free(f);
	free(e);
	return ctl_end(&st, rc);
}

/* ---- candidates [--json] ---- */

int ctl_candidates(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	int json = 0, rc;

	if ((rc = ctl_only_json(argc, argv, 1, env, &json)) != CTL_OK)
		return rc;
	if ((rc = ctl_begin(env, &st)) != CTL_OK)
		return rc;
	char err[ERR_LEN];
	photdb_cand *c = NULL;
	size_t n = 0;
	if (photdb_cand_list(st.db, &c, &n, err, sizeof err)) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return ctl_end(&st, CTL_UNREACHABLE);
	}
	if (json) {
		json_object *a = NULL;
		if (view_candidates(st.db, &a, err, sizeof err) < 0) {
			fprintf(stderr, "contimgctl: %s\n", err);
			free(c);
			return ctl_end(&st, CTL_UNREACHABLE);
		}
		ctl_print_json(a);
		json_object_put(a);
	} else {
		printf("%-24s %6s %-13s %5s %9s %7s %6s %8s %-7s %s\n", "source", "score", "status",
		       "n", "chi2_nu", "v", "ampl", "t_days", "ongoing", "best_alt (dBIC)");
		for (size_t i = 0; i < n; i++) {
			printf("%-24s %6.3f %-13s %5ld %9.2f %7.3f %6.3f %8.1f %-7s", c[i].source,
			       c[i].score, c[i].status, c[i].n, c[i].chi2_nu, c[i].v, c[i].amplitude,
			       c[i].timescale_days, c[i].ongoing ? "ONGOING" : "-");
			if (c[i].best_alt[0] && isfinite(c[i].dbic))
				printf(" %s (%.1f)\n", c[i].best_alt, c[i].dbic);
			else
				printf(" %s\n", c[i].best_alt[0] ? c[i].best_alt : "-");
		}
	}
	free(c);
	return ctl_end(&st, CTL_OK);
}

/* ---- candidate SOURCE --investigated|--dismissed [--note TEXT] ---- */

int ctl_candidate(int argc, char **argv, const ctl_env *env)
{
	const char *source = NULL, *status = NULL, *note = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--investigated"))
			status = "investigated";
		else if (!strcmp(argv[i], "--dismissed"))
			status = "dismissed";
		else if (!strcmp(argv[i], "--note") && i + 1 < argc)
			note = argv[++i];
		else if (argv[i][0] != '-' && !source)
			source = argv[i];
		else
			status = source = NULL, i = argc;
	}
	if (!source || !status)
		return ctl_usage(env);
	ctl_state st;
	int rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	char err[ERR_LEN];
	int r = photdb_cand_decide(st.db, source, status, note, err, sizeof err);
	if (r) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = r == -ENOENT ? CTL_NOT_FOUND : CTL_UNREACHABLE;
	} else {
		printf("%s: %s\n", source, status);
	}
	return ctl_end(&st, rc);
}
