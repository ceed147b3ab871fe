/*
 * contimgctl — the operator's and astronomer's command line.
 *
 * One table, one row per command (and per subcommand of the families
 * catalog, pointing, mosaic): the dispatcher finds the row, answers --help
 * from it, and runs the command, which opens what the row says through the
 * shared prologue (daemon/ctl.h).  The commands live in daemon/ctl_*.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/version.h"
#include "daemon/ctl.h"

static const ctl_command commands[] = {
	{ "status", NULL, ctl_status, CTL_NEEDS_DB_RO, "[--json]",
	  "daemon, queue counts, running groups",
	  "Whether the daemon runs (it holds a lock on state_dir/contimgd.pid), the\n"
	  "groups per state, the running groups, the last completed group, the last\n"
	  "error and the groups completed in the last hour.  Exit 3 when the state\n"
	  "database cannot be opened.\n"
	  "  --json  one object (docs/cli.md)\n" },
	{ "groups", NULL, ctl_groups, CTL_NEEDS_DB_RO,
	  "[--state S] [--since ISO] [--limit N] [--json]", "groups, newest first",
	  "  --state S     collecting, pending, in_progress, completed or failed\n"
	  "  --since ISO   YYYY-MM-DD[THH:MM:SS], compared with the group id\n"
	  "  --limit N     at most N groups (default 50, 0 = all)\n"
	  "  --json        an array of objects (docs/cli.md)\n" },
	{ "show", NULL, ctl_show, CTL_NEEDS_DB_RO, "GROUP [--json]",
	  "files, missing, stages, products, errors",
	  "One group in detail: its files, missing subbands, stage timings, products,\n"
	  "events and pointing.  GROUP is YYYY-MM-DDTHH:MM:SS.  Exit 1 when there is\n"
	  "no such group.\n"
	  "  --json  one object (docs/cli.md)\n" },
	{ "requeue", NULL, ctl_requeue, CTL_NEEDS_DB_RW, "GROUP... [--reason TEXT] [--force]",
	  "back to pending",
	  "Put groups back to pending (retries reset, the reason recorded as a\n"
	  "requeue event); the daemon picks them up.  Exit 1 when a group does not\n"
	  "exist, 2 when it is in progress (the message says whether its owner is\n"
	  "alive, gone, or its pid now another process's).\n"
	  "  --force  take in_progress groups from their owner too, alive or not\n"
	  "           (e.g. a wedged process); the event names the owner\n" },
	{ "retry-failed", NULL, ctl_retry_failed, CTL_NEEDS_DB_RW, "[--reason TEXT]",
	  "requeue every failed group", "Requeue every failed group.\n" },
	{ "ingest", NULL, ctl_ingest, CTL_NEEDS_DB_CREATE, "PATH... [--json]",
	  "register existing files (backfill)",
	  "Register subband files (files or directories) in the queue as the daemon\n"
	  "would; complete groups become pending.  Exit 2 when a path was rejected.\n"
	  "  --json  {files, new, groups, rejected}\n" },
	/* process opens the database itself once its --set overrides are applied
	 * (ctl_load_settings, ctl_open_db); the row says what it ends up with. */
	{ "process", NULL, ctl_process, CTL_NEEDS_DB_CREATE,
	  "FILES...|DIR [--json] [--export-vis] [--do-k] [--quick-look]"
	  " [--set SECTION.KEY=VALUE]...", "run one group now",
	  "Run the pipeline on one group in the foreground, without a daemon, with\n"
	  "the same stages and database.  Exit 0 completed, 4 failed, 2 when the files\n"
	  "belong to several groups.\n"
	  "  --export-vis   [pipeline] export_vis = true\n"
	  "  --do-k         [calibrate] do_k = true\n"
	  "  --quick-look   [image] quicklook = true\n"
	  "  --set S.K=V    any key of docs/config.md (repeatable)\n"
	  "  --json         one object (docs/cli.md)\n" },
	{ "inspect", NULL, ctl_inspect, CTL_NEEDS_NOTHING, "FILE... [--json]",
	  "describe UVH5 files",
	  "Describe UVH5 files (telescope, layout, axes, frequencies, times,\n"
	  "pointing) from their headers.  Exit 2 when a file cannot be read.\n"
	  "  --json  one JSON object per file and line\n" },
	{ "catalog", "import", ctl_catalog_import, CTL_NEEDS_SETTINGS_W,
	  "--csv FILE|--vla FILE|--nvss FILE [--json]", "import sources or calibrators",
	  "Import a source list (name,ra_deg,dec_deg,flux_mjy[,spectral_index]), the\n"
	  "VLA calibrator list or an NVSS VizieR TSV into [catalog] path (default\n"
	  "state_dir/catalog.sqlite; docs/catalogs.md).  Exit 1 when FILE does not\n"
	  "exist, 2 when it is malformed, 3 when the catalog cannot be opened.\n" },
	{ "catalog", "list", ctl_catalog_list, CTL_NEEDS_SETTINGS,
	  "[--near RA DEC --radius DEG] [--min-flux MJY] [--calibrators] [--limit N] [--json]",
	  "list sources or calibrators",
	  "Sources brightest first, or with --calibrators calibrators nearest first.\n"
	  "RA/DEC in degrees or sexagesimal.  Exit 3 when no catalog exists yet.\n" },
	{ "transits", NULL, ctl_transits, CTL_NEEDS_SETTINGS, "CAL [--days N] [--from ISO] [--json]",
	  "calibrator transit times",
	  "Transit times at [site] of a calibrator or catalog source: the last one\n"
	  "before --from (default now) and every one in the next N days (default 1,\n"
	  "at most 366).  Exit 1 when CAL is not in the catalog.\n" },
	{ "caltables", NULL, ctl_caltables, CTL_NEEDS_SETTINGS, "[--json] | export ID FILE",
	  "registered calibration tables",
	  "Registered calibration tables, newest first.  Exit 3 when the state\n"
	  "database does not exist.\n"
	  "  export ID FILE  write table ID (B or G) as pyuvdata's CalH5 file, with the\n"
	  "                  antennas and site of the group it was solved from\n"
	  "                  (docs/calibration.md); exit 1 when there is no table ID\n" },
	{ "variability", NULL, ctl_variability, CTL_NEEDS_NOTHING, "--csv FILE [--json]",
	  "metrics of a light curve (mjd,flux,flux_err)",
	  "The variability metrics and ESE score of a light curve in a CSV file\n"
	  "(header line, rows mjd,flux,flux_err).\n" },
	{ "lightcurve", NULL, ctl_lightcurve, CTL_NEEDS_DB_RO,
	  "SOURCE [--csv|--json|--svg FILE|--png FILE]", "normalised light curve",
	  "The light curve of a catalog source, oldest first: a table in mJy, CSV,\n"
	  "JSON, or a plot written to FILE as SVG or PNG (docs/plots.md; raw fluxes\n"
	  "when none is normalised yet).  Exit 1 when the source has no photometry.\n" },
	{ "candidates", NULL, ctl_candidates, CTL_NEEDS_DB_RO, "[--json]",
	  "ESE candidates, best first", "ESE candidates, highest score first.\n" },
	{ "candidate", NULL, ctl_candidate, CTL_NEEDS_DB_RW,
	  "SOURCE --investigated|--dismissed [--note TEXT]", "record a decision on a candidate",
	  "Record a human decision (and an optional note) on an ESE candidate.  Exit 1\n"
	  "when SOURCE is not a candidate.\n" },
	{ "alerts", NULL, ctl_alerts, CTL_NEEDS_DB_RO, "[--since ISO|DAYS] [--json]",
	  "ESE alerts sent, oldest first",
	  "The ESE alerts (docs/ese.md, Alerts): one per source per event and kind\n"
	  "(candidate, ongoing), with the VOEvent file of each.\n"
	  "  --since T  only alerts made at or after T: a number of days before now,\n"
	  "             or YYYY-MM-DD[THH:MM[:SS]][Z] (UTC)\n"
	  "  --json     the array of docs/cli.md (the same as the web service's)\n" },
	{ "quality", NULL, ctl_quality, CTL_NEEDS_DB_RO,
	  "[GROUP] [--since ISO|DAYS] [--failed] [--limit N] [--json]",
	  "epoch quality of each image: why an epoch failed",
	  "The quality record of each image (docs/photometry.md, Epoch quality),\n"
	  "newest first: noise (mJy/beam) and its radiometer expectation, their\n"
	  "ratio, the noise over the recent median, dynamic range, flux-scale\n"
	  "correction and its robust z, clipped and flagged fractions, references,\n"
	  "and the checks that failed by name (provisional too; ok when none).\n"
	  "With GROUP (YYYY-MM-DDTHH:MM:SS), that image's record beside the\n"
	  "[photometry] quality_* thresholds of the configuration.  Exit 1 when\n"
	  "GROUP does not exist or has no quality record.\n"
	  "  --since T  records of images at or after T: a number of days before\n"
	  "             now, or YYYY-MM-DD[THH:MM[:SS]][Z] (UTC)\n"
	  "  --failed   only the records of failed epochs\n"
	  "  --limit N  at most N records (default 50, 0 = all)\n"
	  "  --json     one object (docs/cli.md)\n" },
	{ "pointing", "add", ctl_pointing_add, CTL_NEEDS_DB_CREATE,
	  "--start ISO [--end ISO] --dec DEG [--note TEXT] [--json]", "add a pointing override",
	  "From --start (UTC, inclusive) to --end (exclusive; default open) the dishes\n"
	  "pointed at apparent declination --dec degrees (docs/operations.md,\n"
	  "Pointing).  Prints the groups to requeue.  Exit 2 for a malformed time or\n"
	  "declination or an overlapping range.\n" },
	{ "pointing", "list", ctl_pointing_list, CTL_NEEDS_DB_RO, "[--json]",
	  "list pointing overrides", "Every pointing override by start time.\n" },
	{ "pointing", "remove", ctl_pointing_remove, CTL_NEEDS_DB_RW, "ID",
	  "remove a pointing override",
	  "Delete an override; groups processed with it keep their pointing until\n"
	  "requeued.  Exit 1 when there is no such override.\n" },
	{ "config", "check", ctl_config_check, CTL_NEEDS_NOTHING, "[--json]",
	  "validate the configuration file",
	  "Validate the configuration file as contimgd does at start-up (every\n"
	  "section, key and value, and the [earth] eop_file table), without touching\n"
	  "the state database or a running daemon.  Exit 0 when contimgd would start\n"
	  "with it, 2 when it would refuse; the problems, one per line,\n"
	  "FILE:LINE: [section] key: reason, on stderr.\n"
	  "  --json  {config, ok, errors}\n" },
	{ "unit", NULL, ctl_unit, CTL_NEEDS_NOTHING, "[--memory-per-worker GB]",
	  "the systemd drop-in for this configuration",
	  "Print the systemd drop-in that fits contimgd.service to the configuration:\n"
	  "ReadWritePaths= the directories the daemon writes ([paths], [calibrate]\n"
	  "caltables_dir, [mosaic] dir), MemoryMax= [ingest] workers x the memory of\n"
	  "one worker (default 4 GiB) + 1 GiB, and PrivateTmp/ProtectHome relaxed only\n"
	  "when a path needs it.  Install it as\n"
	  "/etc/systemd/system/contimgd.service.d/contimg.conf and run\n"
	  "`systemctl daemon-reload`.  Exit 2 for a bad configuration or a path a\n"
	  "unit cannot list.\n"
	  "  --memory-per-worker GB  memory of one worker (GiB)\n" },
	{ "housekeeping", NULL, ctl_housekeeping, CTL_NEEDS_DB_RW, "[--dry-run] [--json]",
	  "free space and retention (raw, products, scratch)",
	  "The free space of incoming_dir, products_dir, state_dir and scratch_dir\n"
	  "against their [housekeeping] thresholds, and the retention rules run once:\n"
	  "every file deleted or moved and scratch directory removed, with its size and\n"
	  "the rule.  Only completed, unchanged groups give files up; nothing a\n"
	  "pending, running or failed group registers is touched.  Safe beside a\n"
	  "running daemon (each group is re-checked when its removal is recorded).\n"
	  "Exit 4 when an action failed.\n"
	  "  --dry-run  list what would be done; change nothing\n"
	  "  --json     one object (docs/cli.md)\n" },
	{ "metrics", NULL, ctl_metrics, CTL_NEEDS_DB_RO, "",
	  "Prometheus metrics (text exposition)",
	  "The metrics contimgd writes to [metrics] textfile, on stdout: groups per\n"
	  "state, stage-time histograms, queue depth, lag, last completed group,\n"
	  "candidates, alerts, free space of the configured paths (Prometheus text\n"
	  "format 0.0.4; docs/operations.md \"Metrics\").  Exit 3 when the state\n"
	  "database cannot be opened.\n" },
	{ "mosaic", "plan", ctl_mosaic_plan, CTL_NEEDS_SETTINGS,
	  "(--start ISO --end ISO | --around ISO --minutes N) [--near RA DEC [--radius DEG]]"
	  " [--json]", "tiles of a PB-weighted mosaic",
	  "The tiles (one pbcor image per group) whose mid time is in the window and,\n"
	  "with --near, whose centre is within --radius degrees (default 3).\n" },
	{ "mosaic", "build", ctl_mosaic_build, CTL_NEEDS_SETTINGS_W,
	  "(--start ISO --end ISO | --around ISO --minutes N) [--near RA DEC [--radius DEG]]"
	  " [--out FILE] [--cell ARCSEC] [--pb-cut X] [--json]", "build a PB-weighted mosaic",
	  "Build the mosaic of the planned tiles (docs/mosaic.md), write FILE and its\n"
	  "weight and noise images, register it and print its path.  Exit 1 when no\n"
	  "tile lies in the window.\n" },
	{ "plot", "image", ctl_plot_image, CTL_NEEDS_SETTINGS,
	  "FITS OUT [--catalog] [--asinh] [--max-px N]", "quick-look picture of an image",
	  "The quick-look picture of a FITS image (docs/plots.md): binned to at most\n"
	  "N (1024) pixels, zscale grey scale, colour bar, restoring beam, RA/Dec\n"
	  "grid.  OUT is PNG, or SVG when it ends in .svg.  Exit 1 when FITS does not\n"
	  "exist, 2 when it is not an image with a celestial WCS.\n"
	  "  --catalog  circle the catalog sources forced photometry would measure\n"
	  "  --asinh    asinh stretch from the zscale floor to the peak\n" },
	{ "plot", "stamp", ctl_plot_stamp, CTL_NEEDS_NOTHING,
	  "FITS RA DEC OUT [--size ARCMIN] [--pixels N]", "postage stamp around a position",
	  "A postage stamp cut from FITS around RA DEC (degrees or sexagesimal),\n"
	  "--size arcminutes wide (default 2) or --pixels N on a side; pixels off\n"
	  "the image are blank.  Exit 1 when FITS does not exist, 2 when the position\n"
	  "is outside the image.\n" },
	{ "plot", "caltable", ctl_plot_caltable, CTL_NEEDS_DB_RO, "ID|FILE OUT",
	  "bandpass or gain plot of a calibration table",
	  "Amplitude and phase of a calibration table's solutions, per antenna:\n"
	  "against frequency for a bandpass, against time for gains.  ID is a\n"
	  "registered table (contimgctl caltables), FILE a table file.  Exit 1 when\n"
	  "there is no such table.\n" },
	{ "stamps", NULL, ctl_stamps, CTL_NEEDS_DB_RO, "SOURCE OUT [--size ARCMIN] [--last N]",
	  "postage stamps of a source across epochs",
	  "The stamps of a source in the pbcor images of its last N (8) epochs, side\n"
	  "by side on one grey scale, labelled with their groups.  Exit 1 when the\n"
	  "source has no photometry or no registered image contains it.\n" },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: contimgctl [--config FILE] COMMAND [ARGS...]\n"
		   "       contimgctl COMMAND --help | help COMMAND | --version\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char name[40];
		const ctl_command *c = &commands[i];

		snprintf(name, sizeof name, "%s%s%s", c->name, c->sub ? " " : "",
			 c->sub ? c->sub : "");
		fprintf(f, "  %-18s %s\n", name, c->summary);
	}
	fprintf(f, "\nexit codes: 0 ok, 1 not found, 2 bad usage/input, 3 daemon/state unreachable,"
		   " 4 processing failed\n");
}

/* The help of every row of name (with sub only that subcommand's). */
static void help(FILE *f, const char *name, const char *sub)
{
	int shown = 0;

	for (size_t i = 0; i < NCOMMANDS; i++) {
		const ctl_command *c = &commands[i];

		if (strcmp(c->name, name) || (sub && c->sub && strcmp(c->sub, sub)))
			continue;
		fprintf(f, "%susage: contimgctl %s%s%s %s\n\n%s", shown++ ? "\n" : "",
			c->name, c->sub ? " " : "", c->sub ? c->sub : "", c->synopsis, c->help);
	}
}

/* The row of argv[0] (and argv[1] for a family); NULL when none.  *ret_family
 * is 1 when argv[0] names a family whatever argv[1] is. */
static const ctl_command *find(int argc, char **argv, int *ret_family)
{
	*ret_family = 0;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const ctl_command *c = &commands[i];

		if (strcmp(c->name, argv[0]))
			continue;
		if (!c->sub)
			return c;
		*ret_family = 1;
		if (argc >= 2 && !strcmp(c->sub, argv[1]))
			return c;
	}
	return NULL;
}

/* Does the command line ask for help (-h or --help before any "--")? */
static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	ctl_env env = { 0 };
	const ctl_command *cmd;
	int i = 1, family;
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
		} else if (!strcmp(argv[i], "--version")) {
			printf("contimgctl %s\n", contimg_version());
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
	argc -= i;
	argv += i;
	if (!strcmp(argv[0], "help")) {
		if (argc < 2) {
			usage(stdout);
			return CTL_OK;
		}
		argc--;
		argv++;
		cmd = find(argc, argv, &family);
		if (!cmd && !family) {
			fprintf(stderr, "contimgctl: unknown command '%s'\n", argv[0]);
			usage(stderr);
			return CTL_USAGE;
		}
		help(stdout, argv[0], cmd ? cmd->sub : NULL);
		return CTL_OK;
	}
	cmd = find(argc, argv, &family);
	if (!cmd && !family) {
		fprintf(stderr, "contimgctl: unknown command '%s'\n", argv[0]);
		usage(stderr);
		return CTL_USAGE;
	}
	if (wants_help(argc, argv)) {
		help(stdout, argv[0], cmd ? cmd->sub : NULL);
		return CTL_OK;
	}
	if (!cmd) {
		/* A family without (or with an unknown) subcommand. */
		help(stderr, argv[0], NULL);
		return CTL_USAGE;
	}
	env.cmd = cmd;
	return cmd->fn(argc, argv, &env);
}
