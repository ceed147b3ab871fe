/*
 * daemon/stage_image.h — the image stage (daemon/stage_image.c): images
 * ctx->vis (imaging/image.h), writes the FITS products and registers them;
 * the result stays in ctx->image.
 */
#ifndef CONTIMG_STAGE_IMAGE_H
#define CONTIMG_STAGE_IMAGE_H

#include <stddef.h>

#include "core/config.h"
#include "daemon/pipe_ctx.h"

struct image_params;

int stage_image(pipe_ctx *ctx, char *err, size_t errlen);

/* Frees ctx->image (the table's release for this stage); its images go back
 * to ctx->pool, which must still exist. */
void stage_image_release(pipe_ctx *ctx);

/* [image] → image parameters (contimgctl process may cfg_set [image] keys
 * before running the pipeline). */
int stage_image_params(const cfg *c, struct image_params *p, char *err, size_t errlen);

#endif
