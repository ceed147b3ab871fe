/* tests/daemon/test_pipe_ctx.c — the pipeline context (daemon/pipe_ctx.h):
 * its size (it lives on a worker thread's stack), products, the registered
 * stage releases (called once each, newest first), progress and cancel. */
#include "tests/test.h"

#include <errno.h>
#include <sys/stat.h>

#include "core/err.h"
#include "daemon/pipe_ctx.h"
#include "daemon/settings.h"

/* The context as it was before issue 15 (68 char[4096]: four directories and
 * 64 product paths inline) measured 290296 bytes on x86-64. */
#define OLD_SIZEOF_PIPE_CTX 290296

static void test_size(void)
{
	printf("# sizeof(pipe_ctx) = %zu bytes (before issue 15: %d)\n", sizeof(pipe_ctx),
	       OLD_SIZEOF_PIPE_CTX);
	/* A worker's default stack is 8 MiB but libuv's pool threads may be
	 * smaller; 16 KiB leaves room for the stages' own frames. */
	CHECK(sizeof(pipe_ctx) < 16384, "pipe_ctx is %zu bytes", sizeof(pipe_ctx));
}

static void test_products(void)
{
	pipe_ctx ctx;
	char longpath[6000];

	memset(&ctx, 0, sizeof ctx);
	CHECK(pipe_add_product(&ctx, "image", "/a") == 0, "%s", "");
	CHECK(pipe_add_product(&ctx, "image", "/b") == 0, "%s", "");
	CHECK(ctx.nproducts == 1 && !strcmp(pipe_product_path(&ctx, "image"), "/b"), "%s", "");
	CHECK(pipe_add_product(&ctx, "", "/b") == -EINVAL, "%s", "");
	CHECK(pipe_add_product(&ctx, "psf", NULL) == -EINVAL, "%s", "");
	CHECK(pipe_product_path(&ctx, "psf") == NULL, "%s", "");
	/* Paths are copies, not limited to a fixed buffer. */
	memset(longpath, 'x', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = 0;
	CHECK(pipe_add_product(&ctx, "pbcor", longpath) == 0, "%s", "");
	longpath[1] = 'y';
	CHECK(pipe_product_path(&ctx, "pbcor") && pipe_product_path(&ctx, "pbcor")[1] == 'x' &&
	      strlen(pipe_product_path(&ctx, "pbcor")) == sizeof longpath - 1, "%s", "a copy");
	for (int i = ctx.nproducts; i < PIPE_MAX_PRODUCTS; i++) {
		char name[16];
		snprintf(name, sizeof name, "p%d", i);
		CHECK(pipe_add_product(&ctx, name, "/p") == 0, "%s", name);
	}
	CHECK(pipe_add_product(&ctx, "one-too-many", "/p") == -ENOSPC, "%s", "");
	CHECK(pipe_add_product(&ctx, "image", "/c") == 0, "%s", "replacing still works");
	pipe_ctx_release(&ctx);
	CHECK(ctx.nproducts == 0, "%s", "released");
}

/* Two "stages" that leave results in the context, and their releases. */
static char order[8];
static int norder;

static void release_a(pipe_ctx *ctx)
{
	free(ctx->flags); /* stands for stage A's result */
	ctx->flags = NULL;
	order[norder++] = 'a';
}

static void release_b(pipe_ctx *ctx)
{
	/* B's result may refer to A's: A must still be there. */
	CHECK(ctx->flags != NULL, "%s", "A's result is freed after B's");
	free(ctx->cal);
	ctx->cal = NULL;
	order[norder++] = 'b';
}

static void test_release(void)
{
	pipe_ctx ctx;

	memset(&ctx, 0, sizeof ctx);
	ctx.flags = malloc(16);
	ctx.cal = malloc(16);
	ctx.products_dir = strdup("/p");
	CHECK(pipe_ctx_on_release(&ctx, release_a) == 0, "%s", "");
	CHECK(pipe_ctx_on_release(&ctx, release_b) == 0, "%s", "");
	CHECK(pipe_ctx_on_release(&ctx, release_a) == 0 && ctx.nrelease == 2, "nrelease %d",
	      ctx.nrelease);
	CHECK(pipe_ctx_on_release(&ctx, NULL) == -EINVAL, "%s", "");
	norder = 0;
	pipe_ctx_release(&ctx);
	order[norder] = 0;
	printf("# release order: %s\n", order);
	CHECK(!strcmp(order, "ba"), "order '%s'", order);
	CHECK(ctx.flags == NULL && ctx.cal == NULL && ctx.nrelease == 0 && !ctx.products_dir,
	      "%s", "zeroed");
	/* Released twice: nothing more is called. */
	pipe_ctx_release(&ctx);
	CHECK(norder == 2, "%d calls", norder);
}

static int progress_calls;
static void on_progress(void *arg, const char *stage)
{
	CHECK(arg == (void *)&progress_calls && !strcmp(stage, "convert"), "%s", stage);
	progress_calls++;
}

static void test_hooks(void)
{
	pipe_ctx ctx;
	volatile int stop = 0;

	memset(&ctx, 0, sizeof ctx);
	pipe_progress(&ctx); /* no hook: nothing happens */
	CHECK(!pipe_cancelled(&ctx), "%s", "no cancel flag");
	ctx.progress_cb = on_progress;
	ctx.progress_arg = &progress_calls;
	snprintf(ctx.stage, sizeof ctx.stage, "convert");
	pipe_progress(&ctx);
	CHECK(progress_calls == 1, "%d", progress_calls);
	ctx.cancel = &stop;
	CHECK(!pipe_cancelled(&ctx), "%s", "");
	stop = 1;
	CHECK(pipe_cancelled(&ctx), "%s", "");
	CHECK(!strcmp(pipe_str(NULL), "") && !strcmp(pipe_str("x"), "x"), "%s", "");
}

static void touch(const char *dir, const char *name)
{
	char p[1200];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w");
	if (f) {
		fputs("x", f);
		fclose(f);
	}
}

static int exists(const char *dir, const char *name)
{
	char p[1200];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

/* What a killed run leaves (planted here, named as the writers name them:
 * fitsout "NAME.tmpPID", convert_export "NAME.tmp", the caltable writer
 * "GROUP_CAL_TYPE.h5.tmp", the scratch copies of convert's staging) goes when
 * the group's next run starts; products and other groups' files stay. */
static void test_clean_leftovers(void)
{
	char out[600], cal[600], scr[600], grp[700], err[4 * ERR_LEN] = "", *e = err, ini[1400];
	const char *g = "2026-03-01T05:49:14";
	contimg_config *conf = NULL;
	pipe_ctx ctx;
	cfg *c = NULL;

	snprintf(out, sizeof out, "%s/prod", test_tmpdir());
	snprintf(cal, sizeof cal, "%s/cal", test_tmpdir());
	snprintf(scr, sizeof scr, "%s/scratch", test_tmpdir());
	snprintf(grp, sizeof grp, "%s/%s", scr, g);
	mkdir(out, 0755);
	mkdir(cal, 0755);
	mkdir(scr, 0755);
	mkdir(grp, 0755);
	touch(out, "image.fits.tmp81234");
	touch(out, "2026-03-01T05:49:14.uvh5.tmp");
	touch(out, "image.fits");
	touch(cal, "2026-03-01T05:49:14_3C286_B.h5.tmp");
	touch(cal, "2026-03-01T05:54:14_3C286_B.h5.tmp"); /* another group's, in flight */
	touch(cal, "2026-03-01T05:49:14_3C286_B.h5");
	touch(grp, "2026-03-01T05:49:14_sb00.hdf5");
	touch(grp, "2026-03-01T05:49:15_sb01.hdf5");
	snprintf(ini, sizeof ini, "[calibrate]\ncaltables_dir = %s\n", cal);
	CHECK_OK(cfg_load_string(ini, &c, err, sizeof err), e);
	CHECK_OK(contimg_config_new(c, &conf, err, sizeof err), e);
	memset(&ctx, 0, sizeof ctx);
	snprintf(ctx.group_name, sizeof ctx.group_name, "%s", g);
	ctx.out_dir = out;
	ctx.scratch_dir = scr;
	ctx.conf = conf;
	int n = pipe_ctx_clean_leftovers(&ctx);
	printf("# removed %d leftovers (want 5: 2 temporaries, 1 caltable temporary, 2 scratch "
	       "copies)\n", n);
	CHECK(n == 5, "%d", n);
	CHECK(!exists(out, "image.fits.tmp81234") && !exists(out, "2026-03-01T05:49:14.uvh5.tmp"));
	CHECK(exists(out, "image.fits"), "a product is never removed");
	CHECK(!exists(cal, "2026-03-01T05:49:14_3C286_B.h5.tmp"));
	CHECK(exists(cal, "2026-03-01T05:54:14_3C286_B.h5.tmp"), "another group's temporary");
	CHECK(exists(cal, "2026-03-01T05:49:14_3C286_B.h5"));
	CHECK(access(grp, F_OK) != 0, "the scratch directory is gone");
	CHECK(pipe_ctx_clean_leftovers(&ctx) == 0, "nothing left the second time");
	contimg_config_free(conf);
	cfg_free(c);
}

int main(void)
{
	RUN(test_size);
	RUN(test_products);
	RUN(test_release);
	RUN(test_hooks);
	RUN(test_clean_leftovers);
	return TEST_DONE();
}
