/*
 * daemon/provenance.h — what the products say about how they were made
 * (issue 18 item 4): the configuration digest and the FITS provenance of a
 * group's images.
 *
 * Configuration digest: SHA-256 (core/sha256.h) of the canonical text of the
 * effective configuration: for every section and key contimgd knows
 * (daemon/settings.c's table, contimg_config_known) whose value is set — in
 * the file, by an environment override CONTIMG_SECTION_KEY or by --set, i.e.
 * cfg_lookup's value, the one the parsers read — one line
 *     section.key=value\n
 * (section and key lower-case as in the table, the value as written), the
 * lines sorted bytewise.  Keys left at their default are not listed: the
 * defaults are the program's, named by its version beside the digest.  The
 * digest therefore changes when any value that matters changes, and not with
 * comments, order, blank lines or the file's name.  `contimgctl config
 * check --json` prints it ("digest") for comparison with a product.
 */
#ifndef CONTIMG_PROVENANCE_H
#define CONTIMG_PROVENANCE_H

#include <stddef.h>

#include "core/config.h"
#include "core/sha256.h"
#include "daemon/pipe_ctx.h"
#include "imaging/fitsout.h"

/* The canonical text described above as a new string the caller free()s
 * (NULL out of memory). */
char *prov_config_text(const cfg *c);

/* Its SHA-256 in hex into hex.  -ENOMEM (hex untouched). */
int prov_config_digest(const cfg *c, char hex[SHA256_HEX_LEN]);

/* The provenance of the group ctx is running, for its images: version,
 * configuration digest (of ctx->conf), the calibration tables applied
 * (ctx->cal) and the calibration state they give (ctx->calibrated: CALSTATE
 * 'full', 'bandpass-only' or 'none'), INSTRUME 'DSA-110', OBSGEO from the
 * data's site (ctx->vis latitude/longitude/altitude, WGS84 → ITRF metres,
 * core/astro.h), MJD-AVG and DATE-AVG of jd_mid.  The strings point into *store, which must outlive *p. */
typedef struct prov_store {
	char digest[SHA256_HEX_LEN];
	char date_avg[40];
	const char *tables[3];
} prov_store;
void prov_for_group(const pipe_ctx *ctx, double jd_mid, prov_store *store,
		    fitsout_provenance *p);

#endif
