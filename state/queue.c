#include "state/queue.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "state/db.h"

#define PIPE_STAGE_LEN 64
#define PATH_MAX_MSG 4400

const char *const queue_states[5] = { "collecting", "pending", "in_progress", "completed",
				      "failed" };

void queue_params_default(queue_params *p)
{
	p->nsubbands = 16;
	p->tolerance_s = 60;
	p->min_subbands = 16;
	p->max_retries = 2;
	p->retry_delay_s = 30;
}

static int digits(const char *s, int n, int *ret)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* Parse exactly "YYYY-MM-DDTHH:MM:SS" at s (19 characters, a real date). */
static int parse_ts(const char *s, int64_t *ret)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int Y, M, D, h, m, sec;
	struct tm tm = { 0 };

	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return -EINVAL;
	if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &m) || digits(s + 17, 2, &sec))
		return -EINVAL;
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 ||
	    sec > 59)
		return -EINVAL;
	if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
		return -EINVAL;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	if (ret)
		*ret = (int64_t)timegm(&tm);
	return 0;
}

int queue_parse_group_name(const char *name, int64_t *ret_ts)
{
	if (!name || strlen(name) != 19)
		return -EINVAL;
	return parse_ts(name, ret_ts);
}

int queue_parse_file_name(const char *name, int64_t *ret_ts, int *ret_subband)
{
	int sb;
	int64_t ts;

	/* YYYY-MM-DDTHH:MM:SS_sbNN.hdf5: 19 + 5 + 5 characters, nothing else. */
	if (!name || strlen(name) != 29 || strncmp(name + 19, "_sb", 3) ||
	    strcmp(name + 24, ".hdf5"))
		return -EINVAL;
	if (digits(name + 22, 2, &sb) || parse_ts(name, &ts))
		return -EINVAL;
	if (ret_ts)
		*ret_ts = ts;
	if (ret_subband)
		*ret_subband = sb;
	return 0;
}

void queue_format_ts(int64_t ts, char *buf, size_t buflen)
{
	time_t t = (time_t)ts;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, buflen, "%Y-%m-%dT%H:%M:%S", &tm);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int count_good_subbands(sqlite3 *db, int64_t gid, int64_t *ret, char *err, size_t errlen)
{
	*ret = 0;
	return db_query_int(db, ret, err, errlen,
			    "SELECT count(DISTINCT subband) FROM subband_files"
			    " WHERE group_id = ? AND status IN ('ok','late')", "I", gid);
}

/* A file's contents went into a run: the group has run (or is running) and
 * the file was one it read (ok) or tried to read (bad). */
static int used_by_run(const char *file_status, const char *group_state)
{
	if (strcmp(file_status, "ok") && strcmp(file_status, "bad"))
		return 0;
	return strcmp(group_state, "collecting") && strcmp(group_state, "pending");
}

static int group_state(sqlite3 *db, int64_t gid, char *name, char *state, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(db, err, errlen, &st, "SELECT name, state FROM groups WHERE id = ?",
			   "I", gid);
	if (r < 0)
		return r;
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (name)
			snprintf(name, QUEUE_NAME_LEN, "%s", sqlite3_column_text(st, 0));
		if (state)
			snprintf(state, 16, "%s", sqlite3_column_text(st, 1));
		r = 0;
	} else {
		r = err_set(err, errlen, -ENOENT, "no group with id %lld", (long long)gid);
	}
	sqlite3_finalize(st);
	return r;
}

int queue_event(sqlite3 *db, int64_t group_id, const char *kind, const char *stage,
		const char *message, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen,
			"INSERT INTO group_events (group_id, at, kind, stage, message)"
			" VALUES (?, ?, ?, ?, ?)", "Idsss", group_id,
			clk_wall_s(), kind, stage, message);
	return r < 0 ? r : 0;
}

/* Find or create the group a file with timestamp ts belongs to. */
static int find_group(sqlite3 *db, int64_t ts, const queue_params *p, double now,
		      int64_t *ret_gid, char *err, size_t errlen)
{
	int64_t tol = (int64_t)p->tolerance_s, gid = 0;
	char name[QUEUE_NAME_LEN];
	int r;

	r = db_query_int(db, &gid, err, errlen,
			 "SELECT id FROM groups WHERE t_first BETWEEN ? AND ?"
			 " ORDER BY abs(t_first - ?), t_first LIMIT 1", "III", ts - tol, ts + tol, ts);
	if (r < 0)
		return r;
	if (r == 1) {
		*ret_gid = gid;
		return 0;
	}
	queue_format_ts(ts, name, sizeof name);
	r = db_exec(db, err, errlen,
		    "INSERT INTO groups (name, t_first, state, n_expected, created_at, updated_at)"
		    " VALUES (?, ?, 'collecting', ?, ?, ?)", "sIidd", name, ts, p->nsubbands, now, now);
	if (r < 0)
		return r;
	*ret_gid = sqlite3_last_insert_rowid(db);
	return 0;
}

int queue_add_file(sqlite3 *db, const char *path, int64_t size, double mtime,
		   const queue_params *p, double now, queue_add_result *ret, char *err,
		   size_t errlen)
{
	queue_add_result res = { 0 };
	sqlite3_stmt *st = NULL;
	int64_t ts, gid = 0, t_first = 0, n = 0;
	int sb, r, ok = 0;
	const char *status = "ok";

	if (!path || path[0] != '/')
		return err_set(err, errlen, -EINVAL, "%s: not an absolute path", path ? path : "");
	if (queue_parse_file_name(base_name(path), &ts, &sb) < 0)
		return err_set(err, errlen, -EINVAL,
			       "%s: name is not YYYY-MM-DDTHH:MM:SS_sbNN.hdf5", path);
	if (sb >= p->nsubbands)
		return err_set(err, errlen, -EINVAL, "%s: subband %d outside 0..%d", path, sb,
			       p->nsubbands - 1);
	res.subband = sb;

	/* Fast path without the write lock: rescans meet mostly files we know. */
	if (sqlite3_get_autocommit(db)) {
		r = db_prepare(db, err, errlen, &st,
			       "SELECT f.group_id, g.name, g.state FROM subband_files f JOIN groups g"
			       " ON g.id = f.group_id WHERE f.path = ? AND f.size = ? AND f.mtime = ?",
			       "sId", path, size, mtime);
		if (r < 0)
			return r;
		if (sqlite3_step(st) == SQLITE_ROW) {
			res.outcome = QUEUE_ADD_KNOWN;
			res.group_id = sqlite3_column_int64(st, 0);
			snprintf(res.group_name, sizeof res.group_name, "%s", sqlite3_column_text(st, 1));
			snprintf(res.state, sizeof res.state, "%s", sqlite3_column_text(st, 2));
			sqlite3_finalize(st);
			if (ret)
				*ret = res;
			return 0;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	r = db_begin(db, err, errlen);
	if (r < 0)
		return r;

	/* A path we know: a re-delivery or a rewrite; never a second row. */
	r = db_prepare(db, err, errlen, &st,
		       "SELECT f.group_id, f.size, f.mtime, f.status, g.state"
		       " FROM subband_files f JOIN groups g ON g.id = f.group_id WHERE f.path = ?",
		       "s", path);
	if (r < 0)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		int64_t old_size = sqlite3_column_int64(st, 1);
		int same = old_size == size && sqlite3_column_double(st, 2) == mtime;
		char fstatus[12], gstate[16];

		gid = sqlite3_column_int64(st, 0);
		db_column_text(st, 3, fstatus, sizeof fstatus);
		db_column_text(st, 4, gstate, sizeof gstate);
		sqlite3_finalize(st);
		st = NULL;
		res.outcome = same ? QUEUE_ADD_KNOWN : QUEUE_ADD_UPDATED;
		if (!same && used_by_run(fstatus, gstate)) {
			/* A run already read (or tried to read) the old contents:
			 * its products no longer describe this file.  Keep the
			 * file's status as that run saw it, and say so on the
			 * group instead of silently calling the file "ok". */
			char msg[PATH_MAX_MSG];
			res.stale = 1;
			snprintf(msg, sizeof msg,
				 "%s changed after the group was %s (size %lld -> %lld bytes); its"
				 " products may not match: requeue the group to use the new file",
				 base_name(path), gstate, (long long)old_size, (long long)size);
			r = db_exec(db, err, errlen,
				    "UPDATE subband_files SET size = ?, mtime = ? WHERE path = ?", "Ids",
				    size, mtime, path);
			if (r >= 0)
				r = db_exec(db, err, errlen,
					    "UPDATE groups SET stale = 1, updated_at = ? WHERE id = ?",
					    "dI", now, gid);
			if (r >= 0)
				r = queue_event(db, gid, "stale", "ingest", msg, err, errlen);
			if (r < 0)
				goto out;
		} else if (!same) {
			/* Not run yet: a rewritten file gets another chance if it
			 * was unreadable. */
			r = db_exec(db, err, errlen,
				    "UPDATE subband_files SET size = ?, mtime = ?,"
				    " status = CASE status WHEN 'bad' THEN 'ok' ELSE status END,"
				    " reason = CASE status WHEN 'bad' THEN NULL ELSE reason END"
				    " WHERE path = ?", "Ids", size, mtime, path);
			if (r < 0)
				goto out;
		}
		goto report;
	}
	sqlite3_finalize(st);
	st = NULL;

	r = find_group(db, ts, p, now, &gid, err, errlen);
	if (r < 0)
		goto out;
	r = group_state(db, gid, res.group_name, res.state, err, errlen);
	if (r < 0)
		goto out;
	if (strcmp(res.state, "collecting") && strcmp(res.state, "pending")) {
		status = "late";
		res.outcome = QUEUE_ADD_LATE;
	} else {
		int64_t dup = 0;
		/* Only a usable copy makes this one a duplicate: a subband whose
		 * earlier file was found unreadable takes the re-sent one. */
		r = db_query_int(db, &dup, err, errlen,
				 "SELECT count(*) FROM subband_files WHERE group_id = ? AND subband = ?"
				 " AND status IN ('ok','late')", "Ii", gid, sb);
		if (r < 0)
			goto out;
		if (dup) {
			status = "duplicate";
			res.outcome = QUEUE_ADD_DUPLICATE;
		}
	}
	r = db_exec(db, err, errlen,
		    "INSERT INTO subband_files (group_id, path, subband, ts, size, mtime, status,"
		    " added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "IsiIIdsd", gid, path, sb, ts,
		    size, mtime, status, now);
	if (r < 0)
		goto out;

	/* The group is named by its earliest file; follow an earlier arrival as
	 * long as nothing has been produced under the old name. */
	r = db_query_int(db, &t_first, err, errlen, "SELECT t_first FROM groups WHERE id = ?", "I",
			 gid);
	if (r < 0)
		goto out;
	int64_t runs = 0;
	r = db_query_int(db, &runs, err, errlen, "SELECT runs FROM groups WHERE id = ?", "I", gid);
	if (r < 0)
		goto out;
	if (ts < t_first && res.outcome != QUEUE_ADD_LATE && runs == 0) {
		char name[QUEUE_NAME_LEN];
		int64_t clash = 0;
		queue_format_ts(ts, name, sizeof name);
		r = db_query_int(db, &clash, err, errlen, "SELECT count(*) FROM groups WHERE name = ?",
				 "s", name);
		if (r < 0)
			goto out;
		if (!clash) {
			r = db_exec(db, err, errlen,
				    "UPDATE groups SET name = ?, t_first = ? WHERE id = ?", "sII", name,
				    ts, gid);
			if (r < 0)
				goto out;
		}
	}
	r = count_good_subbands(db, gid, &n, err, errlen);
	if (r < 0)
		goto out;
	r = db_exec(db, err, errlen,
		    "UPDATE groups SET updated_at = ?,"
		    " state = CASE WHEN state = 'collecting' AND ? >= n_expected THEN 'pending'"
		    " ELSE state END WHERE id = ?", "dII", now, n, gid);
	if (r < 0)
		goto out;
report:
	r = group_state(db, gid, res.group_name, res.state, err, errlen);
	if (r < 0)
		goto out;
	res.group_id = gid;
	ok = 1;
out:
	sqlite3_finalize(st);
	if (ok) {
		r = db_end(db, 1, err, errlen);
		if (r == 0 && ret)
			*ret = res;
		return r;
	}
	db_end(db, 0, NULL, 0);
	return r;
}

int queue_file_known(sqlite3 *db, const char *path, int64_t size, double mtime, char *err,
		     size_t errlen)
{
	int64_t one = 0;
	int r = db_query_int(db, &one, err, errlen,
			     "SELECT 1 FROM subband_files WHERE path = ? AND size = ? AND mtime = ?",
			     "sId", path, size, mtime);
	return r < 0 ? r : r == 1;
}

/* "sb00, sb03" for the subbands of 0..nsub-1 that have (want_present) or
 * lack a good file. */
static int subband_list(sqlite3 *db, int64_t gid, int nsub, int want_present, char *buf,
			size_t buflen, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char have[256] = { 0 };
	size_t len = 0;
	int r;

	r = db_prepare(db, err, errlen, &st,
		       "SELECT DISTINCT subband FROM subband_files WHERE group_id = ?"
		       " AND status IN ('ok','late')", "I", gid);
	if (r < 0)
		return r;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int sb = sqlite3_column_int(st, 0);
		if (sb >= 0 && sb < 256)
			have[sb] = 1;
	}
	sqlite3_finalize(st);
	buf[0] = 0;
	for (int sb = 0; sb < nsub && sb < 256; sb++) {
		if (have[sb] != want_present)
			continue;
		int k = snprintf(buf + len, buflen - len, "%ssb%02d", len ? ", " : "", sb);
		if (k < 0 || (size_t)k >= buflen - len)
			break;
		len += (size_t)k;
	}
	return 0;
}

/* Rows of one or two integer columns (ids) into int64_t[1] or int64_t[2]. */
static int read_id(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	(void)arg, (void)err, (void)errlen;
	*(int64_t *)row = sqlite3_column_int64(st, 0);
	return 1;
}

static int read_id_pair(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	int64_t *v = row;
	(void)arg, (void)err, (void)errlen;
	v[0] = sqlite3_column_int64(st, 0);
	v[1] = sqlite3_column_int64(st, 1);
	return 1;
}

static const db_row_type id_type = { sizeof(int64_t), read_id, NULL };
static const db_row_type id_pair_type = { 2 * sizeof(int64_t), read_id_pair, NULL };

int queue_collect_timeouts(sqlite3 *db, const queue_params *p, double timeout_s, double now,
			   int *ret_changed, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int64_t *ids = NULL;
	void *v = NULL;
	size_t n = 0;
	int changed = 0, r;

	r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	r = db_prepare(db, err, errlen, &st,
		       "SELECT id FROM groups WHERE state = 'collecting' AND created_at <= ?", "d",
		       now - timeout_s);
	if (r < 0)
		goto out;
	r = db_rows(st, &id_type, NULL, &v, &n, "groups", err, errlen);
	st = NULL;
	if (r < 0)
		goto out;
	ids = v;
	for (size_t i = 0; i < n; i++) {
		int64_t good = 0;
		char list[1024], msg[1200];

		r = count_good_subbands(db, ids[i], &good, err, errlen);
		if (r < 0)
			goto out;
		if (good >= p->min_subbands) {
			r = subband_list(db, ids[i], p->nsubbands, 0, list, sizeof list, err, errlen);
			if (r < 0)
				goto out;
			snprintf(msg, sizeof msg, "absent after collect timeout: %s", list);
			r = db_exec(db, err, errlen,
				    "UPDATE groups SET state = 'pending', updated_at = ? WHERE id = ?",
				    "dI", now, ids[i]);
			if (r >= 0)
				r = queue_event(db, ids[i], "missing", NULL, msg, err, errlen);
		} else {
			r = subband_list(db, ids[i], p->nsubbands, 1, list, sizeof list, err, errlen);
			if (r < 0)
				goto out;
			snprintf(msg, sizeof msg,
				 "only %lld of %d subbands arrived within the collect timeout"
				 " (min_subbands %d; present: %s)", (long long)good, p->nsubbands,
				 p->min_subbands, list[0] ? list : "none");
			r = db_exec(db, err, errlen,
				    "UPDATE groups SET state = 'failed', error = ?, updated_at = ?,"
				    " finished_at = ? WHERE id = ?", "sddI", msg, now, now, ids[i]);
			if (r >= 0)
				r = queue_event(db, ids[i], "error", "collect", msg, err, errlen);
		}
		if (r < 0)
			goto out;
		changed++;
	}
	r = 0;
out:
	sqlite3_finalize(st);
	free(ids);
	if (r < 0) {
		db_end(db, 0, NULL, 0);
		return r;
	}
	r = db_end(db, 1, err, errlen);
	if (r == 0 && ret_changed)
		*ret_changed = changed;
	return r;
}

static int set_owner(sqlite3 *db, int64_t id, int pid, double now, int reset_backoff, char *err,
		     size_t errlen);

int queue_claim(sqlite3 *db, int pid, double now, int64_t *ret_id, char *ret_name, char *err,
		size_t errlen)
{
	return queue_claim_ex(db, pid, now, ret_id, ret_name, NULL, err, errlen);
}

int queue_claim_ex(sqlite3 *db, int pid, double now, int64_t *ret_id, char *ret_name,
		   int64_t *ret_claim, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int64_t id = 0, claim = 0;
	char name[QUEUE_NAME_LEN] = "";
	int r, found = 0;

	r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	r = db_prepare(db, err, errlen, &st,
		       "SELECT id, name FROM groups WHERE state = 'pending' AND not_before <= ?"
		       " ORDER BY t_first LIMIT 1", "d", now);
	if (r < 0)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		snprintf(name, sizeof name, "%s", sqlite3_column_text(st, 1));
		found = 1;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (found) {
		r = set_owner(db, id, pid, now, 0, err, errlen);
		if (r >= 0)
			r = db_query_int(db, &claim, err, errlen, "SELECT claim FROM groups WHERE id = ?",
					 "I", id);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	sqlite3_finalize(st);
	if (r < 0) {
		db_end(db, 0, NULL, 0);
		return r;
	}
	r = db_end(db, 1, err, errlen);
	if (r < 0)
		return r;
	if (found) {
		*ret_id = id;
		if (ret_name)
			snprintf(ret_name, QUEUE_NAME_LEN, "%s", name);
		if (ret_claim)
			*ret_claim = claim;
	}
	return found;
}

int queue_current_claim(sqlite3 *db, int64_t id, int64_t *ret_claim, char *err, size_t errlen)
{
	int64_t c = 0;
	int r = db_query_int(db, &c, err, errlen,
			     "SELECT claim FROM groups WHERE id = ? AND state = 'in_progress'", "I", id);
	if (r < 0)
		return r;
	*ret_claim = r ? c : 0;
	return 0;
}

int queue_claim_held(sqlite3 *db, int64_t id, int64_t claim, char *err, size_t errlen)
{
	int64_t n = 0;
	int r = db_query_int(db, &n, err, errlen,
			     "SELECT count(*) FROM groups WHERE id = ? AND state = 'in_progress'"
			     " AND claim = ?", "II", id, claim);
	return r < 0 ? r : n > 0;
}

static int pid_alive(int64_t pid)
{
	if (pid <= 0 || pid > 0x7fffffff)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static void self_boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	buf[0] = 0;
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

/* Field 22 of /proc/PID/stat (starttime, clock ticks since boot); -1 when
 * unreadable.  The command name (field 2) may hold spaces and parentheses:
 * the fields after it start after the last ')'. */
static int64_t proc_start(int64_t pid)
{
	char path[64], buf[1024], *p;
	long long v = -1;
	size_t n;
	FILE *f;

	if (pid <= 0 || pid > 0x7fffffff)
		return -1;
	snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	/* Fields 3..21 are skipped; 22 is read. */
	for (int field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return -1;
		if (field == 22) {
			if (sscanf(p, "%lld", &v) != 1)
				return -1;
			break;
		}
		p += strcspn(p, " ");
	}
	return (int64_t)v;
}

void queue_owner_of(int64_t pid, queue_owner *o)
{
	o->pid = pid;
	o->start = proc_start(pid);
	if (o->start < 0)
		o->boot_id[0] = 0;
	else
		self_boot_id(o->boot_id, sizeof o->boot_id);
}

int queue_owner_alive(const queue_owner *o)
{
	char boot[40];
	int64_t start;

	if (!pid_alive(o->pid))
		return 0;
	if (o->boot_id[0]) {
		self_boot_id(boot, sizeof boot);
		if (boot[0] && strcmp(boot, o->boot_id))
			return 0; /* recorded before a reboot */
	}
	if (o->start >= 0) {
		start = proc_start(o->pid);
		if (start >= 0 && start != o->start)
			return 0; /* the pid now names another process */
	}
	return 1;
}

/* Record pid (and its identity) as the owner of in_progress group id. */
static int set_owner(sqlite3 *db, int64_t id, int pid, double now, int reset_backoff, char *err,
		     size_t errlen)
{
	queue_owner o;
	queue_owner_of(pid, &o);
	return db_exec(db, err, errlen,
		       "UPDATE groups SET state = 'in_progress', owner_pid = ?, owner_boot = ?,"
		       " owner_start = nullif(?, -1), started_at = ?, updated_at = ?, stage = NULL,"
		       " claim = claim + 1,"
		       " not_before = CASE WHEN ? THEN 0 ELSE not_before END WHERE id = ?",
		       "isIddiI", pid, o.boot_id[0] ? o.boot_id : NULL, o.start, now, now,
		       reset_backoff, id);
}

/* The recorded owner of group id (pid 0 when none). */
static int read_owner(sqlite3 *db, int64_t id, queue_owner *o, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(db, err, errlen, &st,
			   "SELECT coalesce(owner_pid, 0), coalesce(owner_boot, ''),"
			   " coalesce(owner_start, -1) FROM groups WHERE id = ?", "I", id);
	if (r < 0)
		return r;
	o->pid = 0;
	o->boot_id[0] = 0;
	o->start = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		o->pid = sqlite3_column_int64(st, 0);
		snprintf(o->boot_id, sizeof o->boot_id, "%s", sqlite3_column_text(st, 1));
		o->start = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return 0;
}

int queue_claim_group(sqlite3 *db, int64_t id, int pid, double now, char *err, size_t errlen)
{
	char name[QUEUE_NAME_LEN], state[16];
	queue_owner o;
	int r;

	r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	r = group_state(db, id, name, state, err, errlen);
	if (r == 0 && !strcmp(state, "in_progress")) {
		r = read_owner(db, id, &o, err, errlen);
		if (r == 0 && o.pid != pid && queue_owner_alive(&o))
			r = err_set(err, errlen, -EBUSY, "group %s is being processed by pid %lld",
				    name, (long long)o.pid);
	}
	if (r == 0)
		r = set_owner(db, id, pid, now, 1, err, errlen);
	if (r < 0) {
		db_end(db, 0, NULL, 0);
		return r;
	}
	return db_end(db, 1, err, errlen);
}

int queue_find(sqlite3 *db, const char *name, int64_t *ret_id, char *err, size_t errlen)
{
	return db_query_int(db, ret_id, err, errlen, "SELECT id FROM groups WHERE name = ?", "s",
			    name);
}

int queue_group_name(sqlite3 *db, int64_t id, char *buf, size_t buflen, char *err,
		     size_t errlen)
{
	char name[QUEUE_NAME_LEN];
	int r = group_state(db, id, name, NULL, err, errlen);
	if (r == 0)
		snprintf(buf, buflen, "%s", name);
	return r;
}

void queue_files_free(queue_file *f, int n)
{
	for (int i = 0; f && i < n; i++)
		free(f[i].path);
	free(f);
}

static int read_file(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	queue_file *f = row;
	(void)arg;
	f->id = sqlite3_column_int64(st, 0);
	f->subband = sqlite3_column_int(st, 2);
	db_column_text(st, 3, f->status, sizeof f->status);
	if (db_column_strdup(st, 1, &f->path) < 0) /* NOT NULL in the schema */
		return err_set(err, errlen, -ENOMEM, "out of memory");
	return 1;
}

static void release_file(void *row)
{
	free(((queue_file *)row)->path);
}

int queue_files(sqlite3 *db, int64_t group_id, queue_file **ret, int *ret_n, char *err,
		size_t errlen)
{
	static const db_row_type type = { sizeof(queue_file), read_file, release_file };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	size_t n = 0;
	int r;

	r = db_prepare(db, err, errlen, &st,
		       "SELECT id, path, subband, status FROM subband_files WHERE group_id = ?"
		       " AND status != 'duplicate' ORDER BY subband, ts, id", "I", group_id);
	if (r < 0)
		return r;
	r = db_rows(st, &type, NULL, &v, &n, "subband_files", err, errlen);
	if (r < 0)
		return r;
	*ret = v;
	*ret_n = (int)n;
	return 0;
}

int queue_set_file_status(sqlite3 *db, int64_t file_id, const char *reason, char *err,
			  size_t errlen)
{
	int r = db_exec(db, err, errlen,
			"UPDATE subband_files SET status = CASE WHEN ? IS NULL THEN"
			" CASE status WHEN 'bad' THEN 'ok' ELSE status END ELSE 'bad' END,"
			" reason = ? WHERE id = ?", "ssI", reason, reason, file_id);
	return r < 0 ? r : 0;
}

int queue_set_stage(sqlite3 *db, int64_t group_id, const char *stage, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen, "UPDATE groups SET stage = ? WHERE id = ?", "sI",
			stage && *stage ? stage : NULL, group_id);
	return r < 0 ? r : 0;
}

int queue_record_stage(sqlite3 *db, int64_t group_id, const char *stage, double seconds, int ok,
		       const char *error, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen,
			"INSERT INTO stage_timings (group_id, stage, seconds, ok, error, at)"
			" VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (group_id, stage) DO UPDATE SET"
			" seconds = excluded.seconds, ok = excluded.ok, error = excluded.error,"
			" at = excluded.at", "Isdisd", group_id, stage, seconds, ok, error,
			clk_wall_s());
	return r < 0 ? r : 0;
}

int queue_clear_stage_timings(sqlite3 *db, int64_t group_id, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen, "DELETE FROM stage_timings WHERE group_id = ?", "I",
			group_id);
	return r < 0 ? r : 0;
}

int queue_add_product(sqlite3 *db, int64_t group_id, const char *name, const char *path,
		      char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen,
			"INSERT INTO products (group_id, name, path, created_at) VALUES (?, ?, ?, ?)"
			" ON CONFLICT (group_id, name) DO UPDATE SET path = excluded.path,"
			" created_at = excluded.created_at", "Issd", group_id, name, path,
			clk_wall_s());
	return r < 0 ? r : 0;
}

int queue_clear_products(sqlite3 *db, int64_t group_id, char *err, size_t errlen)
{
	int r = db_exec(db, err, errlen, "DELETE FROM products WHERE group_id = ?", "I", group_id);
	return r < 0 ? r : 0;
}

int queue_finish(sqlite3 *db, int64_t group_id, int outcome, const char *error, int calibrated,
		 const queue_params *p, double now, char *ret_state, char *err, size_t errlen)
{
	int64_t retries = 0;
	const char *state = "completed";
	int r;

	r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	r = db_query_int(db, &retries, err, errlen, "SELECT retries FROM groups WHERE id = ?", "I",
			 group_id);
	if (r == 0)
		r = err_set(err, errlen, -ENOENT, "no group with id %lld", (long long)group_id);
	if (r < 0)
		goto out;
	switch (outcome) {
	case QUEUE_DONE:
		r = db_exec(db, err, errlen,
			    "UPDATE groups SET state = 'completed', error = NULL, stage = NULL,"
			    " owner_pid = NULL, calibrated = ?, runs = runs + 1, finished_at = ?,"
			    " updated_at = ? WHERE id = ?", "iddI", calibrated, now, now,
			    group_id);
		break;
	case QUEUE_CANCEL:
		state = "pending";
		r = db_exec(db, err, errlen,
			    "UPDATE groups SET state = 'pending', stage = NULL, owner_pid = NULL,"
			    " updated_at = ? WHERE id = ?", "dI", now, group_id);
		if (r >= 0)
			r = queue_event(db, group_id, "requeue", NULL,
					error ? error : "stopped before completion", err, errlen);
		break;
	default:
		retries++;
		if (outcome == QUEUE_FAIL && retries <= p->max_retries)
			state = "pending";
		else
			state = "failed";
		r = db_exec(db, err, errlen,
			    "UPDATE groups SET state = ?, error = ?, stage = NULL, owner_pid = NULL,"
			    " retries = ?, not_before = ?, finished_at = ?, updated_at = ? WHERE id = ?",
			    "ssIdddI", state, error ? error : "failed", retries,
			    now + (strcmp(state, "pending") ? 0 : p->retry_delay_s), now, now,
			    group_id);
		if (r >= 0)
			r = queue_event(db, group_id, strcmp(state, "pending") ? "error" : "retry",
					NULL, error ? error : "failed", err, errlen);
		break;
	}
out:
	if (r < 0) {
		db_end(db, 0, NULL, 0);
		return r;
	}
	r = db_end(db, 1, err, errlen);
	if (r == 0 && ret_state)
		snprintf(ret_state, 16, "%s", state);
	return r;
}

/* Why an in_progress group cannot simply be requeued, into err (-EBUSY). */
static int busy_reason(sqlite3 *db, int64_t id, const char *name, char *err, size_t errlen)
{
	queue_owner o, now_o;
	int r = read_owner(db, id, &o, err, errlen);
	if (r < 0)
		return r;
	if (queue_owner_alive(&o))
		return err_set(err, errlen, -EBUSY,
			       "group %s is being processed now by pid %lld; requeue --force takes"
			       " it anyway", name, (long long)o.pid);
	queue_owner_of(o.pid, &now_o);
	if (now_o.start >= 0)
		return err_set(err, errlen, -EBUSY,
			       "group %s is in progress under pid %lld, which is now another process"
			       " (pid reused, e.g. after a reboot); the running daemon's recovery"
			       " frees it, or requeue --force", name, (long long)o.pid);
	return err_set(err, errlen, -EBUSY,
		       "group %s is in progress under pid %lld, which is gone; the running"
		       " daemon's recovery frees it, or requeue --force", name, (long long)o.pid);
}

/* Requeue one group inside the caller's transaction; force takes an
 * in_progress group from its owner. */
static int requeue_group(sqlite3 *db, int64_t id, const char *reason, int force, double now,
			 char *err, size_t errlen)
{
	char name[QUEUE_NAME_LEN], state[16], msg[512];
	int r = group_state(db, id, name, state, err, errlen);

	if (r < 0)
		return r;
	if (!strcmp(state, "in_progress")) {
		queue_owner o;
		if (!force)
			return busy_reason(db, id, name, err, errlen);
		r = read_owner(db, id, &o, err, errlen);
		if (r < 0)
			return r;
		snprintf(msg, sizeof msg, "%s (forced: taken from pid %lld, %s)",
			 reason ? reason : "requeued", (long long)o.pid,
			 queue_owner_alive(&o) ? "alive" : "gone");
		reason = msg;
	}
	r = db_exec(db, err, errlen,
		    "UPDATE groups SET state = 'pending', retries = 0, error = NULL, not_before = 0,"
		    " stale = 0,"
		    " stage = CASE WHEN state = 'in_progress' THEN NULL ELSE stage END,"
		    " owner_pid = CASE WHEN state = 'in_progress' THEN NULL ELSE owner_pid END,"
		    " updated_at = ? WHERE id = ?", "dI", now, id);
	/* A subband with no usable file takes its other copies again (a good
	 * re-sent file that arrived while the first, bad, copy still looked
	 * fine was recorded as a duplicate); the load stage keeps the first
	 * readable one. */
	if (r >= 0)
		r = db_exec(db, err, errlen,
			    "UPDATE subband_files SET status = 'ok', reason = NULL"
			    " WHERE group_id = ?1 AND status = 'duplicate' AND subband NOT IN"
			    " (SELECT subband FROM subband_files WHERE group_id = ?1"
			    " AND status IN ('ok','late'))", "I", id);
	/* Unreadable files are looked at again (the operator may have fixed
	 * them), and files that came late are now part of the group. */
	if (r >= 0)
		r = db_exec(db, err, errlen,
			    "UPDATE subband_files SET status = 'ok', reason = NULL"
			    " WHERE group_id = ? AND status IN ('bad','late')", "I", id);
	if (r >= 0)
		r = queue_event(db, id, "requeue", NULL, reason ? reason : "requeued", err, errlen);
	return r < 0 ? r : 0;
}

static int requeue_one(sqlite3 *db, int64_t id, const char *reason, double now, char *err,
		       size_t errlen)
{
	return requeue_group(db, id, reason, 0, now, err, errlen);
}

int queue_requeue(sqlite3 *db, int64_t group_id, const char *reason, double now, char *err,
		  size_t errlen)
{
	int r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	r = requeue_one(db, group_id, reason, now, err, errlen);
	if (r < 0) {
		db_end(db, 0, NULL, 0);
		return r;
	}
	return db_end(db, 1, err, errlen);
}

int queue_requeue_force(sqlite3 *db, int64_t group_id, const char *reason, double now,
			char *err, size_t errlen)
{
	int r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	r = requeue_group(db, group_id, reason, 1, now, err, errlen);
	if (r < 0) {
		db_end(db, 0, NULL, 0);
		return r;
	}
	return db_end(db, 1, err, errlen);
}

static int ids_where(sqlite3 *db, const char *sql, int64_t **ret, int *ret_n, char *err,
		     size_t errlen)
{
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	size_t n = 0;
	int r;

	r = db_prepare(db, err, errlen, &st, sql, NULL);
	if (r < 0)
		return r;
	r = db_rows(st, &id_pair_type, NULL, &v, &n, "groups", err, errlen);
	if (r < 0)
		return r;
	*ret = v;
	*ret_n = (int)n;
	return 0;
}

int queue_retry_failed(sqlite3 *db, const char *reason, double now, int *ret_n, char *err,
		       size_t errlen)
{
	int64_t *ids = NULL;
	int n = 0, r;

	r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	r = ids_where(db, "SELECT id, 0 FROM groups WHERE state = 'failed'", &ids, &n, err, errlen);
	for (int i = 0; r == 0 && i < n; i++)
		r = requeue_one(db, ids[2 * i], reason, now, err, errlen);
	free(ids);
	if (r < 0) {
		db_end(db, 0, NULL, 0);
		return r;
	}
	r = db_end(db, 1, err, errlen);
	if (r == 0 && ret_n)
		*ret_n = n;
	return r;
}

/* Put in_progress group gid (owner o) back to pending, or failed after too
 * many interruptions; why says what happened to the owner. */
static int recover_group(sqlite3 *db, int64_t gid, const queue_owner *o, const char *why,
			 int max_retries, double now, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char msg[256], stage[PIPE_STAGE_LEN] = "";
	const char *state = "pending";
	int64_t retries = 0;
	int r;

	r = db_prepare(db, err, errlen, &st,
		       "SELECT coalesce(stage, ''), retries FROM groups WHERE id = ?", "I", gid);
	if (r < 0)
		return r;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(stage, sizeof stage, "%s", sqlite3_column_text(st, 0));
		retries = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	/* A process that died in the middle of a group counts as a failed
	 * run: a group that crashes its worker every time must not
	 * crash-loop the daemon for ever. */
	if (max_retries >= 0 && ++retries > max_retries) {
		state = "failed";
		snprintf(msg, sizeof msg,
			 "interrupted %lld times while in progress (last in stage '%s'); not"
			 " retried", (long long)retries, stage[0] ? stage : "?");
	} else {
		snprintf(msg, sizeof msg, "owner pid %lld %s%s%s; back to pending", (long long)o->pid,
			 why, stage[0] ? " during stage " : "", stage);
	}
	r = db_exec(db, err, errlen,
		    "UPDATE groups SET state = ?, stage = NULL, owner_pid = NULL, retries = ?,"
		    " error = CASE WHEN ? = 'failed' THEN ? ELSE error END, updated_at = ?"
		    " WHERE id = ?", "sIssdI", state, retries, state, msg, now, gid);
	if (r >= 0)
		r = queue_event(db, gid, strcmp(state, "failed") ? "recovered" : "error", NULL, msg,
				err, errlen);
	return r < 0 ? r : 0;
}

/* self_pid's groups: all of them (unheld == NULL: start-up) or those not in
 * unheld's list (a running daemon); others' groups whose owner is gone. */
static int recover(sqlite3 *db, int self_pid, int only_self, const int64_t *held, int nheld,
		   double claimed_before, int max_retries, double now, int *ret_n, char *err,
		   size_t errlen)
{
	int64_t *ids = NULL;
	int n = 0, moved = 0, r;
	queue_owner self;

	queue_owner_of(self_pid, &self);
	r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	r = ids_where(db, "SELECT id, CAST(coalesce(started_at, 0) * 1000 AS INTEGER) FROM groups"
		      " WHERE state = 'in_progress'", &ids, &n, err, errlen);
	for (int i = 0; r == 0 && i < n; i++) {
		int64_t gid = ids[2 * i];
		const char *why;
		queue_owner o;
		int mine, held_here = 0;

		r = read_owner(db, gid, &o, err, errlen);
		if (r < 0)
			break;
		mine = self_pid > 0 && o.pid == self_pid;
		if (only_self) {
			/* Ours only when the identity matches too (not a
			 * predecessor with our pid before a reboot). */
			if (!mine || (o.start >= 0 && self.start >= 0 && o.start != self.start) ||
			    (o.boot_id[0] && self.boot_id[0] && strcmp(o.boot_id, self.boot_id)))
				continue;
			for (int k = 0; k < nheld; k++)
				held_here |= held[k] == gid;
			if (held_here || (double)ids[2 * i + 1] >= claimed_before * 1000)
				continue;
			why = "holds the claim but no worker runs the group";
		} else if (mine) {
			why = "restarted";
		} else if (queue_owner_alive(&o)) {
			continue;
		} else {
			queue_owner cur;
			queue_owner_of(o.pid, &cur);
			why = cur.start >= 0 ? "is now another process (pid reused)" : "gone";
		}
		r = recover_group(db, gid, &o, why, max_retries, now, err, errlen);
		moved++;
	}
	free(ids);
	if (r < 0) {
		db_end(db, 0, NULL, 0);
		return r;
	}
	r = db_end(db, 1, err, errlen);
	if (r == 0 && ret_n)
		*ret_n = moved;
	return r;
}

int queue_recover(sqlite3 *db, int self_pid, int max_retries, double now, int *ret_n,
		  char *err, size_t errlen)
{
	return recover(db, self_pid, 0, NULL, 0, 0, max_retries, now, ret_n, err, errlen);
}

int queue_recover_unheld(sqlite3 *db, int self_pid, const int64_t *held, int nheld,
			 double claimed_before, int max_retries, double now, int *ret_n,
			 char *err, size_t errlen)
{
	return recover(db, self_pid, 1, held, nheld, claimed_before, max_retries, now, ret_n, err,
		       errlen);
}

int queue_counts(sqlite3 *db, int64_t counts[5], char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(db, err, errlen, &st, "SELECT state, count(*) FROM groups GROUP BY state",
			   NULL);
	if (r < 0)
		return r;
	for (int i = 0; i < 5; i++)
		counts[i] = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		for (int i = 0; i < 5; i++)
			if (s && !strcmp(s, queue_states[i]))
				counts[i] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return 0;
}

int queue_defer(sqlite3 *db, int64_t group_id, const char *reason, double not_before,
		double now, char *err, size_t errlen)
{
	return queue_defer_as(db, group_id, "nospace", reason, not_before, now, err, errlen);
}

int queue_defer_as(sqlite3 *db, int64_t group_id, const char *kind, const char *reason,
		   double not_before, double now, char *err, size_t errlen)
{
	int r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	r = db_exec(db, err, errlen,
		    "UPDATE groups SET state = 'pending', error = ?, stage = NULL, owner_pid = NULL,"
		    " not_before = ?, updated_at = ? WHERE id = ? AND state = 'in_progress'",
		    "sddI", reason ? reason : "no space", not_before, now, group_id);
	if (r == 0)
		r = err_set(err, errlen, -ENOENT, "group %lld is not in progress",
			    (long long)group_id);
	if (r > 0)
		r = queue_event(db, group_id, kind, NULL, reason ? reason : kind, err, errlen);
	if (r < 0) {
		db_end(db, 0, NULL, 0);
		return r;
	}
	return db_end(db, 1, err, errlen);
}
