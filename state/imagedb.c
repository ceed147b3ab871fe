/*
 * state/imagedb.c — the `images` table (see imagedb.h).
 */
#include "state/imagedb.h"

#include "state/db.h"

int imagedb_record(sqlite3 *db, const imagedb_row *w, char *err, size_t errlen)
{
	int r = db_exec(
		db, err, errlen,
		"INSERT INTO images (group_id, path, pbcor, bmaj_arcsec, bmin_arcsec, bpa_deg,"
		" noise_jy, peak_jy, dynamic_range, ra_deg, dec_deg, nx, ny, cell_arcsec, freq_hz,"
		" bandwidth_hz, integration_s, mjd_obs, calibrated, niter, nmajor, weighting,"
		" created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
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
		" created_at = excluded.created_at",
		"Isiddddddddiidddddiiisd", w->group_id, w->path, w->pbcor, w->bmaj_arcsec,
		w->bmin_arcsec, w->bpa_deg, w->noise_jy, w->peak_jy, w->dynamic_range, w->ra_deg,
		w->dec_deg, w->nx, w->ny, w->cell_arcsec, w->freq_hz, w->bandwidth_hz,
		w->integration_s, w->mjd_obs, w->calibrated, w->niter, w->nmajor, w->weighting,
		w->created_at);
	return r < 0 ? r : 0;
}
