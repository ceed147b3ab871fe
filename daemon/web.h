/*
 * daemon/web.h — contimg-web's HTTP service: the read-only JSON API, the
 * page, the server-sent events and the quick-look files (docs/web.md).
 *
 * The service is libmicrohttpd with one thread per connection (the events
 * stream blocks in its own thread).  Every request is a GET or HEAD; the
 * path is percent-decoded strictly (a bad escape or an encoded NUL makes the
 * request 400), at most WEB_MAX_URL bytes long, and matched against a fixed
 * table of routes.  Path parameters are checked against tight patterns
 * (a group id is YYYY-MM-DDTHH:MM:SS, a source name 1..63 characters of
 * [A-Za-z0-9+-._: ] without "..") before anything reads the database, and a
 * file is served only by a checked group id and a fixed file name.
 *
 * The state database is opened read-only (SQLITE_OPEN_READONLY, no
 * migration) by the caller and used under one lock; this module never
 * writes anything.
 *
 * This header includes no libmicrohttpd header: web_settings_read
 * (web_conf.c) is shared with the configuration check of every program.
 */
#ifndef CONTIMG_WEB_H
#define CONTIMG_WEB_H

#include <stddef.h>

#include <sqlite3.h>

#include "core/config.h"
#include "daemon/settings.h"

#define WEB_MAX_URL 512
#define WEB_DEFAULT_LISTEN "127.0.0.1:8110"

/* [web] (docs/config.md). */
typedef struct web_settings {
	char listen[128];        /* [web] listen: "ADDR:PORT", IPv6 as "[ADDR]:PORT" */
	double sefd_jy;          /* [web] sefd_jy (6500): the radiometer expectation's SEFD */
	double events_interval_s; /* [web] events_interval_s (1): how often the events poll */
} web_settings;

/* Parse [web] of c into *s; -EINVAL with "FILE:LINE: [web] key: reason" in
 * err when a value is malformed (listen that web_parse_listen refuses). */
int web_settings_read(const cfg *c, web_settings *s, char *err, size_t errlen);

/* Parse "ADDR:PORT" (IPv4 dotted quad or "[IPv6]", port 1..65535) into a
 * socket address (*ret_addr, sizeof at most ret_cap, length in *ret_len).
 * -EINVAL with the reason in err. */
int web_parse_listen(const char *text, void *ret_addr, size_t ret_cap, size_t *ret_len,
		     char *err, size_t errlen);

typedef struct web_server web_server;

/* Start serving on s->listen: db is the read-only state database, conf the
 * configuration (both stay the caller's and must outlive the server): its
 * paths (state_dir for the daemon's pid file, products_dir for the quick-look
 * files), [housekeeping] thresholds (status) and the paths /metrics measures.  *ret is the
 * running server (web_stop).  -EADDRINUSE, -EACCES, -EINVAL ... with the
 * reason in err. */
int web_start(const web_settings *s, const contimg_config *conf, sqlite3 *db, web_server **ret,
	      char *err, size_t errlen);

/* The port the server listens on (useful with port 0). */
int web_port(const web_server *w);

/* Stop: end the event streams (within one events interval), close every
 * connection and free the server.  NULL ok. */
void web_stop(web_server *w);

/* ---- the routes the lead wires at merge time (web.c, marked "MERGE") ----
 * /api/alerts (view_alerts, daemon/view_alerts.h), /metrics (daemon/metrics.h)
 * and /api/sources/NAME/stamps/GROUP.png (the plot/ module's stamp cutter)
 * answer 503 / 503 / 404 until their modules exist. */

#endif
