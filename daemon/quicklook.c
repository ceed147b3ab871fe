/*
 * daemon/quicklook.c — quick-look PNG with catalog sources (quicklook.h).
 */
#include "daemon/quicklook.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "plot/fitsimg.h"
#include "state/catalog.h"

int quicklook_sources(const char *fits_path, const char *catalog_path, double min_flux_mjy,
		      plot_source **ret_src, size_t *ret_n, char *err, size_t errlen)
{
	plot_fits h;
	catalog *cat = NULL;
	catalog_source *src = NULL;
	plot_source *out = NULL;
	size_t n = 0;
	double ra, dec;
	int r;

	*ret_src = NULL;
	*ret_n = 0;
	if (!catalog_path || !*catalog_path)
		return 0;
	if ((r = plot_fits_read(fits_path, 0, &h, err, errlen)) < 0)
		return r;
	double cell = plot_fits_cell_deg(&h);
	double radius = 0.5 * hypot(h.nx, h.ny) * cell;
	r = plot_fits_pix_to_world(&h, (h.nx - 1) / 2.0, (h.ny - 1) / 2.0, &ra, &dec);
	plot_fits_release(&h);
	if (r < 0)
		return err_set(err, errlen, -EINVAL, "%s: the centre has no sky position",
			       fits_path);
	r = catalog_open(catalog_path, 1, &cat, err, errlen);
	if (r == -ENOENT)
		return 0; /* no catalog imported yet: nothing to circle */
	if (r < 0)
		return r;
	r = catalog_sources_near(cat, ra, dec, radius, min_flux_mjy, &src, &n, err, errlen);
	catalog_close(cat);
	if (r < 0)
		return r;
	if (n) {
		out = calloc(n, sizeof *out);
		if (!out) {
			free(src);
			return err_set(err, errlen, -ENOMEM, "out of memory");
		}
		for (size_t k = 0; k < n; k++) {
			out[k].ra_deg = src[k].ra_deg;
			out[k].dec_deg = src[k].dec_deg;
			snprintf(out[k].label, sizeof out[k].label, "%s", src[k].name);
		}
	}
	free(src);
	*ret_src = out;
	*ret_n = n;
	return 0;
}

int quicklook_write(const char *fits_path, const float *pixels, const char *out_path,
		    const char *catalog_path, double min_flux_mjy, int max_px, int stretch,
		    plot_qlook_info *ret_info, char *err, size_t errlen)
{
	plot_source *src = NULL;
	plot_fits img;
	unsigned char *buf = NULL;
	size_t n = 0, len = 0;
	int r = quicklook_sources(fits_path, catalog_path, min_flux_mjy, &src, &n, err, errlen);
	if (r < 0)
		return r;
	if ((r = plot_fits_read(fits_path, pixels == NULL, &img, err, errlen)) < 0)
		goto out;
	if (pixels)
		img.data = (float *)pixels; /* borrowed: given back before the release */
	plot_qlook_opts o = { .max_px = max_px, .stretch = stretch, .sources = src,
			      .nsources = n };
	r = plot_qlook_render(&img, &o, plot_format_of(out_path), &buf, &len, ret_info, err,
			      errlen);
	if (pixels)
		img.data = NULL;
	plot_fits_release(&img);
	if (r == 0)
		r = plot_write_file(out_path, buf, len, err, errlen);
out:
	free(buf);
	free(src);
	return r;
}
