/*
 * photometry/voevent.c — a VOEvent 2.0 packet as text (voevent.h).
 */
#include "photometry/voevent.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

/* A growing buffer; a failed allocation sticks (oom) and later appends are
 * dropped, so the builder checks once at the end. */
typedef struct sbuf {
	char *s;
	size_t len, cap;
	int oom;
} sbuf;

static int sb_grow(sbuf *b, size_t need)
{
	if (b->oom)
		return -1;
	if (b->len + need + 1 <= b->cap)
		return 0;
	size_t nc = b->cap ? b->cap : 4096;
	while (nc < b->len + need + 1)
		nc *= 2;
	char *p = realloc(b->s, nc);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->s = p;
	b->cap = nc;
	return 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* The escaped form of one byte (NULL: the byte itself). */
static const char *esc_of(unsigned char c)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&apos;";
	case '\t': return "&#9;";
	case '\n': return "&#10;";
	default:
		/* XML 1.0 has no way to carry the other C0 controls, not even as
		 * character references; DEL is legal but invisible. */
		return c < 0x20 || c == 0x7f ? "?" : NULL;
	}
}

size_t voevent_escape(char *dst, size_t cap, const char *s)
{
	size_t used = dst && cap ? strlen(dst) : 0, need = used;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		const char *e = esc_of(*p);
		size_t n = e ? strlen(e) : 1;
		if (dst && need + n < cap) {
			if (e)
				memcpy(dst + need, e, n);
			else
				dst[need] = (char)*p;
			dst[need + n] = 0;
		} else if (dst && cap) {
			dst[need < cap ? need : cap - 1] = 0;
			cap = 0; /* stop writing, keep counting */
		}
		need += n;
	}
	return need;
}

static void sb_esc(sbuf *b, const char *s)
{
	size_t n = voevent_escape(NULL, 0, s);
	if (sb_grow(b, n))
		return;
	b->s[b->len] = 0;
	voevent_escape(b->s + b->len, n + 1, s);
	b->len += n;
}

/* ISO 8601 UTC, seconds resolution (xs:dateTime). */
static void iso_unix(double t, char *buf, size_t len)
{
	time_t s = (time_t)floor(t);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
}

static void iso_mjd(double mjd, char *buf, size_t len)
{
	/* MJD 40587 is 1970-01-01T00:00:00 UTC; milliseconds kept. */
	double t = (mjd - 40587.0) * 86400.0;
	double s = floor(t);
	char d[32];
	iso_unix(s, d, sizeof d);
	snprintf(buf, len, "%s.%03d", d, (int)fmin(999, floor((t - s) * 1000 + 0.5)));
}

static void param_num(sbuf *b, const char *ind, const char *name, double v, const char *unit,
		      const char *ucd, const char *desc)
{
	if (!isfinite(v))
		return;
	sb_printf(b, "%s<Param name=\"%s\" value=\"%.10g\" dataType=\"float\"", ind, name, v);
	if (unit)
		sb_printf(b, " unit=\"%s\"", unit);
	if (ucd)
		sb_printf(b, " ucd=\"%s\"", ucd);
	if (desc) {
		sb_printf(b, ">\n%s  <Description>", ind);
		sb_esc(b, desc);
		sb_printf(b, "</Description>\n%s</Param>\n", ind);
	} else {
		sb_printf(b, "/>\n");
	}
}

static void param_int(sbuf *b, const char *ind, const char *name, long v, const char *ucd)
{
	if (v < 0)
		return;
	sb_printf(b, "%s<Param name=\"%s\" value=\"%ld\" dataType=\"int\"", ind, name, v);
	if (ucd)
		sb_printf(b, " ucd=\"%s\"", ucd);
	sb_printf(b, "/>\n");
}

static void param_str(sbuf *b, const char *ind, const char *name, const char *v, const char *ucd)
{
	if (!v || !*v)
		return;
	sb_printf(b, "%s<Param name=\"%s\" value=\"", ind, name);
	sb_esc(b, v);
	sb_printf(b, "\" dataType=\"string\"");
	if (ucd)
		sb_printf(b, " ucd=\"%s\"", ucd);
	sb_printf(b, "/>\n");
}

static void elem_text(sbuf *b, const char *ind, const char *tag, const char *v)
{
	if (!v || !*v)
		return;
	sb_printf(b, "%s<%s>", ind, tag);
	sb_esc(b, v);
	sb_printf(b, "</%s>\n", tag);
}

static int role_ok(const char *r)
{
	static const char *const ok[] = { "observation", "test", "prediction", "utility" };
	for (size_t i = 0; r && i < sizeof ok / sizeof ok[0]; i++)
		if (!strcmp(r, ok[i]))
			return 1;
	return 0;
}

int voevent_build(const voevent_alert *a, char **ret_xml, size_t *ret_len, char *err,
		  size_t errlen)
{
	sbuf b = { 0 };
	char date[40], obs[48];
	const char *I = "    ", *II = "      ";

	if (!a->ivorn || strncmp(a->ivorn, "ivo://", 6) || !strchr(a->ivorn + 6, '#') ||
	    strchr(a->ivorn + 6, '#')[1] == 0)
		return err_set(err, errlen, -EINVAL, "voevent: ivorn '%s' is not ivo://AUTHORITY/"
			       "PATH#FRAGMENT", a->ivorn ? a->ivorn : "");
	if (!role_ok(a->role))
		return err_set(err, errlen, -EINVAL, "voevent: role '%s': expected observation, "
			       "test, prediction or utility", a->role ? a->role : "");
	if (!a->kind || !*a->kind || !a->source || !*a->source)
		return err_set(err, errlen, -EINVAL, "voevent: no kind or source");
	if (!isfinite(a->ra_deg) || !isfinite(a->dec_deg) || !isfinite(a->obs_mjd))
		return err_set(err, errlen, -EINVAL, "voevent: position or time not finite");

	iso_unix(a->date_unix, date, sizeof date);
	iso_mjd(a->obs_mjd, obs, sizeof obs);

	sb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	sb_printf(&b, "<voe:VOEvent xmlns:voe=\"%s\"\n"
		  "             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"
		  "             xsi:schemaLocation=\"%s http://www.ivoa.net/xml/VOEvent/"
		  "VOEvent-v2.0.xsd\"\n"
		  "             version=\"2.0\" role=\"%s\" ivorn=\"", VOEVENT_NS, VOEVENT_NS,
		  a->role);
	sb_esc(&b, a->ivorn);
	sb_printf(&b, "\">\n");

	/* Who: curation */
	sb_printf(&b, "  <Who>\n");
	elem_text(&b, I, "AuthorIVORN", a->author_ivorn);
	sb_printf(&b, "%s<Date>%s</Date>\n", I, date);
	if ((a->short_name && *a->short_name) || (a->title && *a->title) ||
	    (a->contact_name && *a->contact_name) || (a->contact_email && *a->contact_email)) {
		sb_printf(&b, "%s<Author>\n", I);
		elem_text(&b, II, "title", a->title);
		elem_text(&b, II, "shortName", a->short_name);
		elem_text(&b, II, "contactName", a->contact_name);
		elem_text(&b, II, "contactEmail", a->contact_email);
		sb_printf(&b, "%s</Author>\n", I);
	}
	sb_printf(&b, "  </Who>\n");

	/* What: the event's characterisation */
	sb_printf(&b, "  <What>\n");
	param_str(&b, I, "source", a->source, "meta.id;src");
	param_str(&b, I, "kind", a->kind, "meta.code.class");
	param_int(&b, I, "ongoing", a->ongoing ? 1 : 0, "meta.code");
	param_num(&b, I, "score", a->score, NULL, "stat.likelihood;meta.main",
		  "ESE score in [0, 1]: the lens's BIC weight times the terms (docs/ese.md)");
	param_num(&b, I, "depth", a->depth, NULL, "phot.flux.density;arith.ratio",
		  "fractional depth of the dip (height of a spike) measured from the data");
	param_num(&b, I, "duration", a->duration_days, "d", "time.duration",
		  "full width of the fitted event at a quarter of its depth");
	param_num(&b, I, "t0_mjd", a->t0_mjd, "d", "time.epoch", "centre of the fitted event (MJD UTC)");
	param_num(&b, I, "event_start_mjd", a->event_start_mjd, "d", "time.start",
		  "t0 - duration/2 (MJD UTC)");
	param_num(&b, I, "obs_mjd", a->obs_mjd, "d", "time.epoch;obs",
		  "the epoch whose fit raised this alert (MJD UTC)");
	param_num(&b, I, "flux", a->flux_jy, "Jy", "phot.flux.density;em.radio.750-1500MHz",
		  "normalised flux density at this epoch");
	param_num(&b, I, "flux_err", a->flux_err_jy, "Jy", "stat.error;phot.flux.density", NULL);
	param_num(&b, I, "f0", a->f0_jy, "Jy", "phot.flux.density;stat.fit",
		  "fitted flux outside the event");
	param_int(&b, I, "n_epochs", a->n_epochs, "meta.number;obs");
	param_str(&b, I, "best_alternative", a->best_alt, "meta.code.class;stat.fit");
	param_num(&b, I, "dbic", a->dbic, NULL, "stat.fit.goodness",
		  "BIC(best alternative) - BIC(lens), chi-square scaled by the over-dispersion");
	param_num(&b, I, "alt_evidence", a->alt_evidence, NULL, "stat.probability",
		  "summed BIC weight of all the alternative models");
	sb_printf(&b, "%s<Group name=\"epochs\" type=\"ese_epochs\">\n", I);
	param_int(&b, II, "n_event", a->n_event, "meta.number;obs");
	param_int(&b, II, "n_ingress", a->n_ingress, "meta.number;obs");
	param_int(&b, II, "n_egress", a->n_egress, "meta.number;obs");
	param_int(&b, II, "n_base", a->n_base, "meta.number;obs");
	sb_printf(&b, "%s</Group>\n", I);
	sb_printf(&b, "%s<Group name=\"score_terms\" type=\"ese_score_terms\">\n", I);
	param_num(&b, II, "s_evid", a->s_evid, NULL, "stat.probability", NULL);
	param_num(&b, II, "s_depth", a->s_depth, NULL, "stat.weight", NULL);
	param_num(&b, II, "s_time", a->s_time, NULL, "stat.weight", NULL);
	param_num(&b, II, "s_epochs", a->s_epochs, NULL, "stat.weight", NULL);
	param_num(&b, II, "s_sig", a->s_sig, NULL, "stat.weight", NULL);
	param_num(&b, II, "s_quiet", a->s_quiet, NULL, "stat.weight", NULL);
	sb_printf(&b, "%s</Group>\n", I);
	sb_printf(&b, "%s<Group name=\"vetting\" type=\"ese_vetting\">\n", I);
	param_num(&b, II, "pb", a->pb, NULL, "instr.beam;arith.ratio",
		  "primary-beam power at the source in the latest image");
	param_int(&b, II, "catalog_resolved", a->cat_resolved, "meta.code");
	param_int(&b, II, "catalog_confused", a->cat_confused, "meta.code");
	param_num(&b, II, "catalog_major", a->cat_major_arcsec, "arcsec", "phys.angSize.smajAxis",
		  NULL);
	param_str(&b, II, "bright_source", a->bright_source, "meta.id;src");
	param_num(&b, II, "bright_sep", a->bright_sep_deg, "deg", "pos.angDistance", NULL);
	param_num(&b, II, "bright_flux", a->bright_flux_mjy, "mJy", "phot.flux.density", NULL);
	sb_printf(&b, "%s</Group>\n", I);
	sb_printf(&b, "  </What>\n");

	/* WhereWhen: the source's position and the epoch that triggered */
	sb_printf(&b, "  <WhereWhen>\n"
		  "    <ObsDataLocation>\n"
		  "      <ObservatoryLocation id=\"GEOSURFACE\"/>\n"
		  "      <ObservationLocation>\n"
		  "        <AstroCoordSystem id=\"UTC-ICRS-TOPO\"/>\n"
		  "        <AstroCoords coord_system_id=\"UTC-ICRS-TOPO\">\n"
		  "          <Time unit=\"s\">\n"
		  "            <TimeInstant>\n"
		  "              <ISOTime>%s</ISOTime>\n"
		  "            </TimeInstant>\n"
		  "          </Time>\n"
		  "          <Position2D unit=\"deg\">\n"
		  "            <Name1>RA</Name1>\n"
		  "            <Name2>Dec</Name2>\n"
		  "            <Value2>\n"
		  "              <C1>%.8f</C1>\n"
		  "              <C2>%.8f</C2>\n"
		  "            </Value2>\n"
		  "            <Error2Radius>%.6g</Error2Radius>\n"
		  "          </Position2D>\n"
		  "        </AstroCoords>\n"
		  "      </ObservationLocation>\n"
		  "    </ObsDataLocation>\n"
		  "  </WhereWhen>\n", obs, a->ra_deg, a->dec_deg,
		  isfinite(a->pos_err_deg) ? a->pos_err_deg : 0.0);

	/* How: the instrument and the method */
	sb_printf(&b, "  <How>\n");
	elem_text(&b, I, "Description", a->description && *a->description ? a->description :
		  "DSA-110 continuum imaging (contimg): forced photometry of catalog sources, "
		  "per-epoch flux-scale normalisation, Gaussian plasma-lens fit (Clegg, Fey & "
		  "Lazio 1998) compared by BIC with nine alternative light-curve models");
	if (a->reference_uri && *a->reference_uri) {
		sb_printf(&b, "%s<Reference uri=\"", I);
		sb_esc(&b, a->reference_uri);
		sb_printf(&b, "\" type=\"url\"/>\n");
	}
	sb_printf(&b, "  </How>\n");

	/* Why: the initial assessment */
	sb_printf(&b, "  <Why importance=\"%.4f\">\n", isfinite(a->score) ? a->score : 0.0);
	sb_printf(&b, "%s<Inference probability=\"%.4f\" relation=\"identified\">\n", I,
		  isfinite(a->score) ? fmin(1, fmax(0, a->score)) : 0.0);
	elem_text(&b, II, "Concept", "Extreme scattering event; radio source; variable");
	elem_text(&b, II, "Name", a->source);
	elem_text(&b, II, "Description", a->ongoing
		  ? "ESE candidate still under way: ingress seen, egress not yet"
		  : "ESE candidate: a plasma-lens dip (or spike) seen from ingress to egress");
	sb_printf(&b, "%s</Inference>\n", I);
	sb_printf(&b, "  </Why>\n");

	if (a->cites_ivorn && *a->cites_ivorn) {
		sb_printf(&b, "  <Citations>\n%s<EventIVORN cite=\"followup\">", I);
		sb_esc(&b, a->cites_ivorn);
		sb_printf(&b, "</EventIVORN>\n");
		elem_text(&b, I, "Description", "the same event, alerted earlier while under way");
		sb_printf(&b, "  </Citations>\n");
	}
	sb_printf(&b, "</voe:VOEvent>\n");

	if (b.oom) {
		free(b.s);
		return err_set(err, errlen, -ENOMEM, "voevent: out of memory");
	}
	*ret_xml = b.s;
	*ret_len = b.len;
	return 0;
}

int voevent_fragment(const char *source, const char *kind, long event_day, char *buf,
		     size_t len)
{
	char name[256];
	size_t k = 0;
	int changed = 0;
	uint32_t h = 2166136261u; /* FNV-1a, 32 bits */
	for (const unsigned char *p = (const unsigned char *)source; *p; p++) {
		unsigned char c = *p, o;
		h = (h ^ c) * 16777619u;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')
			o = c;
		else
			o = c == '+' ? 'p' : '_', changed = 1;
		if (k + 1 >= sizeof name)
			return -ENAMETOOLONG;
		name[k++] = (char)o;
	}
	name[k] = 0;
	int n = changed ? snprintf(buf, len, "%s~%08x-%s-%ld", name, (unsigned)h, kind, event_day)
			: snprintf(buf, len, "%s-%s-%ld", name, kind, event_day);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
