/*
 * core/fsx.c — durable replacement of a file (fsx.h).
 */
#include "core/fsx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"

static fsx_hook_fn hook_fn;
static void *hook_arg;

static const char *const step_names[] = { NULL, "written", "synced", "renamed", "dir_synced" };

const char *fsx_step_name(int step)
{
	return step >= FSX_WRITTEN && step <= FSX_DIR_SYNCED ? step_names[step] : NULL;
}

int fsx_step_parse(const char *s)
{
	for (int i = FSX_WRITTEN; s && i <= FSX_DIR_SYNCED; i++)
		if (!strcmp(s, step_names[i]))
			return i;
	return -EINVAL;
}

void fsx_set_hook(fsx_hook_fn fn, void *arg)
{
	hook_arg = arg;
	hook_fn = fn;
}

static void step(int s, const char *path)
{
	if (hook_fn)
		hook_fn(s, path, hook_arg);
}

static int sync_path(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	int r = 0;

	if (fd < 0)
		return -errno;
	/* EINVAL: a file system that cannot sync this kind of file (some do not
	 * sync directories); there is nothing more we could do. */
	if (fsync(fd) < 0 && errno != EINVAL)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int fsx_sync_file(const char *path)
{
	return sync_path(path, 0);
}

int fsx_sync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash)
		return sync_path(".", O_DIRECTORY);
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof dir)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = 0;
	return sync_path(dir, O_DIRECTORY);
}

int fsx_replace(const char *tmp, const char *path, char *err, size_t errlen)
{
	int r;

	step(FSX_WRITTEN, path);
	r = fsx_sync_file(tmp);
	if (r < 0) {
		err_set(err, errlen, r, "%s: fsync %s: %s", path, tmp, strerror(-r));
		goto fail;
	}
	step(FSX_SYNCED, path);
	if (rename(tmp, path) < 0) {
		r = err_set(err, errlen, -errno, "%s: rename %s: %s", path, tmp, strerror(errno));
		goto fail;
	}
	step(FSX_RENAMED, path);
	r = fsx_sync_parent(path);
	if (r < 0)
		return err_set(err, errlen, r, "%s: directory fsync: %s", path, strerror(-r));
	step(FSX_DIR_SYNCED, path);
	return 0;
fail:
	unlink(tmp);
	return r;
}

/* ".tmp" or ".tmp" followed by digits at the end of name. */
static int is_temporary(const char *name)
{
	const char *t = NULL;

	for (const char *p = strstr(name, ".tmp"); p; p = strstr(p + 1, ".tmp"))
		t = p;
	if (!t)
		return 0;
	for (t += 4; *t; t++)
		if (*t < '0' || *t > '9')
			return 0;
	return 1;
}

int fsx_remove_temporaries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t plen = prefix ? strlen(prefix) : 0;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct stat st;

		if (!is_temporary(e->d_name) || (plen && strncmp(e->d_name, prefix, plen)))
			continue;
		/* Only regular files, never a directory or a link's target. */
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}
