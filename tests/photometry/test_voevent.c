/*
 * tests/photometry/test_voevent.c — the VOEvent 2.0 builder
 * (photometry/voevent.h): escaping of odd source names, the elements and
 * attributes the standard requires, the tags balanced (a small well-formedness
 * check of our own, and xmllint --noout when it is installed), numbers left out
 * when not finite, bad ivorn / role refused, IVORN fragments safe and distinct.
 */
#include "tests/test.h"

#include <errno.h>
#include <stdlib.h>

#include "core/err.h"
#include "photometry/voevent.h"

static voevent_alert sample(const char *source)
{
	voevent_alert a = {
		.ivorn = "ivo://dsa110.caltech/contimg#J0834p5512-ongoing-61015",
		.role = "test", .author_ivorn = "ivo://dsa110.caltech/contimg",
		.short_name = "DSA-110 contimg", .contact_email = "ops@example.org",
		.date_unix = 1796000000, .kind = "ongoing", .source = source,
		.ra_deg = 128.7291, .dec_deg = 55.5725, .pos_err_deg = NAN, .obs_mjd = 61020.25,
		.score = 0.83, .ongoing = 1, .depth = 0.21, .duration_days = 40, .t0_mjd = 61030,
		.event_start_mjd = 61010, .f0_jy = 0.5, .flux_jy = 0.41, .flux_err_jy = 0.005,
		.n_epochs = 60, .n_event = 8, .n_ingress = 4, .n_egress = 0, .n_base = 40,
		.best_alt = "step", .dbic = 12.5, .alt_evidence = 0.002, .s_evid = 0.998,
		.s_depth = 1, .s_time = 1, .s_epochs = 0.9, .s_sig = 0.92, .s_quiet = 1,
		.pb = 0.63, .cat_resolved = 0, .cat_confused = 1, .cat_major_arcsec = NAN,
		.bright_source = "3C196 <bright>", .bright_sep_deg = 1.2, .bright_flux_mjy = 14000,
	};
	return a;
}

/* Tags open and close in order, attributes quoted, no stray '<' or '&' in
 * text (the subset of XML the builder writes).  Returns 1 when fine. */
static int well_formed(const char *x, char *why, size_t len)
{
	char stack[64][64];
	int depth = 0;
	const char *p = x;
	if (strncmp(p, "<?xml ", 6) || !(p = strstr(p, "?>")))
		return snprintf(why, len, "no XML declaration"), 0;
	p += 2;
	while (*p) {
		if (*p == '&') {
			static const char *const ents[] = { "&amp;", "&lt;", "&gt;", "&quot;",
							    "&apos;", "&#9;", "&#10;" };
			int ok = 0;
			for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++)
				ok |= !strncmp(p, ents[k], strlen(ents[k]));
			if (!ok)
				return snprintf(why, len, "bare '&' at %.20s", p), 0;
			p++;
			continue;
		}
		if (*p == '>')
			return snprintf(why, len, "stray '>' at %.20s", p), 0;
		if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
			return snprintf(why, len, "control character"), 0;
		if (*p != '<') {
			p++;
			continue;
		}
		int closing = p[1] == '/';
		const char *n = p + 1 + closing, *e = n;
		while (*e && *e != ' ' && *e != '>' && *e != '/' && *e != '\n')
			e++;
		size_t nl = (size_t)(e - n);
		if (nl == 0 || nl >= 64)
			return snprintf(why, len, "bad tag at %.20s", p), 0;
		/* to the end of the tag, through quoted attribute values */
		const char *q = e;
		int inq = 0;
		while (*q && (inq || *q != '>')) {
			if (*q == '"')
				inq = !inq;
			else if (inq && (*q == '<' || *q == '>'))
				return snprintf(why, len, "'<' or '>' inside an attribute"), 0;
			q++;
		}
		if (!*q)
			return snprintf(why, len, "unterminated tag"), 0;
		int empty = q[-1] == '/';
		if (closing) {
			if (depth == 0 || strncmp(stack[depth - 1], n, nl) || stack[depth - 1][nl])
				return snprintf(why, len, "</%.*s> closes %s", (int)nl, n,
						depth ? stack[depth - 1] : "nothing"), 0;
			depth--;
		} else if (!empty) {
			if (depth == 64)
				return snprintf(why, len, "too deep"), 0;
			memcpy(stack[depth], n, nl);
			stack[depth][nl] = 0;
			depth++;
		}
		p = q + 1;
	}
	if (depth)
		return snprintf(why, len, "<%s> not closed", stack[depth - 1]), 0;
	return 1;
}

static void test_structure(void)
{
	char err[ERR_LEN] = "", why[256] = "";
	voevent_alert a = sample("J0834+5512");
	char *x = NULL;
	size_t n = 0;
	CHECK_OK(voevent_build(&a, &x, &n, err, sizeof err), err);
	if (!x)
		return;
	CHECK(n == strlen(x), "length %zu vs %zu", n, strlen(x));
	CHECK(well_formed(x, why, sizeof why), "not well formed: %s", why);
	static const char *const need[] = {
		"<voe:VOEvent xmlns:voe=\"http://www.ivoa.net/xml/VOEvent/v2.0\"",
		"version=\"2.0\"", "role=\"test\"",
		"ivorn=\"ivo://dsa110.caltech/contimg#J0834p5512-ongoing-61015\"",
		"<Who>", "<AuthorIVORN>ivo://dsa110.caltech/contimg</AuthorIVORN>",
		"<Date>2026-11-30T00:53:20</Date>", "<contactEmail>ops@example.org</contactEmail>",
		"<What>", "<Param name=\"score\" value=\"0.83\" dataType=\"float\"",
		"<Param name=\"ongoing\" value=\"1\" dataType=\"int\"",
		"<Param name=\"depth\" value=\"0.21\"", "<Param name=\"duration\" value=\"40\" "
		"dataType=\"float\" unit=\"d\"", "<Param name=\"flux\" value=\"0.41\" "
		"dataType=\"float\" unit=\"Jy\"", "<Param name=\"best_alternative\" value=\"step\"",
		"<Group name=\"score_terms\"", "<Group name=\"vetting\"",
		"<WhereWhen>", "<ObsDataLocation>", "<ObservatoryLocation id=\"GEOSURFACE\"/>",
		"<AstroCoordSystem id=\"UTC-ICRS-TOPO\"/>",
		"<AstroCoords coord_system_id=\"UTC-ICRS-TOPO\">",
		/* MJD 61020.25 = 2025-12-11T06:00:00 UTC (Python datetime) */
		"<ISOTime>2025-12-11T06:00:00.000</ISOTime>", "<Position2D unit=\"deg\">",
		"<C1>128.72910000</C1>", "<C2>55.57250000</C2>", "<Error2Radius>0</Error2Radius>",
		"<How>", "<Description>", "<Why importance=\"0.8300\">",
		"<Inference probability=\"0.8300\"", "<Concept>", "<Name>J0834+5512</Name>",
		"</voe:VOEvent>",
	};
	for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
		CHECK(strstr(x, need[k]) != NULL, "missing %s", need[k]);
	/* the order of the top-level elements (the schema allows any, readers
	 * expect the standard's) */
	const char *w = strstr(x, "<Who>"), *wh = strstr(x, "<What>"), *ww = strstr(x, "<WhereWhen>"),
		   *h = strstr(x, "<How>"), *y = strstr(x, "<Why ");
	CHECK(w && wh && ww && h && y && w < wh && wh < ww && ww < h && h < y, "element order");
	/* not finite: left out; no citation without one */
	CHECK(!strstr(x, "catalog_major"), "a NAN Param is left out");
	CHECK(!strstr(x, "<Citations>"), "no Citations without a cited ivorn");
	CHECK(!strstr(x, "<Reference"), "no Reference without a uri");
	printf("# %zu bytes of VOEvent\n", n);
	free(x);

	a.cites_ivorn = "ivo://dsa110.caltech/contimg#J0834p5512-ongoing-61010";
	a.reference_uri = "https://example.org/ese?a=1&b=2";
	a.kind = "candidate";
	a.ongoing = 0;
	CHECK_OK(voevent_build(&a, &x, &n, err, sizeof err), err);
	if (x) {
		CHECK(well_formed(x, why, sizeof why), "not well formed: %s", why);
		CHECK(strstr(x, "<EventIVORN cite=\"followup\">ivo://dsa110.caltech/contimg#"
			     "J0834p5512-ongoing-61010</EventIVORN>") != NULL, "citation");
		CHECK(strstr(x, "<Reference uri=\"https://example.org/ese?a=1&amp;b=2\"") != NULL,
		      "reference uri escaped");
		const char *y2 = strstr(x, "<Why "), *c = strstr(x, "<Citations>");
		CHECK(y2 && c && y2 < c, "Citations after Why");
		free(x);
	}
}

static void test_escaping(void)
{
	char err[ERR_LEN] = "", why[256] = "";
	/* every character XML cares about, a control character and UTF-8 */
	const char *odd = "A&B <C> \"D\" 'E'\x01 Δ+1";
	voevent_alert a = sample(odd);
	char *x = NULL;
	size_t n = 0;
	CHECK_OK(voevent_build(&a, &x, &n, err, sizeof err), err);
	if (!x)
		return;
	CHECK(well_formed(x, why, sizeof why), "not well formed: %s", why);
	const char *esc = "A&amp;B &lt;C&gt; &quot;D&quot; &apos;E&apos;? Δ+1";
	CHECK(strstr(x, esc) != NULL, "escaped name not found");
	CHECK(strstr(x, "<Name>A&amp;B") != NULL, "escaped in element text");
	CHECK(strstr(x, "value=\"A&amp;B &lt;C&gt; &quot;D&quot;") != NULL, "escaped in attribute");
	CHECK(!strstr(x, "<C>"), "raw name leaked");
	CHECK(strstr(x, "3C196 &lt;bright&gt;") != NULL, "neighbour escaped");
	/* xmllint, when installed, must accept it */
	if (system("command -v xmllint >/dev/null 2>&1") == 0) {
		char path[1024], cmd[1200];
		snprintf(path, sizeof path, "%s/odd.xml", test_tmpdir());
		FILE *f = fopen(path, "w");
		if (f) {
			fwrite(x, 1, n, f);
			fclose(f);
		}
		snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
		CHECK(system(cmd) == 0, "xmllint --noout refuses %s", path);
	} else {
		printf("# xmllint not installed: our own well-formedness check only\n");
	}
	free(x);
	/* escaping into a short buffer: truncated, NUL-terminated, full length reported */
	char small[8] = "";
	size_t need = voevent_escape(small, sizeof small, "<<<<");
	CHECK(need == 16 && strlen(small) < sizeof small, "need %zu, wrote '%s'", need, small);
}

static void test_refused(void)
{
	char err[ERR_LEN] = "";
	char *x = NULL;
	size_t n = 0;
	voevent_alert a = sample("S");
	a.ivorn = "http://example.org#1";
	CHECK(voevent_build(&a, &x, &n, err, sizeof err) == -EINVAL, "non-ivo ivorn");
	a.ivorn = "ivo://dsa110.caltech/contimg";
	CHECK(voevent_build(&a, &x, &n, err, sizeof err) == -EINVAL, "ivorn without fragment");
	a.ivorn = "ivo://dsa110.caltech/contimg#x";
	a.role = "alert";
	CHECK(voevent_build(&a, &x, &n, err, sizeof err) == -EINVAL, "bad role: %s", err);
	a.role = "observation";
	a.ra_deg = NAN;
	CHECK(voevent_build(&a, &x, &n, err, sizeof err) == -EINVAL, "NAN position");
	CHECK(x == NULL, "output untouched on failure");
}

static void test_fragment(void)
{
	char f1[128], f2[128], f3[128];
	CHECK_OK(voevent_fragment("J0834-5512", "candidate", 61010, f1, sizeof f1), "");
	CHECK(!strcmp(f1, "J0834-5512-candidate-61010"), "plain name kept: %s", f1);
	CHECK_OK(voevent_fragment("NVSS J083454.9+553421", "ongoing", 61010, f2, sizeof f2), "");
	CHECK_OK(voevent_fragment("NVSS_J083454.9p553421", "ongoing", 61010, f3, sizeof f3), "");
	printf("# fragments: %s, %s, %s\n", f1, f2, f3);
	CHECK(strcmp(f2, f3) != 0, "names that map to the same text stay apart");
	for (const char *p = f2; *p; p++)
		CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-~", *p),
		      "unsafe character '%c' in %s", *p, f2);
	CHECK(voevent_fragment("S", "candidate", 61010, f1, 8) == -ENAMETOOLONG, "short buffer");
}

int main(void)
{
	RUN(test_structure);
	RUN(test_escaping);
	RUN(test_refused);
	RUN(test_fragment);
	return TEST_DONE();
}
