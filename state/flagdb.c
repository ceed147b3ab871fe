/*
 * state/flagdb.c — the `flag_stats` table (see flagdb.h).
 */
#include "state/flagdb.h"

#include <math.h>

#include "state/db.h"

int flagdb_replace(sqlite3 *db, int64_t group_id, const flagdb_row *rows, size_t n, char *err,
		   size_t errlen)
{
	static const char *ins =
		"INSERT INTO flag_stats (group_id, kind, key, freq_hz, fraction) VALUES (?, ?, ?, ?, ?)";
	int r, ok = 0;

	if ((r = db_begin(db, err, errlen)) < 0)
		return r;
	if ((r = db_exec(db, err, errlen, "DELETE FROM flag_stats WHERE group_id = ?", "I",
			 group_id)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const flagdb_row *w = &rows[i];
		r = isfinite(w->freq_hz)
			    ? db_exec(db, err, errlen, ins, "Issdd", group_id, w->kind, w->key,
				      w->freq_hz, w->fraction)
			    : db_exec(db, err, errlen, ins, "Issnd", group_id, w->kind, w->key,
				      w->fraction);
		if (r < 0)
			goto out;
	}
	ok = 1;
	r = 0;
out:
	{
		int e = db_end(db, ok, ok ? err : NULL, ok ? errlen : 0);
		if (ok && e < 0)
			r = e;
	}
	return r;
}
