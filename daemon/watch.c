#include "daemon/watch.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "daemon/util.h"
#include "state/db.h"

#define QUEUE_FILE_NAME_LEN 29 /* YYYY-MM-DDTHH:MM:SS_sbNN.hdf5 */

/* A file a rescan saw changing: remembered until it has been unchanged for
 * settle_s (see settled()). */
typedef struct seen_file {
	char name[QUEUE_FILE_NAME_LEN + 1];
	int64_t size;
	double mtime;
	double first_s; /* wall clock of the first look with this size and mtime */
} seen_file;

/* A file whose writer closed it (IN_CLOSE_WRITE), waiting until it has been
 * left unchanged for settle_s before it is registered: a writer may close
 * and re-open a file it has not finished. */
typedef struct closed_file {
	char name[QUEUE_FILE_NAME_LEN + 1];
	int64_t size;
	double mtime;
	double since; /* wall clock from which it has had this size and mtime */
} closed_file;

#define WATCH_MAX_CLOSED 1024

struct watch {
	uv_loop_t *loop;
	uv_poll_t poll;
	uv_timer_t settle;   /* a follow-up rescan for files still changing */
	uv_timer_t closed_timer; /* registers closed[] files once they settled */
	closed_file closed[WATCH_MAX_CLOSED];
	int nclosed;
	uv_work_t work;
	int fd;
	int wd;
	char dir[PATH_MAX];
	watch_file_cb cb;
	watch_scan_cb scan_cb;
	void *arg;
	long events, overflows;
	watch_opts opts;     /* loop thread: the options in force */

	/* The rescan: one at a time.  scan_opts and stats are written on the
	 * loop thread before uv_queue_work and read after it, the thread owns
	 * them in between; seen[] belongs to the scanning thread (scans never
	 * overlap). */
	int busy, again;
	char again_why[32];
	watch_opts scan_opts;
	watch_scan_stats stats;
	seen_file *seen;
	size_t nseen;
	int last_refused;    /* refused count of the previous scan (log once per change) */
	atomic_int stop;

	int closing, open_handles;
};

static void maybe_free(watch *w)
{
	if (!w->closing || w->open_handles > 0 || w->busy)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->seen);
	free(w);
}

int watch_register(sqlite3 *db, const char *path, const queue_params *q, double now,
		   queue_add_result *ret, char *err, size_t errlen)
{
	struct stat sb;
	queue_add_result res;
	int r;

	/* lstat, not stat: a link's target can change under us, and what the
	 * pipeline reads must be what was registered. */
	if (lstat(path, &sb) < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (S_ISLNK(sb.st_mode))
		return err_set(err, errlen, -ELOOP,
			       "%s is a symbolic link: refused (the ingest directory takes regular"
			       " files only)", path);
	if (!S_ISREG(sb.st_mode))
		return err_set(err, errlen, -EINVAL, "%s is not a regular file: refused", path);
	r = queue_add_file(db, path, (int64_t)sb.st_size,
			   sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec * 1e-9, q, now, &res, err, errlen);
	if (r < 0)
		return r;
	switch (res.outcome) {
	case QUEUE_ADD_NEW:
		log_msg(LOG_INFO, res.group_name, "ingest", res.subband, "new file %s (group %s)",
			path, res.state);
		break;
	case QUEUE_ADD_UPDATED:
		if (res.stale)
			log_msg(LOG_WARNING, res.group_name, "ingest", res.subband,
				"%s changed after the group was %s: group marked stale; requeue it"
				" to use the new file", path, res.state);
		else
			log_msg(LOG_INFO, res.group_name, "ingest", res.subband, "rewritten file %s",
				path);
		break;
	case QUEUE_ADD_DUPLICATE:
		log_msg(LOG_WARNING, res.group_name, "ingest", res.subband,
			"%s: the group already has this subband; ignored", path);
		break;
	case QUEUE_ADD_LATE:
		log_msg(LOG_WARNING, res.group_name, "ingest", res.subband,
			"%s arrived after the group was %s; recorded, requeue the group to use it",
			path, res.state);
		break;
	default:
		break;
	}
	if (ret)
		*ret = res;
	return 0;
}

static void emit(watch *w, const char *name)
{
	char path[PATH_MAX + 64];
	if (queue_parse_file_name(name, NULL, NULL) < 0)
		return;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", w->dir, name) >= sizeof path)
		return;
	w->cb(w->arg, path);
}

/* Size and mtime of dir/name without following a link; -errno. */
static int look(const watch *w, const char *name, int64_t *size, double *mtime)
{
	char path[PATH_MAX + 64];
	struct stat sb;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", w->dir, name) >= sizeof path)
		return -ENAMETOOLONG;
	if (lstat(path, &sb) < 0)
		return -errno;
	*size = (int64_t)sb.st_size;
	*mtime = sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec * 1e-9;
	return 0;
}

static void on_closed_timer(uv_timer_t *t);

static void rearm_closed(watch *w, double now)
{
	double next = HUGE_VAL;
	for (int i = 0; i < w->nclosed; i++)
		next = fmin(next, w->closed[i].since + w->opts.settle_s);
	if (w->nclosed == 0 || w->closing)
		return;
	uv_timer_start(&w->closed_timer, on_closed_timer,
		       (uint64_t)(fmax(next - now, 0) * 1000) + 50, 0);
}

/* The settle timer of closed files: register those unchanged for settle_s,
 * keep watching the others (a changed one starts its wait again). */
static void on_closed_timer(uv_timer_t *t)
{
	watch *w = t->data;
	double now = clk_wall_s();
	int k = 0;

	for (int i = 0; i < w->nclosed; i++) {
		closed_file c = w->closed[i];
		int64_t size;
		double mtime;
		if (look(w, c.name, &size, &mtime) < 0)
			continue; /* gone: nothing to register */
		if (size != c.size || mtime != c.mtime) {
			c.size = size;
			c.mtime = mtime;
			c.since = now;
		} else if (now - c.since >= w->opts.settle_s) {
			emit(w, c.name);
			continue;
		}
		w->closed[k++] = c;
	}
	w->nclosed = k;
	rearm_closed(w, now);
}

/* IN_CLOSE_WRITE of name: registered once it has been left unchanged for
 * settle_s (at once when settle_s is 0). */
static void closed(watch *w, const char *name)
{
	double now = clk_wall_s();
	int64_t size;
	double mtime;
	int i;

	if (w->opts.settle_s <= 0) {
		emit(w, name);
		return;
	}
	if (strlen(name) > QUEUE_FILE_NAME_LEN || queue_parse_file_name(name, NULL, NULL) < 0)
		return;
	if (look(w, name, &size, &mtime) < 0)
		return;
	for (i = 0; i < w->nclosed && strcmp(w->closed[i].name, name); i++)
		;
	if (i == w->nclosed) {
		if (w->nclosed == WATCH_MAX_CLOSED) {
			/* More files closing at once than the list holds: the rescan,
			 * which applies the same settle rule, takes the rest. */
			watch_rescan(w, "close burst");
			return;
		}
		snprintf(w->closed[i].name, sizeof w->closed[i].name, "%s", name);
		w->nclosed++;
	}
	w->closed[i].size = size;
	w->closed[i].mtime = mtime;
	w->closed[i].since = now;
	if (!uv_is_active((uv_handle_t *)&w->closed_timer))
		rearm_closed(w, now);
}

/* Has the file been left alone for settle_s?  Either its mtime is that old,
 * or an earlier look saw this same size and mtime settle_s ago (a writer
 * whose clock runs ahead of ours).  A file not yet settled is remembered in
 * next[] for the next look. */
static int settled(watch *w, const char *name, const struct stat *sb, double now,
		   seen_file *next, size_t *nnext)
{
	double mtime = sb->st_mtim.tv_sec + sb->st_mtim.tv_nsec * 1e-9;
	double settle = w->scan_opts.settle_s, first = now;

	if (now - mtime >= settle)
		return 1;
	for (size_t i = 0; i < w->nseen; i++) {
		seen_file *s = &w->seen[i];
		if (strcmp(s->name, name))
			continue;
		if (s->size == (int64_t)sb->st_size && s->mtime == mtime) {
			if (now - s->first_s >= settle)
				return 1;
			first = s->first_s;
		}
		break;
	}
	if (next) {
		seen_file *s = &next[(*nnext)++];
		memcpy(s->name, name, QUEUE_FILE_NAME_LEN + 1); /* the name parsed: 29 characters */
		s->size = (int64_t)sb->st_size;
		s->mtime = mtime;
		s->first_s = first;
	}
	return 0;
}

/* The rescan itself, on a threadpool thread. */
static void scan_work(uv_work_t *req)
{
	watch *w = req->data;
	watch_scan_stats *s = &w->stats;
	sqlite3 *db = NULL;
	DIR *d = NULL;
	struct dirent *de;
	seen_file *next = NULL;
	size_t nnext = 0, cap = 0;
	char first_refused[64] = "";
	double t0 = clk_mono_s();
	int r;

	r = db_open(w->scan_opts.db_path, 0, &db, s->err, sizeof s->err);
	if (r < 0)
		goto out;
	d = opendir(w->dir);
	if (!d) {
		r = err_set(s->err, sizeof s->err, -errno, "%s: %s", w->dir, strerror(errno));
		goto out;
	}
	while (!atomic_load(&w->stop) && (de = readdir(d))) {
		char path[PATH_MAX + 64], err[ERR_LEN];
		struct stat sb;
		queue_add_result res;
		int k;

		if (queue_parse_file_name(de->d_name, NULL, NULL) < 0)
			continue;
		s->names++;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", w->dir, de->d_name) >= sizeof path)
			continue;
		if (lstat(path, &sb) < 0) {
			if (errno != ENOENT) { /* removed since readdir: nothing to do */
				log_warn("rescan: %s: %s", path, strerror(errno));
				s->failed++;
			}
			continue;
		}
		if (!S_ISREG(sb.st_mode)) {
			if (!s->refused++)
				snprintf(first_refused, sizeof first_refused, "%.29s%s", de->d_name,
					 S_ISLNK(sb.st_mode) ? " (symbolic link)" : "");
			continue;
		}
		k = queue_file_known(db, path, (int64_t)sb.st_size,
				     sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec * 1e-9, err, sizeof err);
		if (k < 0) {
			log_warn("rescan: %s", err);
			s->failed++;
			continue;
		}
		if (k) {
			s->known++;
			continue;
		}
		if (nnext == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			seen_file *v = realloc(next, ncap * sizeof *v);
			if (!v) {
				r = err_set(s->err, sizeof s->err, -ENOMEM, "out of memory");
				goto out;
			}
			next = v;
			cap = ncap;
		}
		if (!settled(w, de->d_name, &sb, clk_wall_s(), next, &nnext)) {
			s->unsettled++;
			continue;
		}
		if (watch_register(db, path, &w->scan_opts.q, clk_wall_s(), &res, err,
				   sizeof err) < 0) {
			log_warn("rescan: %s", err);
			s->failed++;
			continue;
		}
		s->taken++;
		s->pending += !strcmp(res.state, "pending");
	}
	/* One line per change of the count, not one per link per rescan. */
	if (s->refused && s->refused != w->last_refused)
		log_warn("rescan: refused %d symbolic link(s) or non-regular file(s) in %s (e.g. %s);"
			 " the ingest directory takes regular files only", s->refused, w->dir,
			 first_refused);
	w->last_refused = s->refused;
	free(w->seen);
	w->seen = next;
	w->nseen = nnext;
	next = NULL;
	r = 0;
out:
	if (d)
		closedir(d);
	db_close(db);
	free(next);
	s->rc = r;
	s->seconds = clk_mono_s() - t0;
}

static void start_scan(watch *w, const char *why);

static void on_settle(uv_timer_t *t)
{
	watch_rescan(t->data, "settle");
}

static void scan_done(uv_work_t *req, int status)
{
	watch *w = req->data;
	watch_scan_stats s = w->stats;

	w->busy = 0;
	if (w->closing) {
		maybe_free(w);
		return;
	}
	if (status < 0) {
		s.rc = -ECANCELED;
		snprintf(s.err, sizeof s.err, "cancelled");
	}
	if (w->scan_cb)
		w->scan_cb(w->arg, &s);
	if (w->again) {
		w->again = 0;
		start_scan(w, w->again_why);
	} else if (s.rc == 0 && s.unsettled > 0 && !uv_is_active((uv_handle_t *)&w->settle)) {
		/* Look again once the files still changing may have settled. */
		double ms = fmax(w->opts.settle_s, 0.2) * 1000 + 100;
		uv_timer_start(&w->settle, on_settle, (uint64_t)ms, 0);
	}
}

static void start_scan(watch *w, const char *why)
{
	/* The directory was removed or unmounted earlier: watch it again once it
	 * is back (before reading it, as at start-up). */
	if (w->wd < 0) {
		w->wd = inotify_add_watch(w->fd, w->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR);
		if (w->wd >= 0)
			log_notice("watching %s again", w->dir);
	}
	memset(&w->stats, 0, sizeof w->stats);
	snprintf(w->stats.why, sizeof w->stats.why, "%s", why);
	w->scan_opts = w->opts;
	w->work.data = w;
	if (uv_queue_work(w->loop, &w->work, scan_work, scan_done) == 0) {
		w->busy = 1;
		uv_timer_stop(&w->settle);
	} else {
		log_err("rescan (%s): could not queue the scan", why);
	}
}

int watch_rescan(watch *w, const char *why)
{
	if (!w || w->closing)
		return -ECANCELED;
	if (w->busy) {
		if (!w->again)
			snprintf(w->again_why, sizeof w->again_why, "%s", why);
		w->again = 1;
		return 1;
	}
	start_scan(w, why);
	return w->busy ? 0 : -EIO;
}

int watch_scanning(const watch *w)
{
	return w && (w->busy || w->again);
}

void watch_set_opts(watch *w, const watch_opts *o)
{
	if (w)
		w->opts = *o;
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
			else if (ev->len && (ev->mask & IN_MOVED_TO))
				emit(w, ev->name); /* renamed into place: complete */
			else if (ev->len && (ev->mask & IN_CLOSE_WRITE))
				closed(w, ev->name);
			p += sizeof *ev + ev->len;
		}
	}
	if (overflow) {
		w->overflows++;
		log_warn("inotify queue overflowed on %s: rescanning", w->dir);
		watch_rescan(w, "overflow");
	}
}

int watch_start(uv_loop_t *loop, const char *dir, const watch_opts *o, watch_file_cb cb,
		watch_scan_cb scan_cb, void *arg, watch **ret, char *err, size_t errlen)
{
	watch *w = calloc(1, sizeof *w);
	int r;

	if (!w)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	w->loop = loop;
	w->fd = -1;
	w->cb = cb;
	w->scan_cb = scan_cb;
	w->arg = arg;
	w->opts = *o;
	atomic_init(&w->stop, 0);
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
	w->open_handles++;
	uv_timer_init(loop, &w->settle);
	w->settle.data = w;
	w->open_handles++;
	uv_timer_init(loop, &w->closed_timer);
	w->closed_timer.data = w;
	w->open_handles++;
	r = uv_poll_start(&w->poll, UV_READABLE, on_readable);
	if (r < 0) {
		/* The handles are initialised: they must be closed through the loop. */
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
	w->open_handles--;
	maybe_free(w);
}

void watch_stop(watch *w)
{
	if (!w || w->closing)
		return;
	w->closing = 1;
	atomic_store(&w->stop, 1);
	uv_poll_stop(&w->poll);
	uv_timer_stop(&w->settle);
	uv_timer_stop(&w->closed_timer);
	uv_close((uv_handle_t *)&w->poll, on_closed);
	uv_close((uv_handle_t *)&w->settle, on_closed);
	uv_close((uv_handle_t *)&w->closed_timer, on_closed);
}
