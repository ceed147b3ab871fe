/*
 * plot/calplot.h — pictures of a calibration table (core/gaintab.h): the
 * solutions' amplitude and phase, every antenna overplotted in its own
 * colour (hue by antenna index, the key on the right), X solid and Y dashed.
 *
 *   - a table with more than one channel (a bandpass, B): amplitude and phase
 *     against frequency (MHz), one curve per antenna, pol and solution time;
 *   - otherwise (gains G, delays K as phases): amplitude and phase against
 *     time (minutes from the first solution), one curve per antenna, pol and
 *     channel;
 *   - a table of one solution per antenna (one time, one channel: a gain
 *     table solved over a whole group): amplitude and phase against antenna
 *     number, one dot per antenna and pol.
 *
 * Flagged, zero and non-finite solutions are gaps.  Phases are degrees in
 * [−180, 180), relative to nothing (the table's reference antenna shows as a
 * flat zero).  The title gives the type, calibrator, source group and
 * reference antenna.
 */
#ifndef CONTIMG_PLOT_CALPLOT_H
#define CONTIMG_PLOT_CALPLOT_H

#include <stddef.h>

#include "core/gaintab.h"
#include "plot/axes.h"

#define PLOT_CAL_WIDTH 1000
#define PLOT_CAL_HEIGHT 720

enum calplot_x { CALPLOT_VS_TIME = 0, CALPLOT_VS_FREQ = 1, CALPLOT_VS_ANT = 2 };

typedef struct calplot_info {
	int x;                     /* enum calplot_x: what the horizontal axis is */
	int ncurves;               /* curves drawn (antenna × pol × time/channel with any
				      good solution) */
	size_t ngood;              /* good solutions drawn */
	double amp_max;            /* the amplitude axis's top */
} calplot_info;

/* Render g (title: NULL → from the table's own attributes) into *ret_buf
 * (malloc'd PNG or SVG bytes, *ret_len).  ret_info may be NULL.  -EINVAL
 * when the table has no good solution, -ENOMEM, -EIO. */
int calplot_render(const gaintab *g, const char *title, plot_format fmt,
		   unsigned char **ret_buf, size_t *ret_len, calplot_info *ret_info, char *err,
		   size_t errlen);

/* Read the table at table_path (gaintab_read) and write its picture to
 * out_path (PNG, or SVG when it ends in .svg), durably. */
int calplot_write(const char *table_path, const char *out_path, const char *title,
		  calplot_info *ret_info, char *err, size_t errlen);

#endif
