/* tests/state/test_queue_ingest.c — the registration side of the queue:
 * known-file look-ups, a file that changes after its group ran (stale), and a
 * good re-sent subband after a bad first copy (duplicates reconsidered). */
#include "tests/test.h"
#include "tests/state/statedb.h"

#include <errno.h>

#include "core/err.h"
#include "state/db.h"
#include "state/queue.h"

static const int64_t T0 = 1772344154LL; /* 2026-03-01T05:49:14Z */

static int64_t file_id(sqlite3 *db, const char *path)
{
	int64_t id = -1;
	db_query_int(db, &id, NULL, 0, "SELECT id FROM subband_files WHERE path = ?", "s", path);
	return id;
}

/* A group of p->nsubbands files at T0, all size 100, mtime 1000 + sb. */
static void add_group(sqlite3 *db, const queue_params *p)
{
	char path[256], err[ERR_LEN] = "", *e = err;
	for (int sb = 0; sb < p->nsubbands; sb++) {
		statedb_file_path(path, sizeof path, T0, sb);
		CHECK_OK(queue_add_file(db, path, 100, 1000 + sb, p, 10, NULL, err, sizeof err), e);
	}
}

static void test_known(void)
{
	char err[ERR_LEN] = "", *e = err, path[256];
	sqlite3 *db = statedb_fresh("known.sqlite");
	queue_params p;

	if (!db)
		return;
	queue_params_default(&p);
	p.nsubbands = 4;
	add_group(db, &p);
	statedb_file_path(path, sizeof path, T0, 2);
	CHECK(queue_file_known(db, path, 100, 1002, err, sizeof err) == 1, "%s", e);
	CHECK(queue_file_known(db, path, 101, 1002, err, sizeof err) == 0, "%s", "size changed");
	CHECK(queue_file_known(db, path, 100, 1002.5, err, sizeof err) == 0, "%s", "mtime changed");
	statedb_file_path(path, sizeof path, T0 + 300, 2);
	CHECK(queue_file_known(db, path, 100, 1002, err, sizeof err) == 0, "%s", "unknown path");
	db_close(db);
}

/* The sequence: a half-written subband is registered, the run finds
 * it truncated (bad) and completes without it; then the file is finished.
 * Before: the rewrite reset it to "ok" and the group stayed completed with
 * nothing missing.  Now: the file stays bad (that is what the run saw), the
 * group is stale with an event naming the file, and requeue clears it. */
static void test_stale(void)
{
	char err[ERR_LEN] = "", *e = err, path[256], name[QUEUE_NAME_LEN], state[16];
	sqlite3 *db = statedb_fresh("stale.sqlite");
	queue_params p;
	queue_add_result res;
	int64_t id = 0;

	if (!db)
		return;
	queue_params_default(&p);
	p.nsubbands = 4;
	p.min_subbands = 3;
	add_group(db, &p);
	statedb_file_path(path, sizeof path, T0, 3);

	/* Before a run a rewrite is simply taken: not stale. */
	CHECK_OK(queue_add_file(db, path, 150, 1003.5, &p, 11, &res, err, sizeof err), e);
	CHECK(res.outcome == QUEUE_ADD_UPDATED && !res.stale, "outcome %d stale %d", res.outcome,
	      res.stale);
	CHECK(statedb_count(db, "SELECT stale FROM groups") == 0, "%s", "");

	CHECK(queue_claim(db, 7, 20, &id, name, err, sizeof err) == 1, "%s", e);
	CHECK_OK(queue_set_file_status(db, file_id(db, path), "truncated", err, sizeof err), e);
	CHECK_OK(queue_finish(db, id, QUEUE_DONE, NULL, 0, &p, 30, state, err, sizeof err), e);

	/* The writer finishes the file: size and mtime change. */
	CHECK_OK(queue_add_file(db, path, 400, 1010, &p, 40, &res, err, sizeof err), e);
	printf("# rewrite after completion: outcome %d, stale %d, state %s\n", res.outcome,
	       res.stale, res.state);
	CHECK(res.outcome == QUEUE_ADD_UPDATED, "outcome %d", res.outcome);
	CHECK(res.stale == 1, "stale %d", res.stale);
	CHECK(!strcmp(res.state, "completed"), "%s", res.state);
	CHECK(statedb_count(db, "SELECT stale FROM groups") == 1, "%s", "");
	CHECK(statedb_count(db, "SELECT count(*) FROM subband_files WHERE status = 'bad'"
		       " AND reason = 'truncated' AND size = 400") == 1,
	      "%s", "the file keeps the status the run gave it, with its new size");
	CHECK(statedb_count(db, "SELECT count(*) FROM group_events WHERE kind = 'stale'"
		       " AND message LIKE '2026-03-01T05:49:14_sb03.hdf5 changed after%'") == 1,
	      "%s", "a stale event names the file");
	/* Seen again unchanged: no second event. */
	CHECK_OK(queue_add_file(db, path, 400, 1010, &p, 41, &res, err, sizeof err), e);
	CHECK(res.outcome == QUEUE_ADD_KNOWN, "outcome %d", res.outcome);
	CHECK(statedb_count(db, "SELECT count(*) FROM group_events WHERE kind = 'stale'") == 1, "%s", "");

	/* A file the run did not use (a duplicate) changing does not make the
	 * group stale; requeue clears the mark and takes the file again. */
	CHECK_OK(queue_requeue(db, id, "rewritten", 50, err, sizeof err), e);
	CHECK(statedb_count(db, "SELECT stale FROM groups") == 0, "%s", "requeue clears stale");
	CHECK(statedb_count(db, "SELECT count(*) FROM subband_files WHERE status = 'ok'") == 4, "%s", "");
	db_close(db);
}

/* A good re-sent subband after a bad first copy. */
static void test_resent(void)
{
	char err[ERR_LEN] = "", *e = err, bad[256], good[256], late[256], name[QUEUE_NAME_LEN],
	     state[16];
	sqlite3 *db = statedb_fresh("resent.sqlite");
	queue_params p;
	queue_add_result res;
	queue_file *f = NULL;
	int64_t id = 0;
	int n = 0, have_good = 0;

	if (!db)
		return;
	queue_params_default(&p);
	p.nsubbands = 4;
	p.min_subbands = 3;
	add_group(db, &p);
	statedb_file_path(bad, sizeof bad, T0, 1);
	statedb_file_path(good, sizeof good, T0 + 2, 1); /* re-sent under another name */

	/* (a) The copy arrives before the first is known to be bad: a duplicate
	 * for now.  The run finds the first bad and completes without sb01. */
	CHECK_OK(queue_add_file(db, good, 100, 2000, &p, 12, &res, err, sizeof err), e);
	CHECK(res.outcome == QUEUE_ADD_DUPLICATE, "outcome %d", res.outcome);
	CHECK(queue_claim(db, 7, 20, &id, name, err, sizeof err) == 1, "%s", e);
	CHECK_OK(queue_set_file_status(db, file_id(db, bad), "truncated", err, sizeof err), e);
	CHECK_OK(queue_finish(db, id, QUEUE_DONE, NULL, 0, &p, 30, state, err, sizeof err), e);
	/* requeue reconsiders it: the good copy is among the files to process. */
	CHECK_OK(queue_requeue(db, id, "retry sb01", 40, err, sizeof err), e);
	CHECK_OK(queue_files(db, id, &f, &n, err, sizeof err), e);
	for (int i = 0; i < n; i++)
		have_good |= !strcmp(f[i].path, good) && !strcmp(f[i].status, "ok");
	printf("# after requeue: %d files to process, the re-sent copy among them: %d\n", n,
	       have_good);
	CHECK(have_good, "%s", "the re-sent copy is not used");
	CHECK(n == 5, "n %d", n);
	queue_files_free(f, n);
	CHECK(statedb_count(db, "SELECT count(*) FROM subband_files WHERE status = 'duplicate'") == 0,
	      "%s", "");

	/* (b) The first copy is already known bad when another arrives (group
	 * still collecting): the new one is used at once, not a duplicate. */
	sqlite3 *db2 = statedb_fresh("resent2.sqlite");
	if (!db2)
		return;
	statedb_file_path(bad, sizeof bad, T0, 0);
	statedb_file_path(late, sizeof late, T0 + 1, 0);
	CHECK_OK(queue_add_file(db2, bad, 100, 1000, &p, 10, NULL, err, sizeof err), e);
	CHECK_OK(queue_set_file_status(db2, file_id(db2, bad), "unreadable", err, sizeof err), e);
	CHECK_OK(queue_add_file(db2, late, 100, 1001, &p, 11, &res, err, sizeof err), e);
	CHECK(res.outcome == QUEUE_ADD_NEW, "outcome %d (3 = duplicate)", res.outcome);
	CHECK(statedb_count(db2, "SELECT count(*) FROM subband_files WHERE status = 'ok'") == 1, "%s", "");

	/* A usable first copy still makes a second one a duplicate. */
	statedb_file_path(late, sizeof late, T0 + 1, 2);
	statedb_file_path(good, sizeof good, T0 + 3, 2);
	CHECK_OK(queue_add_file(db2, late, 100, 1002, &p, 12, NULL, err, sizeof err), e);
	CHECK_OK(queue_add_file(db2, good, 100, 1003, &p, 13, &res, err, sizeof err), e);
	CHECK(res.outcome == QUEUE_ADD_DUPLICATE, "outcome %d", res.outcome);
	db_close(db2);
	db_close(db);
}

int main(void)
{
	RUN(test_known);
	RUN(test_stale);
	RUN(test_resent);
	return TEST_DONE();
}
