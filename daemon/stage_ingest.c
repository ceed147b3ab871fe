/*
 * daemon/stage_ingest.c — the first stages of the table: load, convert,
 * export (see stage_ingest.h).
 */
#define _GNU_SOURCE /* copy_file_range */
#include "daemon/stage_ingest.h"
#include "daemon/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/convert.h"
#include "core/err.h"
#include "core/log.h"
#include "daemon/pointing.h"
#include "daemon/util.h"
#include "state/queue.h"

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ---- stage: load ---- */

/* The header fields every subband of a group must share. */
static int headers_agree(const uvh5_header *a, const uvh5_header *b, char *what, size_t len)
{
#define DIFF(cond, name)                                      \
	do {                                                  \
		if (cond) {                                   \
			snprintf(what, len, "%s", name);      \
			return 0;                             \
		}                                             \
	} while (0)
	DIFF(a->ntimes != b->ntimes, "Ntimes");
	DIFF(a->nbls != b->nbls, "Nbls");
	DIFF(a->nblts != b->nblts, "Nblts");
	DIFF(a->npols != b->npols, "Npols");
	DIFF(memcmp(a->pols, b->pols, sizeof a->pols), "polarization_array");
	DIFF(a->nfreqs != b->nfreqs, "Nfreqs");
	DIFF(a->nants_telescope != b->nants_telescope, "Nants_telescope");
	DIFF(fabs(a->time_start_jd - b->time_start_jd) * 86400 > 1.0, "time_array");
	DIFF(fabs(a->time_end_jd - b->time_end_jd) * 86400 > 1.0, "time_array");
	DIFF(fabs(a->channel_width_hz - b->channel_width_hz) > 1e-3 * fabs(a->channel_width_hz),
	     "channel_width");
	DIFF(a->has_dec != b->has_dec || (a->has_dec && fabs(a->dec_rad - b->dec_rad) > 1e-6),
	     "phase_center_dec");
#undef DIFF
	return 1;
}

int stage_load(pipe_ctx *ctx, char *err, size_t errlen)
{
	char (*reason)[ERR_LEN + 64] = NULL, what[64];
	int ref = -1, best = -1, r = 0;

	if (ctx->nfiles == 0) {
		ctx->permanent = 1;
		return err_set(err, errlen, -ENOENT, "group %s has no subband files", ctx->group_name);
	}
	reason = calloc((size_t)ctx->nfiles, sizeof *reason);
	if (!reason)
		return err_set(err, errlen, -ENOMEM, "out of memory");

	/* Headers and the axes the subbands must agree on (core/convert.h
	 * convert_sub_read): cheap next to the data, enough to find unreadable
	 * files before the expensive read, and convert takes them from here
	 * instead of reading them again. */
	for (int i = 0; i < ctx->nfiles; i++) {
		char e[ERR_LEN] = "";
		int rr;
		ctx->file_ok[i] = 0;
		convert_sub_free(ctx->sub[i]);
		ctx->sub[i] = NULL;
		rr = convert_sub_read(ctx->files[i], &ctx->sub[i], e, sizeof e);
		if (rr == -ENOMEM) {
			r = err_set(err, errlen, rr, "%s", e);
			goto out;
		}
		if (rr < 0) {
			snprintf(reason[i], sizeof reason[i], "unreadable: %s", e);
			pipe_progress(ctx);
			continue;
		}
		ctx->hdr[i] = *convert_sub_header(ctx->sub[i]);
		if (!ctx->hdr[i].imageable) {
			snprintf(reason[i], sizeof reason[i], "not usable: %s",
				 ctx->hdr[i].not_imageable);
		} else {
			ctx->file_ok[i] = 1;
		}
		pipe_progress(ctx);
	}
	ctx->hdr_read = 1;
	for (int i = 1; i < ctx->nfiles; i++)
		if (ctx->subband[i] == ctx->subband[i - 1] && ctx->file_ok[i - 1] && ctx->file_ok[i]) {
			ctx->file_ok[i] = 0;
			snprintf(reason[i], sizeof reason[i], "second file for subband %d",
				 ctx->subband[i]);
		}

	/* The reference is the readable header most others agree with, so one
	 * odd file is blamed rather than the fifteen good ones. */
	for (int i = 0; i < ctx->nfiles; i++) {
		int votes = 0;
		if (!ctx->file_ok[i])
			continue;
		for (int j = 0; j < ctx->nfiles; j++)
			votes += ctx->file_ok[j] && headers_agree(&ctx->hdr[i], &ctx->hdr[j], what,
								  sizeof what);
		if (votes > best) {
			best = votes;
			ref = i;
		}
	}
	for (int i = 0; ref >= 0 && i < ctx->nfiles; i++)
		if (ctx->file_ok[i] && !headers_agree(&ctx->hdr[ref], &ctx->hdr[i], what, sizeof what)) {
			ctx->file_ok[i] = 0;
			snprintf(reason[i], sizeof reason[i], "inconsistent with %s: %s differs",
				 base_name(ctx->files[ref]), what);
		}

	ctx->ngood = 0;
	for (int i = 0; i < ctx->nfiles; i++) {
		int w = queue_set_file_status(ctx->db, ctx->file_ids[i],
					      ctx->file_ok[i] ? NULL : reason[i], err, errlen);
		if (w < 0) {
			r = w;
			goto out;
		}
		if (ctx->file_ok[i]) {
			ctx->ngood++;
		} else {
			char msg[ERR_LEN + 400];
			snprintf(msg, sizeof msg, "%s counts as missing: %s", base_name(ctx->files[i]),
				 reason[i]);
			log_msg(LOG_WARNING, ctx->group_name, "load", ctx->subband[i], "%s", msg);
			queue_event(ctx->db, ctx->group_id, "missing", "load", msg, NULL, 0);
		}
	}
	if (ctx->ngood < ctx->min_subbands) {
		size_t len;
		ctx->permanent = 1;
		char absent[256] = "";
		size_t k = 0;
		for (int sb = 0; sb < ctx->nsubbands; sb++) {
			int have = 0;
			for (int i = 0; i < ctx->nfiles; i++)
				have |= ctx->subband[i] == sb;
			if (!have && k + 8 < sizeof absent)
				k += (size_t)snprintf(absent + k, sizeof absent - k, "%ssb%02d",
						      k ? ", " : "", sb);
		}
		r = err_set(err, errlen, -EIO, "%d good subbands of %d (min_subbands %d)%s%s",
			    ctx->ngood, ctx->nsubbands, ctx->min_subbands, k ? "; absent: " : "",
			    absent);
		for (int i = 0; i < ctx->nfiles; i++) {
			if (ctx->file_ok[i])
				continue;
			len = strlen(err);
			if (len + 8 >= errlen)
				break;
			snprintf(err + len, errlen - len, "; %s: %s", base_name(ctx->files[i]),
				 reason[i]);
		}
	}
out:
	free(reason);
	return r;
}

/* ---- stage: convert ---- */

/* File i of the group counts as missing from now on: the reason goes into
 * its record (contimgctl show), an event and the log. */
static void file_missing(pipe_ctx *ctx, int i, const char *stage, const char *why)
{
	char msg[ERR_LEN + 400];

	snprintf(msg, sizeof msg, "%s counts as missing: %s", base_name(ctx->files[i]), why);
	log_msg(LOG_WARNING, ctx->group_name, stage, ctx->subband[i], "%s", msg);
	queue_event(ctx->db, ctx->group_id, "missing", stage, msg, NULL, 0);
	queue_set_file_status(ctx->db, ctx->file_ids[i], why, NULL, 0);
	ctx->file_ok[i] = 0;
	ctx->ngood--;
}

/* The centre the files' uvw_array were computed for against the header's
 * site and declination (core/convert.h): log it, and warn (log and a
 * "warning" event in the group's record) when it disagrees by more than
 * [pipeline] uvw_tolerance_arcsec or no single centre explains the uvw. */
static void report_drift_fit(pipe_ctx *ctx, const convert_drift_fit *g)
{
	double tol = ctx->conf->pipe.uvw_tolerance_arcsec;
	char msg[700] = "";

	if (g->source == CONVERT_W_HEADER_ONLY)
		snprintf(msg, sizeof msg, "uvw_array does not describe the data (%s): the rephasing "
			 "uses the header's site and declination", g->fitted && g->sep_arcsec > 1800 ?
			 "its centre is more than 0.5 deg from the header's" : "all zero");
	else if (g->source == CONVERT_W_ROWS)
		snprintf(msg, sizeof msg, "uvw_array is not the projection of the baselines on one "
			 "direction (largest residual %.3g m over %d rows): the rephasing takes the w of "
			 "the meridian centre from each row as it is", g->max_m, g->nrows);
	else if (g->fitted && (fabs(g->dlon_arcsec) > tol || fabs(g->ddec_arcsec) > tol))
		snprintf(msg, sizeof msg, "uvw_array was computed for the meridian of longitude "
			 "%.6f deg at declination %+.6f deg, %+.2f\" in longitude and %+.2f\" in "
			 "declination from Header/longitude and phase_center_dec (more than "
			 "uvw_tolerance_arcsec %g): the rephasing uses the uvw's centre; with the "
			 "header's, every source would be %.2f\" off; check the site the correlator's "
			 "writer uses", g->lon_rad * 180 / M_PI, g->dec_rad * 180 / M_PI, g->dlon_arcsec,
			 g->ddec_arcsec, tol, g->sep_arcsec);
	if (msg[0]) {
		log_msg(LOG_WARNING, ctx->group_name, "convert", -1, "%s", msg);
		queue_event(ctx->db, ctx->group_id, "warning", "convert", msg, NULL, 0);
	} else if (g->fitted) {
		log_msg(LOG_DEBUG, ctx->group_name, "convert", -1, "uvw_array: meridian centre "
			"%+.3f\" in longitude, %+.3f\" in declination from the header's (rms %.2g m "
			"over %d rows)", g->dlon_arcsec, g->ddec_arcsec, g->rms_m, g->nrows);
	}
}

/* Copy src to dst (replacing it) with copy_file_range, falling back to
 * read/write across file systems that do not support it. */
static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
	char buf[1 << 16];
	int in = -1, out = -1, r = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_set(err, errlen, -errno, "%s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		r = err_set(err, errlen, -errno, "%s: %s", dst, strerror(errno));
		goto out;
	}
	while ((n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0)) > 0)
		;
	if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
		      errno == EOPNOTSUPP)) {
		while ((n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n) {
				n = -1;
				break;
			}
	}
	if (n < 0)
		r = err_set(err, errlen, -errno, "copy %s → %s: %s", src, dst, strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && r == 0)
		r = err_set(err, errlen, -errno, "%s: %s", dst, strerror(errno));
	return r;
}

/* [paths] scratch_dir set: copy the good subband files into
 * scratch_dir/<group>/ (a tmpfs on the correlator node) and read them from
 * there.  staged[i] gets the copy's path; the caller removes them. */
static int stage_in(pipe_ctx *ctx, char **staged, char *dir, size_t dirlen, char *err,
		    size_t errlen)
{
	int r;

	if ((size_t)snprintf(dir, dirlen, "%s/%s", ctx->scratch_dir, ctx->group_name) >= dirlen)
		return err_set(err, errlen, -ENAMETOOLONG, "scratch_dir too long");
	r = util_mkdir_p(dir);
	if (r < 0)
		return err_set(err, errlen, r, "%s: %s", dir, strerror(-r));
	for (int i = 0; i < ctx->nfiles; i++) {
		if (!ctx->file_ok[i])
			continue;
		size_t len = strlen(dir) + strlen(base_name(ctx->files[i])) + 2;
		staged[i] = malloc(len);
		if (!staged[i])
			return err_set(err, errlen, -ENOMEM, "out of memory");
		snprintf(staged[i], len, "%s/%s", dir, base_name(ctx->files[i]));
		r = copy_file(ctx->files[i], staged[i], err, errlen);
		if (r < 0)
			return r;
		pipe_progress(ctx);
	}
	return 0;
}

static void stage_out(pipe_ctx *ctx, char **staged, const char *dir)
{
	for (int i = 0; i < ctx->nfiles; i++) {
		if (staged[i])
			unlink(staged[i]);
		free(staged[i]);
		staged[i] = NULL;
	}
	if (dir[0])
		rmdir(dir);
}

/* The Earth orientation of the group (daemon/earth.h) at its mid time, from
 * the headers load read: logged (a warning when the table is missing or
 * stale) and recorded as the group's "eop" event. */
static int choose_eop(pipe_ctx *ctx, char *err, size_t errlen)
{
	earth_choice c;
	double mid = NAN;

	for (int i = 0; i < ctx->nfiles && !(mid > 0); i++) {
		uvh5_header h = ctx->hdr[i];
		/* Without the load stage ([pipeline] stages) the headers are unread. */
		if (!ctx->file_ok[i] || (!(h.time_start_jd > 0) &&
					 uvh5_read_header(ctx->files[i], &h, NULL, 0) < 0))
			continue;
		mid = 0.5 * (h.time_start_jd + h.time_end_jd);
	}
	if (!(mid > 0) || earth_for_group(&ctx->earth, ctx->eop_table, mid - 2400000.5, &c) < 0) {
		ctx->permanent = 1;
		return err_set(err, errlen, -EINVAL, "no Earth orientation for the group's time (JD %.5f)",
			       mid);
	}
	ctx->eop = c.eop;
	snprintf(ctx->eop_text, sizeof ctx->eop_text, "%s", c.text);
	log_msg(c.warn ? LOG_WARNING : LOG_INFO, ctx->group_name, "convert", -1,
		"Earth orientation: %s", c.text);
	queue_event(ctx->db, ctx->group_id, "eop", "convert", c.text, NULL, 0);
	return 0;
}

int stage_convert(pipe_ctx *ctx, char *err, size_t errlen)
{
	char **staged = NULL, sdir[4200] = "";
	convert_input *in = NULL;
	int *fidx = NULL, n = 0;
	convert_params p;
	convert_info *info = NULL;
	vis_set *v = NULL;
	int r;

	in = calloc((size_t)ctx->nfiles + 1, sizeof *in);
	fidx = calloc((size_t)ctx->nfiles + 1, sizeof *fidx);
	staged = calloc((size_t)ctx->nfiles + 1, sizeof *staged);
	info = calloc(1, sizeof *info);
	if (!in || !fidx || !staged || !info) {
		r = err_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if (pipe_str(ctx->scratch_dir)[0]) {
		r = stage_in(ctx, staged, sdir, sizeof sdir, err, errlen);
		if (r < 0)
			goto out;
	}
	convert_params_default(&p);
	p.nsub_expected = ctx->nsubbands;
	p.nthreads = ctx->threads;
	r = choose_eop(ctx, err, errlen);
	if (r < 0)
		goto out;
	p.dut1_s = ctx->eop.dut1_s;
	p.xp_rad = ctx->eop.xp_rad;
	p.yp_rad = ctx->eop.yp_rad;
	if (ctx->vis_pool && !ctx->vis)
		p.reuse = *ctx->vis_pool;
	/* The good files with the subband numbers the DB gave and what load
	 * read of them (a staged copy is read from scratch_dir). */
	for (int i = 0; i < ctx->nfiles; i++)
		if (ctx->file_ok[i]) {
			fidx[n] = i;
			in[n].path = staged[i] ? staged[i] : ctx->files[i];
			in[n].subband = ctx->subband[i];
			in[n].sub = ctx->sub ? ctx->sub[i] : NULL;
			n++;
		}
	/* A subband whose axes or data (not just header) turn out unreadable
	 * counts as missing, like one that failed in load: convert leaves it out
	 * and goes on while min_subbands remain, and says which and why in
	 * info->file[]. */
	p.min_usable = ctx->min_subbands;
	r = convert_load_inputs(in, n, &p, &v, info, err, errlen);
	for (int j = 0; j < n; j++)
		if (info->file[j].status == CONVERT_FILE_UNUSABLE && !(r < 0 && j == info->failed_file))
			file_missing(ctx, fidx[j], "convert", info->file[j].reason);
	if (r < 0) {
		/* Inconsistent input as a whole (no majority of the subbands
		 * agrees) will not get better by retrying; one unreadable file too
		 * many may (a file still being copied). */
		if (info->failed_file < 0 && r == -EINVAL)
			ctx->permanent = 1;
		goto out;
	}
	/* Subbands that disagree with the majority were left out (their channels
	 * flagged): they count as missing, with the reason. */
	for (int j = 0; j < n; j++)
		if (info->file[j].status == CONVERT_FILE_DROPPED)
			file_missing(ctx, fidx[j], "convert", info->file[j].reason);
	if (p.reuse && v == p.reuse)
		*ctx->vis_pool = NULL; /* the pooled buffer now belongs to ctx */
	else if (ctx->vis_pool && *ctx->vis_pool) {
		/* A new shape: drop the old buffer rather than hold two. */
		vis_free(*ctx->vis_pool);
		*ctx->vis_pool = NULL;
	}
	vis_free(ctx->vis);
	ctx->vis = v;
	snprintf(ctx->vis->name, sizeof ctx->vis->name, "%s", ctx->group_name);
	/* DSA-110's correlator files do not say how the X feed is oriented;
	 * the operator's [pipeline] x_orientation does when set.  A file that
	 * says it itself keeps its own. */
	if (!ctx->vis->x_orientation[0] && ctx->x_orientation[0])
		snprintf(ctx->vis->x_orientation, sizeof ctx->vis->x_orientation, "%s",
			 ctx->x_orientation);
	log_msg(LOG_INFO, ctx->group_name, "convert", -1,
		"%d subbands, %d channels; read %.2f s, rephase %.2f s%s", info->nsub_present,
		ctx->vis->nchan, info->read_s, info->rephase_s, sdir[0] ? " (staged)" : "");
	if (info->has_drift_fit)
		report_drift_fit(ctx, &info->drift_fit);
	if (ctx->ngood < ctx->min_subbands) {
		/* The set stays in ctx (its buffer goes back to the pool). */
		ctx->permanent = 1;
		r = err_set(err, errlen, -EIO, "%d good subbands of %d (min_subbands %d) after "
			    "leaving out those that disagree with the others", ctx->ngood,
			    ctx->nsubbands, ctx->min_subbands);
		for (int k = 0; k < CONVERT_MAX_SUB; k++) {
			size_t len = strlen(err);
			if (!(info->dropped_mask & (1u << k)) || len + 8 >= errlen)
				continue;
			snprintf(err + len, errlen - len, "; sb%02d %s", k, info->dropped_reason[k]);
		}
		goto out;
	}
	/* Where the dishes point: the files' declination or an override. */
	r = pipe_pointing_resolve(ctx, err, errlen);
out:
	if (staged)
		stage_out(ctx, staged, sdir);
	free(staged);
	free(in);
	free(fidx);
	free(info);
	return r;
}

/* ---- stage: export ---- */

int stage_export(pipe_ctx *ctx, char *err, size_t errlen)
{
	char path[4200];
	int r;

	if (!ctx->export_vis)
		return PIPE_SKIPPED;
	if (!ctx->vis)
		return err_set(err, errlen, -EINVAL, "no combined visibilities to export");
	if ((size_t)snprintf(path, sizeof path, "%s/%s.uvh5", ctx->out_dir, ctx->group_name) >=
	    sizeof path)
		return err_set(err, errlen, -ENAMETOOLONG, "export path too long");
	/* convert_export writes "<path>.tmp" and renames: a crash never leaves
	 * a half-written file under the product's name. */
	r = convert_export(path, ctx->vis, err, errlen);
	if (r < 0)
		return r;
	return pipe_add_product(ctx, "vis", path) < 0
		       ? err_set(err, errlen, -ENOSPC, "too many products") : 0;
}
