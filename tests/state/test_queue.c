/* tests/state/test_queue.c — grouping, states, retries, recovery, claims. */
#include "tests/test.h"
#include "tests/state/statedb.h"

#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>

#include "core/err.h"
#include "state/db.h"
#include "state/queue.h"

static void test_names(void)
{
	int64_t ts = 0;
	int sb = -1;
	char buf[QUEUE_NAME_LEN];

	CHECK(queue_parse_file_name("2026-03-01T05:49:14_sb07.hdf5", &ts, &sb) == 0, "%s", "");
	CHECK(sb == 7, "sb %d", sb);
	/* 2026-03-01T05:49:14Z = 1772344154 (date -u -d ... +%s). */
	CHECK(ts == 1772344154LL, "ts %lld", (long long)ts);
	queue_format_ts(ts, buf, sizeof buf);
	CHECK(!strcmp(buf, "2026-03-01T05:49:14"), "%s", buf);
	static const char *bad[] = {
		"2026-03-01T05:49:14_sb07_incomplete.hdf5", "2026-03-01T05:49:14_sb07.hdf5.tmp",
		"2026-02-30T05:49:14_sb07.hdf5", "2026-13-01T05:49:14_sb07.hdf5",
		"2026-03-01T24:49:14_sb07.hdf5", "2026-03-01 05:49:14_sb07.hdf5",
		"2026-03-01T05:49:14_sbx7.hdf5", "../03-01T05:49:14_sb07.hdf5",
		"2026-03-01T05:49:14_sb7.hdf5", "", ".hdf5", "2025-02-29T00:00:00_sb00.hdf5",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(queue_parse_file_name(bad[i], NULL, NULL) == -EINVAL, "accepted '%s'", bad[i]);
	CHECK(queue_parse_file_name("2024-02-29T00:00:00_sb00.hdf5", NULL, NULL) == 0, "%s", "leap");
	CHECK(queue_parse_group_name("2026-03-01T05:49:14", NULL) == 0, "%s", "");
	CHECK(queue_parse_group_name("2026-03-01T05:49:14; DROP", NULL) == -EINVAL, "%s", "");
	CHECK(queue_parse_group_name("../../etc/passwd", NULL) == -EINVAL, "%s", "");
}

/* Two groups 300 s apart, file timestamps jittered by up to ±25 s, arriving
 * interleaved in a scrambled order → two groups of 16, named by the earliest
 * file, pending once complete. */
static void test_grouping_interleaved(void)
{
	char err[ERR_LEN] = "", *e = err, path[256];
	sqlite3 *db = statedb_fresh("group.sqlite");
	queue_params p;
	queue_add_result res;
	const int64_t t0 = 1772344154LL, t1 = t0 + 300;
	int64_t id = 0;
	int jit[16] = { 3, -25, 17, 0, 25, -8, 11, -19, 6, -2, 22, -14, 9, -5, 1, 13 };

	CHECK(db != NULL, "%s", "the test database did not open");
	if (!db)
		return;
	queue_params_default(&p);
	for (int k = 0; k < 32; k++) {
		/* Interleave: even k → group 0, odd → group 1, subbands scrambled. */
		int64_t base = (k & 1) ? t1 : t0;
		int sb = ((k >> 1) * 7) % 16;
		statedb_file_path(path, sizeof path, base + jit[(sb + (k & 1) * 5) % 16], sb);
		CHECK_OK(queue_add_file(db, path, 100, 1.0, &p, 1000.0 + k, &res, err, sizeof err), e);
		CHECK(res.outcome == QUEUE_ADD_NEW, "outcome %d", res.outcome);
		if (k < 30)
			CHECK(!strcmp(res.state, "collecting"), "k %d state %s", k, res.state);
	}
	CHECK(statedb_count(db, "SELECT count(*) FROM groups") == 2, "%s", "two groups");
	CHECK(statedb_count(db, "SELECT count(*) FROM groups WHERE state = 'pending'") == 2, "%s", "");
	CHECK(statedb_count(db, "SELECT count(*) FROM subband_files") == 32, "%s", "");
	CHECK(statedb_count(db, "SELECT min(c) FROM (SELECT count(DISTINCT subband) c FROM subband_files"
		       " GROUP BY group_id)") == 16, "%s", "each group has all 16 subbands");
	CHECK(queue_find(db, "2026-03-01T05:48:49", &id, err, sizeof err) == 1,
	      "%s", "group 0 named by its earliest file (t0 - 25 s)");
	/* Group 1's earliest file: t1 + min jitter of its subbands. */
	CHECK(statedb_count(db, "SELECT count(*) FROM groups WHERE name = '2026-03-01T05:53:49'") == 1,
	      "%s", "group 1 named t1 - 25 s");

	/* Re-delivery: no new row; rewrite: updated; a second file for a subband: duplicate. */
	statedb_file_path(path, sizeof path, t0 + jit[0], 0);
	CHECK_OK(queue_add_file(db, path, 100, 1.0, &p, 2000, &res, err, sizeof err), e);
	CHECK(res.outcome == QUEUE_ADD_KNOWN, "outcome %d", res.outcome);
	CHECK_OK(queue_add_file(db, path, 200, 2.0, &p, 2000, &res, err, sizeof err), e);
	CHECK(res.outcome == QUEUE_ADD_UPDATED, "outcome %d", res.outcome);
	statedb_file_path(path, sizeof path, t0 + 30, 0);
	CHECK_OK(queue_add_file(db, path, 100, 1.0, &p, 2000, &res, err, sizeof err), e);
	CHECK(res.outcome == QUEUE_ADD_DUPLICATE, "outcome %d", res.outcome);
	CHECK(statedb_count(db, "SELECT count(*) FROM groups") == 2, "%s", "still two groups");
	CHECK(statedb_count(db, "SELECT count(*) FROM subband_files") == 33, "%s", "");

	/* Bad input is refused without touching the DB. */
	CHECK(queue_add_file(db, "/in/../etc/passwd", 1, 1, &p, 1, NULL, err, sizeof err) == -EINVAL,
	      "%s", "");
	CHECK(queue_add_file(db, "relative/2026-03-01T05:49:14_sb01.hdf5", 1, 1, &p, 1, NULL, err,
			     sizeof err) == -EINVAL, "%s", "");
	CHECK(queue_add_file(db, "/in/2026-03-01T05:49:14_sb16.hdf5", 1, 1, &p, 1, NULL, err,
			     sizeof err) == -EINVAL, "%s", "subband beyond 15");
	db_close(db);
}

static void test_collect_timeout(void)
{
	char err[ERR_LEN] = "", *e = err, path[256];
	sqlite3 *db = statedb_fresh("timeout.sqlite");
	queue_params p;
	const int64_t t0 = 1772344154LL;
	int changed = -1;
	int64_t id = 0;

	CHECK(db != NULL, "%s", "the test database did not open");
	if (!db)
		return;
	queue_params_default(&p);
	p.min_subbands = 15;
	for (int sb = 0; sb < 16; sb++) /* group A: sb05 absent → 15 */
		if (sb != 5) {
			statedb_file_path(path, sizeof path, t0, sb);
			CHECK_OK(queue_add_file(db, path, 1, 1, &p, 100, NULL, err, sizeof err), e);
		}
	for (int sb = 0; sb < 10; sb++) { /* group B: 10 of 16 */
		statedb_file_path(path, sizeof path, t0 + 600, sb);
		CHECK_OK(queue_add_file(db, path, 1, 1, &p, 100, NULL, err, sizeof err), e);
	}
	CHECK_OK(queue_collect_timeouts(db, &p, 60, 150, &changed, err, sizeof err), e);
	CHECK(changed == 0, "too early: %d", changed);
	CHECK_OK(queue_collect_timeouts(db, &p, 60, 161, &changed, err, sizeof err), e);
	CHECK(changed == 2, "changed %d", changed);
	CHECK(statedb_count(db, "SELECT count(*) FROM groups WHERE state = 'pending'") == 1, "%s", "");
	CHECK(statedb_count(db, "SELECT count(*) FROM group_events WHERE kind = 'missing'"
		       " AND message LIKE '%sb05%'") == 1, "%s", "missing subband recorded");
	CHECK(statedb_count(db, "SELECT count(*) FROM groups WHERE state = 'failed'"
		       " AND error LIKE '%only 10 of 16%'") == 1, "%s", "failure names the count");
	/* A file that turns up after the failure is kept, not processed. */
	queue_add_result res;
	statedb_file_path(path, sizeof path, t0 + 600, 12);
	CHECK_OK(queue_add_file(db, path, 1, 1, &p, 200, &res, err, sizeof err), e);
	CHECK(res.outcome == QUEUE_ADD_LATE && !strcmp(res.state, "failed"), "outcome %d %s",
	      res.outcome, res.state);
	CHECK(queue_find(db, "2026-03-01T05:59:14", &id, err, sizeof err) == 1, "%s", "");
	db_close(db);
}

static void add_group(sqlite3 *db, const queue_params *p, int64_t ts)
{
	char path[256], err[ERR_LEN];
	for (int sb = 0; sb < p->nsubbands; sb++) {
		statedb_file_path(path, sizeof path, ts, sb);
		if (queue_add_file(db, path, 1, 1, p, 100, NULL, err, sizeof err) < 0)
			fprintf(stderr, "  %s\n", err);
	}
}

static int dead_pid(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return (int)pid;
}

static void test_claim_finish_retry(void)
{
	char err[ERR_LEN] = "", *e = err, name[QUEUE_NAME_LEN], state[16];
	sqlite3 *db = statedb_fresh("claim.sqlite");
	queue_params p;
	const int64_t t0 = 1772344154LL;
	int64_t id = 0, id2 = 0;

	CHECK(db != NULL, "%s", "the test database did not open");
	if (!db)
		return;
	queue_params_default(&p);
	p.nsubbands = 2;
	p.max_retries = 1;
	p.retry_delay_s = 10;
	add_group(db, &p, t0 + 900); /* newest first in arrival order */
	add_group(db, &p, t0);
	CHECK(queue_claim(db, 42, 1000, &id, name, err, sizeof err) == 1, "%s", err);
	CHECK(!strcmp(name, "2026-03-01T05:49:14"), "oldest first, got %s", name);
	CHECK(queue_claim(db, 42, 1000, &id2, name, err, sizeof err) == 1, "%s", err);
	CHECK(queue_claim(db, 42, 1000, &id2, name, err, sizeof err) == 0, "%s", "none left");

	/* First failure: back to pending after the back-off; second: failed. */
	CHECK_OK(queue_finish(db, id, QUEUE_FAIL, "boom", 0, &p, 1000, state, err, sizeof err), e);
	CHECK(!strcmp(state, "pending"), "%s", state);
	CHECK(queue_claim(db, 42, 1005, &id2, name, err, sizeof err) == 0, "%s", "back-off");
	CHECK(queue_claim(db, 42, 1011, &id2, name, err, sizeof err) == 1 && id2 == id, "%s", "");
	CHECK_OK(queue_finish(db, id, QUEUE_FAIL, "boom again", 0, &p, 1012, state, err,
			      sizeof err), e);
	CHECK(!strcmp(state, "failed"), "%s", state);
	CHECK(statedb_count(db, "SELECT retries FROM groups WHERE name = '2026-03-01T05:49:14'") == 2, "%s", "");
	CHECK(statedb_count(db, "SELECT count(*) FROM groups WHERE error = 'boom again'") == 1, "%s", "");

	/* requeue / retry-failed reset retries and record the reason. */
	int n = 0;
	CHECK_OK(queue_retry_failed(db, "operator fixed the disk", 1100, &n, err, sizeof err), e);
	CHECK(n == 1, "n %d", n);
	CHECK(statedb_count(db, "SELECT count(*) FROM group_events WHERE kind = 'requeue'"
		       " AND message = 'operator fixed the disk'") == 1, "%s", "");
	CHECK(queue_claim(db, 42, 1100, &id2, name, err, sizeof err) == 1 && id2 == id, "%s", "");
	CHECK(queue_requeue(db, id, "x", 1100, err, sizeof err) == -EBUSY, "%s", "running");
	CHECK_OK(queue_add_product(db, id, "image", "/p/a.fits", err, sizeof err), e);
	CHECK_OK(queue_add_product(db, id, "image", "/p/b.fits", err, sizeof err), e);
	CHECK(statedb_count(db, "SELECT count(*) FROM products") == 1, "%s", "upsert, not duplicate");
	CHECK_OK(queue_finish(db, id, QUEUE_DONE, NULL, 1, &p, 1101, state, err, sizeof err), e);
	CHECK(!strcmp(state, "completed"), "%s", state);
	CHECK(statedb_count(db, "SELECT calibrated + 10 * runs FROM groups WHERE name ="
		       " '2026-03-01T05:49:14'") == 11, "%s", "calibrated, one run");
	CHECK_OK(queue_requeue(db, id, "reprocess", 1200, err, sizeof err), e);
	CHECK(queue_requeue(db, 9999, "x", 1200, err, sizeof err) == -ENOENT, "%s", "");

	/* Hard failure: no retry. */
	CHECK(queue_claim(db, 42, 1200, &id2, name, err, sizeof err) == 1, "%s", "");
	CHECK_OK(queue_finish(db, id2, QUEUE_FAIL_HARD, "corrupt", 0, &p, 1201, state, err,
			      sizeof err), e);
	CHECK(!strcmp(state, "failed"), "%s", state);
	db_close(db);
}

static void test_recover(void)
{
	char err[ERR_LEN] = "", *e = err, name[QUEUE_NAME_LEN];
	sqlite3 *db = statedb_fresh("recover.sqlite");
	queue_params p;
	int64_t a = 0, b = 0;
	int n = -1;

	CHECK(db != NULL, "%s", "the test database did not open");
	if (!db)
		return;
	queue_params_default(&p);
	p.nsubbands = 1;
	add_group(db, &p, 1772344154LL);
	add_group(db, &p, 1772344154LL + 300);
	CHECK(queue_claim(db, dead_pid(), 10, &a, name, err, sizeof err) == 1, "%s", "");
	CHECK(queue_claim(db, (int)getpid(), 10, &b, name, err, sizeof err) == 1, "%s", "");
	/* Periodic pass: only the dead owner's group goes back. */
	CHECK_OK(queue_recover(db, 0, 5, 20, &n, err, sizeof err), e);
	CHECK(n == 1, "n %d", n);
	CHECK(statedb_count(db, "SELECT count(*) FROM groups WHERE state = 'in_progress'") == 1, "%s", "");
	/* Start-up pass as our own pid: ours goes back too. */
	CHECK_OK(queue_recover(db, (int)getpid(), -1, 30, &n, err, sizeof err), e);
	CHECK(n == 1, "n %d", n);
	CHECK(statedb_count(db, "SELECT count(*) FROM groups WHERE state = 'pending'") == 2, "%s", "");
	CHECK(statedb_count(db, "SELECT count(*) FROM group_events WHERE kind = 'recovered'") == 2, "%s", "");
	CHECK(statedb_count(db, "SELECT group_concat(retries, '') FROM (SELECT retries FROM groups ORDER BY id)")
	      == 10, "%s", "a crash counts as a run (1), an orderly requeue does not (0)");
	/* claim_group refuses a group a live process runs, accepts a dead one's. */
	CHECK(queue_claim(db, (int)getppid(), 40, &a, name, err, sizeof err) == 1, "%s", "");
	CHECK(queue_claim_group(db, a, (int)getpid(), 41, err, sizeof err) == -EBUSY, "%s", err);
	CHECK(queue_claim(db, dead_pid(), 40, &b, name, err, sizeof err) == 1, "%s", "");
	CHECK_OK(queue_claim_group(db, b, (int)getpid(), 41, err, sizeof err), e);
	/* A group whose owner keeps dying fails after max_retries interruptions
	 * (it has 1 already): the second crash here is its third. */
	for (int k = 0; k < 2; k++) {
		db_exec(db, NULL, 0, "UPDATE groups SET state = 'in_progress', stage = 'image',"
			" owner_pid = ? WHERE id = ?", "iI", dead_pid(), a);
		CHECK_OK(queue_recover(db, 0, 2, 50, &n, err, sizeof err), e);
	}
	CHECK(statedb_count(db, "SELECT count(*) FROM groups WHERE state = 'failed' AND error LIKE"
		       " '%interrupted 3 times%stage ''image''%'") == 1, "%s", "crash loop stopped");
	db_close(db);
}

/* Owners are (pid, boot id, start time): a live pid that is not the
 * recorded process is not the owner. */
static void test_owner_identity(void)
{
	char err[ERR_LEN] = "", *e = err, name[QUEUE_NAME_LEN];
	sqlite3 *db = statedb_fresh("owner.sqlite");
	queue_params p;
	queue_owner self, parent, o;
	int64_t a = 0, b = 0, c = 0, v = -1;
	int n = -1;

	CHECK(db != NULL, "%s", "the test database did not open");
	if (!db)
		return;
	queue_owner_of(getpid(), &self);
	queue_owner_of(getppid(), &parent);
	printf("# self pid %lld boot %s start %lld; parent start %lld\n", (long long)self.pid,
	       self.boot_id, (long long)self.start, (long long)parent.start);
	CHECK(self.start > 0 && strlen(self.boot_id) == 36, "start %lld boot '%s'",
	      (long long)self.start, self.boot_id);
	CHECK(queue_owner_alive(&self) && queue_owner_alive(&parent), "%s", "live owners");
	o = parent;
	o.start = parent.start + 1;
	CHECK(!queue_owner_alive(&o), "%s", "another start time is another process");
	o = parent;
	snprintf(o.boot_id, sizeof o.boot_id, "00000000-0000-0000-0000-000000000000");
	CHECK(!queue_owner_alive(&o), "%s", "another boot is another process");
	o.pid = dead_pid();
	o.start = -1;
	o.boot_id[0] = 0;
	CHECK(!queue_owner_alive(&o), "%s", "dead pid");

	queue_params_default(&p);
	p.nsubbands = 1;
	add_group(db, &p, 1772344154LL);
	add_group(db, &p, 1772344154LL + 300);
	add_group(db, &p, 1772344154LL + 600);
	CHECK(queue_claim(db, (int)getppid(), 10, &a, name, err, sizeof err) == 1, "%s", e);
	CHECK(queue_claim(db, (int)getppid(), 10, &b, name, err, sizeof err) == 1, "%s", e);
	CHECK(queue_claim(db, (int)getpid(), 10, &c, name, err, sizeof err) == 1, "%s", e);
	db_query_int(db, &v, NULL, 0, "SELECT owner_start FROM groups WHERE id = ?", "I", a);
	CHECK(v == parent.start, "recorded start %lld, parent's %lld", (long long)v,
	      (long long)parent.start);
	/* The parent's pid after a "reboot" (b) and after a wrap-around (a). */
	db_exec(db, NULL, 0, "UPDATE groups SET owner_start = owner_start + 7 WHERE id = ?", "I", a);
	db_exec(db, NULL, 0, "UPDATE groups SET owner_boot = 'another-boot' WHERE id = ?", "I", b);
	/* requeue refuses and explains; the periodic recovery frees both. */
	CHECK(queue_requeue(db, a, "x", 11, err, sizeof err) == -EBUSY && strstr(err, "pid reused")
	      && strstr(err, "--force"), "%s", e);
	printf("# requeue: %s\n", err);
	CHECK_OK(queue_recover(db, 0, 5, 20, &n, err, sizeof err), e);
	CHECK(n == 2, "recovered %d", n);
	CHECK(statedb_count(db, "SELECT count(*) FROM group_events WHERE kind = 'recovered' AND message"
		       " LIKE '%pid reused%'") == 2, "%s", "events name the reuse");
	/* c is ours and alive: refused, then forced. */
	CHECK(queue_requeue(db, c, "x", 21, err, sizeof err) == -EBUSY && strstr(err, "--force"),
	      "%s", e);
	CHECK_OK(queue_requeue_force(db, c, "wedged", 22, err, sizeof err), e);
	CHECK(statedb_count(db, "SELECT count(*) FROM groups WHERE state = 'pending' AND owner_pid IS NULL")
	      == 3, "%s", "all pending");
	CHECK(statedb_count(db, "SELECT count(*) FROM group_events WHERE kind = 'requeue' AND message"
		       " LIKE 'wedged (forced: taken from pid%alive)'") == 1, "%s", "forced event");
	CHECK(queue_requeue_force(db, 9999, "x", 22, err, sizeof err) == -ENOENT, "%s", e);

	/* A running daemon frees its own claims that no worker holds. */
	CHECK(queue_claim(db, (int)getpid(), 30, &a, name, err, sizeof err) == 1, "%s", e);
	CHECK(queue_claim(db, (int)getpid(), 30, &b, name, err, sizeof err) == 1, "%s", e);
	CHECK(queue_claim(db, (int)getppid(), 30, &c, name, err, sizeof err) == 1, "%s", e);
	CHECK_OK(queue_recover(db, 0, 5, 31, &n, err, sizeof err), e);
	CHECK(n == 0, "periodic recovery moved %d live claims", n);
	CHECK_OK(queue_recover_unheld(db, (int)getpid(), &a, 1, 30, 5, 32, &n, err, sizeof err), e);
	CHECK(n == 0, "a claim made at the time the workers were looked at is no orphan (%d)", n);
	CHECK_OK(queue_recover_unheld(db, (int)getpid(), &a, 1, 31, 5, 32, &n, err, sizeof err), e);
	CHECK(n == 1, "unheld recovered %d", n);
	v = -1;
	db_query_int(db, &v, NULL, 0, "SELECT count(*) FROM groups WHERE id = ? AND state ="
		     " 'pending' AND retries = 2", "I", b);
	CHECK(v == 1, "the unheld claim is pending with its second retry counted (%lld)",
	      (long long)v);
	CHECK(statedb_count(db, "SELECT count(*) FROM group_events WHERE kind = 'recovered' AND message"
		       " LIKE '%no worker runs%'") == 1, "%s", "event says why");
	v = -1;
	db_query_int(db, &v, NULL, 0, "SELECT count(*) FROM groups WHERE state = 'in_progress'"
		     " AND id IN (?, ?)", "II", a, c);
	CHECK(v == 2, "the held claim and another process's stay (%lld)", (long long)v);
	db_close(db);
}

/* Two connections claiming concurrently never get the same group. */
static char claimfile[1100];
static int64_t claimed[2][64];
static int nclaimed[2];
static void *claimer(void *arg)
{
	int k = (int)(intptr_t)arg;
	sqlite3 *db = NULL;
	char err[ERR_LEN], name[QUEUE_NAME_LEN];
	int64_t id;
	if (db_open(claimfile, 0, &db, err, sizeof err) < 0)
		return NULL;
	while (nclaimed[k] < 64 && queue_claim(db, 7, 1e9, &id, name, err, sizeof err) == 1)
		claimed[k][nclaimed[k]++] = id;
	db_close(db);
	return NULL;
}

static void test_concurrent_claims(void)
{
	sqlite3 *db = statedb_fresh("claims.sqlite");
	queue_params p;
	pthread_t th[2];

	CHECK(db != NULL, "%s", "the test database did not open");
	if (!db)
		return;
	snprintf(claimfile, sizeof claimfile, "%s/claims.sqlite", test_tmpdir());
	queue_params_default(&p);
	p.nsubbands = 1;
	for (int i = 0; i < 40; i++)
		add_group(db, &p, 1772344154LL + 300 * i);
	for (int k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, claimer, (void *)(intptr_t)k);
	for (int k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	CHECK(nclaimed[0] + nclaimed[1] == 40, "claimed %d + %d", nclaimed[0], nclaimed[1]);
	for (int i = 0; i < nclaimed[0]; i++)
		for (int j = 0; j < nclaimed[1]; j++)
			CHECK(claimed[0][i] != claimed[1][j], "group %lld claimed twice",
			      (long long)claimed[0][i]);
	CHECK(statedb_count(db, "SELECT count(*) FROM groups WHERE state = 'in_progress'") == 40, "%s", "");
	db_close(db);
}

int main(void)
{
	RUN(test_names);
	RUN(test_grouping_interleaved);
	RUN(test_collect_timeout);
	RUN(test_claim_finish_retry);
	RUN(test_recover);
	RUN(test_owner_identity);
	RUN(test_concurrent_claims);
	return TEST_DONE();
}
