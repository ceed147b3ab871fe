/*
 * core/uvh5_write.c — write UVH5 visibility files in the DSA-110 and pyuvdata
 * layouts (see core/uvh5.h and docs/uvh5.md).
 */
#include "core/uvh5.h"

#include <erfa.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/h5.h"
#include "core/uvh5_internal.h"
#include "core/version.h"

typedef struct wctx {
	const char *path;
	const char *bad; /* first dataset that failed */
} wctx;

static int w_ds(wctx *w, hid_t g, const char *name, hid_t ftype, hid_t mtype, int rank,
		const hsize_t *dims, const void *buf)
{
	hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR), ds = -1;
	int r = -1;

	if (sp < 0)
		goto out;
	ds = H5Dcreate2(g, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (ds < 0)
		goto out;
	if (H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
		goto out;
	r = 0;
out:
	h5_close_id(ds);
	h5_close_id(sp);
	if (r && !w->bad)
		w->bad = name;
	return r;
}

static int w_i64(wctx *w, hid_t g, const char *name, int64_t v)
{
	return w_ds(w, g, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, NULL, &v);
}

static int w_f64(wctx *w, hid_t g, const char *name, double v)
{
	return w_ds(w, g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL, &v);
}

/* Write a scalar of type t (file and memory type alike), then close t; a type
 * that could not be built (t < 0 or !ok) marks the dataset as the failed one. */
static int w_typed(wctx *w, hid_t g, const char *name, hid_t t, int ok, const void *buf)
{
	int r = -1;

	if (t >= 0 && ok)
		r = w_ds(w, g, name, t, t, 0, NULL, buf);
	else if (!w->bad)
		w->bad = name;
	h5_close_id(t);
	return r;
}

/* A fixed-length, NUL-padded ASCII string exactly as long as s, as h5py
 * writes np.bytes_ (DSA-110 correlator, pyuvdata). */
static int w_str(wctx *w, hid_t g, const char *name, const char *s)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	size_t n = strlen(s);
	int ok = t >= 0 && H5Tset_size(t, n ? n : 1) >= 0 &&
		 H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0 && H5Tset_cset(t, H5T_CSET_ASCII) >= 0;

	return w_typed(w, g, name, t, ok, n ? s : "");
}

/* A variable-length UTF-8 string, as h5py writes a Python str. */
static int w_vstr(wctx *w, hid_t g, const char *name, const char *s)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	int ok = t >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0;

	return w_typed(w, g, name, t, ok, &s);
}

/* h5py's boolean: an enum on int8 with FALSE = 0, TRUE = 1. */
static hid_t bool_type(void)
{
	hid_t t = H5Tenum_create(H5T_STD_I8LE);
	signed char f = 0, tr = 1;
	if (t >= 0 && (H5Tenum_insert(t, "FALSE", &f) < 0 || H5Tenum_insert(t, "TRUE", &tr) < 0)) {
		H5Tclose(t);
		return -1;
	}
	return t;
}

static int w_bool(wctx *w, hid_t g, const char *name, int v)
{
	hid_t t = bool_type();
	signed char b = v ? 1 : 0;

	return w_typed(w, g, name, t, 1, &b);
}

/* Apparent (equinox-based, of date) RA/Dec of an ICRS position, the position
 * angle of ICRS north in that frame, and the apparent LST, as pyuvdata's
 * calc_app_coords / calc_frame_pos_angle / get_lst_for_time compute them with
 * ERFA (no polar motion).  Only the LST depends on UT1 = UTC + dut1_s: the
 * set's own dut1, so lst_array agrees with the rephasing and with the file's
 * dut1 (pyuvdata takes UT1 from the IERS tables, the same value when the
 * configured dut1 is right). */
static void app_coords(double ra, double dec, double jd_utc, double dut1_s, double lon_rad,
		       double *app_ra, double *app_dec, double *pa, double *lst)
{
	const double off = M_PI / (180.0 * 3600.0 * 10); /* 0.1 arcsec north */
	double tai1, tai2, tt1, tt2, ri, di, eo, ur, ud, dra;

	eraUtctai(jd_utc, 0.0, &tai1, &tai2);
	eraTaitt(tai1, tai2, &tt1, &tt2);
	eraAtci13(ra, dec, 0, 0, 0, 0, tt1, tt2, &ri, &di, &eo);
	*app_ra = eraAnp(ri - eo);
	*app_dec = di;
	eraAtci13(ra, dec + off, 0, 0, 0, 0, tt1, tt2, &ur, &ud, &eo);
	ur = eraAnp(ur - eo);
	dra = ur - *app_ra;
	*pa = atan2(sin(dra) * cos(ud), cos(*app_dec) * sin(ud) - sin(*app_dec) * cos(ud) * cos(dra));
	*lst = eraAnp(eraGst06a(jd_utc, dut1_s / 86400.0, tt1, tt2) + lon_rad);
}

void uvh5_guess_chunk(int rank, const unsigned long long *shape, size_t typesize,
		      unsigned long long *ret_chunk)
{
	const double base = 16 * 1024, lo = 8 * 1024, hi = 1024 * 1024;
	double c[H5S_MAX_RANK], n = 1, target;

	/* h5py/_hl/filters.py guess_chunk (PyTables' rule), step for step, in
	 * doubles as numpy does it. */
	for (int i = 0; i < rank; i++) {
		c[i] = shape[i] ? (double)shape[i] : 1024;
		n *= c[i];
	}
	target = base * pow(2, log10(n * typesize / (1024.0 * 1024.0)));
	target = target > hi ? hi : target < lo ? lo : target;
	for (int idx = 0; rank > 0; idx++) {
		double bytes = typesize;
		n = 1;
		for (int i = 0; i < rank; i++)
			n *= c[i];
		bytes *= n;
		if ((bytes < target || fabs(bytes - target) / target < 0.5) && bytes < hi)
			break;
		if (n == 1)
			break;
		c[idx % rank] = ceil(c[idx % rank] / 2);
	}
	for (int i = 0; i < rank; i++)
		ret_chunk[i] = (unsigned long long)c[i];
}

/*
 * One array of the baseline-time axis: `rows` rows of `rowbytes` bytes (in
 * memory) starting at buf, stored as `rank` axes of dims (dims[0] = rows).
 * chunk[0] == 0: h5py's automatic shape.
 */
typedef struct rowds {
	hid_t g;
	const char *name;
	hid_t ftype, mtype;
	int rank;
	hsize_t dims[4];
	unsigned long long chunk[4];
	const void *buf;
	size_t rowbytes;
	hid_t ds;
} rowds;

/* Create rd's dataset: contiguous (storage CONTIGUOUS), chunked at its full
 * fixed shape, or (resizable) empty with an unlimited first axis and h5py's
 * chunks for an empty dataset, as the correlator's writer creates it. */
static int rowds_create(wctx *w, rowds *rd, int chunked, int resizable)
{
	hsize_t cur[4], max[4], ch[4];
	unsigned long long shp[4], g[4];
	hid_t sp = -1, dcpl = -1;
	int r = -1;

	for (int i = 0; i < rd->rank; i++) {
		cur[i] = max[i] = rd->dims[i];
		shp[i] = rd->dims[i];
	}
	if (resizable) {
		cur[0] = 0;
		max[0] = H5S_UNLIMITED;
		shp[0] = 0;
	}
	sp = H5Screate_simple(rd->rank, cur, max);
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (sp < 0 || dcpl < 0)
		goto out;
	if (chunked) {
		uvh5_guess_chunk(rd->rank, shp, H5Tget_size(rd->ftype), g);
		for (int i = 0; i < rd->rank; i++)
			ch[i] = rd->chunk[0] ? rd->chunk[i] : g[i];
		if (H5Pset_chunk(dcpl, rd->rank, ch) < 0)
			goto out;
	}
	rd->ds = H5Dcreate2(rd->g, rd->name, rd->ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	if (rd->ds >= 0)
		r = 0;
out:
	h5_close_id(dcpl);
	h5_close_id(sp);
	if (r && !w->bad)
		w->bad = rd->name;
	return r;
}

/* Write rows [row0, row0 + nrows) of rd, extending it first when it is
 * resizable (as h5py's resize + slice assignment does). */
static int rowds_write(wctx *w, rowds *rd, size_t row0, size_t nrows, int resizable)
{
	hsize_t start[4] = { row0, 0, 0, 0 }, count[4], ext[4];
	hid_t fsp = -1, msp = -1;
	int r = -1;

	for (int i = 0; i < rd->rank; i++)
		count[i] = ext[i] = rd->dims[i];
	count[0] = nrows;
	ext[0] = row0 + nrows;
	if (resizable && H5Dset_extent(rd->ds, ext) < 0)
		goto out;
	fsp = H5Dget_space(rd->ds);
	msp = H5Screate_simple(rd->rank, count, NULL);
	if (fsp < 0 || msp < 0 ||
	    H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
		goto out;
	if (H5Dwrite(rd->ds, rd->mtype, msp, fsp, H5P_DEFAULT,
		     (const char *)rd->buf + row0 * rd->rowbytes) >= 0)
		r = 0;
out:
	h5_close_id(msp);
	h5_close_id(fsp);
	if (r && !w->bad)
		w->bad = rd->name;
	return r;
}

const char *uvh5_writer_version(void)
{
	return contimg_version();
}

int uvh5_write(const char *path, const vis_set *v, int layout, char *err, size_t errlen)
{
	uvh5_write_opts o;

	memset(&o, 0, sizeof o);
	o.layout = layout;
	return uvh5_write_with(path, v, &o, err, errlen);
}

int uvh5_write_with(const char *path, const vis_set *v, const uvh5_write_opts *o, char *err,
		    size_t errlen)
{
	const int layout = o ? o->layout : -1, dsa = layout == UVH5_LAYOUT_DSA110;
	const int storage = o ? o->storage : -1;
	/* Chunked: Data/ always; resizable (and the per-row Header/ arrays
	 * chunked too): the DSA-110 correlator's layout. */
	const int chunked = storage == UVH5_STORAGE_CHUNKED || (dsa && storage == UVH5_STORAGE_DEFAULT);
	const int resizable = chunked && dsa;
	wctx w = { path, NULL };
	hid_t f = -1, hdr = -1, dat = -1, ek = -1, cat = -1, c0 = -1, t = -1;
	hid_t ct = -1, mt = -1, bt = -1, fapl = -1;
	size_t nblts, n, big;
	int64_t *i64 = NULL, *a1 = NULL, *a2 = NULL, nants_data = 0;
	double *f64 = NULL, *f64b = NULL, *f64c = NULL, *f64d = NULL, *tm = NULL, *it = NULL;
	float *f32 = NULL;
	signed char *fl = NULL;
	char *names = NULL, *history = NULL, why[256];
	size_t namelen = 1;
	hsize_t dims[4];
	rowds rd[8];
	int nrd = 0, r = 0, created = 0;

	h5_enter();
	memset(rd, 0, sizeof rd);
	for (int k = 0; k < 8; k++)
		rd[k].ds = -1;
	if (!path || !v || !o)
		return err_set(err, errlen, -EINVAL, "uvh5_write: no file name, data or options");
	if (layout != UVH5_LAYOUT_DSA110 && layout != UVH5_LAYOUT_PYUVDATA)
		return err_set(err, errlen, -EINVAL, "%s: unknown layout %d", path, layout);
	if (storage != UVH5_STORAGE_DEFAULT && storage != UVH5_STORAGE_CHUNKED &&
	    storage != UVH5_STORAGE_CONTIGUOUS)
		return err_set(err, errlen, -EINVAL, "%s: unknown storage %d", path, storage);
	if (v->ntimes < 1 || v->nbls < 1 || v->nchan < 1 || v->npols < 1 || v->npols > 4 ||
	    v->nants < 1 || !v->ants)
		return err_set(err, errlen, -EINVAL, "%s: empty visibility set (%d times, %d baselines, "
			       "%d channels, %d pols, %d antennas)", path, v->ntimes, v->nbls,
			       v->nchan, v->npols, v->nants);
	for (int k = 0; k < 3 && chunked; k++) {
		/* Data/ shapes: (rows, 1, channels, pols) or (rows, channels, pols). */
		const unsigned long long *c = o->data_chunk[k];
		unsigned long long fixed[4] = { 0, 1, (unsigned long long)v->nchan,
						(unsigned long long)v->npols };
		const int rank = dsa ? 4 : 3;

		if (!dsa)
			fixed[1] = v->nchan, fixed[2] = v->npols;
		if (!c[0])
			continue;
		for (int i = 0; i < rank; i++)
			if (c[i] < 1 || (i > 0 && c[i] > fixed[i]) ||
			    (i == 0 && !resizable && c[0] > (unsigned long long)v->ntimes * v->nbls))
				return err_set(err, errlen, -EINVAL, "%s: chunk axis %d of Data array %d "
					       "is %llu: outside 1..the dataset's length", path, i, k,
					       c[i]);
	}
	if (dsa && v->phase_type != VIS_PHASE_DRIFT)
		return err_set(err, errlen, -EINVAL, "%s: the DSA-110 layout is drift-phased; this set "
			       "has a fixed phase centre (write the pyuvdata layout)", path);
	if (!dsa && v->phase_type != VIS_PHASE_FIXED)
		return err_set(err, errlen, -EINVAL, "%s: the pyuvdata layout needs a fixed (sidereal) "
			       "phase centre; this set is drift-phased (rephase it first)", path);
	if (!dsa) {
		/* The provenance the pyuvdata layout writes must be in pyuvdata's words. */
		const char *u = uvh5_units_name(v->vis_units);
		const char *x = vis_x_orientation_name(v->x_orientation);

		if (v->vis_units[0] && (!u || strcmp(u, v->vis_units)))
			return err_set(err, errlen, -EINVAL, "%s: vis_units '%s' is not one of "
				       "pyuvdata's (uncalib, Jy, K str)", path, v->vis_units);
		if (v->x_orientation[0] && (!x || strcmp(x, v->x_orientation)))
			return err_set(err, errlen, -EINVAL, "%s: x_orientation '%s' is not east or "
				       "north", path, v->x_orientation);
		if (!(fabs(v->dut1_s) < 1))
			return err_set(err, errlen, -EINVAL, "%s: dut1 %g s is not a UT1 - UTC "
				       "(|dut1| < 1 s)", path, v->dut1_s);
	}
	nblts = (size_t)v->ntimes * v->nbls;
	n = nblts * v->nchan * v->npols;
	{
		/* Nants_data: the distinct antennas that appear in the baselines. */
		unsigned char *seen = calloc(v->nants, 1);
		if (!seen)
			return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		for (int b = 0; b < v->nbls; b++) {
			int i1 = vis_ant_index(v, v->ant1[b]), i2 = vis_ant_index(v, v->ant2[b]);
			if (i1 < 0 || i2 < 0) {
				free(seen);
				return err_set(err, errlen, -EINVAL, "%s: baseline %d uses antenna %d, "
					       "which is not in the antenna table", path, b,
					       i1 < 0 ? v->ant1[b] : v->ant2[b]);
			}
			seen[i1] = seen[i2] = 1;
		}
		for (int a = 0; a < v->nants; a++) {
			size_t l = strlen(v->ants[a].name);
			nants_data += seen[a];
			namelen = l > namelen ? l : namelen;
		}
		free(seen);
		/* The reference DSA-110 files store names one byte longer than the
		 * longest ('117' as S4); pyuvdata stores them exactly. */
		if (dsa)
			namelen++;
	}

	/* Scratch arrays, each long enough for any axis it is used for. */
	big = nblts > (size_t)v->nants ? nblts : (size_t)v->nants;
	big = big > (size_t)v->nchan ? big : (size_t)v->nchan;
	big = big > 4 ? big : 4;
	i64 = malloc(big * sizeof *i64);
	a1 = malloc(nblts * sizeof *a1);
	a2 = malloc(nblts * sizeof *a2);
	tm = malloc(nblts * sizeof *tm);
	it = malloc(nblts * sizeof *it);
	f64 = malloc(big * 3 * sizeof *f64);
	f64b = malloc(big * sizeof *f64b);
	f64c = malloc(nblts * sizeof *f64c);
	f64d = malloc(nblts * sizeof *f64d);
	f32 = malloc(nblts * 3 * sizeof *f32);
	fl = malloc(n);
	names = calloc(v->nants, namelen);
	/* The DSA-110 layout is the correlator's, history included; the pyuvdata
	 * layout carries the set's history and, as pyuvdata's own writer does,
	 * a last line naming the software and version that wrote the file. */
	if (!dsa) {
		const char *h = v->history ? v->history : "";
		size_t hl = strlen(h), len = hl + strlen(uvh5_writer_version()) + 64;
		history = malloc(len);
		if (history)
			snprintf(history, len, "%s%sWritten by contimg %s (UVH5, pyuvdata layout).",
				 h, hl ? "\n" : "", uvh5_writer_version());
	}
	if (!i64 || !a1 || !a2 || !tm || !it || !f64 || !f64b || !f64c || !f64d || !f32 || !fl || !names ||
	    (!dsa && !history)) {
		r = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}

	if (o->latest_format) {
		fapl = H5Pcreate(H5P_FILE_ACCESS);
		if (fapl < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0) {
			r = err_set(err, errlen, -ENOMEM, "%s: cannot set the file format", path);
			goto out;
		}
	}
	f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, o->latest_format ? fapl : H5P_DEFAULT);
	if (f < 0) {
		r = err_set(err, errlen, -EIO, "%s: cannot create: %s", path, h5_reason(why, sizeof why));
		goto out;
	}
	created = 1;
	hdr = H5Gcreate2(f, "Header", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	dat = H5Gcreate2(f, "Data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (hdr < 0 || dat < 0) {
		w.bad = "Header";
		goto fail;
	}

	/* Counts and telescope. */
	w_i64(&w, hdr, "Nants_data", nants_data);
	w_i64(&w, hdr, "Nants_telescope", v->nants);
	w_i64(&w, hdr, "Nbls", v->nbls);
	w_i64(&w, hdr, "Nblts", (int64_t)nblts);
	w_i64(&w, hdr, "Nfreqs", v->nchan);
	w_i64(&w, hdr, "Npols", v->npols);
	w_i64(&w, hdr, "Nspws", 1);
	w_i64(&w, hdr, "Ntimes", v->ntimes);
	w_f64(&w, hdr, "altitude", v->alt_m);
	w_f64(&w, hdr, "latitude", v->lat_rad * 180 / M_PI);
	w_f64(&w, hdr, "longitude", v->lon_rad * 180 / M_PI);
	w_str(&w, hdr, "telescope_name", v->telescope[0] ? v->telescope : "OVRO_MMA");
	w_str(&w, hdr, "instrument", v->instrument[0] ? v->instrument : "DSA");
	w_str(&w, hdr, "history", dsa ? "written by contimg" : history);

	/* Antennas. */
	for (int a = 0; a < v->nants; a++) {
		i64[a] = v->ants[a].number;
		memcpy(f64 + 3 * a, v->ants[a].pos_m, 3 * sizeof *f64);
		f64b[a] = v->ants[a].diam_m;
		memcpy(names + (size_t)a * namelen, v->ants[a].name, strnlen(v->ants[a].name, namelen));
	}
	dims[0] = v->nants;
	dims[1] = 3;
	w_ds(&w, hdr, "antenna_numbers", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
	w_ds(&w, hdr, "antenna_positions", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, f64);
	w_ds(&w, hdr, "antenna_diameters", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64b);
	t = H5Tcopy(H5T_C_S1);
	if (t < 0 || H5Tset_size(t, namelen) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0)
		w.bad = "antenna_names";
	else
		w_ds(&w, hdr, "antenna_names", t, t, 1, dims, names);

	/* Baseline-time axis: time-major, the same baseline order every
	 * integration.  Written below with Data/ (rd[]), in the correlator's
	 * creation order. */
	for (size_t i = 0; i < nblts; i++) {
		a1[i] = v->ant1[i % v->nbls];
		a2[i] = v->ant2[i % v->nbls];
		tm[i] = v->time_jd[i / v->nbls];
		it[i] = v->int_time_s;
	}
	/* The correlator writes uvw as float32. */
	for (size_t i = 0; dsa && i < nblts * 3; i++)
		f32[i] = (float)v->uvw_m[i];
	rd[nrd++] = (rowds){ hdr, "ant_1_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, { nblts },
			     { 0 }, a1, 8, -1 };
	rd[nrd++] = (rowds){ hdr, "ant_2_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, { nblts },
			     { 0 }, a2, 8, -1 };
	rd[nrd++] = dsa ? (rowds){ hdr, "uvw_array", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2,
				   { nblts, 3 }, { 0 }, f32, 12, -1 }
			: (rowds){ hdr, "uvw_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2,
				   { nblts, 3 }, { 0 }, v->uvw_m, 24, -1 };
	rd[nrd++] = (rowds){ hdr, "time_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, { nblts },
			     { 0 }, tm, 8, -1 };
	rd[nrd++] = (rowds){ hdr, "integration_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1,
			     { nblts }, { 0 }, it, 8, -1 };

	/* Spectral and polarisation axes. */
	for (int p = 0; p < v->npols; p++)
		i64[p] = v->pols[p];
	dims[0] = v->npols;
	w_ds(&w, hdr, "polarization_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
	if (dsa) {
		dims[0] = 1;
		dims[1] = v->nchan;
		w_ds(&w, hdr, "freq_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, v->freq_hz);
		w_f64(&w, hdr, "channel_width", v->chan_width_hz);
		i64[0] = 1;
		w_ds(&w, hdr, "spw_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
		w_str(&w, hdr, "phase_type", "drift");
		w_str(&w, hdr, "object_name", "search");
		w_f64(&w, hdr, "phase_center_app_dec", v->phase_dec_rad);
		ek = H5Gcreate2(hdr, "extra_keywords", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		if (ek < 0) {
			w.bad = "extra_keywords";
			goto fail;
		}
		w_f64(&w, ek, "ha_phase_center", 0.0);
		/* The correlator's keyword is the declination it fringe-stopped at
		 * (what a reader takes as the phase centre); where the dishes
		 * really point is not in its files (docs/operations.md). */
		w_f64(&w, ek, "phase_center_dec", v->phase_dec_rad);
		w_vstr(&w, ek, "phase_center_epoch", "HADEC");
	} else {
		char cname[32];
		double ra_h = v->phase_ra_rad * 12 / M_PI, dec_d = v->phase_dec_rad * 180 / M_PI;
		int rh = (int)ra_h, rm = (int)((ra_h - rh) * 60), dd = (int)fabs(dec_d);
		int dm = (int)((fabs(dec_d) - dd) * 60);

		dims[0] = v->nchan;
		w_ds(&w, hdr, "freq_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, v->freq_hz);
		for (int ch = 0; ch < v->nchan; ch++) {
			f64[ch] = v->chan_width_hz;
			i64[ch] = 0;
		}
		w_ds(&w, hdr, "channel_width", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64);
		w_ds(&w, hdr, "flex_spw_id_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
		dims[0] = 1;
		w_ds(&w, hdr, "spw_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
		w_str(&w, hdr, "version", "1.2");
		w_str(&w, hdr, "telescope_frame", "itrs");
		w_str(&w, hdr, "vis_units", v->vis_units[0] ? v->vis_units : "uncalib");
		if (v->x_orientation[0])
			w_str(&w, hdr, "x_orientation", v->x_orientation);
		w_bool(&w, hdr, "flex_spw", 0);
		w_bool(&w, hdr, "blts_are_rectangular", 1);
		w_bool(&w, hdr, "time_axis_faster_than_bls", v->ntimes > 1 && v->nbls == 1);
		w_str(&w, hdr, "blt_order", "time, baseline");
		w_f64(&w, hdr, "dut1", v->dut1_s);

		/* One sidereal ICRS phase centre, id 0, for every row. */
		w_i64(&w, hdr, "Nphase", 1);
		for (size_t i = 0; i < nblts; i++)
			i64[i] = 0;
		dims[0] = nblts;
		w_ds(&w, hdr, "phase_center_id_array", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, i64);
		for (int ti = 0; ti < v->ntimes; ti++) {
			double ara, adec, pa, lst;
			app_coords(v->phase_ra_rad, v->phase_dec_rad, v->time_jd[ti], v->dut1_s,
				   v->lon_rad, &ara, &adec, &pa, &lst);
			for (int b = 0; b < v->nbls; b++) {
				size_t i = (size_t)ti * v->nbls + b;
				f64[i] = ara;
				f64b[i] = adec;
				f64c[i] = pa;
				f64d[i] = lst;
			}
		}
		w_ds(&w, hdr, "phase_center_app_ra", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64);
		w_ds(&w, hdr, "phase_center_app_dec", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64b);
		w_ds(&w, hdr, "phase_center_frame_pa", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64c);
		w_ds(&w, hdr, "lst_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, f64d);

		cat = H5Gcreate2(hdr, "phase_center_catalog", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		c0 = cat >= 0 ? H5Gcreate2(cat, "0", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
		if (c0 < 0) {
			w.bad = "phase_center_catalog";
			goto fail;
		}
		snprintf(cname, sizeof cname, "J%02d%02d%c%02d%02d", rh % 24, rm, dec_d < 0 ? '-' : '+',
			 dd, dm);
		w_str(&w, c0, "cat_name", cname);
		w_str(&w, c0, "cat_type", "sidereal");
		w_f64(&w, c0, "cat_lon", v->phase_ra_rad);
		w_f64(&w, c0, "cat_lat", v->phase_dec_rad);
		w_str(&w, c0, "cat_frame", "icrs");
		w_f64(&w, c0, "cat_epoch", 2000.0);
		w_str(&w, c0, "info_source", "user");
	}
	if (w.bad)
		goto fail;

	/* Data: rank 4 (Nblts, 1, Nfreqs, Npols) for DSA-110, rank 3 for pyuvdata. */
	{
		const int rank = dsa ? 4 : 3;
		const size_t rl = (size_t)v->nchan * v->npols;

		ct = h5_complex_type(H5T_IEEE_F32LE);
		mt = h5_complex_type(H5T_NATIVE_FLOAT);
		bt = bool_type();
		if (ct < 0 || mt < 0 || bt < 0) {
			w.bad = "visdata";
			goto fail;
		}
		for (size_t i = 0; i < n; i++)
			fl[i] = v->flags[i] ? 1 : 0;
		rd[nrd++] = (rowds){ dat, "visdata", ct, mt, rank, { 0 }, { 0 }, v->vis, rl * 8, -1 };
		rd[nrd++] = (rowds){ dat, "flags", bt, bt, rank, { 0 }, { 0 }, fl, rl, -1 };
		rd[nrd++] = (rowds){ dat, "nsamples", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rank, { 0 },
				     { 0 }, v->weight, rl * 4, -1 };
		for (int k = 0; k < 3; k++) {
			rowds *d = &rd[nrd - 3 + k];
			d->dims[0] = nblts;
			if (dsa)
				d->dims[1] = 1, d->dims[2] = v->nchan, d->dims[3] = v->npols;
			else
				d->dims[1] = v->nchan, d->dims[2] = v->npols;
			memcpy(d->chunk, o->data_chunk[k], sizeof d->chunk);
		}
	}

	/* The arrays of the baseline-time axis.  Resizable (the correlator's
	 * layout): all created empty, then extended and written one integration
	 * at a time in dsamfs/io.py update_uvh5_file's order (time_array,
	 * integration_time, uvw_array, ant_1_array, ant_2_array, visdata, flags,
	 * nsamples), so HDF5 allocates their chunks interleaved as in the
	 * correlator's files.  Otherwise each is written whole; the per-row
	 * Header/ arrays are then contiguous and Data/ chunked or not. */
	if (resizable) {
		static const int order[8] = { 3, 4, 2, 0, 1, 5, 6, 7 };
		for (int k = 0; k < nrd; k++)
			if (rowds_create(&w, &rd[k], 1, 1) < 0)
				goto fail;
		for (int ti = 0; ti < v->ntimes; ti++)
			for (int k = 0; k < nrd; k++)
				if (rowds_write(&w, &rd[order[k]], (size_t)ti * v->nbls, v->nbls, 1) < 0)
					goto fail;
	} else {
		for (int k = 0; k < nrd; k++)
			if (rowds_create(&w, &rd[k], chunked && rd[k].g == dat, 0) < 0 ||
			    rowds_write(&w, &rd[k], 0, nblts, 0) < 0)
				goto fail;
	}
	if (w.bad)
		goto fail;
	goto out;
fail:
	r = err_set(err, errlen, -EIO, "%s: cannot write %s: %s", path, w.bad ? w.bad : "?",
		    h5_reason(why, sizeof why));
out:
	for (int k = 0; k < nrd; k++)
		h5_close_id(rd[k].ds);
	h5_close_id(ct);
	h5_close_id(mt);
	h5_close_id(bt);
	h5_close_id(fapl);
	h5_close_id(t);
	h5_close_id(c0);
	h5_close_id(cat);
	h5_close_id(ek);
	h5_close_id(hdr);
	h5_close_id(dat);
	if (f >= 0 && H5Fclose(f) < 0 && !r)
		r = err_set(err, errlen, -EIO, "%s: cannot finish writing: %s", path,
			    h5_reason(why, sizeof why));
	if (r && created)
		unlink(path);
	free(i64);
	free(a1);
	free(a2);
	free(tm);
	free(it);
	free(f64);
	free(f64b);
	free(f64c);
	free(f64d);
	free(f32);
	free(fl);
	free(names);
	free(history);
	return r;
}
