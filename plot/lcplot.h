/*
 * plot/lcplot.h — a source's light curve as a PNG or an SVG (the same
 * drawing code on cairo's image and SVG surfaces).
 *
 * The plot shows flux density against calendar date (UTC, from MJD) with 1σ
 * error bars, the reference-baseline period shaded (pale blue), the ESE event
 * window shaded (pale red) and the fitted ESE model drawn over the points
 * (red) when the caller gives them.
 *
 * Normalised or raw: the points are the normalised fluxes when at least one
 * is finite; otherwise the raw fluxes (e.g. a source whose epochs were all
 * taken while the reference baselines were still being built), and the axis
 * says so ("flux density (mJy, not normalised)").  Only when neither has a
 * finite point is there nothing to plot (-EINVAL).
 *
 * The SVG is SVG 1.1 as cairo writes it: text as glyph outlines, each point
 * one filled <path> in the point colour PLOT_LC_POINT_RGB, self-contained.
 */
#ifndef CONTIMG_PLOT_LCPLOT_H
#define CONTIMG_PLOT_LCPLOT_H

#include <stddef.h>

#include "plot/axes.h"

#define PLOT_LC_WIDTH 900
#define PLOT_LC_HEIGHT 420
/* The colour of the points (0..255 each): a dark blue used by nothing else. */
#define PLOT_LC_POINT_R 31
#define PLOT_LC_POINT_G 59
#define PLOT_LC_POINT_B 115

typedef struct lcplot_data {
	const char *title;          /* e.g. the source name; NULL: "light curve" */
	size_t n;
	const double *mjd;          /* [n] */
	const double *norm_flux;    /* [n] normalised flux (Jy), non-finite = none; or NULL */
	const double *norm_err;     /* [n] or NULL */
	const double *raw_flux;     /* [n] measured flux (Jy); or NULL */
	const double *raw_err;      /* [n] or NULL */
	double yscale;              /* display unit per Jy (1e3: mJy; 0 → 1e3) */
	const char *unit;           /* its name ("mJy"; NULL → "mJy") */
	double base_mjd0, base_mjd1;/* reference baseline to shade; none when not finite,
				       <= 0, or inverted (a zeroed struct shades nothing) */
	double win_mjd0, win_mjd1;  /* ESE event window to shade; same rule */
	size_t nmodel;              /* model curve points (0: none) */
	const double *model_mjd;    /* [nmodel] */
	const double *model_flux;   /* [nmodel] Jy, in the units of the plotted fluxes */
	const char *model_label;    /* e.g. "ESE model, score 0.87"; may be NULL */
	const int *bad;             /* [n] non-zero: an epoch that failed its quality checks,
				       drawn as an open red square; or NULL */
} lcplot_data;

/* What was drawn. */
typedef struct lcplot_info {
	int raw;                    /* 1 when the raw fluxes were plotted */
	size_t npoints;             /* points drawn */
	size_t nbad;                /* of which marked as failed quality (open squares) */
	double t0, t1, y0, y1;      /* the axes' ranges (MJD; display units) */
	int ndates;                 /* date labels on the time axis */
	char dates[16][12];         /* "YYYY-MM-DD" */
} lcplot_info;

/* Render into *ret_buf (malloc'd PNG or SVG bytes, *ret_len).  ret_info may
 * be NULL.  -EINVAL "no finite point to plot" when neither flux has one,
 * -ENOMEM, -EIO. */
int lcplot_render(const lcplot_data *d, plot_format fmt, unsigned char **ret_buf,
		  size_t *ret_len, lcplot_info *ret_info, char *err, size_t errlen);

/* Render as fmt and write to path durably (core/fsx.h). */
int lcplot_write(const lcplot_data *d, const char *path, plot_format fmt, lcplot_info *ret_info,
		 char *err, size_t errlen);

#endif
