/*
 * daemon/util.c — mkdir -p and the ISO time stamp (see util.h).
 */
#include "daemon/util.h"

#include "core/fsx.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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

void util_iso_utc(double t_unix, char *buf, size_t len)
{
	time_t s = (time_t)floor(t_unix); /* the second it is in, before 1970 too */
	struct tm tm;

	if (len == 0)
		return;
	/* strftime leaves buf undefined when it does not fit: say nothing then. */
	if (!gmtime_r(&s, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = 0;
}
