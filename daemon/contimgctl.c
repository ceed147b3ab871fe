/*
 * contimgctl — the operator's and astronomer's command line.
 * Dispatches to the command families in daemon/ctl_*.c (see daemon/ctl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctl.h"

static const struct {
	const char *name;
	ctl_fn fn;
	const char *help;
} commands[] = {
	{ "inspect", ctl_inspect, "inspect FILE... [--json]        describe UVH5 files" },
	{ "status", ctl_status, "status [--json]                 daemon, queue counts, running groups" },
	{ "groups", ctl_groups, "groups [--state S] [--since ISO] [--limit N] [--json]" },
	{ "show", ctl_show, "show GROUP [--json]             files, missing, stages, products, errors" },
	{ "requeue", ctl_requeue, "requeue GROUP... [--reason T]   back to pending" },
	{ "retry-failed", ctl_retry_failed, "retry-failed [--reason T]       requeue every failed group" },
	{ "ingest", ctl_ingest, "ingest PATH... [--json]         register existing files (backfill)" },
	{ "process", ctl_process, "process FILES|DIR [--json] [--export-vis]  run one group now" },
	{ "catalog", ctl_catalog, "catalog import|list ...         sources and calibrators (docs/catalogs.md)" },
	{ "transits", ctl_transits, "transits CAL [--days N] [--from ISO] [--json]  calibrator transit times" },
	{ "caltables", ctl_caltables, "caltables [--json]              registered calibration tables" },
	{ "variability", ctl_variability, "variability --csv FILE [--json] metrics of a light curve (mjd,flux,flux_err)" },
	{ "lightcurve", ctl_lightcurve, "lightcurve SOURCE [--csv|--json|--svg FILE]  normalised light curve" },
	{ "candidates", ctl_candidates, "candidates [--json]             ESE candidates, best first" },
	{ "candidate", ctl_candidate, "candidate SOURCE --investigated|--dismissed [--note TEXT]" },
	{ "pointing", ctl_pointing, "pointing add|list|remove ...    pointing overrides (docs/operations.md)" },
	{ "config", ctl_config, "config check [--json]           validate the configuration file (exit 0 ok, 2 bad)" },
	{ "mosaic", ctl_mosaic, "mosaic plan|build (--start ISO --end ISO | --around ISO --minutes N) [--json]  PB-weighted mosaics" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: contimgctl [--config FILE] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %s\n", commands[i].help);
	fprintf(f, "\nexit codes: 0 ok, 1 not found, 2 bad usage/input, 3 daemon/state unreachable,"
		   " 4 processing failed\n");
}

int main(int argc, char **argv)
{
	ctl_env env = { 0 };
	int i = 1;
	const char *c = getenv("CONTIMG_CONFIG");

	env.config_path = "/etc/contimg/contimg.conf";
	if (c && *c) {
		env.config_path = c;
		env.config_explicit = 1;
	}
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			env.config_path = argv[i + 1];
			env.config_explicit = 1;
			i += 2;
		} else if (!strncmp(argv[i], "--config=", 9)) {
			env.config_path = argv[i] + 9;
			env.config_explicit = 1;
			i++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return CTL_OK;
		} else {
			fprintf(stderr, "contimgctl: unknown option %s\n", argv[i]);
			usage(stderr);
			return CTL_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
		if (!strcmp(argv[i], commands[k].name))
			return commands[k].fn(argc - i, argv + i, &env);
	fprintf(stderr, "contimgctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return CTL_USAGE;
}
