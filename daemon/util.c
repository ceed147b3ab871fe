/*
 * daemon/util.c — clocks, mkdir -p and the log level (see util.h).
 */
#include "daemon/util.h"

#include "core/fsx.h"
#include "core/log.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double util_mono_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

double util_wall_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* mkdir with 0755; a directory it creates is made durable in its parent
 * (core/fsx.h), or a power cut could lose a product dir with its products. */
static int make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	return fsx_sync_parent(path);
}

int util_mkdir_p(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	int r;

	if (n == 0 || n >= sizeof buf)
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	/* Each parent in turn (skipping a leading '/'), then the path itself. */
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if ((r = make_dir(buf)) < 0)
			return r;
		*p = '/';
	}
	return make_dir(buf);
}

void util_apply_log_level(const cfg *c)
{
	int lvl = log_parse_level(cfg_get_str(c, "log", "level", "info"));
	if (lvl >= 0)
		log_set_level(lvl);
}
