/*
 * photometry/plot.h — a light curve as a standalone SVG document.
 *
 * The plot shows the points with 1σ error bars, a time axis labelled with
 * calendar dates (UTC, from MJD), the reference-baseline period shaded, and
 * the fitted ESE model drawn over the points when one is given.  The output
 * is plain SVG 1.1 (no scripts, no external resources) that any browser
 * renders.
 */
#ifndef CONTIMG_PLOT_H
#define CONTIMG_PLOT_H

#include <stddef.h>
#include <stdio.h>

#include "photometry/ese.h"

typedef struct plot_lc {
	const char *title;          /* e.g. the source name (escaped on output); may be NULL */
	const char *ylabel;         /* e.g. "normalised flux (mJy)"; NULL: "flux (Jy)" */
	double yscale;              /* multiply fluxes by this for display (1 if 0) */
	size_t n;
	const double *mjd;          /* [n] */
	const double *flux;         /* [n]; non-finite points are skipped */
	const double *err;          /* [n] or NULL */
	double base_mjd0, base_mjd1;/* reference-baseline period to shade; none when NAN or
				       0 (a zero-initialised plot_lc shades nothing) */
	const ese_result *ese;      /* fitted model to overlay, or NULL */
	const int *bad;             /* [n] or NULL: 1 marks an epoch that failed its quality
				       checks (an open red square instead of a dot) */
} plot_lc;

/* Write the SVG to f.  Returns 0, -EINVAL when there is no finite point,
 * -EIO on a write error. */
int plot_svg_fprint(const plot_lc *lc, FILE *f);

/* Write the SVG to path (via path.tmp and a rename).  Errors as above plus
 * the open/rename errno, with the path in err. */
int plot_svg_write(const plot_lc *lc, const char *path, char *err, size_t errlen);

#endif
