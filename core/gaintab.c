/*
 * core/gaintab.c — gain tables: HDF5 I/O and applying them (see gaintab.h).
 */
#include "core/gaintab.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <omp.h>

#include "core/err.h"

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

/* ---- HDF5 helpers --------------------------------------------------------- */

static hid_t complex_type(void)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, 2 * sizeof(float));
	if (t < 0)
		return t;
	H5Tinsert(t, "r", 0, H5T_NATIVE_FLOAT);
	H5Tinsert(t, "i", sizeof(float), H5T_NATIVE_FLOAT);
	return t;
}

static int write_ds(hid_t file, const char *name, hid_t ftype, hid_t mtype, int rank,
		    const hsize_t *dims, const void *data)
{
	hid_t sp = H5Screate_simple(rank, dims, NULL), ds = -1;
	int r = -EIO;

	if (sp < 0)
		return -EIO;
	ds = H5Dcreate2(file, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (ds >= 0 && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0)
		r = 0;
	if (ds >= 0)
		H5Dclose(ds);
	H5Sclose(sp);
	return r;
}

static int write_attr(hid_t obj, const char *name, hid_t type, const void *data)
{
	hid_t sp = H5Screate(H5S_SCALAR), a;
	int r = -EIO;

	if (sp < 0)
		return -EIO;
	a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
	if (a >= 0 && H5Awrite(a, type, data) >= 0)
		r = 0;
	if (a >= 0)
		H5Aclose(a);
	H5Sclose(sp);
	return r;
}

static int write_str_attr(hid_t obj, const char *name, const char *s)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	int r;

	if (t < 0)
		return -EIO;
	/* Variable-length UTF-8, as h5py writes Python strings. */
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	r = write_attr(obj, name, t, &s);
	H5Tclose(t);
	return r;
}

int gaintab_write(const char *path, const gaintab *g, char *err, size_t errlen)
{
	hid_t f = -1, ct = -1;
	size_t n = (size_t)g->ntime * g->nant * g->nchan * g->npol;
	hsize_t dims[4], d1;
	int rank, r = 0;
	int64_t *ants = NULL, refant = g->refant;
	int32_t pols[2] = {g->pols[0], g->pols[1]};

	/* Library code prints nothing: failures come back through err. */
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
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
	(void)n;
	f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	if (f < 0) {
		r = err_set(err, errlen, -EIO, "%s: cannot create HDF5 file", path);
		goto out;
	}
	ct = complex_type();
	if (ct < 0 || write_ds(f, "gains", ct, ct, rank, dims, g->gain) ||
	    write_ds(f, "flags", H5T_STD_U8LE, H5T_NATIVE_UINT8, rank, dims, g->flag) ||
	    write_ds(f, "snr", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rank, dims, g->snr)) {
		r = err_set(err, errlen, -EIO, "%s: cannot write gains/flags/snr", path);
		goto out;
	}
	d1 = g->nant;
	if (write_ds(f, "antenna_numbers", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &d1, ants))
		goto fail;
	d1 = g->nchan;
	if (write_ds(f, "freq_hz", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &d1, g->freq_hz))
		goto fail;
	d1 = g->ntime;
	if (write_ds(f, "time_mjd", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &d1, g->time_mjd))
		goto fail;
	d1 = g->npol;
	if (write_ds(f, "polarization_array", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &d1, pols))
		goto fail;
	if (write_str_attr(f, "type", g->type) || write_attr(f, "refant", H5T_NATIVE_INT64, &refant) ||
	    write_attr(f, "valid_start_mjd", H5T_NATIVE_DOUBLE, &g->valid_start_mjd) ||
	    write_attr(f, "valid_end_mjd", H5T_NATIVE_DOUBLE, &g->valid_end_mjd) ||
	    write_str_attr(f, "source_group", g->source_group) ||
	    write_str_attr(f, "calibrator", g->calibrator) ||
	    write_str_attr(f, "convention", GAINTAB_CONVENTION) ||
	    write_str_attr(f, "gain_convention", "divide"))
		goto fail;
	goto out;
fail:
	r = err_set(err, errlen, -EIO, "%s: cannot write the table's axes or attributes", path);
out:
	if (ct >= 0)
		H5Tclose(ct);
	if (f >= 0 && H5Fclose(f) < 0 && !r)
		r = err_set(err, errlen, -EIO, "%s: error closing the file", path);
	free(ants);
	return r;
}

/* Read a whole 1-D dataset of `want` elements (as mtype) if it exists.
 * Returns 1 when read, 0 when absent, negative on a shape/type problem. */
static int read_1d(hid_t f, const char *name, hid_t mtype, hssize_t want, void *buf)
{
	hid_t ds, sp;
	hssize_t n;
	int r = 1;

	if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
		return 0;
	ds = H5Dopen2(f, name, H5P_DEFAULT);
	if (ds < 0)
		return -EIO;
	sp = H5Dget_space(ds);
	n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
	if (n != want)
		r = -EINVAL;
	else if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
		r = -EIO;
	if (sp >= 0)
		H5Sclose(sp);
	H5Dclose(ds);
	return r;
}

static void read_str_attr(hid_t f, const char *name, char *buf, size_t len)
{
	hid_t a, t, mt;

	if (H5Aexists(f, name) <= 0)
		return;
	a = H5Aopen(f, name, H5P_DEFAULT);
	if (a < 0)
		return;
	t = H5Aget_type(a);
	if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
		if (H5Tis_variable_str(t) > 0) {
			char *s = NULL;
			mt = H5Tcopy(H5T_C_S1);
			H5Tset_size(mt, H5T_VARIABLE);
			H5Tset_cset(mt, H5Tget_cset(t));
			if (H5Aread(a, mt, &s) >= 0 && s) {
				snprintf(buf, len, "%s", s);
				H5free_memory(s);
			}
			H5Tclose(mt);
		} else {
			size_t sz = H5Tget_size(t);
			char *s = calloc(1, sz + 1);
			if (s) {
				mt = H5Tcopy(H5T_C_S1);
				H5Tset_size(mt, sz + 1);
				if (H5Aread(a, mt, s) >= 0)
					snprintf(buf, len, "%s", s);
				H5Tclose(mt);
				free(s);
			}
		}
	}
	if (t >= 0)
		H5Tclose(t);
	H5Aclose(a);
}

static void read_num_attr(hid_t f, const char *name, hid_t mtype, void *buf)
{
	hid_t a;

	if (H5Aexists(f, name) <= 0)
		return;
	a = H5Aopen(f, name, H5P_DEFAULT);
	if (a < 0)
		return;
	H5Aread(a, mtype, buf);
	H5Aclose(a);
}

int gaintab_read(const char *path, gaintab **ret, char *err, size_t errlen)
{
	hid_t f = -1, ds = -1, sp = -1, ct = -1;
	hsize_t dims[4] = {0};
	int rank, ntime, nant, nchan, npol, r = 0, k;
	gaintab *g = NULL;
	int64_t *ants = NULL, refant = -1;
	int32_t pols[2];
	size_t n;

	H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors come back through err */
	f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (f < 0)
		return err_set(err, errlen, -EIO, "%s: not a readable HDF5 file", path);
	if (H5Lexists(f, "gains", H5P_DEFAULT) <= 0) {
		r = err_set(err, errlen, -EINVAL, "%s: no `gains` dataset", path);
		goto out;
	}
	ds = H5Dopen2(f, "gains", H5P_DEFAULT);
	sp = ds >= 0 ? H5Dget_space(ds) : -1;
	rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
	if (rank != 3 && rank != 4) {
		r = err_set(err, errlen, -EINVAL, "%s: `gains` has rank %d, expected 3 or 4", path, rank);
		goto out;
	}
	H5Sget_simple_extent_dims(sp, dims, NULL);
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
	ct = complex_type();
	if (ct < 0 || H5Dread(ds, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, g->gain) < 0) {
		r = err_set(err, errlen, -EIO, "%s: cannot read `gains` as compound r/i floats", path);
		goto out;
	}
	if (read_1d(f, "flags", H5T_NATIVE_UINT8, (hssize_t)n, g->flag) < 0 ||
	    read_1d(f, "snr", H5T_NATIVE_FLOAT, (hssize_t)n, g->snr) < 0) {
		r = err_set(err, errlen, -EINVAL, "%s: `flags`/`snr` do not match `gains`", path);
		goto out;
	}
	ants = malloc((size_t)nant * sizeof *ants);
	if (!ants) {
		r = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if (read_1d(f, "antenna_numbers", H5T_NATIVE_INT64, nant, ants) != 1) {
		r = err_set(err, errlen, -EINVAL, "%s: missing or mis-sized `antenna_numbers`", path);
		goto out;
	}
	for (int a = 0; a < nant; a++)
		g->antenna_numbers[a] = (int)ants[a];
	if (read_1d(f, "freq_hz", H5T_NATIVE_DOUBLE, nchan, g->freq_hz) != 1) {
		r = err_set(err, errlen, -EINVAL, "%s: missing or mis-sized `freq_hz`", path);
		goto out;
	}
	k = read_1d(f, "time_mjd", H5T_NATIVE_DOUBLE, ntime, g->time_mjd);
	if (k == 0) {
		/* Reference truth files carry Julian dates. */
		k = read_1d(f, "time_jd", H5T_NATIVE_DOUBLE, ntime, g->time_mjd);
		for (int t = 0; k == 1 && t < ntime; t++)
			g->time_mjd[t] -= 2400000.5;
	}
	if (k != 1) {
		r = err_set(err, errlen, -EINVAL, "%s: missing or mis-sized `time_mjd`/`time_jd`", path);
		goto out;
	}
	if (npol <= 2 && read_1d(f, "polarization_array", H5T_NATIVE_INT32, npol, pols) == 1)
		for (int p = 0; p < npol; p++)
			g->pols[p] = pols[p];
	read_str_attr(f, "type", g->type, sizeof g->type);
	read_str_attr(f, "source_group", g->source_group, sizeof g->source_group);
	read_str_attr(f, "calibrator", g->calibrator, sizeof g->calibrator);
	read_num_attr(f, "refant", H5T_NATIVE_INT64, &refant);
	g->refant = (int)refant;
	read_num_attr(f, "valid_start_mjd", H5T_NATIVE_DOUBLE, &g->valid_start_mjd);
	read_num_attr(f, "valid_end_mjd", H5T_NATIVE_DOUBLE, &g->valid_end_mjd);
	*ret = g;
	g = NULL;
out:
	free(ants);
	gaintab_free(g);
	if (ct >= 0)
		H5Tclose(ct);
	if (sp >= 0)
		H5Sclose(sp);
	if (ds >= 0)
		H5Dclose(ds);
	if (f >= 0)
		H5Fclose(f);
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

static int nearest(const double *a, int n, double x)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (fabs(a[i] - x) < fabs(a[best] - x))
			best = i;
	return best;
}

static int apply(vis_set *v, const gaintab *g, int divide, int nthreads, char *err, size_t errlen)
{
	int *cmap = NULL, *tmap = NULL, *am1 = NULL, *am2 = NULL, p1[4], p2[4], r = 0;
	double spacing = INFINITY;

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
	for (int c = 1; c < g->nchan; c++)
		spacing = fmin(spacing, fabs(g->freq_hz[c] - g->freq_hz[c - 1]));
	for (int c = 0; c < v->nchan; c++) {
		if (g->nchan == 1) {
			cmap[c] = 0;
			continue;
		}
		cmap[c] = nearest(g->freq_hz, g->nchan, v->freq_hz[c]);
		/* A data channel that falls between solutions has none. */
		if (fabs(g->freq_hz[cmap[c]] - v->freq_hz[c]) > 0.5 * spacing * (1 + 1e-9))
			cmap[c] = -1;
	}
	for (int t = 0; t < v->ntimes; t++)
		tmap[t] = nearest(g->time_mjd, g->ntime, v->time_jd[t] - 2400000.5);
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
