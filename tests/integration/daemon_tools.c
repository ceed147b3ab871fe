/*
 * tests/integration/daemon_tools.c — small helpers for the test_daemon_*.sh
 * scripts (compiled by them with cc into their scratch directory; no Python,
 * no socat):
 *
 *   daemon_tools notify SOCKET OUT SECONDS
 *       bind a unix datagram socket (what $NOTIFY_SOCKET names) and append
 *       every sd_notify message to OUT, one line per assignment, for SECONDS.
 *   daemon_tools json FILE [PATH]
 *       parse FILE ("-" = stdin) as JSON: exit 2 if it does not parse; with
 *       PATH (dot-separated keys, numbers index arrays, "#" = length) print
 *       the value found there (exit 1 when absent).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int notify(const char *sock, const char *out, double seconds)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { 0, 200000 };
	struct timespec t0, t;
	char buf[4096];
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	FILE *f;

	if (fd < 0 || strlen(sock) >= sizeof a.sun_path)
		return 2;
	strcpy(a.sun_path, sock);
	unlink(sock);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("bind");
		return 2;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	f = fopen(out, "a");
	if (!f)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		if (n > 0) {
			buf[n] = 0;
			fprintf(f, "%s\n", buf);
			fflush(f);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) * 1e-9 > seconds)
			break;
	}
	fclose(f);
	close(fd);
	unlink(sock);
	return 0;
}

static int json(const char *file, const char *path)
{
	json_object *o = strcmp(file, "-") ? json_object_from_file(file) : NULL;
	char *copy, *save = NULL, *tok;

	if (!strcmp(file, "-")) {
		static char buf[1 << 20];
		size_t n = fread(buf, 1, sizeof buf - 1, stdin);
		buf[n] = 0;
		o = json_tokener_parse(buf);
	}
	if (!o)
		return 2;
	if (!path)
		return 0;
	copy = strdup(path);
	for (tok = strtok_r(copy, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
		if (!strcmp(tok, "#")) {
			printf("%zu\n", json_object_is_type(o, json_type_array)
						? json_object_array_length(o)
						: (size_t)json_object_object_length(o));
			return 0;
		}
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(tok));
		else if (!json_object_object_get_ex(o, tok, &o))
			return 1;
	}
	if (!o) {
		printf("null\n");
		return 0;
	}
	printf("%s\n", json_object_is_type(o, json_type_string) ? json_object_get_string(o)
		       : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "notify"))
		return notify(argv[2], argv[3], atof(argv[4]));
	if (argc >= 3 && !strcmp(argv[1], "json"))
		return json(argv[2], argc > 3 ? argv[3] : NULL);
	fprintf(stderr, "usage: daemon_tools notify SOCKET OUT SECONDS | json FILE [PATH]\n");
	return 2;
}
