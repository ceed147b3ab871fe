/*
 * core/calh5.c — pyuvdata CalH5 export of a gain table (calh5.h).
 */
#include "core/calh5.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/h5.h"
#include "core/version.h"

#define RAD2DEG (180.0 / M_PI)

static int w_i64(h5_file *f, const char *name, int64_t v, char *err, size_t errlen)
{
	return h5_write(f, name, H5_TYPE_I64, 0, NULL, &v, err, errlen);
}

static int w_f64(h5_file *f, const char *name, double v, char *err, size_t errlen)
{
	return h5_write(f, name, H5_TYPE_F64, 0, NULL, &v, err, errlen);
}

static int w_str(h5_file *f, const char *name, const char *s, char *err, size_t errlen)
{
	return h5_write_strs(f, name, 0, 1, &s, err, errlen);
}

int calh5_write(const char *path, const gaintab *g, const calh5_meta *m, char *err,
		size_t errlen)
{
	const vis_set *v = m->site;
	size_t nant = (size_t)g->nant, nf = (size_t)g->nchan, nt = (size_t)g->ntime,
	       nj = (size_t)g->npol, na_tel = v ? (size_t)v->nants : 0;
	size_t n = nant * nf * nt * nj;
	float complex *gains = NULL;
	uint8_t *flags = NULL;
	float *qual = NULL;
	int64_t *ant_array = NULL, *antnum = NULL, *spw_id = NULL, jones[2], spw = 0;
	double *freq = NULL, *width = NULL, *itime = NULL, *tjd = NULL, *pos = NULL, *diam = NULL;
	const char **names = NULL;
	char hist[4096], refname[32] = "", ver[64];
	h5_file *f = NULL;
	int r = 0;

	if (!v || !n || !na_tel)
		return err_set(err, errlen, -EINVAL, "%s: empty table or no antennas", path);
	gains = malloc(n * sizeof *gains);
	flags = malloc(n);
	qual = malloc(n * sizeof *qual);
	ant_array = malloc(nant * sizeof *ant_array);
	antnum = malloc(na_tel * sizeof *antnum);
	names = malloc(na_tel * sizeof *names);
	pos = malloc(na_tel * 3 * sizeof *pos);
	diam = malloc(na_tel * sizeof *diam);
	freq = malloc(nf * sizeof *freq);
	width = malloc(nf * sizeof *width);
	spw_id = malloc(nf * sizeof *spw_id);
	itime = malloc(nt * sizeof *itime);
	tjd = malloc(nt * sizeof *tjd);
	if (!gains || !flags || !qual || !ant_array || !antnum || !names || !pos || !diam ||
	    !freq || !width || !spw_id || !itime || !tjd) {
		r = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < na_tel; i++) {
		antnum[i] = v->ants[i].number;
		names[i] = v->ants[i].name;
		for (int k = 0; k < 3; k++)
			pos[3 * i + k] = v->ants[i].pos_m[k];
		diam[i] = v->ants[i].diam_m;
		if (v->ants[i].number == g->refant)
			snprintf(refname, sizeof refname, "%s", v->ants[i].name);
	}
	for (size_t a = 0; a < nant; a++) {
		size_t i;
		ant_array[a] = g->antenna_numbers[a];
		for (i = 0; i < na_tel && antnum[i] != ant_array[a]; i++)
			;
		if (i == na_tel) {
			r = err_set(err, errlen, -EINVAL,
				    "%s: antenna %lld of the table is not in the source group's files",
				    path, (long long)ant_array[a]);
			goto out;
		}
	}
	/* [t][a][c][p] -> [a][c][t][p]; the SNR is the quality. */
	for (size_t t = 0; t < nt; t++)
		for (size_t a = 0; a < nant; a++)
			for (size_t c = 0; c < nf; c++)
				for (size_t p = 0; p < nj; p++) {
					size_t src = gaintab_idx(g, (int)t, (int)a, (int)c, (int)p);
					size_t dst = ((a * nf + c) * nt + t) * nj + p;
					gains[dst] = g->gain[src];
					flags[dst] = g->flag[src] != 0;
					qual[dst] = g->snr[src];
				}
	for (size_t c = 0; c < nf; c++) {
		freq[c] = g->freq_hz[c];
		spw_id[c] = 0;
		if (nf > 1)
			width[c] = fabs(c + 1 < nf ? g->freq_hz[c + 1] - g->freq_hz[c]
						   : g->freq_hz[c] - g->freq_hz[c - 1]);
		else
			width[c] = m->bandwidth_hz > 0 ? m->bandwidth_hz : v->chan_width_hz;
	}
	/* Each solution covers its share of the calibrator group. */
	for (size_t t = 0; t < nt; t++) {
		tjd[t] = g->time_mjd[t] + 2400000.5;
		itime[t] = v->int_time_s * v->ntimes / (double)nt;
	}
	for (size_t p = 0; p < nj; p++)
		jones[p] = g->pols[p];
	snprintf(ver, sizeof ver, "contimg %s", contimg_version());
	snprintf(hist, sizeof hist,
		 "Exported by contimg %s (contimgctl caltables export) from the %s table %s of "
		 "calibrator %s, solved from group %s; gain_convention divide: "
		 "V_corrected = V_obs / (g_a1 conj(g_a2)).\n%s",
		 contimg_version(), g->type[0] ? g->type : "?", path, g->calibrator,
		 g->source_group, m->history ? m->history : "");

	r = h5_file_open(path, H5_MODE_CREATE, &f, err, errlen);
	if (r < 0)
		goto out;
	{
		size_t d_tel[2] = { na_tel, 3 }, d1;
		size_t dd[4] = { nant, nf, nt, nj };
		if ((r = w_str(f, "Header/telescope_name", v->telescope, err, errlen)) < 0 ||
		    (r = w_f64(f, "Header/latitude", v->lat_rad * RAD2DEG, err, errlen)) < 0 ||
		    (r = w_f64(f, "Header/longitude", v->lon_rad * RAD2DEG, err, errlen)) < 0 ||
		    (r = w_f64(f, "Header/altitude", v->alt_m, err, errlen)) < 0 ||
		    (r = w_i64(f, "Header/Nants_telescope", (int64_t)na_tel, err, errlen)) < 0 ||
		    (r = h5_write_strs(f, "Header/antenna_names", 1, na_tel, names, err,
				       errlen)) < 0 ||
		    (r = h5_write(f, "Header/antenna_numbers", H5_TYPE_I64, 1, &na_tel, antnum,
				  err, errlen)) < 0 ||
		    (r = h5_write(f, "Header/antenna_positions", H5_TYPE_F64, 2, d_tel, pos, err,
				  errlen)) < 0 ||
		    (r = h5_write(f, "Header/antenna_diameters", H5_TYPE_F64, 1, &na_tel, diam,
				  err, errlen)) < 0 ||
		    (v->x_orientation[0] &&
		     (r = w_str(f, "Header/x_orientation", v->x_orientation, err, errlen)) < 0) ||
		    (r = w_str(f, "Header/history", hist, err, errlen)) < 0 ||
		    (r = w_i64(f, "Header/Nfreqs", (int64_t)nf, err, errlen)) < 0 ||
		    (r = w_i64(f, "Header/Njones", (int64_t)nj, err, errlen)) < 0 ||
		    (r = w_i64(f, "Header/Nspws", 1, err, errlen)) < 0 ||
		    (r = w_i64(f, "Header/Ntimes", (int64_t)nt, err, errlen)) < 0 ||
		    (r = w_i64(f, "Header/Nants_data", (int64_t)nant, err, errlen)) < 0 ||
		    (r = h5_write(f, "Header/ant_array", H5_TYPE_I64, 1, &nant, ant_array, err,
				  errlen)) < 0)
			goto out;
		d1 = 1;
		if ((r = h5_write(f, "Header/spw_array", H5_TYPE_I64, 1, &d1, &spw, err, errlen)) < 0 ||
		    (r = h5_write(f, "Header/jones_array", H5_TYPE_I64, 1, &nj, jones, err,
				  errlen)) < 0 ||
		    (r = h5_write(f, "Header/integration_time", H5_TYPE_F64, 1, &nt, itime, err,
				  errlen)) < 0 ||
		    (r = h5_write(f, "Header/time_array", H5_TYPE_F64, 1, &nt, tjd, err,
				  errlen)) < 0 ||
		    (r = w_str(f, "Header/cal_style", "sky", err, errlen)) < 0 ||
		    (r = w_str(f, "Header/cal_type", "gain", err, errlen)) < 0 ||
		    (r = w_str(f, "Header/gain_convention", "divide", err, errlen)) < 0 ||
		    (r = w_str(f, "Header/sky_catalog",
			       m->sky_catalog && *m->sky_catalog ? m->sky_catalog : g->calibrator,
			       err, errlen)) < 0 ||
		    (refname[0] &&
		     (r = w_str(f, "Header/ref_antenna_name", refname, err, errlen)) < 0) ||
		    (r = w_str(f, "Header/version", ver, err, errlen)) < 0)
			goto out;
		{
			uint8_t wb = 0;
			if ((r = h5_write(f, "Header/wide_band", H5_TYPE_BOOL, 0, NULL, &wb, err,
					  errlen)) < 0)
				goto out;
		}
		if ((r = h5_write(f, "Header/freq_array", H5_TYPE_F64, 1, &nf, freq, err, errlen)) < 0 ||
		    (r = h5_write(f, "Header/channel_width", H5_TYPE_F64, 1, &nf, width, err,
				  errlen)) < 0 ||
		    (r = h5_write(f, "Header/flex_spw_id_array", H5_TYPE_I64, 1, &nf, spw_id, err,
				  errlen)) < 0 ||
		    (r = h5_write(f, "Data/gains", H5_TYPE_C8, 4, dd, gains, err, errlen)) < 0 ||
		    (r = h5_write(f, "Data/flags", H5_TYPE_BOOL, 4, dd, flags, err, errlen)) < 0 ||
		    (r = h5_write(f, "Data/qualities", H5_TYPE_F32, 4, dd, qual, err, errlen)) < 0)
			goto out;
	}
	r = h5_file_close(f, err, errlen);
	f = NULL;
out:
	if (f)
		h5_file_close(f, NULL, 0);
	free(gains);
	free(flags);
	free(qual);
	free(ant_array);
	free(antnum);
	free(names);
	free(pos);
	free(diam);
	free(freq);
	free(width);
	free(spw_id);
	free(itime);
	free(tjd);
	return r;
}
