/*
 * daemon/metrics.h — the Prometheus text exposition (format version 0.0.4)
 * of contimg's state, and the node_exporter textfile contimgd rewrites.
 *
 * One renderer, three users: contimgd's [metrics] textfile (rewritten every
 * [metrics] interval_s off the event loop, atomically and durably through
 * core/fsx.h, for node_exporter's textfile collector), `contimgctl metrics`
 * (the same text on stdout), and contimg-web's /metrics.
 *
 * The families (every one with # HELP and # TYPE; docs/operations.md
 * "Metrics" lists them with example alert rules):
 *   contimg_info{version}                         gauge, 1
 *   contimg_groups{state}                         gauge, groups per state (all five)
 *   contimg_groups_stale                          gauge
 *   contimg_queue_depth                           gauge, pending groups
 *   contimg_newest_group_timestamp_seconds        gauge, first file of the newest group
 *   contimg_lag_seconds                           gauge, now − that
 *   contimg_last_completed_group_timestamp_seconds gauge, when the last group completed
 *   contimg_stage_duration_seconds{stage}         histogram over all of stage_timings
 *   contimg_stage_failures_total{stage}           counter, stage runs that failed
 *   contimg_group_events_total{kind}              counter, group_events per kind
 *   contimg_ese_candidates{status}                gauge
 *   contimg_alerts, contimg_alerts_table_present  gauges (0 without an alerts table)
 *   contimg_images, contimg_photometry_measurements, contimg_caltables_active  gauges
 *   contimg_daemon_heartbeat_timestamp_seconds    gauge
 *   contimg_filesystem_avail_bytes{role,path}     gauge, statvfs f_bavail·f_frsize
 *   contimg_filesystem_size_bytes{role,path}      gauge, f_blocks·f_frsize
 * Timestamps are unix seconds (UTC).  Families without a value (no group
 * yet, a path that cannot be stat'ed) are left out, never written as 0.
 */
#ifndef CONTIMG_METRICS_H
#define CONTIMG_METRICS_H

#include <stddef.h>

#include <sqlite3.h>
#include <uv.h>

#include "daemon/settings.h"

/* The histogram's upper bounds, seconds (le="+Inf" follows them). */
extern const double metrics_buckets_s[];
extern const int metrics_nbuckets;

/* Render the exposition of db (a read-only connection is enough) and of the
 * paths of conf ([paths] ingest_dir, state_dir, products_dir, scratch_dir) at
 * unix time now.  *out is a new NUL-terminated string the caller free()s.
 * Errors: -EIO with the reason in err (the database), -ENOMEM; *out is
 * untouched then. */
int metrics_render(sqlite3 *db, const contimg_config *conf, double now, char **out, char *err,
		   size_t errlen);

/* Render and replace path durably: written to "<path>.tmp<pid>" (a name
 * node_exporter ignores), fsynced, renamed (core/fsx.h).  -errno with the
 * reason in err. */
int metrics_write_textfile(sqlite3 *db, const contimg_config *conf, double now,
			   const char *path, char *err, size_t errlen);

/* contimgd's timer: every conf->metrics.interval_s, on libuv's threadpool,
 * open the state database read-only, metrics_write_textfile, close.  Off
 * while [metrics] textfile is "".  Failures are logged on the loop thread
 * (once per change of the message).  Owned by the loop thread. */
typedef struct metrics_timer metrics_timer;

/* Start (runs once soon, then every interval).  -ENOMEM. */
int metrics_timer_start(uv_loop_t *loop, const contimg_config *conf, metrics_timer **ret);

/* A reloaded configuration: new path and interval from now on. */
void metrics_timer_configure(metrics_timer *t, const contimg_config *conf);

/* Stop; the timer frees itself once a running write has finished (the loop
 * must run on until then, as contimgd's does).  NULL ok. */
void metrics_timer_stop(metrics_timer *t);

#endif
