/*
 * daemon/stage_calibrate.h — the calibrate stage (daemon/stage_calibrate.c):
 * solves a calibrator group's tables or applies the registered ones to
 * ctx->vis; what it did stays in ctx->cal (and ctx->calibrated).
 */
#ifndef CONTIMG_STAGE_CALIBRATE_H
#define CONTIMG_STAGE_CALIBRATE_H

#include <stddef.h>

#include "daemon/pipe_ctx.h"

int stage_calibrate(pipe_ctx *ctx, char *err, size_t errlen);

/* Frees ctx->cal (the table's release for this stage). */
void stage_calibrate_release(pipe_ctx *ctx);

void cal_result_free(struct cal_result *r);                    /* NULL ok */
int cal_result_applied(const struct cal_result *r, char type); /* 1: a 'K'/'B'/'G' table was applied */
/* Wall seconds of the calibrate stage's parts (0 for parts that did not run). */
void cal_result_timing(const struct cal_result *r, double *ret_model_s, double *ret_solve_s,
		       double *ret_apply_s);
const char *cal_result_calibrator(const struct cal_result *r); /* calibrator solved here, or NULL */
/* Path of the 'K'/'B'/'G' table applied to the group (r's storage), or NULL. */
const char *cal_result_applied_path(const struct cal_result *r, char type);

#endif
