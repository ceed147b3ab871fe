/*
 * imaging/fitsout_sb.c — the sub-band images as FITS files (fitsout.h).
 */
#include <stdio.h>

#include "core/err.h"
#include "imaging/fitsout.h"

int fitsout_write_subband(const char *path, const image_result *r, int k, int pbcor,
			  int calibrated, char *err, size_t errlen)
{
	return fitsout_write_subband_prov(path, r, k, pbcor, calibrated, NULL, err, errlen);
}

int fitsout_write_subband_prov(const char *path, const image_result *r, int k, int pbcor,
			       int calibrated, const fitsout_provenance *prov, char *err,
			       size_t errlen)
{
	char product[32];

	if (k < 0 || k >= r->nsub || !r->sub)
		return err_set(err, errlen, -EINVAL, "fitsout: no sub-band %d (%d sub-bands)", k,
			       r->nsub);
	const subband_image *o = &r->sub[k];
	const float *data = pbcor ? o->pbcor : o->image;
	if (!data)
		return err_set(err, errlen, -EINVAL, "fitsout: sub-band %d has no %s image", k,
			       pbcor ? "pbcor" : "restored");
	snprintf(product, sizeof product, "%s-SB%d", pbcor ? "pbcor" : "image", k);
	/* The header is the MFS image's (fitsout.c) with the sub-band's frequency,
	 * noise and channels. */
	return fitsout_write_image(path, r, k, data, product, "JY/BEAM", calibrated, prov, err,
				   errlen);
}
