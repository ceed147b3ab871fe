/*
 * tests/daemon/test_ctl_common.c — contimgctl's shared prologue and epilogue
 * (daemon/ctl.h): ctl_begin opens exactly what the command's row asks for
 * (nothing, settings, the state database read-only, read-write, or created),
 * leaves nothing open when it fails, and a read-only row really cannot
 * write; ctl_only_json accepts only --json.  Leaks and double closes show
 * under the sanitizer build.
 */
#include "tests/test.h"

#include <sys/stat.h>

#include <sqlite3.h>

#include "daemon/ctl.h"
#include "daemon/pipeline.h"

static char conf[1024], state_dir[1024], db_path[sizeof ((pipe_settings *)0)->db_path];

static void write_conf(const char *extra)
{
	const char *t = test_tmpdir();
	FILE *f;

	snprintf(conf, sizeof conf, "%s/contimg.conf", t);
	snprintf(state_dir, sizeof state_dir, "%s/state", t);
	f = fopen(conf, "w");
	if (!f)
		return;
	fprintf(f, "[paths]\nstate_dir = %s\nproducts_dir = %s/prod\ningest_dir = %s/in\n%s",
		state_dir, t, t, extra);
	fclose(f);
}

/* ctl_begin for a row that needs `needs`, with the config file conf. */
static int begin(ctl_needs needs, int explicit_conf, ctl_state *st)
{
	static ctl_command row;
	ctl_env env = { conf, explicit_conf, &row };

	row = (ctl_command){ "test", NULL, NULL, needs, "", "", "" };
	return ctl_begin(&env, st);
}

static int exists(const char *p)
{
	struct stat s;
	return stat(p, &s) == 0;
}

/* A write through db: SQLITE_OK, or SQLITE_READONLY on a read-only handle. */
static int try_write(sqlite3 *db)
{
	return sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS t_ctl (x); INSERT INTO t_ctl VALUES (1)",
			    NULL, NULL, NULL);
}

static void test_begin_by_needs(void)
{
	ctl_state st;
	int rc;

	write_conf("");
	/* Nothing: no configuration is even read. */
	rc = begin(CTL_NEEDS_NOTHING, 1, &st);
	CHECK(rc == CTL_OK && !st.cfg && !st.db, "rc %d", rc);
	ctl_end(&st, rc);

	/* Settings: the configuration and its settings, no database. */
	rc = begin(CTL_NEEDS_SETTINGS, 1, &st);
	CHECK(rc == CTL_OK && st.cfg && !st.db, "rc %d", rc);
	CHECK(!strcmp(st.s->state_dir, state_dir), "state_dir '%s'", st.s->state_dir);
	snprintf(db_path, sizeof db_path, "%s", st.s->db_path);
	CHECK(ctl_end(&st, 7) == 7 && !st.cfg);

	/* No database yet: read-only and read-write rows are unreachable (3),
	 * leave nothing open and create nothing. */
	rc = begin(CTL_NEEDS_DB_RO, 1, &st);
	CHECK(rc == CTL_UNREACHABLE && !st.cfg && !st.db, "rc %d", rc);
	rc = begin(CTL_NEEDS_DB_RW, 1, &st);
	CHECK(rc == CTL_UNREACHABLE && !st.cfg && !st.db, "rc %d", rc);
	CHECK(!exists(state_dir), "%s was created by a row that may not create", state_dir);

	/* A creating row makes the state directory and the database. */
	rc = begin(CTL_NEEDS_DB_CREATE, 1, &st);
	CHECK(rc == CTL_OK && st.cfg && st.db, "rc %d", rc);
	CHECK(exists(db_path), "%s", db_path);
	CHECK(st.db && try_write(st.db) == SQLITE_OK);
	ctl_end(&st, CTL_OK);
	CHECK(!st.db && !st.cfg);

	/* Read-only means read-only; read-write writes. */
	rc = begin(CTL_NEEDS_DB_RO, 1, &st);
	CHECK(rc == CTL_OK && st.db, "rc %d", rc);
	rc = st.db ? try_write(st.db) : -1;
	printf("# write through a read-only row: SQLite code %d (SQLITE_READONLY %d)\n", rc,
	       SQLITE_READONLY);
	CHECK(rc == SQLITE_READONLY, "code %d", rc);
	ctl_end(&st, CTL_OK);
	rc = begin(CTL_NEEDS_DB_RW, 1, &st);
	CHECK(rc == CTL_OK && st.db && try_write(st.db) == SQLITE_OK, "rc %d", rc);
	ctl_end(&st, CTL_OK);
}

static void test_begin_config_errors(void)
{
	ctl_state st;
	int rc;

	/* An explicit configuration must exist; the default one may be absent
	 * (then every key has its default). */
	write_conf("");
	snprintf(conf, sizeof conf, "%s/absent.conf", test_tmpdir());
	rc = begin(CTL_NEEDS_SETTINGS, 1, &st);
	CHECK(rc == CTL_USAGE && !st.cfg, "rc %d", rc);
	rc = begin(CTL_NEEDS_SETTINGS, 0, &st);
	CHECK(rc == CTL_OK && st.cfg && st.s->threads >= 1, "rc %d", rc);
	ctl_end(&st, rc);

	/* A bad setting is bad usage (2), before any database is opened. */
	write_conf("[pipeline]\nthreads = -3\n");
	rc = begin(CTL_NEEDS_DB_CREATE, 1, &st);
	CHECK(rc == CTL_USAGE && !st.cfg && !st.db, "rc %d", rc);
}

static void test_only_json(void)
{
	char *ok1[] = { "status" }, *ok2[] = { "status", "--json" },
	     *ok3[] = { "pointing", "list", "--json" }, *bad1[] = { "status", "--jsn" },
	     *bad2[] = { "status", "--json", "x" };
	ctl_command row = { "status", NULL, NULL, CTL_NEEDS_NOTHING, "[--json]", "", "" };
	ctl_env env = { conf, 1, &row };
	int json = -1;

	CHECK(ctl_only_json(1, ok1, 1, &env, &json) == CTL_OK && json == 0);
	CHECK(ctl_only_json(2, ok2, 1, &env, &json) == CTL_OK && json == 1);
	CHECK(ctl_only_json(3, ok3, 2, &env, &json) == CTL_OK && json == 1);
	json = -1;
	CHECK(ctl_only_json(2, bad1, 1, &env, &json) == CTL_USAGE && json == -1);
	CHECK(ctl_only_json(3, bad2, 1, &env, &json) == CTL_USAGE && json == -1);
	CHECK(ctl_usage(&env) == CTL_USAGE);
}

int main(void)
{
	RUN(test_begin_by_needs);
	RUN(test_begin_config_errors);
	RUN(test_only_json);
	return TEST_DONE();
}
