/*
 * contimg-web — the read-only web service: the page, the JSON API (the same
 * objects as `contimgctl … --json`), the queue's event stream and the
 * quick-look images (docs/web.md).
 *
 *   contimg-web [--config FILE] [--listen ADDR:PORT] [--log-format F]
 *   contimg-web --version | --help
 *
 * It reads the configuration as contimgd does (every section checked; [web]
 * is its own), opens the state database read-only (SQLITE_OPEN_READONLY:
 * SQLite refuses every write on that connection), serves until SIGTERM or
 * SIGINT, and never writes a file.  Exit 0 after a signal, 2 for a bad
 * configuration or command line, 3 when the database cannot be opened or
 * the address cannot be bound.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <systemd/sd-daemon.h>

#include "core/err.h"
#include "core/log.h"
#include "core/version.h"
#include "daemon/settings.h"
#include "daemon/web.h"
#include "state/db.h"
#include "state/webdb.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: contimg-web [--config FILE] [--listen ADDR:PORT] [--log-format F]\n"
		   "       contimg-web --version | --help\n\n"
		   "  --config FILE      configuration (default $CONTIMG_CONFIG, else\n"
		   "                     /etc/contimg/contimg.conf); [web] listen, sefd_jy,\n"
		   "                     events_interval_s (docs/config.md)\n"
		   "  --listen A:P       override [web] listen (127.0.0.1:8110; port 0: any free\n"
		   "                     port, printed in the 'listening on' line)\n"
		   "  --log-format F     auto, text, json or journal\n\n"
		   "Serves the page at / and the JSON API under /api/ (docs/web.md) from the\n"
		   "state database, opened read-only.  Exit 0 after SIGTERM/SIGINT, 2 bad\n"
		   "configuration or usage, 3 state database or address unusable.\n");
}

/* Open the state database read-only; when that connection cannot read (a
 * WAL database in a directory it may not write, without the -shm a running
 * daemon keeps), fall back to an immutable open and say so. */
static int open_db(const char *path, sqlite3 **ret, char *err, size_t errlen)
{
	int64_t v = 0;
	double u = 0;
	char e2[ERR_LEN];
	int immutable = 0;
	int r = db_open_readonly_ex(path, ret, &immutable, err, errlen);

	if (r == -ENOENT)
		return r;
	/* A first read shows whether this connection can read at all. */
	if (r == 0 && webdb_change_token(*ret, &v, &u, err, errlen) == 0) {
		if (immutable)
			log_warn("%s: no writer and no -shm it may create; opened immutable: changes"
				 " made after now are not seen until contimg-web restarts (docs/web.md,"
				 " Deployment)", path);
		return 0;
	}
	if (r == 0) {
		db_close(*ret);
		*ret = NULL;
	}
	if (webdb_open_immutable(path, ret, e2, sizeof e2) < 0)
		return -EIO;
	log_warn("%s: read-only open failed (%s); opened immutable: changes made after now are not "
		 "seen until contimg-web restarts (docs/web.md, Deployment)", path, err);
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = getenv("CONTIMG_CONFIG"), *listen = NULL;
	int explicit_config = config && *config, fmt = LOG_FORMAT_AUTO, rc = 0, sig = 0;
	contimg_config *conf = NULL;
	web_settings ws;
	web_server *w = NULL;
	sqlite3 *db = NULL;
	sigset_t set;
	char err[4 * ERR_LEN];

	if (!explicit_config)
		config = "/etc/contimg/contimg.conf";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			config = argv[++i];
			explicit_config = 1;
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen = argv[++i];
		} else if (!strcmp(argv[i], "--log-format") && i + 1 < argc) {
			if ((fmt = log_parse_format(argv[++i])) < 0) {
				fprintf(stderr, "contimg-web: bad --log-format '%s'\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--version")) {
			printf("contimg-web %s\n", contimg_version());
			return 0;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "contimg-web: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	log_init("contimg-web", fmt, LOG_INFO);
	if (contimg_config_load(config, !explicit_config, &conf, err, sizeof err) < 0) {
		for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
			log_err("%s: %s", config, line);
		return 2;
	}
	log_set_level(conf->log_level);
	if (web_settings_read(conf->cfg, &ws, err, sizeof err) < 0) {
		log_err("%s", err);
		rc = 2;
		goto out;
	}
	if (listen) {
		struct sockaddr_storage sa;
		size_t len;
		if (strlen(listen) >= sizeof ws.listen ||
		    web_parse_listen(listen, &sa, sizeof sa, &len, err, sizeof err) < 0) {
			log_err("--listen: %s", strlen(listen) >= sizeof ws.listen ? "too long" : err);
			rc = 2;
			goto out;
		}
		snprintf(ws.listen, sizeof ws.listen, "%s", listen);
	}
	if (open_db(conf->pipe.db_path, &db, err, sizeof err) < 0) {
		log_err("state database unreachable: %s", err);
		rc = 3;
		goto out;
	}
	/* The signals are taken by sigwait below: block them before the server's
	 * threads start, so that they inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (web_start(&ws, conf, db, &w, err, sizeof err) < 0) {
		log_err("%s", err);
		rc = 3;
		goto out;
	}
	{
		/* The address as given, with the port actually bound (port 0). */
		char shown[160];
		const char *colon = strrchr(ws.listen, ':');
		snprintf(shown, sizeof shown, "%.*s:%d", (int)(colon - ws.listen), ws.listen,
			 web_port(w));
		log_notice("listening on %s (state database %s, read-only)", shown,
			   conf->pipe.db_path);
		sd_notifyf(0, "READY=1\nSTATUS=listening on %s", shown);
	}
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP ignored: restart contimg-web to read a changed configuration");
			continue;
		}
		break;
	}
	sd_notify(0, "STOPPING=1");
	log_notice("signal %d: stopping", sig);
out:
	web_stop(w);
	db_close(db);
	contimg_config_free(conf);
	return rc;
}
