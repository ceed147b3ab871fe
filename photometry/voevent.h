/*
 * photometry/voevent.h — a VOEvent 2.0 packet for an ESE alert, as text.
 *
 * The structure is the IVOA Recommendation "Sky Event Reporting Metadata,
 * Version 2.0" (Seaman et al. 2011, REC-VOEvent-2.0) and its schema
 * VOEvent-v2.0.xsd:
 *
 *   <voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0"
 *                version="2.0" role="observation|test" ivorn="ivo://AUTH/PATH#FRAG">
 *     <Who>        AuthorIVORN, Date (packet creation, UTC), Author (shortName, title,
 *                  contactName, contactEmail when given)
 *     <What>       Param name/value/unit/ucd/dataType: the ESE score, kind, ongoing,
 *                  depth, duration, t0, fluxes, the best alternative model and its
 *                  evidence, the epoch counts; Group "score_terms" (the six terms) and
 *                  Group "vetting" (primary beam, catalog flags, bright neighbour)
 *     <WhereWhen>  ObsDataLocation / ObservatoryLocation id="GEOSURFACE" /
 *                  ObservationLocation: AstroCoordSystem id="UTC-ICRS-TOPO",
 *                  AstroCoords: Time/TimeInstant/ISOTime (the epoch that triggered the
 *                  alert), Position2D unit="deg" (Name1 RA, Name2 Dec, Value2 C1 C2,
 *                  Error2Radius)
 *     <How>        Description (instrument and pipeline), Reference uri (docs)
 *     <Why importance=score>  Inference probability=score: Concept, Name, Description
 *     <Citations>  EventIVORN cite="followup" of the same event's earlier alert (a
 *                  completed event that was alerted as ongoing), when there is one
 *   </voe:VOEvent>
 *
 * Pure string building: text values are XML-escaped (& < > " ' and control
 * characters other than tab/newline, which XML 1.0 cannot carry, become '?');
 * non-finite numbers leave their Param out (or write 0 where the schema
 * requires a float, Error2Radius).  No I/O.
 */
#ifndef CONTIMG_VOEVENT_H
#define CONTIMG_VOEVENT_H

#include <stddef.h>

#define VOEVENT_NS "http://www.ivoa.net/xml/VOEvent/v2.0"

/* What goes into one packet (all strings borrowed; NULL or "" = absent where
 * a comment says optional). */
typedef struct voevent_alert {
	const char *ivorn;        /* "ivo://dsa110.caltech/contimg#J0834+5512-ongoing-61015" */
	const char *role;         /* "observation", "test", "prediction", "utility" */
	const char *author_ivorn; /* Who/AuthorIVORN: "ivo://dsa110.caltech/contimg" */
	const char *short_name;   /* Who/Author/shortName (optional) */
	const char *title;        /* Who/Author/title (optional) */
	const char *contact_name; /* optional */
	const char *contact_email;/* optional */
	double date_unix;         /* Who/Date: when the packet was made (UTC, unix s) */
	const char *kind;         /* "candidate" or "ongoing" */
	const char *source;       /* catalog name (any characters) */
	double ra_deg, dec_deg;   /* ICRS */
	double pos_err_deg;       /* Error2Radius (NAN → 0: unknown) */
	double obs_mjd;           /* the epoch that triggered the alert (UTC MJD) */
	double score;             /* [0, 1] */
	int ongoing;
	double depth;             /* fractional depth of the dip (height of a spike) */
	double duration_days, t0_mjd, event_start_mjd;
	double f0_jy;             /* fitted out-of-event flux */
	double flux_jy, flux_err_jy; /* this epoch's normalised flux */
	int n_epochs, n_event, n_ingress, n_egress, n_base; /* < 0: left out */
	const char *best_alt;     /* the best alternative model (optional) */
	double dbic, alt_evidence;
	double s_evid, s_depth, s_time, s_epochs, s_sig, s_quiet;
	double pb;                /* primary-beam level at the source */
	int cat_resolved, cat_confused; /* < 0: unknown */
	double cat_major_arcsec;
	const char *bright_source;/* nearest bright catalog source (optional) */
	double bright_sep_deg, bright_flux_mjy;
	const char *description;  /* How/Description (optional: a default text) */
	const char *reference_uri;/* How/Reference uri (optional) */
	const char *cites_ivorn;  /* Citations/EventIVORN cite="followup" (optional) */
} voevent_alert;

/* Build the packet.  *ret_xml is malloc'd, NUL-terminated (caller frees),
 * *ret_len its length.  Returns 0, -EINVAL (ivorn not "ivo://...#...", a role
 * outside the four, kind or source missing, RA/Dec not finite) with the reason
 * in err, or -ENOMEM.  Outputs untouched on failure. */
int voevent_build(const voevent_alert *a, char **ret_xml, size_t *ret_len, char *err,
		  size_t errlen);

/* Append s to dst (capacity cap, holding a NUL-terminated string) XML-escaped
 * as above; returns the length the full escaped result needs (like snprintf:
 * compare with cap to detect truncation).  For tests and other builders. */
size_t voevent_escape(char *dst, size_t cap, const char *s);

/* Write the IVORN fragment for (source, kind, event day) into buf: the source
 * name with every character outside [A-Za-z0-9._-] replaced ('+' by 'p', others
 * by '_'), followed, when anything was replaced, by '~' and 8 hex digits of a
 * 32-bit FNV-1a hash of the exact name (so two names that map to the same
 * text stay apart), then "-KIND-DAY".  Safe as a URI fragment and as a file
 * name.  Returns 0 or -ENAMETOOLONG. */
int voevent_fragment(const char *source, const char *kind, long event_day, char *buf,
		     size_t len);

#endif
