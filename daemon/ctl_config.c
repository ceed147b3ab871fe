/*
 * daemon/ctl_config.c — `contimgctl config check [--json]`: validate the
 * configuration file as contimgd does at start-up (daemon/settings.h: every
 * section, key and value, and the [earth] eop_file table), without touching
 * the state database or a running daemon.
 *
 * Exit 0 when contimgd would start with it, 2 when it would refuse; the
 * problems, one per line, "FILE:LINE: [section] key: reason", on stderr (or
 * in the JSON's "errors").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/earth.h"
#include "daemon/provenance.h"
#include "daemon/settings.h"

/* The table's row `config check` (contimgctl.c): it opens nothing through the
 * shared prologue, since reporting every problem of the file is its job. */
int ctl_config_check(int argc, char **argv, const ctl_env *env)
{
	char err[4 * ERR_LEN] = "";
	contimg_config *c = NULL;
	char digest[SHA256_HEX_LEN] = "";
	int json = 0, r;

	if ((r = ctl_only_json(argc, argv, 2, env, &json)) != CTL_OK)
		return r;
	/* The default file may be absent (every key at its default), as for
	 * every contimgctl command; a named one must exist. */
	r = contimg_config_load(env->config_path, !env->config_explicit, &c, err, sizeof err);
	if (r == -ENOMEM)
		return CTL_FAILED;
	if (r == 0) {
		char e[ERR_LEN];
		/* The digest products name in their history (daemon/provenance.h). */
		if (prov_config_digest(c->cfg, digest) < 0)
			digest[0] = 0;
		if (earth_table_update(c->pipe.earth.eop_file, 1, e, sizeof e) < 0) {
			snprintf(err, sizeof err, "[earth] eop_file: %s", e);
			r = -EINVAL;
		}
		earth_table_update("", 0, NULL, 0);
		contimg_config_free(c);
	}
	if (json) {
		json_object *o = json_object_new_object(), *a = json_object_new_array();
		json_object_object_add(o, "config", json_object_new_string(env->config_path));
		json_object_object_add(o, "ok", json_object_new_boolean(r == 0));
		for (char *line = r ? strtok(err, "\n") : NULL; line; line = strtok(NULL, "\n"))
			json_object_array_add(a, json_object_new_string(line));
		json_object_object_add(o, "errors", a);
		if (r == 0 && digest[0])
			json_object_object_add(o, "digest", json_object_new_string(digest));
		ctl_print_json(o);
		json_object_put(o);
	} else if (r == 0) {
		printf("%s: configuration OK\n", env->config_path);
	} else {
		fprintf(stderr, "%s\n", err);
	}
	return r == 0 ? CTL_OK : CTL_USAGE;
}
