/*
 * daemon/quicklook.h — the quick-look PNG of an image with the catalog's
 * sources circled: the one function the image stage (daemon/stage_image.c)
 * and `contimgctl plot image --catalog` (daemon/ctl_plot.c) share.
 *
 * The sources are the ones forced photometry measures: the source catalog's
 * entries within the image's half-diagonal of its centre, at least
 * min_flux_mjy (the [photometry] min_flux_mjy), labelled with their names.
 * A missing catalog is not an error: the picture is drawn without circles.
 */
#ifndef CONTIMG_DAEMON_QUICKLOOK_H
#define CONTIMG_DAEMON_QUICKLOOK_H

#include <stddef.h>

#include "plot/qlook.h"

/* The catalog sources to circle on fits_path's image: *ret_src malloc'd
 * (caller frees; NULL and 0 when the catalog does not exist or nothing is
 * near).  catalog_path "" means none.  Errors: the image's header
 * (plot_fits_read) or the catalog's query. */
int quicklook_sources(const char *fits_path, const char *catalog_path, double min_flux_mjy,
		      plot_source **ret_src, size_t *ret_n, char *err, size_t errlen);

/* quicklook_sources, then the quick-look of fits_path (plot/qlook.h) with
 * them and max_px, written to out_path.  pixels: the image's pixels already
 * in memory (the image stage's, exactly what the file holds), so only the
 * header is read; NULL reads them from the file.  ret_info may be NULL. */
int quicklook_write(const char *fits_path, const float *pixels, const char *out_path,
		    const char *catalog_path, double min_flux_mjy, int max_px, int stretch,
		    plot_qlook_info *ret_info, char *err, size_t errlen);

#endif
