/*
 * core/gaintab.c — gain tables: HDF5 I/O and applying them (see gaintab.h).
 */
#include "core/gaintab.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/err.h"
#include "core/h5.h"

/* The `convention` attribute: the relation in words, for a reader without this
 * header.  `gain_convention` is pyuvdata UVCal's name and value for the same
 * relation ("divide": V_true = V_obs / (g[a1] g[a2]^*)). */
#define GAINTAB_CONVENTION \
	"pyuvdata UVCal gain_convention divide: V_obs(a1,a2) = g[a1] V_true g[a2]^*, " \
	"V_true = V_obs / (g[a1] g[a2]^*), a1 = ant_1_array, a2 = ant_2_array; " \
	"data sign V = S exp(+2 pi i (u l + v m + w (n - 1)) nu / c), uvw = pos[a2] - pos[a1]"

gaintab *gaintab_new(int ntime, int nant, int nchan, int npol)
{
	gaintab *g;
	size_t n;

	if (ntime <= 0 || nant <= 0 || nchan <= 0 || npol <= 0 || npol > 2)
		return NULL;
	g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->ntime = ntime;
	g->nant = nant;
	g->nchan = nchan;
	g->npol = npol;
	n = (size_t)ntime * nant * nchan * npol;
	g->gain = malloc(n * sizeof *g->gain);
	g->flag = calloc(n, 1);
	g->snr = calloc(n, sizeof *g->snr);
	g->antenna_numbers = malloc((size_t)nant * sizeof *g->antenna_numbers);
	g->freq_hz = calloc(nchan, sizeof *g->freq_hz);
	g->time_mjd = calloc(ntime, sizeof *g->time_mjd);
	if (!g->gain || !g->flag || !g->snr || !g->antenna_numbers || !g->freq_hz || !g->time_mjd) {
		gaintab_free(g);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		g->gain[i] = 1.0f;
	for (int a = 0; a < nant; a++)
		g->antenna_numbers[a] = a;
	g->pols[0] = VIS_POL_XX;
	g->pols[1] = VIS_POL_YY;
	g->refant = -1;
	return g;
}

void gaintab_free(gaintab *g)
{
	if (!g)
		return;
	free(g->gain);
	free(g->flag);
	free(g->snr);
	free(g->antenna_numbers);
	free(g->freq_hz);
	free(g->time_mjd);
	free(g);
}

int gaintab_ant_index(const gaintab *g, int number)
{
	for (int a = 0; a < g->nant; a++)
		if (g->antenna_numbers[a] == number)
			return a;
	return -1;
}

/* ---- files (core/h5.h) ------------------------------------------------------ */

int gaintab_write(const char *path, const gaintab *g, char *err, size_t errlen)
{
	h5_file *f = NULL;
	size_t dims[4], d1;
	int rank, r = 0;
	int64_t *ants = NULL, refant = g->refant;
	int32_t pols[2] = {g->pols[0], g->pols[1]};

	ants = malloc((size_t)g->nant * sizeof *ants);
	if (!ants)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	for (int a = 0; a < g->nant; a++)
		ants[a] = g->antenna_numbers[a];
	if (g->ntime == 1) {
		rank = 3;
		dims[0] = g->nant; dims[1] = g->nchan; dims[2] = g->npol;
	} else {
		rank = 4;
		dims[0] = g->ntime; dims[1] = g->nant; dims[2] = g->nchan; dims[3] = g->npol;
	}
	if (h5_file_open(path, H5_MODE_CREATE, &f, NULL, 0) < 0) {
		r = err_set(err, errlen, -EIO, "%s: cannot create HDF5 file", path);
		goto out;
	}
	if (h5_write(f, "gains", H5_TYPE_C8, rank, dims, g->gain, NULL, 0) ||
	    h5_write(f, "flags", H5_TYPE_U8, rank, dims, g->flag, NULL, 0) ||
	    h5_write(f, "snr", H5_TYPE_F32, rank, dims, g->snr, NULL, 0)) {
		r = err_set(err, errlen, -EIO, "%s: cannot write gains/flags/snr", path);
		goto out;
	}
	d1 = g->nant;
	if (h5_write(f, "antenna_numbers", H5_TYPE_I64, 1, &d1, ants, NULL, 0))
		goto fail;
	d1 = g->nchan;
	if (h5_write(f, "freq_hz", H5_TYPE_F64, 1, &d1, g->freq_hz, NULL, 0))
		goto fail;
	d1 = g->ntime;
	if (h5_write(f, "time_mjd", H5_TYPE_F64, 1, &d1, g->time_mjd, NULL, 0))
		goto fail;
	d1 = g->npol;
	if (h5_write(f, "polarization_array", H5_TYPE_I32, 1, &d1, pols, NULL, 0))
		goto fail;
	if (h5_write_attr_str(f, "type", g->type, NULL, 0) ||
	    h5_write_attr(f, "refant", H5_TYPE_I64, &refant, NULL, 0) ||
	    h5_write_attr(f, "valid_start_mjd", H5_TYPE_F64, &g->valid_start_mjd, NULL, 0) ||
	    h5_write_attr(f, "valid_end_mjd", H5_TYPE_F64, &g->valid_end_mjd, NULL, 0) ||
	    h5_write_attr_str(f, "source_group", g->source_group, NULL, 0) ||
	    h5_write_attr_str(f, "calibrator", g->calibrator, NULL, 0) ||
	    h5_write_attr_str(f, "convention", GAINTAB_CONVENTION, NULL, 0) ||
	    h5_write_attr_str(f, "gain_convention", "divide", NULL, 0))
		goto fail;
	goto out;
fail:
	r = err_set(err, errlen, -EIO, "%s: cannot write the table's axes or attributes", path);
out:
	if (h5_file_close(f, NULL, 0) < 0 && !r)
		r = err_set(err, errlen, -EIO, "%s: error closing the file", path);
	free(ants);
	return r;
}

/* Read a whole dataset of `want` elements (as type) if it exists.  Returns 1
 * when read, 0 when absent, negative on a shape/type problem. */
static int read_opt(h5_file *f, const char *name, int type, size_t want, void *buf)
{
	int r = h5_read(f, name, type, want, buf, NULL, 0);
	return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

int gaintab_read(const char *path, gaintab **ret, char *err, size_t errlen)
{
	h5_file *f = NULL;
	size_t dims[H5_MAX_RANK] = {0};
	int rank = -1, ntime, nant, nchan, npol, r = 0, k;
	gaintab *g = NULL;
	int64_t *ants = NULL, refant = -1;
	int32_t pols[2];
	size_t n;

	if (h5_file_open(path, H5_MODE_READ, &f, NULL, 0) < 0)
		return err_set(err, errlen, -EIO, "%s: not a readable HDF5 file", path);
	if (h5_exists(f, "gains") <= 0) {
		r = err_set(err, errlen, -EINVAL, "%s: no `gains` dataset", path);
		goto out;
	}
	if (h5_shape(f, "gains", &rank, dims, NULL, 0) < 0)
		rank = -1;
	if (rank != 3 && rank != 4) {
		r = err_set(err, errlen, -EINVAL, "%s: `gains` has rank %d, expected 3 or 4", path, rank);
		goto out;
	}
	ntime = rank == 4 ? (int)dims[0] : 1;
	nant = (int)dims[rank - 3];
	nchan = (int)dims[rank - 2];
	npol = (int)dims[rank - 1];
	g = gaintab_new(ntime, nant, nchan, npol);
	if (!g) {
		r = err_set(err, errlen, -EINVAL, "%s: bad `gains` shape or out of memory", path);
		goto out;
	}
	n = (size_t)ntime * nant * nchan * npol;
	if (h5_read(f, "gains", H5_TYPE_C8, n, g->gain, NULL, 0) < 0) {
		r = err_set(err, errlen, -EIO, "%s: cannot read `gains` as compound r/i floats", path);
		goto out;
	}
	if (read_opt(f, "flags", H5_TYPE_U8, n, g->flag) < 0 ||
	    read_opt(f, "snr", H5_TYPE_F32, n, g->snr) < 0) {
		r = err_set(err, errlen, -EINVAL, "%s: `flags`/`snr` do not match `gains`", path);
		goto out;
	}
	ants = malloc((size_t)nant * sizeof *ants);
	if (!ants) {
		r = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if (read_opt(f, "antenna_numbers", H5_TYPE_I64, nant, ants) != 1) {
		r = err_set(err, errlen, -EINVAL, "%s: missing or mis-sized `antenna_numbers`", path);
		goto out;
	}
	for (int a = 0; a < nant; a++)
		g->antenna_numbers[a] = (int)ants[a];
	if (read_opt(f, "freq_hz", H5_TYPE_F64, nchan, g->freq_hz) != 1) {
		r = err_set(err, errlen, -EINVAL, "%s: missing or mis-sized `freq_hz`", path);
		goto out;
	}
	k = read_opt(f, "time_mjd", H5_TYPE_F64, ntime, g->time_mjd);
	if (k == 0) {
		/* Reference truth files carry Julian dates. */
		k = read_opt(f, "time_jd", H5_TYPE_F64, ntime, g->time_mjd);
		for (int t = 0; k == 1 && t < ntime; t++)
			g->time_mjd[t] -= 2400000.5;
	}
	if (k != 1) {
		r = err_set(err, errlen, -EINVAL, "%s: missing or mis-sized `time_mjd`/`time_jd`", path);
		goto out;
	}
	if (npol <= 2 && read_opt(f, "polarization_array", H5_TYPE_I32, npol, pols) == 1)
		for (int p = 0; p < npol; p++)
			g->pols[p] = pols[p];
	/* The attributes are optional: an absent or unreadable one keeps its default. */
	h5_read_attr_str(f, "type", g->type, sizeof g->type);
	h5_read_attr_str(f, "source_group", g->source_group, sizeof g->source_group);
	h5_read_attr_str(f, "calibrator", g->calibrator, sizeof g->calibrator);
	h5_read_attr(f, "refant", H5_TYPE_I64, &refant);
	g->refant = (int)refant;
	h5_read_attr(f, "valid_start_mjd", H5_TYPE_F64, &g->valid_start_mjd);
	h5_read_attr(f, "valid_end_mjd", H5_TYPE_F64, &g->valid_end_mjd);
	*ret = g;
	g = NULL;
out:
	free(ants);
	gaintab_free(g);
	h5_file_close(f, NULL, 0);
	return r;
}

/* ---- applying ------------------------------------------------------------- */

/* Gain-table pol index of each hand of a vis polarisation code, or -1. */
static int pol_hands(const gaintab *g, int code, int *p1, int *p2)
{
	int x, y;

	if (g->npol == 1) {
		*p1 = *p2 = 0;
		return 0;
	}
	switch (code) {
	case VIS_POL_XX: case VIS_POL_RR: x = 0; y = 0; break;
	case VIS_POL_YY: case VIS_POL_LL: x = 1; y = 1; break;
	case VIS_POL_XY: case VIS_POL_RL: x = 0; y = 1; break;
	case VIS_POL_YX: case VIS_POL_LR: x = 1; y = 0; break;
	default: return -1;
	}
	*p1 = x;
	*p2 = y;
	return 0;
}

/* Index of the element of a[0 .. n) nearest x (the first of equals). */
static int nearest(const double *a, int n, double x)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (fabs(a[i] - x) < fabs(a[best] - x))
			best = i;
	return best;
}

void gaintab_match(const gaintab *g, const vis_set *v, int *ret_chan, int *ret_time)
{
	double spacing = INFINITY;

	for (int c = 1; c < g->nchan; c++)
		spacing = fmin(spacing, fabs(g->freq_hz[c] - g->freq_hz[c - 1]));
	for (int c = 0; c < v->nchan; c++) {
		if (g->nchan == 1) {
			ret_chan[c] = 0;
			continue;
		}
		ret_chan[c] = nearest(g->freq_hz, g->nchan, v->freq_hz[c]);
		/* A data channel that falls between solutions has none. */
		if (fabs(g->freq_hz[ret_chan[c]] - v->freq_hz[c]) > 0.5 * spacing * (1 + 1e-9))
			ret_chan[c] = -1;
	}
	for (int t = 0; t < v->ntimes; t++)
		ret_time[t] = nearest(g->time_mjd, g->ntime, v->time_jd[t] - 2400000.5);
}

static int apply(vis_set *v, const gaintab *g, int divide, int nthreads, char *err, size_t errlen)
{
	int *cmap = NULL, *tmap = NULL, *am1 = NULL, *am2 = NULL, p1[4], p2[4], r = 0;

	for (int q = 0; q < v->npols; q++)
		if (pol_hands(g, v->pols[q], &p1[q], &p2[q]) || p1[q] >= g->npol || p2[q] >= g->npol)
			return err_set(err, errlen, -EINVAL, "%s: polarisation %d cannot be matched to a %d-pol gain table",
				       v->name, v->pols[q], g->npol);
	cmap = malloc((size_t)v->nchan * sizeof *cmap);
	tmap = malloc((size_t)v->ntimes * sizeof *tmap);
	am1 = malloc((size_t)v->nbls * sizeof *am1);
	am2 = malloc((size_t)v->nbls * sizeof *am2);
	if (!cmap || !tmap || !am1 || !am2) {
		r = err_set(err, errlen, -ENOMEM, "gain apply: out of memory");
		goto out;
	}
	gaintab_match(g, v, cmap, tmap);
	for (int b = 0; b < v->nbls; b++) {
		am1[b] = gaintab_ant_index(g, v->ant1[b]);
		am2[b] = gaintab_ant_index(g, v->ant2[b]);
	}

	if (nthreads <= 0)
		nthreads = omp_get_max_threads();
	/* Small sets: extra threads would only spin. */
	{
		double work = (double)v->ntimes * v->nbls * v->nchan * v->npols;
		if (work / 5e5 < nthreads)
			nthreads = work < 5e5 ? 1 : (int)(work / 5e5);
	}
#pragma omp parallel for num_threads(nthreads) schedule(static)
	for (size_t row = 0; row < (size_t)v->ntimes * v->nbls; row++) {
		int t = (int)(row / v->nbls), b = (int)(row % v->nbls);
		size_t rl = (size_t)v->nchan * v->npols;
		float complex *vv = v->vis + row * rl;
		uint8_t *ff = v->flags + row * rl;
		const float complex *g1, *g2;
		const uint8_t *f1, *f2;

		if (am1[b] < 0 || am2[b] < 0) {
			for (size_t i = 0; i < rl; i++)
				ff[i] |= VIS_FLAG_CAL;
			continue;
		}
		g1 = g->gain + gaintab_idx(g, tmap[t], am1[b], 0, 0);
		g2 = g->gain + gaintab_idx(g, tmap[t], am2[b], 0, 0);
		f1 = g->flag + gaintab_idx(g, tmap[t], am1[b], 0, 0);
		f2 = g->flag + gaintab_idx(g, tmap[t], am2[b], 0, 0);
		for (int c = 0; c < v->nchan; c++) {
			size_t gc = (size_t)cmap[c] * g->npol;
			for (int q = 0; q < v->npols; q++) {
				size_t i = (size_t)c * v->npols + q, k1 = gc + p1[q], k2 = gc + p2[q];
				float ar, ai, br, bi, xr, xi, a2, vr, vi;
				if (cmap[c] < 0 || f1[k1] || f2[k2]) {
					ff[i] |= VIS_FLAG_CAL;
					continue;
				}
				/* g12 = g1 · conj(g2), written out: no NaN-recovery calls. */
				ar = crealf(g1[k1]);
				ai = cimagf(g1[k1]);
				br = crealf(g2[k2]);
				bi = cimagf(g2[k2]);
				xr = ar * br + ai * bi;
				xi = ai * br - ar * bi;
				a2 = xr * xr + xi * xi;
				if (!(a2 > 0) || !isfinite(a2)) {
					ff[i] |= VIS_FLAG_CAL;
					continue;
				}
				vr = crealf(vv[i]);
				vi = cimagf(vv[i]);
				if (divide) /* V / g12 = V · conj(g12) / |g12|² */
					vv[i] = CMPLXF((vr * xr + vi * xi) / a2, (vi * xr - vr * xi) / a2);
				else
					vv[i] = CMPLXF(vr * xr - vi * xi, vr * xi + vi * xr);
			}
		}
	}
out:
	free(cmap);
	free(tmap);
	free(am1);
	free(am2);
	return r;
}

int gaintab_divide(vis_set *v, const gaintab *g, int nthreads, char *err, size_t errlen)
{
	return apply(v, g, 1, nthreads, err, errlen);
}

int gaintab_multiply(vis_set *v, const gaintab *g, int nthreads, char *err, size_t errlen)
{
	return apply(v, g, 0, nthreads, err, errlen);
}
