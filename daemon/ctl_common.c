/*
 * daemon/ctl_common.c — helpers shared by contimgctl's command families:
 * loading the configuration and opening the state database (see ctl.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/pipeline.h"
#include "state/db.h"

int ctl_load_config(const ctl_env *env, cfg **ret_c)
{
	char err[ERR_LEN];
	cfg *c = NULL;
	int r = cfg_load(env->config_path, &c, err, sizeof err);

	/* An explicit file must exist; the default one may be absent (then
	 * every key has its default). */
	if (r == -ENOENT && !env->config_explicit) {
		c = cfg_new_empty();
		if (!c)
			return CTL_FAILED;
	} else if (r < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return CTL_USAGE;
	}
	*ret_c = c;
	return CTL_OK;
}

int ctl_load_settings(const ctl_env *env, cfg **ret_c, pipe_settings *s)
{
	char err[ERR_LEN];
	cfg *c = NULL;
	int rc = ctl_load_config(env, &c);

	if (rc != CTL_OK)
		return rc;
	if (pipe_settings_read(c, s, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s: %s\n", env->config_path, err);
		cfg_free(c);
		return CTL_USAGE;
	}
	*ret_c = c;
	return CTL_OK;
}

int ctl_open_db(const pipe_settings *s, int write, int create, sqlite3 **ret)
{
	char err[ERR_LEN];
	int r;

	if (create) {
		struct stat st;
		if (stat(s->state_dir, &st) < 0 && mkdir(s->state_dir, 0755) < 0) {
			fprintf(stderr, "contimgctl: cannot create %s: %s\n", s->state_dir,
				strerror(errno));
			return CTL_UNREACHABLE;
		}
	}
	r = write ? db_open(s->db_path, create, ret, err, sizeof err)
		  : db_open_readonly(s->db_path, ret, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "contimgctl: state database unreachable: %s\n", err);
		return CTL_UNREACHABLE;
	}
	return CTL_OK;
}
