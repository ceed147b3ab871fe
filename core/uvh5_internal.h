/*
 * core/uvh5_internal.h — what the UVH5 reader (uvh5_read.c), its raw path
 * (uvh5_raw.c) and the writer (uvh5_write.c) share.  Private to those files;
 * the API is core/uvh5.h.
 */
#ifndef CONTIMG_UVH5_INTERNAL_H
#define CONTIMG_UVH5_INTERNAL_H

#include <complex.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/vis.h"

/* pyuvdata's vis_units values, in any case: "uncalib", "Jy", "K str"
 * (others: NULL). */
static inline const char *uvh5_units_name(const char *s)
{
	if (!strcasecmp(s, "uncalib"))
		return "uncalib";
	if (!strcasecmp(s, "jy"))
		return "Jy";
	if (!strcasecmp(s, "k str"))
		return "K str";
	return NULL;
}

/* One stored sample into the vis_set's terms (both read paths): a non-zero
 * flag byte is VIS_FLAG_INPUT, nsamples the weight; a non-finite visibility
 * or weight is zeroed (a finite weight is kept) and flagged
 * VIS_FLAG_NONFINITE, so no NaN ever reaches arithmetic. */
static inline void uvh5_decode_sample(float complex *z, float *w, uint8_t flag,
				      uint8_t *ret_flag)
{
	/* A float is NaN or ±Inf when its exponent bits are all set. */
	const uint32_t inf = 0x7f800000u;
	uint32_t b[3];
	uint8_t f = flag ? VIS_FLAG_INPUT : 0;

	memcpy(b, z, 8);
	memcpy(b + 2, w, 4);
	if ((b[0] & inf) == inf || (b[1] & inf) == inf || (b[2] & inf) == inf) {
		*z = 0;
		*w = (b[2] & inf) == inf ? 0 : *w;
		f |= VIS_FLAG_NONFINITE;
	}
	*ret_flag = f;
}

#endif
