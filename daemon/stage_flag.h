/*
 * daemon/stage_flag.h — the flag stage (daemon/stage_flag.c): RFI flagging of
 * ctx->vis (calib/flag.h), its statistics recorded in the state DB; the
 * report stays in ctx->flags.
 */
#ifndef CONTIMG_STAGE_FLAG_H
#define CONTIMG_STAGE_FLAG_H

#include <stddef.h>

#include "daemon/pipe_ctx.h"

int stage_flag(pipe_ctx *ctx, char *err, size_t errlen);

/* Frees ctx->flags (the table's release for this stage). */
void stage_flag_release(pipe_ctx *ctx);

void flag_report_free(struct flag_report *r);             /* NULL ok */
double flag_report_fraction(const struct flag_report *r); /* NAN if none */

#endif
