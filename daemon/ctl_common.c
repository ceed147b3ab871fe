/*
 * daemon/ctl_common.c — what every contimgctl command shares: the prologue
 * (configuration, settings, state database as the command's table row asks),
 * the epilogue, the usage line and the JSON printer (see ctl.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

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

static const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
	return buf;
}

int ctl_become_owner(const pipe_settings *s, int writes)
{
	struct stat st;
	uid_t me = geteuid();
	char owner[64], self[64];

	if (stat(s->state_dir, &st) < 0 || st.st_uid == me)
		return CTL_OK;
	user_name(st.st_uid, owner, sizeof owner);
	if (me == 0) {
		struct passwd *pw = getpwuid(st.st_uid);
		gid_t gid = pw ? pw->pw_gid : st.st_gid;
		int r = pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL);
		if (r == 0)
			r = setgid(gid);
		if (r == 0)
			r = setuid(st.st_uid);
		/* The drop must be for good: a way back to root is a failure. */
		if (r < 0 || setuid(0) == 0 || geteuid() != st.st_uid) {
			fprintf(stderr, "contimgctl: cannot become %s, the owner of %s: %s\n", owner,
				s->state_dir, r < 0 ? strerror(errno) : "root could be regained");
			return CTL_FAILED;
		}
		if (writes)
			fprintf(stderr, "contimgctl: running as %s, the owner of %s, so that what it"
					" writes is the daemon's\n", owner, s->state_dir);
		return CTL_OK;
	}
	if (!writes)
		return CTL_OK;
	fprintf(stderr, "contimgctl: %s belongs to %s (the daemon's user), not to %s: files this"
			" command wrote would be yours and the daemon could not replace them; run"
			" it as %s (e.g. sudo -u %s contimgctl ...) or as root\n", s->state_dir, owner,
		user_name(me, self, sizeof self), owner, owner);
	return CTL_USAGE;
}

int ctl_begin(const ctl_env *env, ctl_state *st)
{
	ctl_needs needs = env->cmd ? env->cmd->needs : CTL_NEEDS_NOTHING;
	int rc;

	memset(st, 0, sizeof *st);
	if (needs == CTL_NEEDS_NOTHING)
		return CTL_OK;
	st->s = malloc(sizeof *st->s);
	rc = st->s ? ctl_load_settings(env, &st->cfg, st->s) : CTL_FAILED;
	if (rc == CTL_FAILED) /* the only failure ctl_load_config leaves unreported */
		fprintf(stderr, "contimgctl: out of memory\n");
	if (rc == CTL_OK)
		rc = ctl_become_owner(st->s, needs == CTL_NEEDS_SETTINGS_W || needs == CTL_NEEDS_DB_RW ||
						     needs == CTL_NEEDS_DB_CREATE);
	if (rc != CTL_OK || needs == CTL_NEEDS_SETTINGS || needs == CTL_NEEDS_SETTINGS_W)
		goto out;
	rc = ctl_open_db(st->s, needs != CTL_NEEDS_DB_RO, needs == CTL_NEEDS_DB_CREATE, &st->db);
out:
	if (rc != CTL_OK)
		ctl_end(st, rc);
	return rc;
}

int ctl_end(ctl_state *st, int rc)
{
	db_close(st->db);
	st->db = NULL;
	cfg_free(st->cfg);
	st->cfg = NULL;
	free(st->s);
	st->s = NULL;
	return rc;
}

int ctl_usage(const ctl_env *env)
{
	const ctl_command *c = env->cmd;

	if (c)
		fprintf(stderr, "usage: contimgctl %s%s%s %s\n", c->name, c->sub ? " " : "",
			c->sub ? c->sub : "", c->synopsis);
	return CTL_USAGE;
}

int ctl_only_json(int argc, char **argv, int first, const ctl_env *env, int *ret_json)
{
	int json = 0;

	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--json"))
			return ctl_usage(env);
		json = 1;
	}
	*ret_json = json;
	return CTL_OK;
}

void ctl_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
}
