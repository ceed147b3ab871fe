/* tests/state/test_heartbeat.c — the daemon's heartbeat row (state/heartbeat.h). */
#include "tests/test.h"

#include <errno.h>

#include "core/err.h"
#include "state/db.h"
#include "state/heartbeat.h"

static void test_heartbeat(void)
{
	char path[1100], err[ERR_LEN] = "", *e = err;
	sqlite3 *db = NULL, *ro = NULL;
	heartbeat h, keep;
	int64_t nrows = -1;

	snprintf(path, sizeof path, "%s/hb.sqlite", test_tmpdir());
	CHECK_OK(db_open(path, 1, &db, err, sizeof err), e);
	if (!db)
		return;
	/* No daemon ever ran: no row, *ret untouched. */
	memset(&keep, 0x5a, sizeof keep);
	h = keep;
	CHECK(heartbeat_read(db, &h, err, sizeof err) == 0, "%s", err);
	CHECK(!memcmp(&h, &keep, sizeof h), "%s", "untouched");

	/* A beat with no start row creates one started now. */
	CHECK_OK(heartbeat_beat(db, 11, 50.0, "early", err, sizeof err), e);
	CHECK(heartbeat_read(db, &h, err, sizeof err) == 1, "%s", err);
	CHECK(h.pid == 11 && h.started_at == 50.0 && h.heartbeat_at == 50.0, "%d %g %g", h.pid,
	      h.started_at, h.heartbeat_at);
	heartbeat_release(&h);

	/* Start, then beats: started_at stays, the rest follows the beats. */
	CHECK_OK(heartbeat_start(db, 4242, 1000.25, err, sizeof err), e);
	CHECK(heartbeat_read(db, &h, err, sizeof err) == 1, "%s", err);
	CHECK(h.pid == 4242 && h.started_at == 1000.25 && h.heartbeat_at == 1000.25, "%d %g %g",
	      h.pid, h.started_at, h.heartbeat_at);
	CHECK(!strcmp(test_str_(h.status), "starting"), "%s", test_str_(h.status));
	heartbeat_release(&h);
	CHECK_OK(heartbeat_beat(db, 4242, 1005.5, "1 pending, 0 collecting, 0 failed; running: none",
				err, sizeof err), e);
	CHECK_OK(heartbeat_beat(db, 4242, 1010.75, "0 pending; running: G (image)", err,
				sizeof err), e);
	/* Another connection (contimgctl) reads what the daemon wrote. */
	CHECK_OK(db_open_readonly(path, &ro, err, sizeof err), e);
	CHECK(ro && heartbeat_read(ro, &h, err, sizeof err) == 1, "%s", err);
	printf("# heartbeat: pid %d started %.2f last %.2f status \"%s\"\n", h.pid, h.started_at,
	       h.heartbeat_at, test_str_(h.status));
	CHECK(h.started_at == 1000.25 && h.heartbeat_at == 1010.75, "%g %g", h.started_at,
	      h.heartbeat_at);
	CHECK(!strcmp(test_str_(h.status), "0 pending; running: G (image)"), "%s",
	      test_str_(h.status));
	heartbeat_release(&h);
	heartbeat_release(&h); /* released twice: still safe */
	heartbeat_release(NULL);

	/* A restart resets started_at; still one row. */
	CHECK_OK(heartbeat_start(db, 5000, 2000, err, sizeof err), e);
	CHECK(ro && heartbeat_read(ro, &h, err, sizeof err) == 1, "%s", err);
	CHECK(h.pid == 5000 && h.started_at == 2000, "%d %g", h.pid, h.started_at);
	heartbeat_release(&h);
	db_query_int(db, &nrows, NULL, 0, "SELECT count(*) FROM daemon", NULL);
	CHECK(nrows == 1, "%lld rows", (long long)nrows);

	/* A NULL status reads as NULL (contimgctl prints null). */
	db_exec(db, NULL, 0, "UPDATE daemon SET status = NULL", NULL);
	CHECK(heartbeat_read(db, &h, err, sizeof err) == 1 && h.status == NULL, "%s", "NULL");
	heartbeat_release(&h);

	/* A read-only connection cannot write: -EIO with SQLite's message. */
	CHECK(ro && heartbeat_beat(ro, 1, 1, "x", err, sizeof err) == -EIO, "%s", err);
	db_close(ro);
	db_close(db);
}

int main(void)
{
	RUN(test_heartbeat);
	return TEST_DONE();
}
