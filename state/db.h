/*
 * state/db.h — open the state database, migrate its schema, transactions.
 *
 * One SQLite file (state_dir/contimg.sqlite) holds the queue, products,
 * calibration registry, photometry ...  Every connection is opened with WAL
 * journaling (readers never block the writer, so contimgctl works while the
 * daemon writes), synchronous = FULL (each commit is on disk when it returns:
 * a group recorded completed survives a power cut; docs/operations.md
 * "Durability"), a busy timeout, and foreign keys on.  Each thread uses its
 * own connection.
 *
 * Schema: the migrations array in state/db.c; element i brings the schema to
 * version i + 1 (PRAGMA user_version).  db_open() applies the missing ones in
 * one BEGIN IMMEDIATE transaction each, so two processes opening a fresh file
 * at once do not both migrate.
 *
 * All SQL with values from outside is parameterised (sqlite3_bind_*); the
 * helpers below exist so that is the easy way.
 *
 * Where the helpers below say -EIO, a full disk (SQLITE_FULL: "database or
 * disk is full") gives -ENOSPC instead, with the same message.
 */
#ifndef CONTIMG_DB_H
#define CONTIMG_DB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define DB_FILE_NAME "contimg.sqlite" /* inside [paths] state_dir */
#define DB_BUSY_TIMEOUT_MS 10000

/* Open (creating when create != 0) and migrate the database at path.  On
 * success *ret is a connection the caller closes with db_close().
 * Errors: -ENOENT (absent and create == 0), -EIO (not a database, migration
 * failed), -EPROTO (the file's schema is newer than this program). */
int db_open(const char *path, int create, sqlite3 **ret, char *err, size_t errlen);

/* Open read-only (contimgctl listings); no migration is attempted, but a file
 * whose schema is older than this program still reads (missing tables fail
 * their query).  Errors as db_open. */
int db_open_readonly(const char *path, sqlite3 **ret, char *err, size_t errlen);
/* db_open_readonly that also says (*ret_immutable, may be NULL) whether it had
 * to fall back to the immutable open: the connection then does not see
 * changes made after it opened. */
int db_open_readonly_ex(const char *path, sqlite3 **ret, int *ret_immutable, char *err,
			size_t errlen);

/* Build "state_dir/contimg.sqlite" into buf. -ENAMETOOLONG when it does not fit. */
int db_path(const char *state_dir, char *buf, size_t buflen);

void db_close(sqlite3 *db); /* NULL ok */

/* Schema version this program creates (number of migrations). */
int db_schema_version(void);

/* Transactions that nest: the outermost db_begin() is BEGIN IMMEDIATE (take
 * the write lock before reading, so read-then-write cannot deadlock or lose
 * an update); inner ones are SAVEPOINTs.  db_end(db, ok) commits (ok != 0) or
 * rolls back that level.  Both return 0 or -EIO with the message in err. */
int db_begin(sqlite3 *db, char *err, size_t errlen);
int db_end(sqlite3 *db, int ok, char *err, size_t errlen);

/* Run one statement with bound parameters.  fmt has one letter per '?':
 *   i int, I int64_t, d double, s const char * (NULL binds NULL), n NULL.
 * Returns the number of rows changed (>= 0) or -EIO with the message in err. */
int db_exec(sqlite3 *db, char *err, size_t errlen, const char *sql, const char *fmt, ...);

/* Prepare sql and bind parameters as db_exec; *ret is the statement to step
 * and sqlite3_finalize(). -EIO on failure. */
int db_prepare(sqlite3 *db, char *err, size_t errlen, sqlite3_stmt **ret, const char *sql,
	       const char *fmt, ...);

/* First column of the first row as int64 (*ret untouched when there is no
 * row: returns 0 then, 1 when a row was found), -EIO on error. */
int db_query_int(sqlite3 *db, int64_t *ret, char *err, size_t errlen, const char *sql,
		 const char *fmt, ...);

/* Nullable REAL and TEXT columns: a non-finite v binds NULL; a NULL column
 * reads as NaN, a NULL text column as "" (dst is always terminated, the text
 * truncated to len - 1 bytes). */
void db_bind_real_or_null(sqlite3_stmt *st, int i, double v);
double db_column_real_or_nan(sqlite3_stmt *st, int i);
void db_column_text(sqlite3_stmt *st, int i, char *dst, size_t len);

/* A nullable TEXT column as a new string: *ret is NULL for a NULL column,
 * else a copy the caller free()s.  -ENOMEM (*ret untouched). */
int db_column_strdup(sqlite3_stmt *st, int i, char **ret);

/* How db_rows() turns the rows of a query into an array of structs. */
typedef struct db_row_type {
	size_t size; /* bytes per element */
	/* Read the current row of st into row (zeroed before the call); arg is
	 * db_rows()'s.  Returns 1 to keep the row, 0 to skip it (then release,
	 * if any, is called on it), or a negative errno with the reason in err. */
	int (*read)(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen);
	/* Free what one read row owns; NULL when rows own nothing. */
	void (*release)(void *row);
} db_row_type;

/* Step st (prepared and bound, e.g. by db_prepare) to its end and collect the
 * rows type->read keeps into one growing array.  On success *ret_rows is a
 * new array the caller frees (release each element first when the type owns
 * memory; NULL when *ret_n == 0).  st is finalized in every case.  Errors:
 * -ENOMEM ("WHAT: out of memory"), -EIO ("WHAT: SQLite's message"), or
 * read's error; the rows read so far are released and *ret_* untouched. */
int db_rows(sqlite3_stmt *st, const db_row_type *type, void *arg, void **ret_rows,
	    size_t *ret_n, const char *what, char *err, size_t errlen);

#endif
