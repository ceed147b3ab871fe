/*
 * daemon/earth.c — the process's Earth orientation table and the choice for
 * a group (see earth.h).
 */
#include "daemon/earth.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "daemon/util.h"

#define AS2R (M_PI / 648000.0)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static eop_table *current;        /* guarded by lock */
static char cur_path[4096];       /* guarded by lock */
static struct timespec cur_mtime; /* guarded by lock */
static off_t cur_size;            /* guarded by lock */
static double cur_read_at;        /* guarded by lock */

int earth_table_update(const char *path, int force, char *err, size_t errlen)
{
	eop_table *t = NULL, *old;
	struct stat st;
	int same, r;

	if (!path || !*path) {
		pthread_mutex_lock(&lock);
		old = current;
		current = NULL;
		cur_path[0] = 0;
		pthread_mutex_unlock(&lock);
		eop_table_free(old);
		return old != NULL;
	}
	if (strlen(path) >= sizeof cur_path)
		return err_set(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	if (stat(path, &st) < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	pthread_mutex_lock(&lock);
	same = current && !strcmp(cur_path, path) && st.st_size == cur_size &&
	       st.st_mtim.tv_sec == cur_mtime.tv_sec && st.st_mtim.tv_nsec == cur_mtime.tv_nsec;
	pthread_mutex_unlock(&lock);
	if (same && !force)
		return 0;
	/* Parse outside the lock: groups starting meanwhile get the old table. */
	r = eop_table_load(path, &t, err, errlen);
	if (r < 0)
		return r;
	pthread_mutex_lock(&lock);
	old = current;
	current = t;
	snprintf(cur_path, sizeof cur_path, "%s", path);
	cur_mtime = st.st_mtim;
	cur_size = st.st_size;
	cur_read_at = clk_mono_s();
	pthread_mutex_unlock(&lock);
	eop_table_free(old);
	return 1;
}

eop_table *earth_table_get(void)
{
	eop_table *t;

	pthread_mutex_lock(&lock);
	t = eop_table_ref(current);
	pthread_mutex_unlock(&lock);
	return t;
}

double earth_table_read_at(void)
{
	double t;

	pthread_mutex_lock(&lock);
	t = current ? cur_read_at : 0;
	pthread_mutex_unlock(&lock);
	return t;
}

/* "YYYY-MM-DD" of a UTC MJD ("?" when out of range). */
static void date_of(double mjd, char *buf, size_t len)
{
	char iso[40];
	if (!isfinite(mjd) || astro_jd_to_iso(astro_mjd_to_jd(mjd), 0, iso, sizeof iso) < 0)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%.10s", iso);
}

void earth_table_describe(const eop_table *t, char *buf, size_t len)
{
	eop_table_info in;
	char d0[16], d1[16], dm[16];

	if (!t) {
		snprintf(buf, len, "%s", "");
		return;
	}
	eop_table_get_info(t, &in);
	date_of(in.first_mjd, d0, sizeof d0);
	date_of(in.last_mjd, d1, sizeof d1);
	date_of(in.last_measured_mjd, dm, sizeof dm);
	snprintf(buf, len, "%s: %d days, MJD %.0f..%.0f (%s..%s), measured to %s", in.name, in.nrows,
		 in.first_mjd, in.last_mjd, d0, d1, isfinite(in.last_measured_mjd) ? dm : "none");
}

/* Append to a fixed buffer (truncating quietly). */
static void add(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

int earth_for_group(const earth_settings *s, const eop_table *t, double mjd_utc,
		    earth_choice *ret)
{
	earth_choice c;
	eop_value v;
	eop_table_info in;
	int use_table = t && (!s->dut1_set || !s->pm_set);

	memset(&c, 0, sizeof c);
	c.quality = -1;
	if (use_table) {
		if (eop_lookup(t, mjd_utc, &v) < 0)
			return -EINVAL;
		eop_table_get_info(t, &in);
		c.quality = v.quality;
	}
	if (s->dut1_set) {
		c.eop.dut1_s = s->dut1_s;
		add(c.text, sizeof c.text, "UT1-UTC %+.5f s ([pipeline] dut1_s)", s->dut1_s);
	} else if (use_table) {
		c.eop.dut1_s = v.eop.dut1_s;
		add(c.text, sizeof c.text, "UT1-UTC %+.5f s (%s)", v.eop.dut1_s,
		    eop_quality_name(v.quality));
	} else {
		add(c.text, sizeof c.text, "UT1-UTC 0 (assumed)");
	}
	if (s->pm_set) {
		c.eop.xp_rad = s->xp_arcsec * AS2R;
		c.eop.yp_rad = s->yp_arcsec * AS2R;
		add(c.text, sizeof c.text, ", polar motion x %.4f\" y %.4f\" ([earth] xp_arcsec, yp_arcsec)",
		    s->xp_arcsec, s->yp_arcsec);
	} else if (use_table) {
		c.eop.xp_rad = v.eop.xp_rad;
		c.eop.yp_rad = v.eop.yp_rad;
		add(c.text, sizeof c.text, ", polar motion x %.4f\" y %.4f\" (%s)", v.eop.xp_rad / AS2R,
		    v.eop.yp_rad / AS2R, eop_quality_name(v.quality));
	} else {
		add(c.text, sizeof c.text, ", polar motion 0 (assumed)");
	}
	if (use_table) {
		char dm[16];
		date_of(in.last_measured_mjd, dm, sizeof dm);
		add(c.text, sizeof c.text, "; table %s (MJD %.0f..%.0f, measured to %s)", in.name,
		    in.first_mjd, in.last_mjd, isfinite(in.last_measured_mjd) ? dm : "none");
		if (v.quality == EOP_OUTSIDE) {
			c.warn = 1;
			add(c.text, sizeof c.text, "; STALE: the group is %.1f days %s the table, its %s "
			    "row is held", v.days_outside, mjd_utc < in.first_mjd ? "before" : "after",
			    mjd_utc < in.first_mjd ? "first" : "last");
		} else if (!isfinite(in.last_measured_mjd)) {
			c.warn = 1;
			add(c.text, sizeof c.text, "; STALE: the table holds predictions only");
		} else if (mjd_utc - in.last_measured_mjd > s->max_age_days) {
			c.warn = 1;
			add(c.text, sizeof c.text, "; STALE: the group is %.0f days after the table's last "
			    "measured day (more than [earth] eop_max_age_days = %g): refresh the file",
			    mjd_utc - in.last_measured_mjd, s->max_age_days);
		}
	} else if (!(s->dut1_set && s->pm_set)) {
		c.warn = 1;
		add(c.text, sizeof c.text, "; no Earth orientation table ([earth] eop_file): each "
		    "0.1 s of UT1-UTC moves sources by 1.5\"*cos(dec) in RA (0.86\" at dec 55 deg), "
		    "polar motion (up to ~0.5\") by as much");
	}
	*ret = c;
	return 0;
}
