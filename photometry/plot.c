/*
 * photometry/plot.c — SVG light curves (plot.h).
 */
#include "photometry/plot.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/fsx.h"

#define W 900
#define H 420
#define ML 80   /* margins: left, right, top, bottom */
#define MR 20
#define MT 40
#define MB 60
#define MJD_UNIX_EPOCH 40587.0

static void xml_escaped(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* A "nice" step (1, 2, 5 × 10^k) giving about `want` intervals over span. */
static double nice_step(double span, int want)
{
	double raw = span / want, p = pow(10, floor(log10(raw))), m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void mjd_date(double mjd, char *buf, size_t len)
{
	time_t t = (time_t)floor((mjd - MJD_UNIX_EPOCH) * 86400.0 + 0.5);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

int plot_svg_fprint(const plot_lc *lc, FILE *f)
{
	double ys = lc->yscale != 0 ? lc->yscale : 1;
	double t0 = INFINITY, t1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	size_t ngood = 0;
	for (size_t i = 0; i < lc->n; i++) {
		double y = lc->flux[i] * ys, e = lc->err && isfinite(lc->err[i]) ? lc->err[i] * ys : 0;
		if (!isfinite(y) || !isfinite(lc->mjd[i]))
			continue;
		ngood++;
		t0 = fmin(t0, lc->mjd[i]);
		t1 = fmax(t1, lc->mjd[i]);
		y0 = fmin(y0, y - e);
		y1 = fmax(y1, y + e);
	}
	if (!ngood)
		return -EINVAL;
	int shade = isfinite(lc->base_mjd0) && isfinite(lc->base_mjd1) && lc->base_mjd0 > 0 &&
		    lc->base_mjd1 >= lc->base_mjd0;
	if (shade) {
		t0 = fmin(t0, lc->base_mjd0);
		t1 = fmax(t1, lc->base_mjd1);
	}
	if (t1 - t0 < 1) {
		t0 -= 0.5;
		t1 += 0.5;
	}
	double pad = 0.03 * (t1 - t0);
	t0 -= pad;
	t1 += pad;
	if (y1 - y0 <= 0) {
		double d = fabs(y0) > 0 ? 0.05 * fabs(y0) : 1;
		y0 -= d;
		y1 += d;
	}
	double ypad = 0.08 * (y1 - y0);
	y0 -= ypad;
	y1 += ypad;
	const double pw = W - ML - MR, ph = H - MT - MB;
#define X(t) (ML + ((t) - t0) / (t1 - t0) * pw)
#define Y(v) (MT + (y1 - (v)) / (y1 - y0) * ph)

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		   "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
		W, H, W, H);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
	fputs("<text x=\"", f);
	fprintf(f, "%d\" y=\"24\" font-size=\"16\" text-anchor=\"middle\">", W / 2);
	xml_escaped(f, lc->title ? lc->title : "light curve");
	fputs("</text>\n", f);
	/* shaded baseline period */
	if (shade) {
		double a = X(lc->base_mjd0 - 0.5), b = X(lc->base_mjd1 + 0.5);
		fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"#dde8f6\">"
			   "<title>reference baseline</title></rect>\n", a, MT, b - a, ph);
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" fill=\"#4a6a94\" font-size=\"11\">reference "
			   "baseline</text>\n", a + 3, MT + 14);
	}
	/* axes box, ticks and grid */
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
		   "stroke=\"black\"/>\n", ML, MT, pw, ph);
	double ystep = nice_step(y1 - y0, 6);
	for (double v = ceil(y0 / ystep) * ystep; v <= y1; v += ystep) {
		fprintf(f, "<line x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
			ML, ML + pw, Y(v), Y(v));
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", ML - 6,
			Y(v) + 4, fabs(v) < 1e-12 * ystep ? 0.0 : v);
	}
	static const double day_steps[] = { 1, 2, 5, 7, 14, 30, 61, 91, 182, 365, 730, 1826 };
	double tstep = day_steps[sizeof day_steps / sizeof day_steps[0] - 1];
	for (size_t i = 0; i < sizeof day_steps / sizeof day_steps[0]; i++)
		if ((t1 - t0) / day_steps[i] <= 7) {
			tstep = day_steps[i];
			break;
		}
	for (double t = ceil(t0 / tstep) * tstep; t <= t1; t += tstep) {
		char date[32];
		mjd_date(t, date, sizeof date);
		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.0f\" stroke=\"#e4e4e4\"/>\n",
			X(t), X(t), MT, MT + ph);
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", X(t),
			MT + ph + 18, date);
	}
	fprintf(f, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">date (UTC)</text>\n",
		ML + pw / 2, H - 14);
	fprintf(f, "<text transform=\"translate(18,%.0f) rotate(-90)\" text-anchor=\"middle\">",
		MT + ph / 2);
	xml_escaped(f, lc->ylabel ? lc->ylabel : "flux (Jy)");
	fputs("</text>\n", f);
	/* ESE model */
	if (lc->ese && lc->ese->scored) {
		fputs("<polyline fill=\"none\" stroke=\"#d0402b\" stroke-width=\"2\" points=\"", f);
		for (int k = 0; k <= 400; k++) {
			double t = t0 + (t1 - t0) * k / 400.0, v = ese_model_flux(lc->ese, t) * ys;
			if (isfinite(v))
				fprintf(f, "%.1f,%.1f ", X(t), Y(fmin(fmax(v, y0), y1)));
		}
		fprintf(f, "\"><title>ESE model (score %.2f)</title></polyline>\n", lc->ese->score);
		fprintf(f, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"end\" fill=\"#d0402b\">ESE model, "
			   "score %.2f</text>\n", ML + pw - 6, MT + 14, lc->ese->score);
	}
	/* points with error bars */
	fputs("<g stroke=\"#1f3b73\" fill=\"#1f3b73\">\n", f);
	for (size_t i = 0; i < lc->n; i++) {
		double y = lc->flux[i] * ys;
		if (!isfinite(y) || !isfinite(lc->mjd[i]))
			continue;
		double x = X(lc->mjd[i]);
		if (lc->err && isfinite(lc->err[i]) && lc->err[i] > 0) {
			double e = lc->err[i] * ys;
			fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", x, x,
				Y(fmin(y + e, y1)), Y(fmax(y - e, y0)));
		}
		if (lc->bad && lc->bad[i]) /* a failed epoch: an open red square, not a dot */
			fprintf(f, "<rect class=\"bad\" x=\"%.1f\" y=\"%.1f\" width=\"6\" "
				"height=\"6\" fill=\"none\" stroke=\"#c00\"/>\n", x - 3, Y(y) - 3);
		else
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>\n", x, Y(y));
	}
	fputs("</g>\n</svg>\n", f);
#undef X
#undef Y
	return ferror(f) ? -EIO : 0;
}

int plot_svg_write(const plot_lc *lc, const char *path, char *err, size_t errlen)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return err_set(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return err_set(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	int rc = plot_svg_fprint(lc, f);
	if (fclose(f) && !rc)
		rc = -EIO;
	if (rc) {
		remove(tmp);
		return err_set(err, errlen, rc, "%s: %s", path,
			       rc == -EINVAL ? "no finite point to plot" : "write failed");
	}
	return fsx_replace(tmp, path, err, errlen); /* durable; tmp goes on failure */
}
