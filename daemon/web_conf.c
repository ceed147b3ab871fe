/*
 * daemon/web_conf.c — [web] of the configuration (daemon/web.h).  Apart from
 * daemon/web.c so that every program's configuration check can parse it
 * without linking libmicrohttpd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/err.h"
#include "daemon/web.h"

int web_parse_listen(const char *text, void *ret_addr, size_t ret_cap, size_t *ret_len,
		     char *err, size_t errlen)
{
	char host[64];
	const char *colon, *h = text;
	size_t hl;
	char *end;
	long port;

	if (text[0] == '[') {
		const char *rb = strchr(text, ']');
		if (!rb || rb[1] != ':')
			return err_set(err, errlen, -EINVAL, "'%s': expected [IPV6]:PORT", text);
		h = text + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return err_set(err, errlen, -EINVAL, "'%s': expected ADDR:PORT", text);
		hl = (size_t)(colon - text);
	}
	if (hl == 0 || hl >= sizeof host)
		return err_set(err, errlen, -EINVAL, "'%s': bad address", text);
	memcpy(host, h, hl);
	host[hl] = 0;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		return err_set(err, errlen, -EINVAL, "'%s': port must be 0..65535", text);
	if (text[0] == '[') {
		struct sockaddr_in6 a6;
		memset(&a6, 0, sizeof a6);
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a6.sin6_addr) != 1)
			return err_set(err, errlen, -EINVAL, "'%s': not an IPv6 address", host);
		if (ret_cap < sizeof a6)
			return err_set(err, errlen, -EINVAL, "address buffer too small");
		memcpy(ret_addr, &a6, sizeof a6);
		*ret_len = sizeof a6;
	} else {
		struct sockaddr_in a4;
		memset(&a4, 0, sizeof a4);
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a4.sin_addr) != 1)
			return err_set(err, errlen, -EINVAL,
				       "'%s': not an IPv4 address (names are not resolved)", host);
		if (ret_cap < sizeof a4)
			return err_set(err, errlen, -EINVAL, "address buffer too small");
		memcpy(ret_addr, &a4, sizeof a4);
		*ret_len = sizeof a4;
	}
	return 0;
}

int web_settings_read(const cfg *c, web_settings *s, char *err, size_t errlen)
{
	const char *l = cfg_get_str(c, "web", "listen", WEB_DEFAULT_LISTEN);
	struct sockaddr_in6 sa;
	size_t len;
	char why[ERR_LEN];
	int r;

	if (strlen(l) >= sizeof s->listen)
		return cfg_err(c, "web", "listen", err, errlen, "too long");
	if (web_parse_listen(l, &sa, sizeof sa, &len, why, sizeof why) < 0)
		return cfg_err(c, "web", "listen", err, errlen, "%s", why);
	snprintf(s->listen, sizeof s->listen, "%s", l);
	if ((r = cfg_double(c, "web", "sefd_jy", 6500, &s->sefd_jy, err, errlen)) < 0 ||
	    (r = cfg_double(c, "web", "events_interval_s", 1, &s->events_interval_s, err,
			    errlen)) < 0)
		return r;
	if (!(s->sefd_jy > 0))
		return cfg_err(c, "web", "sefd_jy", err, errlen, "%g: must be > 0", s->sefd_jy);
	if (!(s->events_interval_s >= 0.1 && s->events_interval_s <= 60))
		return cfg_err(c, "web", "events_interval_s", err, errlen, "%g: must be in 0.1..60",
			       s->events_interval_s);
	return 0;
}
