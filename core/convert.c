/*
 * core/convert.c — combine the subband files of a group and rephase them to
 * one ICRS phase centre (see convert.h and docs/conventions.md).
 */
#include "core/convert.h"

#include <complex.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <omp.h>

#include "core/astro.h"
#include "core/err.h"
#include "core/uvh5.h"

/* Re-anchor the channel phasor recurrence this often (rounding control). */
#define RECUR_ANCHOR 256

void convert_params_default(convert_params *p)
{
	memset(p, 0, sizeof *p);
	p->nsub_expected = 16;
	p->nthreads = 0;
	/* Measured on a full-size group (docs/performance.md): the Debian HDF5
	 * build serialises every call, so concurrent HDF5 reads gain nothing;
	 * pread() of the raw arrays on all threads is the fastest. */
	p->direct_read = 1;
	p->rephase = 1;
	p->dut1_s = 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int convert_subband_from_name(const char *path, int *ret_sb)
{
	const char *base = strrchr(path, '/'), *p;
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n < 10 || strcmp(base + n - 5, ".hdf5") != 0)
		return -EINVAL;
	p = base + n - 10; /* "_sbNN.hdf5" */
	if (strncmp(p, "_sb", 3) != 0 || p[3] < '0' || p[3] > '9' || p[4] < '0' || p[4] > '9')
		return -EINVAL;
	*ret_sb = (p[3] - '0') * 10 + (p[4] - '0');
	return 0;
}

/* Read a Header/<name> array of exactly n elements as mtype. */
static int read_header_array(const char *path, const char *name, hid_t mtype, size_t n, void *buf,
			     char *err, size_t errlen)
{
	hid_t f = -1, ds = -1, sp = -1;
	char full[128];
	int r = 0;

	snprintf(full, sizeof full, "Header/%s", name);
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors come back through err */
	H5E_BEGIN_TRY {
		f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
		ds = f >= 0 ? H5Dopen2(f, full, H5P_DEFAULT) : -1;
	} H5E_END_TRY;
	if (ds < 0) {
		r = err_set(err, errlen, -EIO, "%s: cannot read %s", path, full);
		goto out;
	}
	sp = H5Dget_space(ds);
	if (sp < 0 || H5Sget_simple_extent_npoints(sp) != (hssize_t)n) {
		r = err_set(err, errlen, -EINVAL, "%s: %s has the wrong size", path, full);
		goto out;
	}
	if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
		r = err_set(err, errlen, -EIO, "%s: cannot read %s", path, full);
out:
	if (sp >= 0)
		H5Sclose(sp);
	if (ds >= 0)
		H5Dclose(ds);
	if (f >= 0)
		H5Fclose(f);
	return r;
}

/* Compare the header of subband file `path` with the template `a` (path0). */
static int check_header(const char *path0, const uvh5_header *a, const char *path,
			const uvh5_header *b, char *err, size_t errlen)
{
#define DIFF(what, fmt, x, y) \
	err_set(err, errlen, -EINVAL, "subbands disagree on %s: %s has " fmt ", %s has " fmt, what, \
		path0, x, path, y)
	if (!b->imageable)
		return err_set(err, errlen, -EINVAL, "%s: not loadable: %s", path, b->not_imageable);
	if (a->ntimes != b->ntimes)
		return DIFF("the number of integrations", "%d", a->ntimes, b->ntimes);
	if (a->nbls != b->nbls)
		return DIFF("the number of baselines", "%d", a->nbls, b->nbls);
	if (a->nants_telescope != b->nants_telescope)
		return DIFF("the number of antennas", "%d", a->nants_telescope, b->nants_telescope);
	if (a->nfreqs != b->nfreqs)
		return DIFF("the number of channels", "%d", a->nfreqs, b->nfreqs);
	if (a->npols != b->npols)
		return DIFF("the number of polarisations", "%d", a->npols, b->npols);
	for (int p = 0; p < a->npols; p++)
		if (a->pols[p] != b->pols[p])
			return DIFF("the polarisations", "%s", uvh5_pol_name(a->pols[p]),
				    uvh5_pol_name(b->pols[p]));
	if (fabs(a->channel_width_hz - b->channel_width_hz) > 1e-6 * fabs(a->channel_width_hz))
		return DIFF("the channel width", "%.3f Hz", a->channel_width_hz, b->channel_width_hz);
	if (a->freq_descending != b->freq_descending)
		return DIFF("the channel order (descending)", "%d", a->freq_descending, b->freq_descending);
	if (a->has_dec != b->has_dec || (a->has_dec && fabs(a->dec_rad - b->dec_rad) > 1e-6))
		return DIFF("the pointing declination", "%.6f deg", a->dec_rad * 180 / M_PI,
			    b->dec_rad * 180 / M_PI);
	if (fabs(a->time_start_jd - b->time_start_jd) > 1e-7 ||
	    fabs(a->time_end_jd - b->time_end_jd) > 1e-7)
		return DIFF("the integration times", "JD %.7f", a->time_start_jd, b->time_start_jd);
	return 0;
#undef DIFF
}

/* Compare the baseline/antenna/time arrays of `path` with the template set. */
static int check_arrays(const vis_set *t, const char *path0, const char *path, char *err,
			size_t errlen)
{
	size_t nblt = (size_t)t->ntimes * t->nbls;
	int64_t *a1 = malloc(nblt * sizeof *a1), *a2 = malloc(nblt * sizeof *a2);
	int64_t *num = malloc((size_t)t->nants * sizeof *num);
	double *tm = malloc(nblt * sizeof *tm), *pos = malloc((size_t)t->nants * 3 * sizeof *pos);
	int r = 0;

	if (!a1 || !a2 || !tm || !pos || !num) {
		r = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if ((r = read_header_array(path, "ant_1_array", H5T_NATIVE_INT64, nblt, a1, err, errlen)) ||
	    (r = read_header_array(path, "ant_2_array", H5T_NATIVE_INT64, nblt, a2, err, errlen)) ||
	    (r = read_header_array(path, "time_array", H5T_NATIVE_DOUBLE, nblt, tm, err, errlen)) ||
	    (r = read_header_array(path, "antenna_positions", H5T_NATIVE_DOUBLE,
				   (size_t)t->nants * 3, pos, err, errlen)) ||
	    (r = read_header_array(path, "antenna_numbers", H5T_NATIVE_INT64, (size_t)t->nants, num,
				   err, errlen)))
		goto out;
	for (int a = 0; a < t->nants; a++)
		if (num[a] != t->ants[a].number) {
			r = err_set(err, errlen, -EINVAL,
				    "subbands disagree on the antenna numbers: entry %d is %d in %s but %lld in %s",
				    a, t->ants[a].number, path0, (long long)num[a], path);
			goto out;
		}
	for (size_t i = 0; i < nblt; i++) {
		size_t b = i % t->nbls, k = i / t->nbls;
		if (a1[i] != t->ant1[b] || a2[i] != t->ant2[b]) {
			r = err_set(err, errlen, -EINVAL,
				    "subbands disagree on the baselines: row %zu is %d-%d in %s but %lld-%lld in %s",
				    i, t->ant1[b], t->ant2[b], path0, (long long)a1[i], (long long)a2[i], path);
			goto out;
		}
		if (fabs(tm[i] - t->time_jd[k]) > 1e-7) {
			r = err_set(err, errlen, -EINVAL,
				    "subbands disagree on the times: row %zu is JD %.7f in %s but %.7f in %s",
				    i, t->time_jd[k], path0, tm[i], path);
			goto out;
		}
	}
	for (int a = 0; a < t->nants; a++)
		for (int k = 0; k < 3; k++)
			if (fabs(pos[a * 3 + k] - t->ants[a].pos_m[k]) > 1e-3) {
				r = err_set(err, errlen, -EINVAL,
					    "subbands disagree on the antenna positions: antenna %s in %s and %s",
					    t->ants[a].name, path0, path);
				goto out;
			}
out:
	free(a1);
	free(a2);
	free(num);
	free(tm);
	free(pos);
	return r;
}

/* Sort the channel axis: new channel c ← old channel perm[c] (fallback path). */
static int permute_channels(vis_set *v, const int *perm, int nthreads)
{
	size_t rows = (size_t)v->ntimes * v->nbls, rl = (size_t)v->nchan * v->npols;
	int r = 0;

#pragma omp parallel num_threads(nthreads)
	{
		float complex *bv = malloc(rl * sizeof *bv);
		uint8_t *bf = malloc(rl);
		float *bw = malloc(rl * sizeof *bw);
		int ok = bv && bf && bw;
#pragma omp for schedule(static)
		for (size_t row = 0; row < rows; row++) {
			float complex *vv = v->vis + row * rl;
			uint8_t *ff = v->flags + row * rl;
			float *ww = v->weight + row * rl;
			if (!ok)
				continue;
			memcpy(bv, vv, rl * sizeof *bv);
			memcpy(bf, ff, rl);
			memcpy(bw, ww, rl * sizeof *bw);
			for (int c = 0; c < v->nchan; c++)
				for (int p = 0; p < v->npols; p++) {
					size_t o = (size_t)perm[c] * v->npols + p, n = (size_t)c * v->npols + p;
					vv[n] = bv[o];
					ff[n] = bf[o];
					ww[n] = bw[o];
				}
		}
		free(bv);
		free(bf);
		free(bw);
		if (!ok) {
#pragma omp atomic write
			r = -ENOMEM;
		}
	}
	return r;
}

/* Stable insertion sort of channel indices by frequency (a few hundred
 * channels, usually already in order or exactly reversed). */
static void sort_by_freq(int *perm, int n, const double *f)
{
	if (n > 1 && f[perm[0]] > f[perm[n - 1]]) {
		for (int i = 0, j = n - 1; i < j; i++, j--) {
			int t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
	}
	for (int i = 1; i < n; i++) {
		int x = perm[i], j = i - 1;
		while (j >= 0 && f[perm[j]] > f[x]) {
			perm[j + 1] = perm[j];
			j--;
		}
		perm[j + 1] = x;
	}
}

/* ---- direct reads ---------------------------------------------------------- */

/* Rows per task: ~1 MiB of visdata (measured in docs/performance.md). */
#define DIRECT_BLOCK_BYTES (1u << 20)

/* Read the files that have a raw handle (rf[i] != NULL) on all threads; file
 * i's channel j goes to v's channel map[sb_of[i] * nf + j].  Each task is
 * one block of rows of one file (uvh5_raw_read_rows: read as stored, decoded
 * into place). */
static int direct_read(vis_set *v, const int *sb_of, int npaths, uvh5_raw *const *rf,
		       const int *map, int nf, int nthreads, char *err, size_t errlen)
{
	const size_t nblts = (size_t)v->ntimes * v->nbls, rowlen = (size_t)nf * v->npols;
	size_t blk = DIRECT_BLOCK_BYTES / (rowlen * 8), nblk, scratch = 0;
	int fail = -1, r = 0, first = -1;

	for (int i = 0; i < npaths && first < 0; i++)
		if (rf[i])
			first = i;
	if (first < 0)
		return 0;
	/* Whole chunks per task: the subbands of a group share one layout, so
	 * the first file's chunk lengths stand for all (a file with other
	 * lengths would read the chunks that straddle two blocks twice). */
	blk = uvh5_raw_block_rows(rf[first], blk);
	if (blk > nblts)
		blk = nblts;
	nblk = (nblts + blk - 1) / blk;
	for (int i = 0; i < npaths; i++) {
		size_t s = uvh5_raw_scratch_bytes(rf[i], blk);
		scratch = s > scratch ? s : scratch;
	}
#pragma omp parallel num_threads(nthreads)
	{
		void *sc = malloc(scratch);
		char msg[ERR_LEN];

#pragma omp for schedule(dynamic, 1)
		for (size_t task = 0; task < (size_t)npaths * nblk; task++) {
			int i = (int)(task / nblk), rc, failed;
			size_t r0 = (task % nblk) * blk, nr = r0 + blk <= nblts ? blk : nblts - r0;

#pragma omp atomic read
			failed = fail;
			if (!rf[i] || failed >= 0)
				continue;
			rc = sc ? uvh5_raw_read_rows(rf[i], r0, nr, v, map + (size_t)sb_of[i] * nf, sc,
						     msg, sizeof msg)
				: -ENOMEM;
			if (rc) {
#pragma omp critical
				if (fail < 0) {
#pragma omp atomic write
					fail = i;
					r = rc == -ENOMEM ? err_set(err, errlen, rc, "convert: out of memory "
								     "for read buffers")
							  : err_set(err, errlen, rc, "%s", msg);
				}
			}
		}
		free(sc);
	}
	return r;
}

/* Copy the template's metadata into v (arrays already sized).  The template's
 * history moves to v (tmpl->history becomes NULL); a reused v's old history
 * is dropped with the rest of its old metadata. */
static void copy_meta(vis_set *v, vis_set *tmpl, int nchan)
{
	vis_set keep = *v;

	*v = *tmpl;
	v->nchan = nchan;
	v->ants = keep.ants; v->ant1 = keep.ant1; v->ant2 = keep.ant2;
	v->time_jd = keep.time_jd; v->freq_hz = keep.freq_hz; v->uvw_m = keep.uvw_m;
	v->vis = keep.vis; v->flags = keep.flags; v->weight = keep.weight;
	free(keep.history);
	tmpl->history = NULL;
	memcpy(v->ants, tmpl->ants, tmpl->nants * sizeof *v->ants);
	memcpy(v->ant1, tmpl->ant1, tmpl->nbls * sizeof *v->ant1);
	memcpy(v->ant2, tmpl->ant2, tmpl->nbls * sizeof *v->ant2);
	memcpy(v->time_jd, tmpl->time_jd, tmpl->ntimes * sizeof *v->time_jd);
	memcpy(v->uvw_m, tmpl->uvw_m, (size_t)tmpl->ntimes * tmpl->nbls * 3 * sizeof *v->uvw_m);
}

/* The history line of a combined group: which subbands, which channels.  The
 * set's history so far is that of the lowest-numbered present subband file,
 * path0. */
static int history_combined(vis_set *v, int nsub, int npresent, uint32_t missing,
			    const char *path0, char *err, size_t errlen)
{
	const char *base = strrchr(path0, '/');
	char miss[16 + 5 * CONVERT_MAX_SUB] = ""; /* "; missing " + "sbNN," each */
	size_t n = 0;

	for (int k = 0; k < nsub && n < sizeof miss; k++)
		if (missing & (1u << k))
			n += (size_t)snprintf(miss + n, sizeof miss - n, "%ssb%02d",
					      n ? "," : "; missing ", k);
	if (vis_history_add(v, "contimg convert: combined %d of %d subband files into %d "
			    "channels, %.6f to %.6f MHz, ascending (the history above is that of "
			    "%s, the lowest-numbered)%s.", npresent, nsub, v->nchan,
			    v->freq_hz[0] / 1e6, v->freq_hz[v->nchan - 1] / 1e6,
			    base ? base + 1 : path0, miss) < 0)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory for the history", v->name);
	return 0;
}

int convert_load_group(const char *const *paths, int npaths, const convert_params *pp,
		       vis_set **ret, convert_info *ret_info, char *err, size_t errlen)
{
	convert_params p;
	convert_info info;
	uvh5_header *hdr = NULL;
	uvh5_raw **rf = NULL;
	int sb_of[CONVERT_MAX_SUB], file_of[CONVERT_MAX_SUB], *perm = NULL, *map = NULL;
	int r = 0, nf, nsub, nchan, first = -1, nthreads, ndirect = 0;
	vis_set *tmpl = NULL, *v = NULL;
	double t0, cw, *fr = NULL, *fsort = NULL;
	size_t rl;

	if (pp)
		p = *pp;
	else
		convert_params_default(&p);
	memset(&info, 0, sizeof info);
	nsub = p.nsub_expected;
	nthreads = p.nthreads > 0 ? p.nthreads : omp_get_max_threads();
	if (nsub <= 0 || nsub > CONVERT_MAX_SUB)
		return err_set(err, errlen, -EINVAL, "convert: nsub_expected %d out of range", nsub);
	if (npaths <= 0)
		return err_set(err, errlen, -EINVAL, "convert: no subband files given");
	for (int k = 0; k < nsub; k++)
		file_of[k] = -1;
	for (int i = 0; i < npaths; i++) {
		int sb;
		if (convert_subband_from_name(paths[i], &sb) != 0)
			return err_set(err, errlen, -EINVAL, "%s: name does not end in _sbNN.hdf5", paths[i]);
		if (sb >= nsub)
			return err_set(err, errlen, -EINVAL, "%s: subband %d outside 0..%d", paths[i], sb, nsub - 1);
		if (file_of[sb] >= 0)
			return err_set(err, errlen, -EINVAL, "subband %d given twice: %s and %s", sb,
				       paths[file_of[sb]], paths[i]);
		file_of[sb] = i;
		sb_of[i] = sb;
	}
	hdr = calloc(npaths, sizeof *hdr);
	rf = calloc(npaths, sizeof *rf);
	if (!hdr || !rf) {
		r = err_set(err, errlen, -ENOMEM, "convert: out of memory");
		goto out;
	}

	t0 = now_s();
	/* Headers first (cheap), then the full metadata of the lowest-numbered
	 * present subband as the template the others are compared with. */
	for (int k = 0; k < nsub; k++) {
		int i = file_of[k];
		if (i < 0)
			continue;
		r = uvh5_read_header(paths[i], &hdr[i], err, errlen);
		if (r)
			goto out;
		if (first < 0) {
			first = i;
			if (!hdr[i].imageable) {
				r = err_set(err, errlen, -EINVAL, "%s: not loadable: %s", paths[i],
					    hdr[i].not_imageable);
				goto out;
			}
			continue;
		}
		r = check_header(paths[first], &hdr[first], paths[i], &hdr[i], err, errlen);
		if (r)
			goto out;
	}
	r = uvh5_read_meta(paths[first], &tmpl, err, errlen);
	if (r)
		goto out;
	for (int i = 0; i < npaths; i++) {
		if (i == first)
			continue;
		r = check_arrays(tmpl, paths[first], paths[i], err, errlen);
		if (r)
			goto out;
	}

	nf = tmpl->nchan;
	nchan = nsub * nf;
	cw = fabs(tmpl->chan_width_hz);
	if (!(cw > 0) && nf > 1)
		cw = fabs(tmpl->freq_hz[1] - tmpl->freq_hz[0]);
	if (p.reuse && p.reuse->ntimes == tmpl->ntimes && p.reuse->nbls == tmpl->nbls &&
	    p.reuse->nchan == nchan && p.reuse->npols == tmpl->npols && p.reuse->nants == tmpl->nants)
		v = p.reuse;
	else
		v = vis_new(tmpl->ntimes, tmpl->nbls, nchan, tmpl->npols, tmpl->nants);
	if (!v) {
		r = err_set(err, errlen, -ENOMEM, "convert: out of memory for %d x %d x %d x %d visibilities",
			    tmpl->ntimes, tmpl->nbls, nchan, tmpl->npols);
		goto out;
	}
	copy_meta(v, tmpl, nchan);
	if (!v->has_pointing_dec && isfinite(v->phase_dec_rad)) {
		v->pointing_dec_rad = v->phase_dec_rad;
		v->has_pointing_dec = 1;
	}
	{
		const char *base = strrchr(paths[first], '/');
		const char *e;
		base = base ? base + 1 : paths[first];
		e = strstr(base, "_sb");
		snprintf(v->name, sizeof v->name, "%.*s", e ? (int)(e - base) : (int)strlen(base), base);
	}

	/* Frequencies of every subband in file order (subband k, file channel j
	 * at k·nf + j) from the template: consecutive subbands are contiguous,
	 * sb00 highest.  Present subbands must agree. */
	fr = malloc(nchan * sizeof *fr);
	fsort = malloc(nchan * sizeof *fsort);
	perm = malloc(nchan * sizeof *perm);
	map = malloc(nchan * sizeof *map);
	if (!fr || !fsort || !perm || !map) {
		r = err_set(err, errlen, -ENOMEM, "convert: out of memory");
		goto out;
	}
	for (int k = 0; k < nsub; k++)
		for (int j = 0; j < nf; j++)
			fsort[k * nf + j] = tmpl->freq_hz[j] - (double)(k - sb_of[first]) * nf * cw;
	for (int i = 0; i < npaths; i++) {
		int k = sb_of[i];
		if (i == first)
			continue;
		if ((r = read_header_array(paths[i], "freq_array", H5T_NATIVE_DOUBLE, nf, fr, err, errlen)))
			goto out;
		for (int j = 0; j < nf; j++)
			if (fabs(fr[j] - fsort[k * nf + j]) > 0.01 * cw) {
				r = err_set(err, errlen, -EINVAL,
					    "%s: channel %d at %.1f Hz, expected %.1f Hz for subband %d (subbands must be contiguous, sb00 highest)",
					    paths[i], j, fr[j], fsort[k * nf + j], k);
				goto out;
			}
	}
	/* perm: ascending channel c is file-order channel perm[c]; map inverts it. */
	for (int c = 0; c < nchan; c++)
		perm[c] = c;
	sort_by_freq(perm, nchan, fsort);
	for (int c = 0; c < nchan; c++) {
		map[perm[c]] = c;
		v->freq_hz[c] = fsort[perm[c]];
	}

	/* Read.  When every present file qualifies for the direct path, decode
	 * straight into the ascending order; otherwise lay subbands out in file
	 * order (uvh5_read_into for the rest) and sort afterwards. */
	if (p.direct_read)
		for (int i = 0; i < npaths; i++) {
			r = uvh5_raw_open(paths[i], (size_t)v->ntimes * v->nbls, nf, v->npols, &rf[i],
					  NULL, 0, err, errlen);
			if (r)
				goto out;
			ndirect += rf[i] != NULL;
			info.nsub_chunked += rf[i] && uvh5_raw_kind(rf[i]) != UVH5_RAW_CONTIGUOUS;
		}
	if (ndirect < npaths)
		for (int c = 0; c < nchan; c++)
			map[c] = c;
	if (ndirect) {
		r = direct_read(v, sb_of, npaths, rf, map, nf, nthreads, err, errlen);
		if (r)
			goto out;
	}
	for (int i = 0; i < npaths; i++) {
		if (rf[i])
			continue;
		r = uvh5_read_into(paths[i], v, sb_of[i] * nf, err, errlen);
		if (r)
			goto out;
	}
	/* Missing subbands: flagged, zero weight, zero data. */
	rl = (size_t)v->nchan * v->npols;
	for (int k = 0; k < nsub; k++) {
		if (file_of[k] >= 0)
			continue;
		info.missing_mask |= 1u << k;
#pragma omp parallel for num_threads(nthreads) schedule(static)
		for (size_t row = 0; row < (size_t)v->ntimes * v->nbls; row++)
			for (int j = 0; j < nf; j++) {
				size_t i0 = row * rl + (size_t)map[k * nf + j] * v->npols;
				for (int q = 0; q < v->npols; q++) {
					v->vis[i0 + q] = 0;
					v->flags[i0 + q] = VIS_FLAG_MISSING;
					v->weight[i0 + q] = 0;
				}
			}
	}
	if (ndirect < npaths) {
		r = permute_channels(v, perm, nthreads);
		if (r) {
			err_set(err, errlen, r, "convert: out of memory");
			goto out;
		}
	}
	info.read_s = now_s() - t0;
	info.nsub_present = npaths;
	info.nsub_direct = ndirect;
	info.chan_per_sub = nf;
	r = history_combined(v, nsub, npaths, info.missing_mask, paths[first], err, errlen);
	if (r)
		goto out;

	if (p.rephase) {
		double t1 = now_s();
		r = convert_rephase(v, p.dut1_s, nthreads, err, errlen);
		if (r)
			goto out;
		info.rephase_s = now_s() - t1;
	}
	*ret = v;
	v = NULL;
	if (ret_info)
		*ret_info = info;
out:
	free(perm);
	free(map);
	free(fr);
	free(fsort);
	free(hdr);
	for (int i = 0; rf && i < npaths; i++)
		uvh5_raw_close(rf[i]);
	free(rf);
	vis_free(tmpl);
	if (v != p.reuse)
		vis_free(v);
	return r;
}

int convert_common_centre(const vis_set *v, double dut1_s, double *ret_ra_rad, double *ret_dec_rad,
			  char *err, size_t errlen)
{
	astro_frame f;
	double tmid, ra, dec;
	int r;

	if (v->phase_type != VIS_PHASE_DRIFT)
		return err_set(err, errlen, -EINVAL, "%s: common centre needs a drift-phased set", v->name);
	tmid = vis_mid_jd(v);
	r = astro_frame_init(&f, tmid, v->lon_rad, dut1_s);
	if (r)
		return err_set(err, errlen, r, "%s: mid time JD %.6f outside ERFA's range", v->name, tmid);
	/* The meridian at the mid time in CIRS: RA = ERA + lon (the apparent LST
	 * in the CIO system), Dec = the drift phase-centre declination. */
	astro_frame_cirs_to_icrs(&f, astro_frame_meridian_ra_cirs(&f), v->phase_dec_rad, &ra, &dec);
	*ret_ra_rad = ra;
	*ret_dec_rad = dec;
	return 0;
}

int convert_rephase_to(vis_set *v, double ra_rad, double dec_rad, double dut1_s, int nthreads,
		       char *err, size_t errlen)
{
	double *bl = NULL, s0d[3];
	int r = 0, drift = v->phase_type == VIS_PHASE_DRIFT;
	size_t rl = (size_t)v->nchan * v->npols;

	if (nthreads <= 0)
		nthreads = omp_get_max_threads();
	/* Small sets: extra threads only spin at the per-integration barriers. */
	if ((double)v->nbls * rl / 2e5 < nthreads)
		nthreads = (double)v->nbls * rl < 2e5 ? 1 : (int)((double)v->nbls * rl / 2e5);
	if (!isfinite(ra_rad) || !isfinite(dec_rad))
		return err_set(err, errlen, -EINVAL, "%s: rephase target not finite", v->name);
	bl = malloc((size_t)v->nbls * 3 * sizeof *bl);
	if (!bl) {
		r = err_set(err, errlen, -ENOMEM, "convert: out of memory");
		goto out;
	}
	for (int b = 0; b < v->nbls; b++) {
		int i1 = vis_ant_index(v, v->ant1[b]), i2 = vis_ant_index(v, v->ant2[b]);
		if (i1 < 0 || i2 < 0) {
			r = err_set(err, errlen, -EINVAL, "%s: baseline %d-%d names an unknown antenna",
				    v->name, v->ant1[b], v->ant2[b]);
			goto out;
		}
		for (int k = 0; k < 3; k++)
			bl[b * 3 + k] = v->ants[i2].pos_m[k] - v->ants[i1].pos_m[k];
	}
	/* The drift centre (H = 0, δ0) is fixed in the Earth-fixed frame:
	 * ECEF direction (cos δ0 cos λ, cos δ0 sin λ, sin δ0). */
	s0d[0] = cos(v->phase_dec_rad) * cos(v->lon_rad);
	s0d[1] = cos(v->phase_dec_rad) * sin(v->lon_rad);
	s0d[2] = sin(v->phase_dec_rad);
	if (!v->has_pointing_dec && drift) {
		v->pointing_dec_rad = v->phase_dec_rad;
		v->has_pointing_dec = 1;
	}

	for (int t = 0; t < v->ntimes; t++) {
		astro_frame f;
		double q[3][3], qold[3][3], jac[2][2], s0[3], a, d;

		r = astro_frame_init(&f, v->time_jd[t], v->lon_rad, dut1_s);
		if (r) {
			err_set(err, errlen, r, "%s: time JD %.6f outside ERFA's range", v->name, v->time_jd[t]);
			goto out;
		}
		/* New basis: east/north/centre of the centre's geocentric apparent
		 * direction in GCRS (ICRS-aligned) axes, and the Jacobian that makes
		 * (u, v) conjugate to ICRS tangent-plane offsets. */
		astro_frame_fixed_basis(&f, ra_rad, dec_rad, q, jac);
		if (!drift) {
			astro_frame_icrs_to_gcrs_dir(&f, v->phase_ra_rad, v->phase_dec_rad, s0);
			eraC2s(s0, &a, &d);
			astro_radec_basis(a, d, qold);
		}
#pragma omp parallel for num_threads(nthreads) schedule(static)
		for (int b = 0; b < v->nbls; b++) {
			size_t row = (size_t)t * v->nbls + b;
			double bg[3], wo, uvw[3], k;
			float complex *vv = v->vis + row * rl;
			double str, sti, pr = 1, pi = 0;
			double dnu = v->nchan > 1 ? v->freq_hz[1] - v->freq_hz[0] : 0;
			int uniform = 1;

			astro_frame_itrs_to_gcrs(&f, bl + b * 3, bg);
			if (drift)
				wo = bl[b * 3] * s0d[0] + bl[b * 3 + 1] * s0d[1] + bl[b * 3 + 2] * s0d[2];
			else
				wo = qold[2][0] * bg[0] + qold[2][1] * bg[1] + qold[2][2] * bg[2];
			for (int i = 0; i < 3; i++)
				uvw[i] = q[i][0] * bg[0] + q[i][1] * bg[1] + q[i][2] * bg[2];
			/* V_new = V_old · exp(+2πi (w_old − w_new) ν / c)  (vis.h sign;
			 * pyuvdata's _apply_w_proj multiplies by exp(−2πi (w_new − w_old) ν/c)). */
			k = 2 * M_PI * (wo - uvw[2]) / VIS_C_M_S;
			for (int c = 2; c < v->nchan && uniform; c++)
				if (fabs(v->freq_hz[c] - v->freq_hz[c - 1] - dnu) > 1e-6 * fabs(dnu))
					uniform = 0;
			/* Phasor per channel by recurrence, re-anchored every
			 * RECUR_ANCHOR channels (real arithmetic: no NaN-recovery calls). */
			str = cos(k * dnu);
			sti = sin(k * dnu);
			for (int c = 0; c < v->nchan; c++) {
				float fr, fi;
				double tr;
				if (!uniform || c % RECUR_ANCHOR == 0) {
					pr = cos(k * v->freq_hz[c]);
					pi = sin(k * v->freq_hz[c]);
				}
				fr = (float)pr;
				fi = (float)pi;
				for (int p = 0; p < v->npols; p++) {
					float complex *z = vv + (size_t)c * v->npols + p;
					float zr = crealf(*z), zi = cimagf(*z);
					*z = CMPLXF(zr * fr - zi * fi, zr * fi + zi * fr);
				}
				tr = pr * str - pi * sti;
				pi = pr * sti + pi * str;
				pr = tr;
			}
			v->uvw_m[row * 3 + 0] = jac[0][0] * uvw[0] + jac[1][0] * uvw[1];
			v->uvw_m[row * 3 + 1] = jac[0][1] * uvw[0] + jac[1][1] * uvw[1];
			v->uvw_m[row * 3 + 2] = uvw[2];
		}
	}
	v->phase_type = VIS_PHASE_FIXED;
	v->phase_ra_rad = ra_rad;
	v->phase_dec_rad = dec_rad;
	/* Provenance: UT1 - UTC is part of what the phases now mean (the exported
	 * file's dut1 and lst_array say which value was used). */
	v->dut1_s = dut1_s;
	if (vis_history_add(v, "contimg rephase: %s to the ICRS centre RA %.6f deg, Dec %+.6f deg "
			    "(uvw in ICRS-aligned axes), UT1 - UTC = %.4f s.",
			    drift ? "from the meridian (drift) of each integration"
				  : "from a fixed centre",
			    ra_rad * 180 / M_PI, dec_rad * 180 / M_PI, dut1_s) < 0)
		r = err_set(err, errlen, -ENOMEM, "%s: out of memory for the history", v->name);
out:
	free(bl);
	return r;
}

int convert_rephase(vis_set *v, double dut1_s, int nthreads, char *err, size_t errlen)
{
	double ra, dec;
	int r = convert_common_centre(v, dut1_s, &ra, &dec, err, errlen);
	if (r)
		return r;
	return convert_rephase_to(v, ra, dec, dut1_s, nthreads, err, errlen);
}

int convert_export(const char *path, const vis_set *v, char *err, size_t errlen)
{
	char tmp[4096];
	int r;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return err_set(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	r = uvh5_write(tmp, v, UVH5_LAYOUT_PYUVDATA, err, errlen);
	if (r) {
		remove(tmp);
		return r;
	}
	if (rename(tmp, path) != 0) {
		r = err_set(err, errlen, -errno, "%s: cannot rename %s: %s", path, tmp, strerror(errno));
		remove(tmp);
	}
	return r;
}
