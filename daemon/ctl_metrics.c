/*
 * daemon/ctl_metrics.c — `contimgctl metrics`: the Prometheus text exposition
 * contimgd writes to [metrics] textfile (daemon/metrics.h), on stdout, from
 * the state database opened read-only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/metrics.h"
#include "daemon/settings.h"

int ctl_metrics(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	contimg_config *conf = NULL;
	char err[4 * ERR_LEN], *text = NULL;
	int rc;

	(void)argv;
	if (argc != 1)
		return ctl_usage(env);
	if ((rc = ctl_begin(env, &st)) != CTL_OK)
		return rc;
	/* The paths whose free space is reported come from the whole
	 * configuration, validated as contimgd validates it. */
	if (contimg_config_new(st.cfg, &conf, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s: %s\n", env->config_path, err);
		return ctl_end(&st, CTL_USAGE);
	}
	if (metrics_render(st.db, conf, clk_wall_s(), &text, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_UNREACHABLE;
	} else {
		fputs(text, stdout);
		rc = CTL_OK;
	}
	free(text);
	contimg_config_free(conf);
	return ctl_end(&st, rc);
}
