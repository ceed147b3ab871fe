#include "daemon/watch.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "state/queue.h"

struct watch {
	uv_poll_t poll;
	int fd;
	int wd;
	char dir[PATH_MAX];
	watch_file_cb cb;
	void *arg;
	long events, overflows;
};

static void emit(watch *w, const char *name)
{
	char path[PATH_MAX + 64];
	if (queue_parse_file_name(name, NULL, NULL) < 0)
		return;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", w->dir, name) >= sizeof path)
		return;
	w->cb(w->arg, path);
}

int watch_rescan(watch *w, int *ret_n, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	/* The directory was removed or unmounted earlier: watch it again once it
	 * is back (before reading it, as at start-up). */
	if (w->wd < 0) {
		w->wd = inotify_add_watch(w->fd, w->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR);
		if (w->wd >= 0)
			log_notice("watching %s again", w->dir);
	}
	d = opendir(w->dir);
	if (!d)
		return err_set(err, errlen, -errno, "%s: %s", w->dir, strerror(errno));
	while ((de = readdir(d))) {
		if (queue_parse_file_name(de->d_name, NULL, NULL) < 0)
			continue;
		n++;
		emit(w, de->d_name);
	}
	closedir(d);
	if (ret_n)
		*ret_n = n;
	return 0;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	watch *w = h->data;
	/* Aligned as inotify requires; room for many events per read. */
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	int overflow = 0;

	(void)events;
	if (status < 0) {
		log_err("inotify poll on %s: %s", w->dir, uv_strerror(status));
		return;
	}
	for (;;) {
		ssize_t len = read(w->fd, buf, sizeof buf);
		if (len <= 0)
			break; /* EAGAIN: drained */
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			w->events++;
			if (ev->mask & IN_Q_OVERFLOW)
				overflow = 1;
			else if (ev->mask & IN_IGNORED) {
				log_err("the watch on %s was removed (directory deleted or unmounted);"
					" rescans will try to restore it", w->dir);
				w->wd = -1;
			}
			else if (ev->len && (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)))
				emit(w, ev->name);
			p += sizeof *ev + ev->len;
		}
	}
	if (overflow) {
		char err[ERR_LEN];
		w->overflows++;
		log_warn("inotify queue overflowed on %s: rescanning", w->dir);
		if (watch_rescan(w, NULL, err, sizeof err) < 0)
			log_err("rescan: %s", err);
	}
}

int watch_start(uv_loop_t *loop, const char *dir, watch_file_cb cb, void *arg, watch **ret,
		char *err, size_t errlen)
{
	watch *w = calloc(1, sizeof *w);
	int r;

	if (!w)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	w->fd = -1;
	w->cb = cb;
	w->arg = arg;
	if (!realpath(dir, w->dir)) {
		r = err_set(err, errlen, -errno, "ingest_dir %s: %s", dir, strerror(errno));
		goto fail;
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		r = err_set(err, errlen, -errno, "inotify_init1: %s", strerror(errno));
		goto fail;
	}
	w->wd = inotify_add_watch(w->fd, w->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR);
	if (w->wd < 0) {
		r = err_set(err, errlen, -errno, "inotify_add_watch %s: %s", w->dir, strerror(errno));
		goto fail;
	}
	r = uv_poll_init(loop, &w->poll, w->fd);
	if (r < 0) {
		r = err_set(err, errlen, -EIO, "uv_poll_init: %s", uv_strerror(r));
		goto fail;
	}
	w->poll.data = w;
	r = uv_poll_start(&w->poll, UV_READABLE, on_readable);
	if (r < 0) {
		/* The handle is initialised: it must be closed through the loop. */
		err_set(err, errlen, -EIO, "uv_poll_start: %s", uv_strerror(r));
		watch_stop(w);
		return -EIO;
	}
	*ret = w;
	return 0;
fail:
	if (w->fd >= 0)
		close(w->fd);
	free(w);
	return r;
}

long watch_events(const watch *w)
{
	return w ? w->events : 0;
}

long watch_overflows(const watch *w)
{
	return w ? w->overflows : 0;
}

static void on_closed(uv_handle_t *h)
{
	watch *w = h->data;
	close(w->fd);
	free(w);
}

void watch_stop(watch *w)
{
	if (!w)
		return;
	uv_poll_stop(&w->poll);
	uv_close((uv_handle_t *)&w->poll, on_closed);
}
