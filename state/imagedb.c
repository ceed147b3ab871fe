/*
 * state/imagedb.c — the `images` table (see imagedb.h).
 */
#include "state/imagedb.h"

#include <math.h>

#include "state/db.h"

int imagedb_record(sqlite3 *db, const imagedb_row *w, char *err, size_t errlen)
{
	/* A row built without the noise fields (zero) records NULL, not 0. */
	double expect = w->expected_noise_jy > 0 ? w->expected_noise_jy : NAN;
	double sunit = w->vis_sigma_unit > 0 ? w->vis_sigma_unit : NAN;
	int r = db_exec(
		db, err, errlen,
		"INSERT INTO images (group_id, path, pbcor, bmaj_arcsec, bmin_arcsec, bpa_deg,"
		" noise_jy, peak_jy, dynamic_range, ra_deg, dec_deg, nx, ny, cell_arcsec, freq_hz,"
		" bandwidth_hz, integration_s, mjd_obs, calibrated, niter, nmajor, weighting,"
		" created_at, expected_noise_jy, vis_sigma_unit, noise_method)"
		" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
		" ON CONFLICT(path) DO UPDATE SET group_id = excluded.group_id,"
		" pbcor = excluded.pbcor, bmaj_arcsec = excluded.bmaj_arcsec,"
		" bmin_arcsec = excluded.bmin_arcsec, bpa_deg = excluded.bpa_deg,"
		" noise_jy = excluded.noise_jy, peak_jy = excluded.peak_jy,"
		" dynamic_range = excluded.dynamic_range, ra_deg = excluded.ra_deg,"
		" dec_deg = excluded.dec_deg, nx = excluded.nx, ny = excluded.ny,"
		" cell_arcsec = excluded.cell_arcsec, freq_hz = excluded.freq_hz,"
		" bandwidth_hz = excluded.bandwidth_hz, integration_s = excluded.integration_s,"
		" mjd_obs = excluded.mjd_obs, calibrated = excluded.calibrated,"
		" niter = excluded.niter, nmajor = excluded.nmajor, weighting = excluded.weighting,"
		" created_at = excluded.created_at, expected_noise_jy = excluded.expected_noise_jy,"
		" vis_sigma_unit = excluded.vis_sigma_unit, noise_method = excluded.noise_method",
		"Isiddddddddiidddddiiisddds", w->group_id, w->path, w->pbcor, w->bmaj_arcsec,
		w->bmin_arcsec, w->bpa_deg, w->noise_jy, w->peak_jy, w->dynamic_range, w->ra_deg,
		w->dec_deg, w->nx, w->ny, w->cell_arcsec, w->freq_hz, w->bandwidth_hz,
		w->integration_s, w->mjd_obs, w->calibrated, w->niter, w->nmajor, w->weighting,
		w->created_at, expect, sunit, w->noise_method);
	return r < 0 ? r : 0;
}
