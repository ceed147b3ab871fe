/*
 * daemon/web.c — contimg-web's HTTP service on libmicrohttpd (daemon/web.h):
 * strict request parsing, the table of routes, the JSON views of
 * daemon/views.h, the event stream and the quick-look files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "core/clock.h"
#include "core/err.h"
#include "daemon/metrics.h"
#include "daemon/view_alerts.h"
#include "daemon/views.h"
#include "daemon/web.h"
#include "plot/stamp.h"
#include "state/queue.h"
#include "state/webdb.h"
#include "state/report.h"

#define MAX_STREAMS 32          /* concurrent /api/events streams */
#define KEEPALIVE_S 15.0        /* a comment line on an idle stream this often */
#define NAME_MAX_LEN 63         /* a source name (PHOTDB_NAME_LEN - 1) */
#define BAD_BYTE '\x7f'         /* what a refused escape decodes to (always a 400) */

struct web_server {
	struct MHD_Daemon *mhd;
	web_settings s;
	pipe_settings ps;
	house_settings hs;        /* [housekeeping]: the thresholds status shows */
	const contimg_config *conf; /* the configuration (metrics: its paths); the caller's */
	sqlite3 *db;
	pthread_mutex_t lock;    /* one request at a time on the shared connection */
	atomic_int stopping;
	atomic_int streams;
	int port;
};

/* ---- the embedded page (web_assets.c) ---- */

typedef struct web_asset {
	const char *path, *type;
	const char *start, *end;
} web_asset;

extern const char web_index_html[], web_index_html_end[];
extern const char web_app_js[], web_app_js_end[];
extern const char web_style_css[], web_style_css_end[];

static const web_asset assets[] = {
	{ "/", "text/html; charset=utf-8", web_index_html, web_index_html_end },
	{ "/index.html", "text/html; charset=utf-8", web_index_html, web_index_html_end },
	{ "/app.js", "text/javascript; charset=utf-8", web_app_js, web_app_js_end },
	{ "/style.css", "text/css; charset=utf-8", web_style_css, web_style_css_end },
};

/* ---- validation ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The unescape callback: %XX decoded; a malformed escape, an encoded NUL or
 * control byte, or a raw control byte becomes BAD_BYTE, which no route and no
 * parameter pattern accepts, so the request is refused (400) and never
 * silently truncated at a NUL. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *w = s;
	(void)cls, (void)c;
	for (const char *r = s; *r; r++) {
		unsigned char v = (unsigned char)*r;
		if (*r == '%') {
			int hi = r[1] ? hexval(r[1]) : -1, lo = hi >= 0 && r[2] ? hexval(r[2]) : -1;
			if (hi < 0 || lo < 0) {
				*w++ = BAD_BYTE;
				continue;
			}
			v = (unsigned char)(hi * 16 + lo);
			r += 2;
		}
		*w++ = v < 0x20 || v == 0x7f ? BAD_BYTE : (char)v;
	}
	*w = 0;
	return (size_t)(w - s);
}

/* A group id: exactly YYYY-MM-DDTHH:MM:SS that the queue can parse. */
static int valid_group(const char *g, size_t len)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	char buf[sizeof pat];

	if (len != sizeof pat - 1)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (pat[i] == 'd' ? (g[i] < '0' || g[i] > '9') : g[i] != pat[i])
			return 0;
	memcpy(buf, g, len);
	buf[len] = 0;
	return queue_parse_group_name(buf, NULL) == 0;
}

/* A source name: 1..63 of [A-Za-z0-9+-._: ], not starting with '.', '-' or a
 * space, without "..". */
static int valid_name(const char *s, size_t len)
{
	if (len < 1 || len > NAME_MAX_LEN || s[0] == '.' || s[0] == '-' || s[0] == ' ')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.' || c == '_' || c == ':' || c == ' '))
			return 0;
		if (c == '.' && i + 1 < len && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* A whole string as a finite number. */
static int parse_num(const char *s, double *ret)
{
	char *end;
	double v;

	if (!s || !*s || strlen(s) > 32)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_limit(const char *s, int dflt, int lo, int hi, int *ret)
{
	double v;

	if (!s) {
		*ret = dflt;
		return 0;
	}
	if (parse_num(s, &v) < 0 || v != floor(v) || v < lo || v > hi)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

/* ---- responses ---- */

static void common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; img-src 'self' data:; style-src 'self'; "
				"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
				"base-uri 'none'; form-action 'none'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type,
				const char *cache, const void *buf, size_t len, int copy)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)buf, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	common_headers(r);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", cache);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* o as compact JSON (o is consumed). */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE);
	enum MHD_Result ret = send_buf(c, status, "application/json; charset=utf-8", "no-store",
				       s, strlen(s), 1);
	json_object_put(o);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "status", json_object_new_int((int)status));
	return send_json(c, status, o);
}

/* A view's result: r < 0 a 500 (database) or 400 (-EINVAL), r == 0 with
 * found_only a 404, else o. */
static enum MHD_Result send_view(struct MHD_Connection *c, int r, json_object *o,
				 const char *err, const char *what_missing)
{
	if (r == -EINVAL)
		return send_error(c, MHD_HTTP_BAD_REQUEST, err);
	if (r < 0)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
	if (what_missing && r == 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, what_missing);
	return send_json(c, MHD_HTTP_OK, o);
}

static const char *arg(struct MHD_Connection *c, const char *k)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

/* ---- the routes ---- */

static enum MHD_Result api_status(web_server *w, struct MHD_Connection *c)
{
	char err[ERR_LEN] = "";
	json_object *o = NULL;
	int r;

	pthread_mutex_lock(&w->lock);
	r = view_status(w->db, &w->ps, &w->hs, clk_wall_s(), &o, err, sizeof err);
	pthread_mutex_unlock(&w->lock);
	return send_view(c, r, o, err, NULL);
}

static enum MHD_Result api_groups(web_server *w, struct MHD_Connection *c)
{
	char err[ERR_LEN] = "";
	json_object *o = NULL;
	const char *state = arg(c, "state"), *since = arg(c, "since");
	int64_t since_t = 0;
	int limit, r, okst = 0;

	if (parse_limit(arg(c, "limit"), 50, 0, 1000, &limit) < 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, "limit: an integer 0..1000");
	if (state) {
		okst = !strcmp(state, "stale");
		for (int k = 0; k < 5; k++)
			okst |= !strcmp(state, queue_states[k]);
		if (!okst)
			return send_error(c, MHD_HTTP_BAD_REQUEST, "state: unknown");
	}
	if (since) {
		char buf[32];
		size_t n = strlen(since);
		if (n == 10)
			snprintf(buf, sizeof buf, "%sT00:00:00", since);
		else
			snprintf(buf, sizeof buf, "%.20s", since);
		if (!valid_group(buf, strlen(buf)) || queue_parse_group_name(buf, &since_t) < 0)
			return send_error(c, MHD_HTTP_BAD_REQUEST, "since: YYYY-MM-DD[THH:MM:SS]");
	}
	pthread_mutex_lock(&w->lock);
	r = view_groups(w->db, state, since_t, limit, &o, err, sizeof err);
	pthread_mutex_unlock(&w->lock);
	return send_view(c, r, o, err, NULL);
}

static enum MHD_Result api_group(web_server *w, struct MHD_Connection *c, const char *g)
{
	char err[ERR_LEN] = "";
	json_object *o = NULL;
	int64_t gid = 0;
	int r;

	pthread_mutex_lock(&w->lock);
	r = queue_find(w->db, g, &gid, err, sizeof err);
	if (r > 0)
		r = view_group(w->db, gid, &o, err, sizeof err);
	pthread_mutex_unlock(&w->lock);
	return send_view(c, r, o, err, "no such group");
}

static enum MHD_Result api_simple(web_server *w, struct MHD_Connection *c,
				  int (*view)(sqlite3 *, json_object **, char *, size_t))
{
	char err[ERR_LEN] = "";
	json_object *o = NULL;
	int r;

	pthread_mutex_lock(&w->lock);
	r = view(w->db, &o, err, sizeof err);
	pthread_mutex_unlock(&w->lock);
	return send_view(c, r, o, err, NULL);
}

/* 1: route_stamp serves the plot/ module's stamps (the page shows its stamp
 * strip only then, instead of a row of broken pictures). */
#define STAMPS_AVAILABLE 1

/* The lightcurve view, plus what only the page needs: "group_names" (the
 * group id of each point's groups.id, for its stamps), "model" (the ESE
 * model when the source is a candidate, else null), "stamps" (whether
 * /api/sources/NAME/stamps/GROUP.png serves pictures) and "stamp_groups"
 * (the group ids among them with a registered image to cut stamps from). */
/* Angular separation (degrees) of two ICRS positions (haversine). */
static double sep_deg(double ra1, double dec1, double ra2, double dec2)
{
	const double d = M_PI / 180;
	double a = sin((dec2 - dec1) * d / 2), b = sin((ra2 - ra1) * d / 2);
	double h = a * a + cos(dec1 * d) * cos(dec2 * d) * b * b;
	return 2 * asin(sqrt(fmin(1, h))) / d;
}

static enum MHD_Result api_lightcurve(web_server *w, struct MHD_Connection *c, const char *src)
{
	char err[ERR_LEN] = "";
	json_object *o = NULL, *names = NULL, *model = NULL, *pts, *stamp_groups = NULL;
	int r;

	pthread_mutex_lock(&w->lock);
	r = view_lightcurve(w->db, src, &o, err, sizeof err);
	if (r > 0 && (r = view_group_names(w->db, o, &names, err, sizeof err)) == 0) {
		double t0 = INFINITY, t1 = -INFINITY;
		json_object_object_get_ex(o, "points", &pts);
		for (size_t i = 0; i < json_object_array_length(pts); i++) {
			json_object *m = NULL;
			json_object_object_get_ex(json_object_array_get_idx(pts, i), "mjd", &m);
			if (m) {
				t0 = fmin(t0, json_object_get_double(m));
				t1 = fmax(t1, json_object_get_double(m));
			}
		}
		r = 1;
		if (t1 > t0 && view_ese_model(w->db, src, t0, t1, 200, &model, err, sizeof err) < 0)
			r = -EIO;
		/* The groups whose image the stamps can be cut from and holds the
		 * source (so the page never asks for a stamp that cannot be). */
		stamp_groups = json_object_new_array();
		double sra = NAN, sdec = NAN;
		webdb_source one;
		int found = webdb_source_get(w->db, src, &one, err, sizeof err);
		if (found < 0)
			r = -EIO;
		if (found > 0) {
			sra = one.ra_deg;
			sdec = one.dec_deg;
		}
		json_object_object_foreach(names, gid, gname)
		{
			double ra, dec, rad;
			int h;
			if (r < 0 || !isfinite(sra))
				break;
			h = webdb_stamp_field(w->db, strtoll(gid, NULL, 10), &ra, &dec, &rad, err,
					      sizeof err);
			if (h < 0) {
				r = -EIO;
				break;
			}
			if (h && sep_deg(ra, dec, sra, sdec) < rad)
				json_object_array_add(stamp_groups, json_object_get(gname));
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (r > 0) {
		json_object_object_add(o, "group_names", names);
		json_object_object_add(o, "model", model);
		json_object_object_add(o, "stamps", json_object_new_boolean(STAMPS_AVAILABLE));
		json_object_object_add(o, "stamp_groups", stamp_groups);
		names = model = stamp_groups = NULL;
	} else {
		json_object_put(stamp_groups);
		json_object_put(names);
		json_object_put(model);
		json_object_put(o);
		o = NULL;
	}
	return send_view(c, r, o, err, "no photometry for this source");
}

static int product_path(const web_server *w, const char *group, const char *file, char *buf,
			size_t len);

/* quicklook_url of an images object: null when the file is absent, so the
 * page never asks for a picture that is not there. */
static void check_quicklook(const web_server *w, json_object *im)
{
	json_object *g = NULL;
	char path[PATH_MAX];
	struct stat st;

	json_object_object_get_ex(im, "group_id", &g);
	if (!g || product_path(w, json_object_get_string(g), "quicklook.png", path, sizeof path) < 0 ||
	    lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		json_object_object_add(im, "quicklook_url", NULL);
}

static enum MHD_Result api_images(web_server *w, struct MHD_Connection *c, int latest)
{
	char err[ERR_LEN] = "";
	json_object *o = NULL;
	int limit, r;

	if (parse_limit(arg(c, "limit"), 20, 1, 1000, &limit) < 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, "limit: an integer 1..1000");
	pthread_mutex_lock(&w->lock);
	r = latest ? view_image_latest(w->db, w->s.sefd_jy, &o, err, sizeof err)
		   : view_images(w->db, limit, w->s.sefd_jy, &o, err, sizeof err);
	pthread_mutex_unlock(&w->lock);
	if (r >= 0 && o && latest)
		check_quicklook(w, o);
	for (size_t i = 0; r >= 0 && o && !latest && i < json_object_array_length(o); i++)
		check_quicklook(w, json_object_array_get_idx(o, i));
	return send_view(c, r, o, err, latest ? "no image yet" : NULL);
}

/* /api/sources?q=NAME | q=RA DEC [RADIUS] | ra=&dec=[&r=] [&limit=]:
 * degrees; the radius defaults to 1 degree. */
static enum MHD_Result api_sources(web_server *w, struct MHD_Connection *c)
{
	char err[ERR_LEN] = "", qb[128];
	json_object *o = NULL;
	const char *q = arg(c, "q");
	double ra = NAN, dec = NAN, rad = 1.0;
	int limit, r, bypos = 0;

	if (parse_limit(arg(c, "limit"), 50, 1, 1000, &limit) < 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, "limit: an integer 1..1000");
	if (q) {
		char *tok[4], *save = NULL;
		int nt = 0;
		if (strlen(q) >= sizeof qb)
			return send_error(c, MHD_HTTP_BAD_REQUEST, "q: too long");
		snprintf(qb, sizeof qb, "%s", q);
		for (char *t = strtok_r(qb, " ,", &save); t && nt < 4; t = strtok_r(NULL, " ,", &save))
			tok[nt++] = t;
		if ((nt == 2 || nt == 3) && parse_num(tok[0], &ra) == 0 &&
		    parse_num(tok[1], &dec) == 0 && (nt == 2 || parse_num(tok[2], &rad) == 0))
			bypos = 1;
		else if (!valid_name(q, strlen(q)))
			return send_error(c, MHD_HTTP_BAD_REQUEST,
					  "q: a name (A-Z a-z 0-9 + - . _ : space) or RA DEC [RADIUS]");
	} else if (arg(c, "ra") || arg(c, "dec")) {
		if (parse_num(arg(c, "ra"), &ra) < 0 || parse_num(arg(c, "dec"), &dec) < 0 ||
		    (arg(c, "r") && parse_num(arg(c, "r"), &rad) < 0))
			return send_error(c, MHD_HTTP_BAD_REQUEST, "ra, dec, r: numbers in degrees");
		bypos = 1;
	} else {
		return send_error(c, MHD_HTTP_BAD_REQUEST, "give q=NAME, q=RA DEC [R] or ra=&dec=");
	}
	pthread_mutex_lock(&w->lock);
	r = view_sources(w->db, bypos ? NULL : q, ra, dec, rad, limit, &o, err, sizeof err);
	pthread_mutex_unlock(&w->lock);
	return send_view(c, r, o, err, NULL);
}

/* /api/alerts[?since=ISO|DAYS]: view_alerts() of daemon/view_alerts.h, the
 * object `contimgctl alerts --json` prints. */
static enum MHD_Result route_alerts(web_server *w, struct MHD_Connection *c)
{
	char err[ERR_LEN] = "";
	json_object *o = NULL;
	const char *since = arg(c, "since");
	double since_unix = 0;
	int r;

	if (since && (strlen(since) > 32 || view_parse_since(since, clk_wall_s(), &since_unix) < 0))
		return send_error(c, MHD_HTTP_BAD_REQUEST, "since: YYYY-MM-DD[THH:MM:SS] or DAYS");
	pthread_mutex_lock(&w->lock);
	r = view_alerts(w->db, since_unix, &o, err, sizeof err);
	pthread_mutex_unlock(&w->lock);
	return send_view(c, r, o, err, NULL);
}

/* /metrics: the Prometheus text exposition (format 0.0.4) of daemon/metrics.h,
 * the same text the daemon writes to [metrics] textfile. */
static enum MHD_Result route_metrics(web_server *w, struct MHD_Connection *c)
{
	char err[ERR_LEN] = "", *text = NULL;
	int r;

	pthread_mutex_lock(&w->lock);
	r = metrics_render(w->db, w->conf, clk_wall_s(), &text, err, sizeof err);
	pthread_mutex_unlock(&w->lock);
	if (r < 0)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
	enum MHD_Result ret = send_buf(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
				       "no-store", text, strlen(text), 1);
	free(text);
	return ret;
}

/* /api/sources/NAME/stamps/GROUP.png: the postage stamp (3 arcmin) of
 * source NAME on group GROUP's primary-beam-corrected image, cut by the plot/
 * module (both parameters were checked against their patterns before this is
 * called).  The image is the group's registered "pbcor" product and must lie
 * under products_dir: no other file is ever read. */
#define STAMP_SIZE_DEG (3.0 / 60.0)
static enum MHD_Result route_stamp(web_server *w, struct MHD_Connection *c, const char *src,
				   const char *group)
{
	char err[ERR_LEN] = "", *path = NULL;
	webdb_source one;
	size_t plen = strlen(w->ps.products_dir);
	double ra = NAN, dec = NAN;
	unsigned char *png = NULL;
	size_t len = 0;
	int64_t gid = 0;
	int r;

	pthread_mutex_lock(&w->lock);
	r = queue_find(w->db, group, &gid, err, sizeof err);
	if (r > 0) {
		report_detail d;
		r = report_detail_get(w->db, gid, &d, err, sizeof err);
		for (size_t p = 0; r > 0 && p < d.nproducts; p++)
			if (!strcmp(d.products[p].name, "pbcor") && !path)
				path = strdup(d.products[p].path);
		if (r > 0)
			report_detail_release(&d);
	}
	if (r > 0) {
		int found = webdb_source_get(w->db, src, &one, err, sizeof err);
		if (found < 0)
			r = -EIO;
		else if (found > 0) {
			ra = one.ra_deg;
			dec = one.dec_deg;
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (r < 0) {
		free(path);
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
	}
	if (r == 0 || !path || !isfinite(ra)) {
		free(path);
		return send_error(c, MHD_HTTP_NOT_FOUND,
				  r == 0 ? "no such group" : !path ? "the group has no image"
								   : "no photometry for this source");
	}
	if (strncmp(path, w->ps.products_dir, plen) || path[plen] != '/' || strstr(path, "/../")) {
		free(path);
		return send_error(c, MHD_HTTP_NOT_FOUND, "the image is not under products_dir");
	}
	r = plot_stamp_png_mem(path, ra, dec, STAMP_SIZE_DEG, &png, &len, err, sizeof err);
	free(path);
	if (r == -ENOENT || r == -ERANGE)
		return send_error(c, MHD_HTTP_NOT_FOUND,
				  r == -ERANGE ? "the source is outside the image" : "image file absent");
	if (r < 0)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
	enum MHD_Result ret = send_buf(c, MHD_HTTP_OK, "image/png", "max-age=3600", png, len, 1);
	free(png);
	return ret;
}

/* The files of a group's product directory the service may serve. */
static const struct {
	const char *name, *type;
} product_files[] = {
	{ "quicklook.png", "image/png" },
};

/* products_dir/YYYY-MM-DD/GROUP/FILE (daemon/pipe_ctx.c's layout) of a
 * checked group id. */
static int product_path(const web_server *w, const char *group, const char *file, char *buf,
			size_t len)
{
	if (!valid_group(group, strlen(group)) ||
	    (size_t)snprintf(buf, len, "%s/%.10s/%s/%s", w->ps.products_dir, group, group, file) >= len)
		return -EINVAL;
	return 0;
}

/* /products/GROUP/FILE: FILE one of product_files, opened under
 * products_dir/YYYY-MM-DD/GROUP/ without following a symbolic link. */
static enum MHD_Result product_file(web_server *w, struct MHD_Connection *c, const char *group,
				    const char *file)
{
	char path[PATH_MAX];
	struct stat st;
	struct MHD_Response *r;
	const char *type = NULL;
	enum MHD_Result ret;
	int fd;

	for (size_t i = 0; i < sizeof product_files / sizeof product_files[0]; i++)
		if (!strcmp(file, product_files[i].name))
			type = product_files[i].type;
	if (!type)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such product file");
	if (product_path(w, group, file, path, sizeof path) < 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such product file");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such product file");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such product file");
	}
	r = MHD_create_response_from_fd((size_t)st.st_size, fd); /* owns fd now */
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	common_headers(r);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "max-age=60");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- the event stream ---- */

typedef struct stream {
	web_server *w;
	int64_t version;
	int64_t counts[5];
	double updated;
	int sent;               /* an event was sent */
	double last_write;
	char buf[1024];
	size_t len, off;
} stream;

/* Did the queue change since the last event?  Cheap: PRAGMA data_version
 * first; only when it moved, the counts per state and max(updated_at). */
static int queue_changed(stream *s, char *out, size_t outlen)
{
	web_server *w = s->w;
	int64_t v = 0, cnt[5];
	double upd = 0;
	int changed = 0;
	char err[ERR_LEN];

	pthread_mutex_lock(&w->lock);
	if (webdb_change_token(w->db, &v, &upd, err, sizeof err) == 0 &&
	    (!s->sent || v != s->version) && queue_counts(w->db, cnt, err, sizeof err) == 0) {
		s->version = v;
		if (!s->sent || upd != s->updated || memcmp(cnt, s->counts, sizeof cnt)) {
			json_object *o = json_object_new_object(), *co = json_object_new_object();
			for (int k = 0; k < 5; k++)
				json_object_object_add(co, queue_states[k], json_object_new_int64(cnt[k]));
			json_object_object_add(o, "counts", co);
			json_object_object_add(o, "updated_at", json_object_new_double(upd));
			snprintf(out, outlen, "event: queue\ndata: %s\n\n",
				 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
			memcpy(s->counts, cnt, sizeof cnt);
			s->updated = upd;
			changed = 1;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return changed;
}

/* Blocks (this connection's own thread) until there is something to send. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	stream *s = cls;
	(void)pos;

	while (s->off == s->len) {
		double now;
		if (atomic_load(&s->w->stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		now = clk_mono_s();
		s->off = s->len = 0;
		if (!s->sent) {
			/* The client reconnects after 3 s when the stream breaks. */
			s->len = (size_t)snprintf(s->buf, sizeof s->buf, "retry: 3000\n\n");
		}
		if (queue_changed(s, s->buf + s->len, sizeof s->buf - s->len)) {
			s->sent = 1;
			s->len += strlen(s->buf + s->len);
		} else if (now - s->last_write >= KEEPALIVE_S) {
			s->len += (size_t)snprintf(s->buf + s->len, sizeof s->buf - s->len,
						   ": keepalive\n\n");
		}
		if (s->len)
			break;
		/* Sleep one interval, in slices so that a stop ends the stream soon. */
		for (double slept = 0; slept < s->w->s.events_interval_s &&
				       !atomic_load(&s->w->stopping); slept += 0.1) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	size_t n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(buf, s->buf + s->off, n);
	s->off += n;
	s->last_write = clk_mono_s();
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	stream *s = cls;
	atomic_fetch_sub(&s->w->streams, 1);
	free(s);
}

static enum MHD_Result api_events(web_server *w, struct MHD_Connection *c)
{
	struct MHD_Response *r;
	stream *s;
	enum MHD_Result ret;

	if (atomic_fetch_add(&w->streams, 1) >= MAX_STREAMS) {
		atomic_fetch_sub(&w->streams, 1);
		return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "too many event streams");
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		atomic_fetch_sub(&w->streams, 1);
		return MHD_NO;
	}
	s->w = w;
	s->last_write = clk_mono_s();
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stream_read, s, stream_free);
	if (!r) {
		stream_free(s);
		return MHD_NO;
	}
	common_headers(r);
	MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: do not buffer */
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- the dispatcher ---- */

/* "/api/sources/NAME/lightcurve", "/api/sources/NAME/stamps/GROUP.png" */
static enum MHD_Result route_source(web_server *w, struct MHD_Connection *c, const char *rest)
{
	const char *slash = strchr(rest, '/');
	char name[NAME_MAX_LEN + 1];
	size_t n;

	if (!slash || !valid_name(rest, (size_t)(slash - rest)))
		return send_error(c, MHD_HTTP_BAD_REQUEST, "bad source name");
	n = (size_t)(slash - rest);
	memcpy(name, rest, n);
	name[n] = 0;
	if (!strcmp(slash, "/lightcurve"))
		return api_lightcurve(w, c, name);
	if (!strncmp(slash, "/stamps/", 8)) {
		const char *g = slash + 8, *dot = strrchr(g, '.');
		char group[32];
		if (!dot || strcmp(dot, ".png") || !valid_group(g, (size_t)(dot - g)))
			return send_error(c, MHD_HTTP_BAD_REQUEST, "bad stamp name (GROUP.png)");
		snprintf(group, sizeof group, "%.*s", (int)(dot - g), g);
		return route_stamp(w, c, name, group);
	}
	return send_error(c, MHD_HTTP_NOT_FOUND, "no such resource");
}

static enum MHD_Result dispatch(web_server *w, struct MHD_Connection *c, const char *url)
{
	const char *rest;

	for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++)
		if (!strcmp(url, assets[i].path))
			return send_buf(c, MHD_HTTP_OK, assets[i].type, "no-cache", assets[i].start,
					(size_t)(assets[i].end - assets[i].start), 0);
	if (!strcmp(url, "/api/status"))
		return api_status(w, c);
	if (!strcmp(url, "/api/groups"))
		return api_groups(w, c);
	if (!strncmp(url, "/api/groups/", 12)) {
		rest = url + 12;
		if (!valid_group(rest, strlen(rest)))
			return send_error(c, MHD_HTTP_BAD_REQUEST, "bad group id (YYYY-MM-DDTHH:MM:SS)");
		return api_group(w, c, rest);
	}
	if (!strcmp(url, "/api/caltables"))
		return api_simple(w, c, view_caltables);
	if (!strcmp(url, "/api/candidates"))
		return api_simple(w, c, view_candidates);
	if (!strcmp(url, "/api/alerts"))
		return route_alerts(w, c);
	if (!strcmp(url, "/api/images"))
		return api_images(w, c, 0);
	if (!strcmp(url, "/api/images/latest"))
		return api_images(w, c, 1);
	if (!strcmp(url, "/api/sources"))
		return api_sources(w, c);
	if (!strncmp(url, "/api/sources/", 13))
		return route_source(w, c, url + 13);
	if (!strcmp(url, "/api/events"))
		return api_events(w, c);
	if (!strcmp(url, "/metrics"))
		return route_metrics(w, c);
	if (!strncmp(url, "/products/", 10)) {
		const char *g = url + 10, *slash = strchr(g, '/');
		char group[32];
		if (!slash || !valid_group(g, (size_t)(slash - g)) || strchr(slash + 1, '/'))
			return send_error(c, MHD_HTTP_BAD_REQUEST, "bad product path");
		snprintf(group, sizeof group, "%.*s", (int)(slash - g), g);
		return product_file(w, c, group, slash + 1);
	}
	return send_error(c, MHD_HTTP_NOT_FOUND, "no such resource");
}

/* MHD's request handler: GET and HEAD only, no body, a checked path. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **con_cls)
{
	web_server *w = cls;
	(void)version, (void)upload_data;

	if (!*con_cls) {
		/* The first call sees the headers only; answer on it, except for a
		 * method that could carry a body. */
		*con_cls = (void *)1;
		if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET and HEAD only");
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES; /* discarded; the answer was queued on the first call */
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return MHD_YES;
	if (strlen(url) > WEB_MAX_URL)
		return send_error(c, MHD_HTTP_URI_TOO_LONG, "path too long");
	if (url[0] != '/' || strchr(url, BAD_BYTE) || strstr(url, "//") || strstr(url, "/.."))
		return send_error(c, MHD_HTTP_BAD_REQUEST, "bad path");
	return dispatch(w, c, url);
}

/* Arguments are decoded by unescape too; one with a refused byte makes the
 * whole request a 400 (checked here once, for every route). */
static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	int *bad = cls;
	(void)kind;
	if (strchr(key, BAD_BYTE) || (value && (strchr(value, BAD_BYTE) || strlen(value) > 256)))
		*bad = 1;
	return MHD_YES;
}

static enum MHD_Result handle_checked(void *cls, struct MHD_Connection *c, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_size, void **con_cls)
{
	int bad = 0;

	if (!*con_cls) {
		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_arg, &bad);
		if (bad) {
			*con_cls = (void *)1;
			return send_error(c, MHD_HTTP_BAD_REQUEST, "bad query argument");
		}
	}
	return handle(cls, c, url, method, version, upload_data, upload_size, con_cls);
}

int web_start(const web_settings *s, const contimg_config *conf, sqlite3 *db, web_server **ret,
	      char *err, size_t errlen)
{
	struct sockaddr_in6 sa;
	size_t salen = 0;
	web_server *w;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	int r;

	if ((r = web_parse_listen(s->listen, &sa, sizeof sa, &salen, err, errlen)) < 0)
		return r;
	if (((struct sockaddr *)&sa)->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	w = calloc(1, sizeof *w);
	if (!w)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	w->s = *s;
	w->ps = conf->pipe;
	w->hs = conf->house;
	w->conf = conf;
	w->db = db;
	pthread_mutex_init(&w->lock, NULL);
	w->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle_checked, w,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
				  MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
				  MHD_OPTION_END);
	if (!w->mhd) {
		r = err_set(err, errlen, -EADDRNOTAVAIL, "cannot listen on %s (in use, or not an "
			    "address of this host)", s->listen);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return r;
	}
	info = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_BIND_PORT);
	w->port = info ? info->port : 0;
	*ret = w;
	return 0;
}

int web_port(const web_server *w)
{
	return w->port;
}

void web_stop(web_server *w)
{
	if (!w)
		return;
	atomic_store(&w->stopping, 1);
	MHD_stop_daemon(w->mhd);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
