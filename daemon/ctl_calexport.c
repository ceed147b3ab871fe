/*
 * daemon/ctl_calexport.c — `contimgctl caltables export ID FILE`: one
 * registered calibration table as pyuvdata's CalH5 file (core/calh5.h), with
 * the antennas, site, integration time and channel width of the group it was
 * solved from (its first registered subband file's header), so that
 * UVCal.from_file reads it without outside knowledge.  docs/calibration.md
 * "Exporting tables".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/calh5.h"
#include "core/err.h"
#include "core/fsx.h"
#include "core/gaintab.h"
#include "core/uvh5.h"
#include "core/vis.h"
#include "daemon/ctl.h"
#include "daemon/pipeline.h"
#include "state/calreg.h"
#include "state/db.h"

int ctl_caltables_export(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	calreg_entry e;
	gaintab *g = NULL;
	vis_set *meta = NULL;
	char err[ERR_LEN], src[4096], tmp[4200], hist[4200], *end;
	long long id;
	int rc;

	/* argv: caltables export ID FILE */
	if (argc != 4)
		return ctl_usage(env);
	id = strtoll(argv[2], &end, 10);
	if (*end || id <= 0)
		return ctl_usage(env);
	if ((rc = ctl_begin(env, &st)) != CTL_OK)
		return rc;
	if ((rc = ctl_open_db(st.s, 0, 0, &st.db)) != CTL_OK)
		return ctl_end(&st, rc);
	if (calreg_get(st.db, id, &e, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return ctl_end(&st, CTL_NOT_FOUND);
	}
	if (e.type == 'K') {
		fprintf(stderr, "contimgctl: table %lld is a delay (K) table; CalH5 export covers "
				"gain tables (B, G)\n", id);
		return ctl_end(&st, CTL_USAGE);
	}
	if (gaintab_read(e.path, &g, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_FAILED;
		goto out;
	}
	if (calreg_source_file(st.db, id, src, sizeof src, err, sizeof err) < 0 ||
	    uvh5_read_meta(src, &meta, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: table %lld: antennas and site: %s\n", id, err);
		rc = CTL_FAILED;
		goto out;
	}
	snprintf(hist, sizeof hist, "Antennas and site from %s.", src);
	{
		calh5_meta m = {
			.site = meta, .history = hist, .sky_catalog = e.calibrator,
			/* A one-channel (G) table holds the whole band of the group:
			 * [ingest] subbands files of this one's width. */
			.bandwidth_hz = meta->chan_width_hz * meta->nchan * st.s->q.nsubbands,
		};
		if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", argv[3], (long)getpid()) >= (int)sizeof tmp) {
			fprintf(stderr, "contimgctl: %s: path too long\n", argv[3]);
			rc = CTL_USAGE;
			goto out;
		}
		if (calh5_write(tmp, g, &m, err, sizeof err) < 0 ||
		    fsx_replace(tmp, argv[3], err, sizeof err) < 0) {
			unlink(tmp);
			fprintf(stderr, "contimgctl: %s\n", err);
			rc = CTL_FAILED;
			goto out;
		}
	}
	printf("%s\n", argv[3]);
	rc = CTL_OK;
out:
	gaintab_free(g);
	vis_free(meta);
	return ctl_end(&st, rc);
}
