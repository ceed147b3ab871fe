/*
 * core/log.h — logging for the programs (contimgd, contimgctl).  Library code
 * never logs: it returns errors; the program that called it logs them.
 *
 * Three sinks, chosen by log_init():
 *   - journald (sd_journal_send) when $JOURNAL_STREAM is set, i.e. when systemd
 *     connected our stderr to the journal: MESSAGE, PRIORITY and the structured
 *     fields GROUP_ID, STAGE, SUBBAND (when given), searchable with
 *     `journalctl -u contimgd GROUP_ID=2026-03-01T05:49:14`;
 *   - readable lines on stderr otherwise:
 *       2026-03-01T05:50:02Z contimgd[123] info: [2026-03-01T05:49:14 load] message
 *   - JSON lines on stderr with LOG_FORMAT_JSON (--log-format json):
 *       {"ts":"...","level":"info","prog":"contimgd","group_id":"...","stage":"...",
 *        "subband":3,"msg":"..."}
 * Thread-safe (one line is written with one call under a mutex).
 */
#ifndef CONTIMG_LOG_H
#define CONTIMG_LOG_H

#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG */

enum log_format { LOG_FORMAT_AUTO = 0, LOG_FORMAT_TEXT = 1, LOG_FORMAT_JSON = 2,
		  LOG_FORMAT_JOURNAL = 3 };

/* prog names the program; format AUTO picks JOURNAL when $JOURNAL_STREAM is
 * set, else TEXT; max_level drops messages above it (LOG_INFO default). */
void log_init(const char *prog, int format, int max_level);

/* "text", "json", "journal", "auto" → enum; -1 for anything else. */
int log_parse_format(const char *s);

/* "debug", "info", "notice", "warning", "err"/"error" → syslog level; -1 otherwise. */
int log_parse_level(const char *s);

void log_set_level(int max_level);

/* The sink log_init chose (LOG_FORMAT_TEXT, _JSON or _JOURNAL), for a caller
 * that sends its own structured journal entries (daemon/alert.c). */
int log_sink_format(void);

/* Log one message.  group and stage may be NULL, subband < 0 means none. */
void log_msg(int level, const char *group, const char *stage, int subband, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define log_err(...) log_msg(LOG_ERR, NULL, NULL, -1, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, NULL, NULL, -1, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, NULL, NULL, -1, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, NULL, -1, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, NULL, NULL, -1, __VA_ARGS__)

#endif
