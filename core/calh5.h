/*
 * core/calh5.h — export a gain table (core/gaintab.h) as pyuvdata's CalH5
 * file, which UVCal.from_file reads without outside knowledge (issue 18).
 *
 * Layout (pyuvdata src/pyuvdata/uvcal/calh5.py, CalH5._read_header and
 * _get_data, commit 05baeee8d0283e63a94b0b98d27c08544bbbec56, and its
 * Telescope.from_hdf5):
 *   /Header  telescope_name, latitude, longitude (deg), altitude (m),
 *            Nants_telescope, antenna_names, antenna_numbers,
 *            antenna_positions (ECEF offsets from the site, m, [Nants_telescope][3]),
 *            antenna_diameters, x_orientation (when known),
 *            history, Nfreqs, Njones, Nspws, Ntimes, Nants_data, ant_array,
 *            integration_time [Ntimes] (s), spw_array, jones_array,
 *            cal_style ("sky"), cal_type ("gain"), gain_convention ("divide"),
 *            wide_band (false), freq_array, channel_width [Nfreqs] (Hz),
 *            flex_spw_id_array [Nfreqs], time_array [Ntimes] (JD, UTC),
 *            ref_antenna_name, sky_catalog, version
 *   /Data    gains [Nants_data][Nfreqs][Ntimes][Njones] complex64 ({r, i}),
 *            flags (bool, same shape), qualities (float32 SNR, same shape)
 * Strings are fixed-length ASCII (numpy bytes), integers int64, reals f64.
 *
 * Convention: contimg's tables are pyuvdata's gain_convention "divide"
 * (V_corrected = V_obs / (g_i conj(g_j)), core/gaintab.h); the jones codes are
 * the AIPS polarisation codes of the table (-5 Jxx, -6 Jyy, -1 Jrr, -2 Jll).
 */
#ifndef CONTIMG_CALH5_H
#define CONTIMG_CALH5_H

#include <stddef.h>

#include "core/gaintab.h"
#include "core/vis.h"

typedef struct calh5_meta {
	const vis_set *site;      /* antennas, site, integration time and channel width
				     of the group the table was solved from (uvh5_read_meta) */
	const char *history;      /* appended after the contimg line (may be NULL) */
	const char *sky_catalog;  /* the calibrator model, e.g. "0834+555 (VLA calibrator list)" */
	double bandwidth_hz;      /* channel_width of a one-channel table (the band it
				     averages); <= 0: the site's channel width */
} calh5_meta;

/* Write g to path (replaced; not atomic: the caller writes a temporary and
 * renames).  -EINVAL when an antenna of g is not among m->site's antennas or
 * the table is empty, -EIO with the reason in err. */
int calh5_write(const char *path, const gaintab *g, const calh5_meta *m, char *err,
		size_t errlen);

#endif
