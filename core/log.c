#include "core/log.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char prog_name[64] = "contimg";
static int sink = LOG_FORMAT_TEXT;
static int level_max = LOG_INFO;

static const char *level_name(int level)
{
	static const char *n[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info",
				   "debug" };
	return level >= 0 && level <= 7 ? n[level] : "info";
}

void log_init(const char *prog, int format, int max_level)
{
	const char *js = getenv("JOURNAL_STREAM");

	pthread_mutex_lock(&lock);
	snprintf(prog_name, sizeof prog_name, "%s", prog ? prog : "contimg");
	sink = format;
	if (format == LOG_FORMAT_AUTO)
		sink = js && *js ? LOG_FORMAT_JOURNAL : LOG_FORMAT_TEXT;
	level_max = max_level;
	pthread_mutex_unlock(&lock);
}

void log_set_level(int max_level)
{
	pthread_mutex_lock(&lock);
	level_max = max_level;
	pthread_mutex_unlock(&lock);
}

int log_sink_format(void)
{
	pthread_mutex_lock(&lock);
	int s = sink;
	pthread_mutex_unlock(&lock);
	return s;
}

int log_parse_format(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "auto"))
		return LOG_FORMAT_AUTO;
	if (!strcmp(s, "text"))
		return LOG_FORMAT_TEXT;
	if (!strcmp(s, "json"))
		return LOG_FORMAT_JSON;
	if (!strcmp(s, "journal"))
		return LOG_FORMAT_JOURNAL;
	return -1;
}

int log_parse_level(const char *s)
{
	static const struct { const char *n; int l; } t[] = {
		{ "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
		{ "warning", LOG_WARNING }, { "warn", LOG_WARNING }, { "err", LOG_ERR },
		{ "error", LOG_ERR },
	};
	for (size_t i = 0; s && i < sizeof t / sizeof t[0]; i++)
		if (!strcasecmp(s, t[i].n))
			return t[i].l;
	return -1;
}

static void timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, len - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* One journal entry with only the fields that apply (sd_journal_sendv takes
 * an iovec list, so absent fields are simply not sent). */
static void journal_send(int level, const char *group, const char *stage, int subband,
			 const char *msg)
{
	char f[6][4200];
	struct iovec iov[6];
	int n = 0;

	snprintf(f[n++], sizeof f[0], "MESSAGE=%s", msg);
	snprintf(f[n++], sizeof f[0], "PRIORITY=%d", level);
	snprintf(f[n++], sizeof f[0], "SYSLOG_IDENTIFIER=%s", prog_name);
	if (group)
		snprintf(f[n++], sizeof f[0], "GROUP_ID=%s", group);
	if (stage)
		snprintf(f[n++], sizeof f[0], "STAGE=%s", stage);
	if (subband >= 0)
		snprintf(f[n++], sizeof f[0], "SUBBAND=%d", subband);
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = f[i];
		iov[i].iov_len = strlen(f[i]);
	}
	sd_journal_sendv(iov, n);
}

void log_msg(int level, const char *group, const char *stage, int subband, const char *fmt, ...)
{
	char msg[4096], ts[40];
	va_list ap;

	if (level > level_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&lock);
	if (sink == LOG_FORMAT_JOURNAL) {
		journal_send(level, group, stage, subband, msg);
	} else if (sink == LOG_FORMAT_JSON) {
		json_object *o = json_object_new_object();
		timestamp(ts, sizeof ts);
		if (o) {
			json_object_object_add(o, "ts", json_object_new_string(ts));
			json_object_object_add(o, "level", json_object_new_string(level_name(level)));
			json_object_object_add(o, "prog", json_object_new_string(prog_name));
			json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
			if (group)
				json_object_object_add(o, "group_id", json_object_new_string(group));
			if (stage)
				json_object_object_add(o, "stage", json_object_new_string(stage));
			if (subband >= 0)
				json_object_object_add(o, "subband", json_object_new_int(subband));
			json_object_object_add(o, "msg", json_object_new_string(msg));
			fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
		}
	} else {
		char ctx[160] = "";
		timestamp(ts, sizeof ts);
		if (group || stage || subband >= 0) {
			char sb[16] = "";
			if (subband >= 0)
				snprintf(sb, sizeof sb, " sb%02d", subband);
			snprintf(ctx, sizeof ctx, "[%s%s%s%s] ", group ? group : "",
				 group && stage ? " " : "", stage ? stage : "", sb);
		}
		fprintf(stderr, "%s %s[%d] %s: %s%s\n", ts, prog_name, (int)getpid(),
			level_name(level), ctx, msg);
	}
	fflush(stderr);
	pthread_mutex_unlock(&lock);
}
