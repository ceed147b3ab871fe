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
#include <unistd.h>

#include <omp.h>

#include "core/astro.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/fsx.h"
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
	p->xp_rad = 0;
	p->yp_rad = 0;
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

/* ---- subband agreement ----------------------------------------------------- */

#define AGREE_TIME_D 1e-7 /* integration times: 8.6 ms */
#define AGREE_BL_M 1e-3   /* baseline vectors pos[a2] - pos[a1] */
/* w beyond float32 rounding: 20 µm is a phase of 6e-4 rad at 1.5 GHz. */
#define W_SLACK_M 2e-5

/* Half a float32 unit in the last place of |x|: how far a value the writer
 * computed in double can be from what it stored as float32. */
static double half_ulp32(double x)
{
	int e;

	if (!(fabs(x) > 0) || !isfinite(x))
		return 0;
	frexp(x, &e); /* |x| = m 2^e, 0.5 <= m < 1: a float32 ulp is 2^(e - 24) */
	return ldexp(1.0, e - 25);
}

/* Two w of the same baseline agree when they differ by no more than their
 * float32 rounding and W_SLACK_M. */
static int w_agree(double a, double b)
{
	return a == b || fabs(a - b) <= half_ulp32(a) + half_ulp32(b) + W_SLACK_M;
}

/* What one subband file says about everything but its data (convert.h). */
struct convert_sub {
	uvh5_header h;
	int code;      /* 0: usable; else why not (negative errno, reason) */
	char reason[ERR_LEN];
	double *time;  /* [ntimes] integration centres, JD */
	int *a1, *a2;  /* [nbls] of integration 0 (the header reader checked the others repeat it) */
	int64_t *num;  /* [nants_telescope] antenna numbers */
	double *bl;    /* [nbls * 3] pos[a2] - pos[a1] */
	double *w;     /* [nblts] w of uvw_array */
	double *freq;  /* [nfreqs] as stored */
};
typedef struct convert_sub sub_sum;

static int read_sum(const char *path, const uvh5_axes *ax, sub_sum *s, char *err,
		    size_t errlen);

static void sub_sum_release(sub_sum *s)
{
	free(s->time);
	free(s->a1);
	free(s->a2);
	free(s->num);
	free(s->bl);
	free(s->w);
	free(s->freq);
	s->time = s->w = s->bl = s->freq = NULL;
	s->a1 = s->a2 = NULL;
	s->num = NULL;
}

void convert_sub_free(convert_sub *s)
{
	if (!s)
		return;
	sub_sum_release(s);
	free(s);
}

const uvh5_header *convert_sub_header(const convert_sub *s)
{
	return &s->h;
}

int convert_sub_error(const convert_sub *s, const char **ret_reason)
{
	if (ret_reason)
		*ret_reason = s->code ? s->reason : "";
	return s->code;
}

int convert_sub_read(const char *path, convert_sub **ret, char *err, size_t errlen)
{
	convert_sub *s = calloc(1, sizeof *s);
	uvh5_axes axes;
	int r;

	memset(&axes, 0, sizeof axes);
	if (!s)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	r = uvh5_read_header_axes(path, &s->h, &axes, err, errlen);
	if (r) {
		free(s);
		return r;
	}
	/* A file whose header reads but that cannot be combined is a summary
	 * that says why (convert leaves it out or fails with that reason). */
	if (!s->h.imageable) {
		s->code = -EINVAL;
		snprintf(s->reason, sizeof s->reason, "%s: not loadable: %s", path,
			 s->h.not_imageable);
	} else {
		r = read_sum(path, &axes, s, s->reason, sizeof s->reason);
		if (r == -ENOMEM) {
			err_set(err, errlen, r, "%s", s->reason);
			uvh5_axes_release(&axes);
			convert_sub_free(s);
			return r;
		}
		if (r) {
			s->code = r;
			sub_sum_release(s);
		}
	}
	uvh5_axes_release(&axes);
	*ret = s;
	return 0;
}

/* Fill s (whose header s->h is read and imageable) from its file's axes. */
static int read_sum(const char *path, const uvh5_axes *ax, sub_sum *s, char *err, size_t errlen)
{
	const int nt = s->h.ntimes, nb = s->h.nbls, na = s->h.nants_telescope, nf = s->h.nfreqs;
	const size_t nblt = (size_t)nt * nb;
	const int64_t *a1 = ax->ant1, *a2 = ax->ant2;
	const double *pos = ax->antpos_m;

	s->time = malloc((size_t)nt * sizeof *s->time);
	s->a1 = malloc((size_t)nb * sizeof *s->a1);
	s->a2 = malloc((size_t)nb * sizeof *s->a2);
	s->num = malloc((size_t)na * sizeof *s->num);
	s->bl = malloc((size_t)nb * 3 * sizeof *s->bl);
	s->w = malloc(nblt * sizeof *s->w);
	s->freq = malloc((size_t)nf * sizeof *s->freq);
	if (!s->time || !s->a1 || !s->a2 || !s->num || !s->bl || !s->w || !s->freq)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	memcpy(s->num, ax->antnum, (size_t)na * sizeof *s->num);
	memcpy(s->freq, ax->freq_hz, (size_t)nf * sizeof *s->freq);
	for (int t = 0; t < nt; t++)
		s->time[t] = ax->time_jd[(size_t)t * nb];
	for (size_t i = 0; i < nblt; i++)
		s->w[i] = ax->uvw_m[i * 3 + 2];
	for (int b = 0; b < nb; b++) {
		int i1 = -1, i2 = -1;
		s->a1[b] = (int)a1[b];
		s->a2[b] = (int)a2[b];
		for (int a = 0; a < na; a++) {
			if (s->num[a] == a1[b])
				i1 = a;
			if (s->num[a] == a2[b])
				i2 = a;
		}
		if (i1 < 0 || i2 < 0)
			return err_set(err, errlen, -EIO, "%s: baseline %lld-%lld names an antenna not "
				       "in Header/antenna_numbers", path, (long long)a1[b],
				       (long long)a2[b]);
		for (int k = 0; k < 3; k++)
			s->bl[b * 3 + k] = pos[i2 * 3 + k] - pos[i1 * 3 + k];
	}
	return 0;
}

/* 0 when subband files a (subband ka) and b (subband kb) agree; else 1 with
 * what differs in why ("the integration times (...)"), a's value first. */
static int disagree(const sub_sum *a, int ka, const sub_sum *b, int kb, char *why, size_t len)
{
	const uvh5_header *x = &a->h, *y = &b->h;
	const size_t nblt = (size_t)x->ntimes * x->nbls;
	double cw;

#define WHY(...) (snprintf(why, len, __VA_ARGS__), 1)
	if (x->ntimes != y->ntimes)
		return WHY("the number of integrations (%d vs %d)", x->ntimes, y->ntimes);
	if (x->nbls != y->nbls)
		return WHY("the number of baselines (%d vs %d)", x->nbls, y->nbls);
	if (x->nants_telescope != y->nants_telescope)
		return WHY("the number of antennas (%d vs %d)", x->nants_telescope, y->nants_telescope);
	if (x->nfreqs != y->nfreqs)
		return WHY("the number of channels (%d vs %d)", x->nfreqs, y->nfreqs);
	if (x->npols != y->npols)
		return WHY("the number of polarisations (%d vs %d)", x->npols, y->npols);
	for (int p = 0; p < x->npols; p++)
		if (x->pols[p] != y->pols[p])
			return WHY("the polarisations (%s vs %s)", uvh5_pol_name(x->pols[p]),
				   uvh5_pol_name(y->pols[p]));
	if (fabs(x->channel_width_hz - y->channel_width_hz) > 1e-6 * fabs(x->channel_width_hz))
		return WHY("the channel width (%.3f vs %.3f Hz)", x->channel_width_hz,
			   y->channel_width_hz);
	if (x->freq_descending != y->freq_descending)
		return WHY("the channel order (descending %d vs %d)", x->freq_descending,
			   y->freq_descending);
	if (x->has_dec != y->has_dec || (x->has_dec && fabs(x->dec_rad - y->dec_rad) > 1e-6))
		return WHY("the pointing declination (%.6f vs %.6f deg)", x->dec_rad * 180 / M_PI,
			   y->dec_rad * 180 / M_PI);
	for (int t = 0; t < x->ntimes; t++)
		if (fabs(a->time[t] - b->time[t]) > AGREE_TIME_D)
			return WHY("the integration times (integration %d at JD %.7f vs %.7f, %.3f s "
				   "apart)", t, a->time[t], b->time[t], (b->time[t] - a->time[t]) * 86400);
	for (int i = 0; i < x->nbls; i++)
		if (a->a1[i] != b->a1[i] || a->a2[i] != b->a2[i])
			return WHY("the baselines (row %d is %d-%d vs %d-%d)", i, a->a1[i], a->a2[i],
				   b->a1[i], b->a2[i]);
	for (int i = 0; i < x->nants_telescope; i++)
		if (a->num[i] != b->num[i])
			return WHY("the antenna numbers (entry %d is %lld vs %lld)", i,
				   (long long)a->num[i], (long long)b->num[i]);
	for (int i = 0; i < x->nbls; i++) {
		const double *p = a->bl + 3 * i, *q = b->bl + 3 * i;
		if (fabs(p[0] - q[0]) > AGREE_BL_M || fabs(p[1] - q[1]) > AGREE_BL_M ||
		    fabs(p[2] - q[2]) > AGREE_BL_M)
			return WHY("the baseline vectors pos[a2] - pos[a1] (%d-%d differs by %.4f m; "
				   "a common shift of all positions is accepted)", a->a1[i], a->a2[i],
				   sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) +
					(p[2] - q[2]) * (p[2] - q[2])));
	}
	for (size_t i = 0; i < nblt; i++)
		if (!w_agree(a->w[i], b->w[i]))
			return WHY("the w of uvw_array (row %zu, %d-%d: %.6f vs %.6f m; fringe-stopped at "
				   "another centre)", i, a->a1[i % x->nbls], a->a2[i % x->nbls], a->w[i],
				   b->w[i]);
	/* Contiguous subbands, sb00 highest: b's channel j sits (kb - ka) subbands
	 * of nf channels below a's. */
	cw = fabs(x->channel_width_hz);
	if (!(cw > 0) && x->nfreqs > 1)
		cw = fabs(a->freq[1] - a->freq[0]);
	for (int j = 0; j < x->nfreqs; j++) {
		double want = a->freq[j] - (double)(kb - ka) * x->nfreqs * cw;
		if (fabs(b->freq[j] - want) > 0.01 * cw)
			return WHY("the frequencies (channel %d of sb%02d at %.1f Hz, %.1f Hz expected from "
				   "sb%02d: subbands must be contiguous, sb00 highest)", j, kb, b->freq[j],
				   want, ka);
	}
#undef WHY
	return 0;
}

/* The subbands to use: those that agree with the subband most others agree
 * with (ties: the lowest-numbered), when that is a strict majority of the n
 * present ones.  idx[0..n-1] are the present files in subband order, sb_of
 * their subbands.  Sets keep[i] for every file and fills info's dropped
 * fields; -EINVAL without a majority. */
static int choose_majority(const sub_sum *const *s, const int *idx, int n, const int *sb_of,
			   const char *const *paths, int *keep, convert_info *info, char *err,
			   size_t errlen)
{
	unsigned char ag[CONVERT_MAX_SUB][CONVERT_MAX_SUB];
	int votes[CONVERT_MAX_SUB] = { 0 }, ref = 0;
	char why[CONVERT_REASON_LEN];

	for (int i = 0; i < n; i++) {
		ag[i][i] = 1;
		for (int j = i + 1; j < n; j++)
			ag[i][j] = ag[j][i] = !disagree(s[idx[i]], sb_of[idx[i]], s[idx[j]],
							 sb_of[idx[j]], why, sizeof why);
	}
	for (int i = 0; i < n; i++) {
		votes[i] = 0;
		for (int j = 0; j < n; j++)
			votes[i] += ag[i][j];
		if (votes[i] > votes[ref])
			ref = i;
	}
	if (2 * votes[ref] <= n) {
		char list[6 * CONVERT_MAX_SUB] = "";
		size_t k = 0;
		int other = -1;

		for (int j = 0; j < n; j++) {
			if (ag[ref][j])
				k += (size_t)snprintf(list + k, sizeof list - k, "%ssb%02d", k ? ", " : "",
						      sb_of[idx[j]]);
			else if (other < 0)
				other = j;
		}
		disagree(s[idx[ref]], sb_of[idx[ref]], s[idx[other]], sb_of[idx[other]], why,
			 sizeof why);
		return err_set(err, errlen, -EINVAL, "subbands disagree and no majority of the %d "
			       "agrees: the largest agreeing set is %d (%s); sb%02d differs from "
			       "sb%02d on %s", n, votes[ref], list, sb_of[idx[other]],
			       sb_of[idx[ref]], why);
	}
	for (int j = 0; j < n; j++) {
		int k = sb_of[idx[j]];
		const char *base = strrchr(paths[idx[ref]], '/');

		keep[idx[j]] = ag[ref][j];
		if (keep[idx[j]])
			continue;
		disagree(s[idx[ref]], sb_of[idx[ref]], s[idx[j]], k, why, sizeof why);
		info->dropped_mask |= 1u << k;
		if (snprintf(info->dropped_reason[k], sizeof info->dropped_reason[k],
			     "disagrees with the majority (%d of %d subbands agree with %s) on %s",
			     votes[ref], n, base ? base + 1 : paths[idx[ref]], why) >=
		    (int)sizeof info->dropped_reason[k])
			memcpy(info->dropped_reason[k] + sizeof info->dropped_reason[k] - 4, "...", 4);
	}
	return 0;
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
 * into place).  On a file's failure *ret_bad is its index (left alone when
 * memory ran out: no file is at fault). */
static int direct_read(vis_set *v, const int *sb_of, int npaths, uvh5_raw *const *rf,
		       const int *map, int nf, int nthreads, int *ret_bad, char *err,
		       size_t errlen)
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
	if (r && r != -ENOMEM)
		*ret_bad = fail;
	return r;
}

/* Copy the template's metadata into v (arrays already sized).  v gets a copy
 * of the template's history (the template stays whole: a second pass after
 * a file turned out unreadable may use it again); a reused v's old history
 * is dropped with the rest of its old metadata.  -ENOMEM. */
static int copy_meta(vis_set *v, const vis_set *tmpl, int nchan)
{
	vis_set keep = *v;
	char *hist = NULL;

	if (tmpl->history && !(hist = strdup(tmpl->history)))
		return -ENOMEM;
	*v = *tmpl;
	v->history = hist;
	v->nchan = nchan;
	v->ants = keep.ants; v->ant1 = keep.ant1; v->ant2 = keep.ant2;
	v->time_jd = keep.time_jd; v->freq_hz = keep.freq_hz; v->uvw_m = keep.uvw_m;
	v->vis = keep.vis; v->flags = keep.flags; v->weight = keep.weight;
	free(keep.history);
	memcpy(v->ants, tmpl->ants, tmpl->nants * sizeof *v->ants);
	memcpy(v->ant1, tmpl->ant1, tmpl->nbls * sizeof *v->ant1);
	memcpy(v->ant2, tmpl->ant2, tmpl->nbls * sizeof *v->ant2);
	memcpy(v->time_jd, tmpl->time_jd, tmpl->ntimes * sizeof *v->time_jd);
	memcpy(v->uvw_m, tmpl->uvw_m, (size_t)tmpl->ntimes * tmpl->nbls * 3 * sizeof *v->uvw_m);
	return 0;
}

/* The history line of a combined group: which subbands, which channels.  The
 * set's history so far is that of the lowest-numbered used subband file,
 * path0. */
static int history_combined(vis_set *v, int nsub, int npresent, uint32_t missing,
			    uint32_t dropped, const char *path0, char *err, size_t errlen)
{
	const char *base = strrchr(path0, '/');
	char miss[16 + 5 * CONVERT_MAX_SUB] = ""; /* "; missing " + "sbNN," each */
	char drop[48 + 5 * CONVERT_MAX_SUB] = "";
	size_t n = 0, d = 0;

	for (int k = 0; k < nsub && n < sizeof miss; k++)
		if (missing & (1u << k))
			n += (size_t)snprintf(miss + n, sizeof miss - n, "%ssb%02d",
					      n ? "," : "; missing ", k);
	for (int k = 0; k < nsub && d < sizeof drop; k++)
		if (dropped & (1u << k))
			d += (size_t)snprintf(drop + d, sizeof drop - d, "%ssb%02d",
					      d ? "," : " (dropped as inconsistent with the others: ", k);
	if (d && d < sizeof drop)
		snprintf(drop + d, sizeof drop - d, ")");
	if (vis_history_add(v, "contimg convert: combined %d of %d subband files into %d "
			    "channels, %.6f to %.6f MHz, ascending (the history above is that of "
			    "%s, the lowest-numbered)%s%s.", npresent, nsub, v->nchan,
			    v->freq_hz[0] / 1e6, v->freq_hz[v->nchan - 1] / 1e6,
			    base ? base + 1 : path0, miss, drop) < 0)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory for the history", v->name);
	return 0;
}

/* File i of the call cannot be used (code, reason): record it in info.  With
 * p->min_usable > 0 it is left out while at least that many usable files
 * remain (returns 0: go on without it); else the call fails with its reason
 * (returns code). */
static int file_unusable(convert_info *info, int i, int code, const char *reason,
			 const convert_params *p, int *nusable, int *excluded, char *err,
			 size_t errlen)
{
	info->file[i].status = CONVERT_FILE_UNUSABLE;
	info->file[i].code = code;
	snprintf(info->file[i].reason, sizeof info->file[i].reason, "%s", reason);
	if (p->min_usable <= 0 || *nusable - 1 < p->min_usable) {
		info->failed_file = i;
		return err_set(err, errlen, code, "%s", reason);
	}
	excluded[i] = 1;
	(*nusable)--;
	return 0;
}

int convert_load_inputs(const convert_input *in, int npaths, const convert_params *pp,
			vis_set **ret, convert_info *ret_info, char *err, size_t errlen)
{
	convert_params p;
	convert_info *info = NULL;
	const char *paths[CONVERT_MAX_SUB];
	const sub_sum *sum[CONVERT_MAX_SUB];
	sub_sum *own[CONVERT_MAX_SUB] = { NULL };
	uvh5_raw *rf[CONVERT_MAX_SUB] = { NULL }, *krf[CONVERT_MAX_SUB];
	int rf_tried[CONVERT_MAX_SUB] = { 0 }, excluded[CONVERT_MAX_SUB] = { 0 };
	int sb_of[CONVERT_MAX_SUB], file_of[CONVERT_MAX_SUB], idx[CONVERT_MAX_SUB];
	int keep[CONVERT_MAX_SUB], ksb[CONVERT_MAX_SUB], kfile[CONVERT_MAX_SUB];
	const char *kpaths[CONVERT_MAX_SUB];
	char e[ERR_LEN];
	int *perm = NULL, *map = NULL;
	int r = 0, nf, nsub, nchan, first, nthreads, ndirect, npresent, nk, nusable;
	int tmpl_file = -1;
	vis_set *tmpl = NULL, *v = NULL;
	double t0, cw, *fsort = NULL;
	size_t rl;

	if (pp)
		p = *pp;
	else
		convert_params_default(&p);
	/* On the heap: the per-file reasons make it large for a thread's stack. */
	info = calloc(1, sizeof *info);
	if (!info)
		return err_set(err, errlen, -ENOMEM, "convert: out of memory");
	info->failed_file = -1;
	nsub = p.nsub_expected;
	nthreads = p.nthreads > 0 ? p.nthreads : omp_get_max_threads();
	if (nsub <= 0 || nsub > CONVERT_MAX_SUB) {
		r = err_set(err, errlen, -EINVAL, "convert: nsub_expected %d out of range", nsub);
		goto out;
	}
	if (npaths <= 0) {
		r = err_set(err, errlen, -EINVAL, "convert: no subband files given");
		goto out;
	}
	if (npaths > CONVERT_MAX_SUB) {
		r = err_set(err, errlen, -EINVAL, "convert: %d files for at most %d subbands", npaths,
			    CONVERT_MAX_SUB);
		goto out;
	}
	for (int k = 0; k < nsub; k++)
		file_of[k] = -1;
	for (int i = 0; i < npaths; i++) {
		int sb = in[i].subband;
		paths[i] = in[i].path;
		if (sb < 0 || sb >= nsub) {
			r = err_set(err, errlen, -EINVAL, "%s: subband %d outside 0..%d", paths[i], sb,
				    nsub - 1);
			goto out;
		}
		if (file_of[sb] >= 0) {
			r = err_set(err, errlen, -EINVAL, "subband %d given twice: %s and %s", sb,
				    paths[file_of[sb]], paths[i]);
			goto out;
		}
		file_of[sb] = i;
		sb_of[i] = sb;
	}

	t0 = clk_mono_s();
	/* Every file's header and geometry (cheap next to the data; the caller
	 * usually read them already, convert_sub_read), then the majority
	 * decides which subbands go in: one odd file must not sink the group,
	 * and the lowest-numbered one is not more right than the others. */
	nusable = npaths;
	for (int k = 0; k < nsub; k++) {
		int i = file_of[k];
		if (i < 0)
			continue;
		sum[i] = in[i].sub;
		if (!sum[i]) {
			r = convert_sub_read(paths[i], &own[i], e, sizeof e);
			if (r == -ENOMEM) {
				err_set(err, errlen, r, "%s", e);
				goto out;
			}
			if (r) {
				r = file_unusable(info, i, r, e, &p, &nusable, excluded, err, errlen);
				if (r)
					goto out;
				continue;
			}
			sum[i] = own[i];
		}
		if (sum[i]->code) {
			r = file_unusable(info, i, sum[i]->code, sum[i]->reason, &p, &nusable, excluded,
					  err, errlen);
			if (r)
				goto out;
		}
	}

	/* From here on a file can still turn out unusable (its Data/ unreadable,
	 * its metadata or raw layout unreadable).  Left out, the majority and
	 * the template are decided again from the summaries already in memory
	 * and the data are read again; no header is read twice. */
again:
	npresent = nk = ndirect = 0;
	first = -1;
	info->dropped_mask = info->missing_mask = 0;
	info->nsub_chunked = 0;
	memset(info->dropped_reason, 0, sizeof info->dropped_reason);
	for (int i = 0; i < npaths; i++) {
		keep[i] = 0;
		if (info->file[i].status == CONVERT_FILE_DROPPED)
			info->file[i].status = CONVERT_FILE_USED;
	}
	for (int k = 0; k < nsub; k++)
		if (file_of[k] >= 0 && !excluded[file_of[k]])
			idx[npresent++] = file_of[k];
	r = choose_majority(sum, idx, npresent, sb_of, paths, keep, info, err, errlen);
	if (r)
		goto out;
	/* The files used, in the caller's order; the template is the
	 * lowest-numbered of them. */
	for (int i = 0; i < npaths; i++) {
		if (!excluded[i] && !keep[i]) {
			/* two arrays of *info: a bounded copy (snprintf here makes
			 * GCC's -Wrestrict guess they may overlap) */
			const char *why = info->dropped_reason[sb_of[i]];
			size_t n = strnlen(why, sizeof info->file[i].reason - 1);
			info->file[i].status = CONVERT_FILE_DROPPED;
			memcpy(info->file[i].reason, why, n);
			info->file[i].reason[n] = 0;
		}
		if (keep[i]) {
			kfile[nk] = i;
			kpaths[nk] = paths[i];
			ksb[nk] = sb_of[i];
			nk++;
		}
	}
	for (int k = 0; k < nsub && first < 0; k++)
		if (file_of[k] >= 0 && keep[file_of[k]])
			first = file_of[k];
	if (first != tmpl_file) {
		vis_free(tmpl);
		tmpl = NULL;
		tmpl_file = -1;
		r = uvh5_read_meta(paths[first], &tmpl, e, sizeof e);
		if (r == -ENOMEM) {
			err_set(err, errlen, r, "%s", e);
			goto out;
		}
		if (r) {
			r = file_unusable(info, first, r, e, &p, &nusable, excluded, err, errlen);
			if (r)
				goto out;
			goto again;
		}
		tmpl_file = first;
	}

	nf = tmpl->nchan;
	nchan = nsub * nf;
	cw = fabs(tmpl->chan_width_hz);
	if (!(cw > 0) && nf > 1)
		cw = fabs(tmpl->freq_hz[1] - tmpl->freq_hz[0]);
	if (v && !(v->ntimes == tmpl->ntimes && v->nbls == tmpl->nbls && v->nchan == nchan &&
		   v->npols == tmpl->npols && v->nants == tmpl->nants)) {
		if (v != p.reuse)
			vis_free(v);
		v = NULL;
	}
	if (!v && p.reuse && p.reuse->ntimes == tmpl->ntimes && p.reuse->nbls == tmpl->nbls &&
	    p.reuse->nchan == nchan && p.reuse->npols == tmpl->npols && p.reuse->nants == tmpl->nants)
		v = p.reuse;
	else if (!v)
		v = vis_new(tmpl->ntimes, tmpl->nbls, nchan, tmpl->npols, tmpl->nants);
	if (!v) {
		r = err_set(err, errlen, -ENOMEM, "convert: out of memory for %d x %d x %d x %d visibilities",
			    tmpl->ntimes, tmpl->nbls, nchan, tmpl->npols);
		goto out;
	}
	if (copy_meta(v, tmpl, nchan) < 0) {
		r = err_set(err, errlen, -ENOMEM, "convert: out of memory");
		goto out;
	}
	if (!v->has_pointing_dec && isfinite(v->phase_dec_rad)) {
		v->pointing_dec_rad = v->phase_dec_rad;
		v->has_pointing_dec = 1;
	}
	{
		const char *base = strrchr(paths[first], '/');
		const char *ep;
		base = base ? base + 1 : paths[first];
		ep = strstr(base, "_sb");
		snprintf(v->name, sizeof v->name, "%.*s", ep ? (int)(ep - base) : (int)strlen(base), base);
	}

	/* Frequencies of every subband in file order (subband k, file channel j
	 * at k·nf + j) from the template: consecutive subbands are contiguous,
	 * sb00 highest (the used files agree with that: choose_majority). */
	free(fsort);
	free(perm);
	free(map);
	fsort = malloc(nchan * sizeof *fsort);
	perm = malloc(nchan * sizeof *perm);
	map = malloc(nchan * sizeof *map);
	if (!fsort || !perm || !map) {
		r = err_set(err, errlen, -ENOMEM, "convert: out of memory");
		goto out;
	}
	for (int k = 0; k < nsub; k++)
		for (int j = 0; j < nf; j++)
			fsort[k * nf + j] = tmpl->freq_hz[j] - (double)(k - sb_of[first]) * nf * cw;
	/* perm: ascending channel c is file-order channel perm[c]; map inverts it. */
	for (int c = 0; c < nchan; c++)
		perm[c] = c;
	sort_by_freq(perm, nchan, fsort);
	for (int c = 0; c < nchan; c++) {
		map[perm[c]] = c;
		v->freq_hz[c] = fsort[perm[c]];
	}

	/* Read.  When every used file qualifies for the direct path, decode
	 * straight into the ascending order; otherwise lay subbands out in file
	 * order (uvh5_read_into for the rest) and sort afterwards.  A file's
	 * raw layout is located once, however many passes there are. */
	for (int i = 0; i < nk; i++) {
		int f = kfile[i];
		if (p.direct_read && !rf_tried[f]) {
			r = uvh5_raw_open(kpaths[i], (size_t)v->ntimes * v->nbls, nf, v->npols, &rf[f],
					  NULL, 0, e, sizeof e);
			if (r == -ENOMEM) {
				err_set(err, errlen, r, "%s", e);
				goto out;
			}
			if (r) {
				r = file_unusable(info, f, r, e, &p, &nusable, excluded, err, errlen);
				if (r)
					goto out;
				goto again;
			}
			rf_tried[f] = 1;
		}
		krf[i] = p.direct_read ? rf[f] : NULL;
		ndirect += krf[i] != NULL;
		info->nsub_chunked += krf[i] && uvh5_raw_kind(krf[i]) != UVH5_RAW_CONTIGUOUS;
	}
	if (ndirect < nk)
		for (int c = 0; c < nchan; c++)
			map[c] = c;
	if (ndirect) {
		int kbad = -1;
		r = direct_read(v, ksb, nk, krf, map, nf, nthreads, &kbad, e, sizeof e);
		if (r && kbad < 0) {
			err_set(err, errlen, r, "%s", e);
			goto out;
		}
		if (r) {
			r = file_unusable(info, kfile[kbad], r, e, &p, &nusable, excluded, err, errlen);
			if (r)
				goto out;
			goto again;
		}
	}
	for (int i = 0; i < nk; i++) {
		if (krf[i])
			continue;
		r = uvh5_read_into(kpaths[i], v, ksb[i] * nf, e, sizeof e);
		if (r == -ENOMEM) {
			err_set(err, errlen, r, "%s", e);
			goto out;
		}
		if (r) {
			r = file_unusable(info, kfile[i], r, e, &p, &nusable, excluded, err, errlen);
			if (r)
				goto out;
			goto again;
		}
	}
	/* Missing subbands (absent, unusable or dropped): flagged, zero weight,
	 * zero data. */
	rl = (size_t)v->nchan * v->npols;
	for (int k = 0; k < nsub; k++) {
		if (file_of[k] >= 0 && keep[file_of[k]])
			continue;
		info->missing_mask |= 1u << k;
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
	if (ndirect < nk) {
		r = permute_channels(v, perm, nthreads);
		if (r) {
			err_set(err, errlen, r, "convert: out of memory");
			goto out;
		}
	}
	info->read_s = clk_mono_s() - t0;
	info->nsub_present = nk;
	info->nsub_direct = ndirect;
	info->chan_per_sub = nf;
	r = history_combined(v, nsub, nk, info->missing_mask, info->dropped_mask, paths[first], err,
			     errlen);
	if (r)
		goto out;
	if (v->phase_type == VIS_PHASE_DRIFT) {
		r = convert_drift_geometry(v, &info->drift_fit, err, errlen);
		if (r)
			goto out;
		info->has_drift_fit = 1;
	}

	if (p.rephase) {
		double t1 = clk_mono_s();
		astro_eop eop = { p.dut1_s, p.xp_rad, p.yp_rad };
		r = convert_rephase(v, &eop, nthreads, err, errlen);
		if (r)
			goto out;
		info->rephase_s = clk_mono_s() - t1;
	}
	*ret = v;
	v = NULL;
out:
	if (ret_info && info)
		*ret_info = *info;
	free(info);
	free(perm);
	free(map);
	free(fsort);
	for (int i = 0; i < CONVERT_MAX_SUB; i++) {
		convert_sub_free(own[i]);
		uvh5_raw_close(rf[i]);
	}
	vis_free(tmpl);
	if (v != p.reuse)
		vis_free(v);
	return r;
}

int convert_load_group(const char *const *paths, int npaths, const convert_params *pp,
		       vis_set **ret, convert_info *ret_info, char *err, size_t errlen)
{
	convert_input in[CONVERT_MAX_SUB];
	int r;

	if (npaths > CONVERT_MAX_SUB) {
		if (ret_info) {
			memset(ret_info, 0, sizeof *ret_info);
			ret_info->failed_file = -1;
		}
		return err_set(err, errlen, -EINVAL, "convert: %d files for at most %d subbands",
			       npaths, CONVERT_MAX_SUB);
	}
	for (int i = 0; i < npaths; i++) {
		in[i].path = paths[i];
		in[i].sub = NULL;
		r = convert_subband_from_name(paths[i], &in[i].subband);
		if (r) {
			if (ret_info) {
				memset(ret_info, 0, sizeof *ret_info);
				ret_info->failed_file = -1;
			}
			return err_set(err, errlen, -EINVAL, "%s: name does not end in _sbNN.hdf5",
				       paths[i]);
		}
	}
	return convert_load_inputs(in, npaths, pp, ret, ret_info, err, errlen);
}

int convert_common_centre(const vis_set *v, const astro_eop *eop, double *ret_ra_rad,
			  double *ret_dec_rad, char *err, size_t errlen)
{
	astro_frame f;
	double tmid, ra, dec, ra_c, dec_c;
	int r;

	if (v->phase_type != VIS_PHASE_DRIFT)
		return err_set(err, errlen, -EINVAL, "%s: common centre needs a drift-phased set", v->name);
	tmid = vis_mid_jd(v);
	r = astro_frame_init_eop(&f, tmid, v->lon_rad, eop);
	if (r)
		return err_set(err, errlen, r, "%s: mid time JD %.6f outside ERFA's range", v->name, tmid);
	/* The drift centre at the mid time: terrestrial (H = 0, δ0), in CIRS
	 * RA = ERA + lon (the apparent LST in the CIO system), Dec = δ0 when
	 * there is no polar motion. */
	astro_frame_hadec_to_cirs(&f, 0, v->phase_dec_rad, &ra_c, &dec_c);
	astro_frame_cirs_to_icrs(&f, ra_c, dec_c, &ra, &dec);
	*ret_ra_rad = ra;
	*ret_dec_rad = dec;
	return 0;
}

/* pos[a2] - pos[a1] of every baseline of v into bl[nbls * 3]. */
static int baseline_vectors(const vis_set *v, double *bl, char *err, size_t errlen)
{
	for (int b = 0; b < v->nbls; b++) {
		int i1 = vis_ant_index(v, v->ant1[b]), i2 = vis_ant_index(v, v->ant2[b]);
		if (i1 < 0 || i2 < 0)
			return err_set(err, errlen, -EINVAL, "%s: baseline %d-%d names an unknown antenna",
				       v->name, v->ant1[b], v->ant2[b]);
		for (int k = 0; k < 3; k++)
			bl[b * 3 + k] = v->ants[i2].pos_m[k] - v->ants[i1].pos_m[k];
	}
	return 0;
}

/* The Earth-fixed direction (H = 0, δ) of the meridian of east longitude λ:
 * ECEF (cos δ cos λ, cos δ sin λ, sin δ). */
static void meridian_dir(double lon_rad, double dec_rad, double s[3])
{
	s[0] = cos(dec_rad) * cos(lon_rad);
	s[1] = cos(dec_rad) * sin(lon_rad);
	s[2] = sin(dec_rad);
}

static double dot3(const double *a, const double *b)
{
	return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* convert_drift_geometry with the baseline vectors given. */
static void drift_fit(const vis_set *v, const double *bl, convert_drift_fit *ret)
{
	const double as = 180 / M_PI * 3600;
	convert_drift_fit g;
	double sh[3], s[3], lon = v->lon_rad, dec = v->phase_dec_rad, sum2 = 0;
	int header_ok = 1, fit_ok = 1, all_zero = 1;

	memset(&g, 0, sizeof g);
	meridian_dir(v->lon_rad, v->phase_dec_rad, sh);
	for (int t = 0; t < v->ntimes; t++)
		for (int b = 0; b < v->nbls; b++) {
			const double *p = bl + 3 * b, w = v->uvw_m[((size_t)t * v->nbls + b) * 3 + 2];
			double d = fabs(w - dot3(sh, p));
			if (p[0] == 0 && p[1] == 0 && p[2] == 0)
				continue;
			g.nrows++;
			all_zero &= w == 0;
			g.max_header_m = fmax(g.max_header_m, d);
			if (!(d <= half_ulp32(w) + W_SLACK_M))
				header_ok = 0;
		}
	/* Least squares of w = s(λ, δ)·b over λ and δ by Gauss-Newton from the
	 * header's values: ∂s/∂λ = cos δ (−sin λ, cos λ, 0) (east), ∂s/∂δ =
	 * (−sin δ cos λ, −sin δ sin λ, cos δ).  The baselines of a flat array
	 * span east and north, which is all the two derivatives need. */
	g.fitted = g.nrows >= 2;
	for (int it = 0; it < 50 && g.fitted; it++) {
		double a11 = 0, a12 = 0, a22 = 0, r1 = 0, r2 = 0, det, dl, dd;
		double cl = cos(lon), sl = sin(lon), cd = cos(dec), sd = sin(dec);
		double el[3] = { -cd * sl, cd * cl, 0 }, ed[3] = { -sd * cl, -sd * sl, cd };

		meridian_dir(lon, dec, s);
		for (int t = 0; t < v->ntimes; t++)
			for (int b = 0; b < v->nbls; b++) {
				const double *p = bl + 3 * b;
				double w = v->uvw_m[((size_t)t * v->nbls + b) * 3 + 2];
				double j1 = dot3(el, p), j2 = dot3(ed, p), res = w - dot3(s, p);
				a11 += j1 * j1;
				a12 += j1 * j2;
				a22 += j2 * j2;
				r1 += j1 * res;
				r2 += j2 * res;
			}
		det = a11 * a22 - a12 * a12;
		if (!(det > 1e-12 * a11 * a22) || !(a11 > 0)) {
			g.fitted = 0;
			break;
		}
		dl = (a22 * r1 - a12 * r2) / det;
		dd = (a11 * r2 - a12 * r1) / det;
		lon += dl;
		dec += dd;
		if (fabs(dl) + fabs(dd) < 1e-15)
			break;
	}
	if (g.fitted) {
		double c[3];
		meridian_dir(lon, dec, s);
		for (int t = 0; t < v->ntimes; t++)
			for (int b = 0; b < v->nbls; b++) {
				const double *p = bl + 3 * b;
				double w = v->uvw_m[((size_t)t * v->nbls + b) * 3 + 2];
				double d = fabs(w - dot3(s, p));
				if (p[0] == 0 && p[1] == 0 && p[2] == 0)
					continue;
				sum2 += d * d;
				g.max_m = fmax(g.max_m, d);
				if (!(d <= half_ulp32(w) + W_SLACK_M))
					fit_ok = 0;
			}
		g.rms_m = sqrt(sum2 / g.nrows);
		g.lon_rad = remainder(lon, 2 * M_PI);
		g.dec_rad = dec;
		g.dlon_arcsec = remainder(lon - v->lon_rad, 2 * M_PI) * as;
		g.ddec_arcsec = (dec - v->phase_dec_rad) * as;
		c[0] = s[1] * sh[2] - s[2] * sh[1];
		c[1] = s[2] * sh[0] - s[0] * sh[2];
		c[2] = s[0] * sh[1] - s[1] * sh[0];
		g.sep_arcsec = atan2(sqrt(dot3(c, c)), dot3(s, sh)) * as;
	} else {
		g.lon_rad = g.dec_rad = g.dlon_arcsec = g.ddec_arcsec = g.sep_arcsec = NAN;
		g.rms_m = g.max_m = NAN;
	}
	if (header_ok)
		g.source = CONVERT_W_HEADER;
	else if (all_zero || (g.fitted && !(g.sep_arcsec <= 1800)))
		g.source = CONVERT_W_HEADER_ONLY;
	else
		g.source = g.fitted && fit_ok ? CONVERT_W_FIT : CONVERT_W_ROWS;
	*ret = g;
}

int convert_drift_geometry(const vis_set *v, convert_drift_fit *ret, char *err, size_t errlen)
{
	double *bl;
	int r;

	if (v->phase_type != VIS_PHASE_DRIFT)
		return err_set(err, errlen, -EINVAL, "%s: not a drift-phased set", v->name);
	bl = malloc((size_t)v->nbls * 3 * sizeof *bl);
	if (!bl)
		return err_set(err, errlen, -ENOMEM, "convert: out of memory");
	r = baseline_vectors(v, bl, err, errlen);
	if (r == 0)
		drift_fit(v, bl, ret);
	free(bl);
	return r;
}

int convert_rephase_to(vis_set *v, double ra_rad, double dec_rad, const astro_eop *eop,
		       int nthreads, char *err, size_t errlen)
{
	static const astro_eop zero;
	double *bl = NULL, s0d[3] = { 0, 0, 0 };
	int r = 0, drift = v->phase_type == VIS_PHASE_DRIFT, wrows = 0;
	convert_drift_fit fit;
	char wfrom[160] = "";
	size_t rl = (size_t)v->nchan * v->npols;

	if (nthreads <= 0)
		nthreads = omp_get_max_threads();
	/* Small sets: extra threads only spin at the per-integration barriers. */
	if ((double)v->nbls * rl / 2e5 < nthreads)
		nthreads = (double)v->nbls * rl < 2e5 ? 1 : (int)((double)v->nbls * rl / 2e5);
	if (!isfinite(ra_rad) || !isfinite(dec_rad))
		return err_set(err, errlen, -EINVAL, "%s: rephase target not finite", v->name);
	if (!eop)
		eop = &zero;
	bl = malloc((size_t)v->nbls * 3 * sizeof *bl);
	if (!bl) {
		r = err_set(err, errlen, -ENOMEM, "convert: out of memory");
		goto out;
	}
	r = baseline_vectors(v, bl, err, errlen);
	if (r)
		goto out;
	if (drift) {
		/* The drift centre (H = 0, δ0) is fixed to the Earth: w_old = s0·b for
		 * the ECEF direction s0 the file's uvw were computed for (the
		 * header's, or the one fitted to them), or each row's own w when
		 * no single direction explains them (convert.h). */
		drift_fit(v, bl, &fit);
		if (fit.source == CONVERT_W_HEADER || fit.source == CONVERT_W_HEADER_ONLY) {
			meridian_dir(v->lon_rad, v->phase_dec_rad, s0d);
			snprintf(wfrom, sizeof wfrom, " The meridian centre's w from the header's site "
				 "and declination (%s).", fit.source == CONVERT_W_HEADER ?
				 "uvw_array agrees" : "uvw_array does not describe the data");
		} else if (fit.source == CONVERT_W_FIT) {
			meridian_dir(fit.lon_rad, fit.dec_rad, s0d);
			snprintf(wfrom, sizeof wfrom, " The meridian centre's w from uvw_array: longitude "
				 "%+.3f\", declination %+.3f\" from the header's.", fit.dlon_arcsec,
				 fit.ddec_arcsec);
		} else {
			wrows = 1;
			snprintf(wfrom, sizeof wfrom, " The meridian centre's w from each row of uvw_array "
				 "(no single direction fits it: %.3g m).", fit.max_m);
		}
	}
	if (!v->has_pointing_dec && drift) {
		v->pointing_dec_rad = v->phase_dec_rad;
		v->has_pointing_dec = 1;
	}

	for (int t = 0; t < v->ntimes; t++) {
		astro_frame f;
		double q[3][3], qold[3][3], jac[2][2], s0[3], a, d;

		r = astro_frame_init_eop(&f, v->time_jd[t], v->lon_rad, eop);
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
			if (drift && wrows)
				wo = v->uvw_m[row * 3 + 2];
			else if (drift)
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
	 * file's dut1 and lst_array say which value was used); UVH5 has no
	 * polar motion, so the history line carries it. */
	v->dut1_s = eop->dut1_s;
	char pm[96] = "";
	if (eop->xp_rad != 0 || eop->yp_rad != 0)
		snprintf(pm, sizeof pm, ", polar motion x %.4f arcsec, y %.4f arcsec",
			 eop->xp_rad * 648000 / M_PI, eop->yp_rad * 648000 / M_PI);
	if (vis_history_add(v, "contimg rephase: %s to the ICRS centre RA %.6f deg, Dec %+.6f deg "
			    "(uvw in ICRS-aligned axes), UT1 - UTC = %.4f s%s.%s",
			    drift ? "from the meridian (drift) of each integration"
				  : "from a fixed centre",
			    ra_rad * 180 / M_PI, dec_rad * 180 / M_PI, eop->dut1_s, pm, wfrom) < 0)
		r = err_set(err, errlen, -ENOMEM, "%s: out of memory for the history", v->name);
out:
	free(bl);
	return r;
}

int convert_rephase(vis_set *v, const astro_eop *eop, int nthreads, char *err, size_t errlen)
{
	double ra, dec;
	int r = convert_common_centre(v, eop, &ra, &dec, err, errlen);
	if (r)
		return r;
	return convert_rephase_to(v, ra, dec, eop, nthreads, err, errlen);
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
	return fsx_replace(tmp, path, err, errlen); /* durable; tmp goes on failure */
}
