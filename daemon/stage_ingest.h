/*
 * daemon/stage_ingest.h — the first stages of the table (daemon/stage_ingest.c):
 *
 *   load     reads every subband file's header (core/uvh5.h), marks the files
 *            that are unreadable, not imageable, a second file for a subband
 *            or inconsistent with the majority as missing (their reason in the
 *            DB, an event, the log), and fails the group (permanently) when
 *            fewer than min_subbands remain;
 *   convert  combines the good files into one visibility set and rephases it
 *            (core/convert.h) from the headers load read and the subband
 *            numbers the DB gave; a file convert finds unusable (its axes or
 *            data unreadable, or inconsistent with the others) counts as
 *            missing from its per-file status, without reading the group
 *            again; chooses the Earth orientation and the pointing;
 *   export   writes the combined set as UVH5 (product "vis") when
 *            [pipeline] export_vis is set.
 *
 * Each is a pipeline stage (daemon/pipe_ctx.h).  convert leaves ctx->vis,
 * which pipe_ctx_release frees (or keeps in ctx->vis_pool): none of these
 * stages needs a release function.
 */
#ifndef CONTIMG_STAGE_INGEST_H
#define CONTIMG_STAGE_INGEST_H

#include <stddef.h>

#include "daemon/pipe_ctx.h"

int stage_load(pipe_ctx *ctx, char *err, size_t errlen);    /* headers, consistency, missing */
int stage_convert(pipe_ctx *ctx, char *err, size_t errlen); /* combine + rephase (core/convert.h) */
int stage_export(pipe_ctx *ctx, char *err, size_t errlen);  /* write the combined vis (UVH5) */

#endif
