/*
 * daemon/pipe_ctx.c — the pipeline context (see pipe_ctx.h).
 */
#include "daemon/pipe_ctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/convert.h"
#include "core/err.h"
#include "core/fsx.h"
#include "daemon/settings.h"
#include "state/queue.h"

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

void pipe_ctx_release(pipe_ctx *ctx)
{
	if (!ctx)
		return;
	/* Later stages' results may refer to earlier ones (the photometry to
	 * the image): free the newest first. */
	for (int i = ctx->nrelease - 1; i >= 0; i--)
		ctx->release[i](ctx);
	for (int i = 0; ctx->files && i < ctx->nfiles; i++)
		free(ctx->files[i]);
	free(ctx->files);
	free(ctx->subband);
	free(ctx->file_ids);
	free(ctx->file_ok);
	free(ctx->hdr);
	for (int i = 0; ctx->sub && i < ctx->nfiles; i++)
		convert_sub_free(ctx->sub[i]);
	free(ctx->sub);
	if (ctx->vis_pool && ctx->vis) {
		/* Keep the newest buffer for the next group; the pool holds one. */
		if (*ctx->vis_pool != ctx->vis)
			vis_free(*ctx->vis_pool);
		*ctx->vis_pool = ctx->vis;
	} else {
		vis_free(ctx->vis);
	}
	for (int i = 0; i < ctx->nproducts; i++)
		free(ctx->products[i].path);
	free(ctx->products_dir);
	free(ctx->state_dir);
	free(ctx->scratch_dir);
	free(ctx->out_dir);
	eop_table_free(ctx->eop_table);
	cfg_free(ctx->cfg);
	memset(ctx, 0, sizeof *ctx);
}

int pipe_ctx_on_release(pipe_ctx *ctx, pipe_release_fn fn)
{
	if (!fn)
		return -EINVAL;
	for (int i = 0; i < ctx->nrelease; i++)
		if (ctx->release[i] == fn)
			return 0;
	if (ctx->nrelease >= PIPE_MAX_STAGES)
		return -ENOSPC;
	ctx->release[ctx->nrelease++] = fn;
	return 0;
}

int pipe_ctx_setup(pipe_ctx *ctx, const cfg *c, const pipe_ctx_params *p, sqlite3 *db,
		   int64_t group_id, char *err, size_t errlen)
{
	queue_file *f = NULL;
	size_t len;
	int n = 0, r;

	memset(ctx, 0, sizeof *ctx);
	ctx->cfg = cfg_ref(c);
	ctx->db = db;
	ctx->group_id = group_id;
	ctx->threads = p->threads;
	ctx->nsubbands = p->nsubbands;
	ctx->min_subbands = p->min_subbands;
	ctx->export_vis = p->export_vis;
	snprintf(ctx->x_orientation, sizeof ctx->x_orientation, "%s", pipe_str(p->x_orientation));
	ctx->earth = p->earth;
	ctx->eop_table = earth_table_get();
	ctx->products_dir = dup_or_empty(p->products_dir);
	ctx->state_dir = dup_or_empty(p->state_dir);
	ctx->scratch_dir = dup_or_empty(p->scratch_dir);
	if (!ctx->products_dir || !ctx->state_dir || !ctx->scratch_dir) {
		r = err_set(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	r = queue_group_name(db, group_id, ctx->group_name, sizeof ctx->group_name, err, errlen);
	if (r < 0)
		goto fail;
	if (queue_parse_group_name(ctx->group_name, NULL) < 0) {
		r = err_set(err, errlen, -EINVAL, "group name '%s' is malformed", ctx->group_name);
		goto fail;
	}
	/* products_dir/YYYY-MM-DD/<group>/: one directory per observing day.
	 * The limit is the one the fixed buffer had: paths the file system
	 * takes. */
	len = strlen(ctx->products_dir) + 2 * strlen(ctx->group_name) + 3;
	if (len >= 4096) {
		r = err_set(err, errlen, -ENAMETOOLONG, "products_dir too long");
		goto fail;
	}
	ctx->out_dir = malloc(len);
	if (!ctx->out_dir) {
		r = err_set(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(ctx->out_dir, len, "%s/%.10s/%s", ctx->products_dir, ctx->group_name,
		 ctx->group_name);
	r = queue_files(db, group_id, &f, &n, err, errlen);
	if (r < 0)
		goto fail;
	ctx->files = calloc((size_t)n + 1, sizeof *ctx->files);
	ctx->subband = calloc((size_t)n + 1, sizeof *ctx->subband);
	ctx->file_ids = calloc((size_t)n + 1, sizeof *ctx->file_ids);
	ctx->file_ok = calloc((size_t)n + 1, sizeof *ctx->file_ok);
	ctx->hdr = calloc((size_t)n + 1, sizeof *ctx->hdr);
	ctx->sub = calloc((size_t)n + 1, sizeof *ctx->sub);
	if (!ctx->files || !ctx->subband || !ctx->file_ids || !ctx->file_ok || !ctx->hdr ||
	    !ctx->sub) {
		r = err_set(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		ctx->files[i] = f[i].path;
		f[i].path = NULL;
		ctx->subband[i] = f[i].subband;
		ctx->file_ids[i] = f[i].id;
		ctx->file_ok[i] = 1;
		ctx->nfiles++;
	}
	ctx->ngood = n;
	queue_files_free(f, n);
	return 0;
fail:
	queue_files_free(f, n);
	pipe_ctx_release(ctx);
	return r;
}

int pipe_add_product(pipe_ctx *ctx, const char *name, const char *path)
{
	char *copy;

	if (!name || !*name || strlen(name) >= PIPE_NAME_LEN || !path)
		return -EINVAL;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	for (int i = 0; i < ctx->nproducts; i++)
		if (!strcmp(ctx->products[i].name, name)) {
			free(ctx->products[i].path);
			ctx->products[i].path = copy;
			return 0;
		}
	if (ctx->nproducts >= PIPE_MAX_PRODUCTS) {
		free(copy);
		return -ENOSPC;
	}
	snprintf(ctx->products[ctx->nproducts].name, PIPE_NAME_LEN, "%s", name);
	ctx->products[ctx->nproducts].path = copy;
	ctx->nproducts++;
	return 0;
}

const char *pipe_product_path(const pipe_ctx *ctx, const char *name)
{
	for (int i = 0; i < ctx->nproducts; i++)
		if (!strcmp(ctx->products[i].name, name))
			return ctx->products[i].path;
	return NULL;
}

/* Every regular file in dir, then dir itself (a scratch directory holds only
 * copies).  Returns the number of files removed. */
static int remove_scratch(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && unlinkat(dirfd(d), e->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	rmdir(dir);
	return n;
}

int pipe_ctx_clean_leftovers(pipe_ctx *ctx)
{
	char dir[4200], prefix[64];
	int n = 0, r;

	if (pipe_str(ctx->out_dir)[0] && (r = fsx_remove_temporaries(ctx->out_dir, NULL)) > 0)
		n += r;
	if (ctx->conf && ctx->conf->calibrate.caltables_dir[0]) {
		snprintf(prefix, sizeof prefix, "%s_", ctx->group_name);
		r = fsx_remove_temporaries(ctx->conf->calibrate.caltables_dir, prefix);
		if (r > 0)
			n += r;
	}
	if (pipe_str(ctx->scratch_dir)[0] && ctx->group_name[0] &&
	    (size_t)snprintf(dir, sizeof dir, "%s/%s", ctx->scratch_dir, ctx->group_name) <
		    sizeof dir)
		n += remove_scratch(dir);
	return n;
}

void pipe_progress(pipe_ctx *ctx)
{
	if (ctx->progress_cb)
		ctx->progress_cb(ctx->progress_arg, ctx->stage);
}

int pipe_cancelled(const pipe_ctx *ctx)
{
	return ctx->cancel && *ctx->cancel;
}
