/*
 * daemon/ctl_inspect.c — `contimgctl inspect FILE... [--json]`: describe UVH5
 * files from their headers (Data/ is never read, so it is fast on full-size
 * subbands).  Exit 0 when every file was read, 2 (CTL_USAGE) otherwise, with
 * the reason for each unreadable file on stderr.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/uvh5.h"
#include "daemon/ctl.h"

static void pols_text(const uvh5_header *h, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (int p = 0; p < h->npols && n < len; p++)
		n += snprintf(buf + n, len - n, "%s%s", p ? "," : "", uvh5_pol_name(h->pols[p]));
}

static void print_text(const char *path, const uvh5_header *h)
{
	char pols[32];

	pols_text(h, pols, sizeof pols);
	printf("file:                 %s\n", path);
	printf("telescope:            %s\n", h->telescope);
	printf("instrument:           %s\n", h->instrument[0] ? h->instrument : "none");
	printf("uvh5 version:         %s\n", h->version[0] ? h->version : "none");
	printf("phase type:           %s\n", h->phase_type);
	printf("data layout:          rank %d, visdata %s\n", h->data_rank,
	       h->vis_type == UVH5_VIS_C8 ? "complex float32"
	       : h->vis_type == UVH5_VIS_C16 ? "complex float64" : "int32 r/i");
	printf("Nants_data:           %d\n", h->nants_data);
	printf("Nants_telescope:      %d\n", h->nants_telescope);
	printf("Nbls:                 %d\n", h->nbls);
	printf("Nblts:                %d\n", h->nblts);
	printf("Ntimes:               %d\n", h->ntimes);
	printf("Nfreqs:               %d\n", h->nfreqs);
	printf("Npols:                %d\n", h->npols);
	printf("polarizations:        %s\n", pols);
	printf("frequency range (Hz): %.6f %.6f%s\n", h->freq_min_hz, h->freq_max_hz,
	       h->freq_descending ? " (descending in the file)" : "");
	printf("channel width (Hz):   %.6f\n", h->channel_width_hz);
	printf("time range (JD):      %.8f %.8f\n", h->time_start_jd, h->time_end_jd);
	printf("integration time (s): %.6f\n", h->integration_time_s);
	if (h->has_dec)
		printf("dec (deg):            %.9f\n", h->dec_rad * 180 / M_PI);
	else
		printf("dec (deg):            none\n");
	printf("autos present:        %s\n", h->has_autos ? "yes" : "no");
	if (h->nblts == h->ntimes * h->nbls && h->ntimes > 0)
		printf("ant_1 > ant_2:        %d of %d baselines (correlator order)\n",
		       h->reversed_rows / h->ntimes, h->nbls);
	else
		printf("ant_1 > ant_2:        %d of %d rows\n", h->reversed_rows, h->nblts);
	printf("imageable:            %s%s\n", h->imageable ? "yes" : "no: ",
	       h->imageable ? "" : h->not_imageable);
}

static json_object *str_or_null(const char *s)
{
	return s[0] ? json_object_new_string(s) : NULL;
}

static int print_json(const char *path, const uvh5_header *h)
{
	json_object *o = json_object_new_object(), *pols = json_object_new_array();
	int ok = o && pols;

	for (int p = 0; ok && p < h->npols; p++)
		ok = !json_object_array_add(pols, json_object_new_string(uvh5_pol_name(h->pols[p])));
	if (!ok) {
		json_object_put(o);
		json_object_put(pols);
		return -1;
	}
	json_object_object_add(o, "file", json_object_new_string(path));
	json_object_object_add(o, "telescope", str_or_null(h->telescope));
	json_object_object_add(o, "instrument", str_or_null(h->instrument));
	json_object_object_add(o, "version", str_or_null(h->version));
	json_object_object_add(o, "phase_type", str_or_null(h->phase_type));
	json_object_object_add(o, "nants_data", json_object_new_int(h->nants_data));
	json_object_object_add(o, "nants_telescope", json_object_new_int(h->nants_telescope));
	json_object_object_add(o, "nbls", json_object_new_int(h->nbls));
	json_object_object_add(o, "nblts", json_object_new_int(h->nblts));
	json_object_object_add(o, "ntimes", json_object_new_int(h->ntimes));
	json_object_object_add(o, "nfreqs", json_object_new_int(h->nfreqs));
	json_object_object_add(o, "npols", json_object_new_int(h->npols));
	json_object_object_add(o, "pols", pols);
	json_object_object_add(o, "freq_min_hz", json_object_new_double(h->freq_min_hz));
	json_object_object_add(o, "freq_max_hz", json_object_new_double(h->freq_max_hz));
	json_object_object_add(o, "channel_width_hz", json_object_new_double(h->channel_width_hz));
	json_object_object_add(o, "time_start_jd", json_object_new_double(h->time_start_jd));
	json_object_object_add(o, "time_end_jd", json_object_new_double(h->time_end_jd));
	json_object_object_add(o, "integration_time_s",
			       json_object_new_double(h->integration_time_s));
	json_object_object_add(o, "dec_deg",
			       h->has_dec ? json_object_new_double(h->dec_rad * 180 / M_PI) : NULL);
	json_object_object_add(o, "has_autos", json_object_new_boolean(h->has_autos));
	json_object_object_add(o, "reversed_rows", json_object_new_int(h->reversed_rows));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

int ctl_inspect(int argc, char **argv, const ctl_env *env)
{
	int json = 0, nfiles = 0, bad = 0, opts = 1;

	for (int i = 1; i < argc; i++) {
		if (opts && !strcmp(argv[i], "--")) {
			opts = 0;
		} else if (opts && !strcmp(argv[i], "--json")) {
			json = 1;
		} else if (opts && argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "contimgctl inspect: unknown option %s\n", argv[i]);
			return ctl_usage(env);
		} else {
			nfiles++;
		}
	}
	if (!nfiles)
		return ctl_usage(env);
	opts = 1;
	for (int i = 1, shown = 0; i < argc; i++) {
		char err[ERR_LEN];
		uvh5_header h;

		if (opts && !strcmp(argv[i], "--")) {
			opts = 0;
			continue;
		}
		if (opts && argv[i][0] == '-' && argv[i][1])
			continue;
		if (uvh5_read_header(argv[i], &h, err, sizeof err)) {
			fprintf(stderr, "contimgctl inspect: %s\n", err);
			bad = 1;
			continue;
		}
		if (json) {
			if (print_json(argv[i], &h)) {
				fprintf(stderr, "contimgctl inspect: %s: out of memory\n", argv[i]);
				bad = 1;
			}
		} else {
			if (shown++)
				printf("\n");
			print_text(argv[i], &h);
		}
		fflush(stdout);
	}
	return bad ? CTL_USAGE : CTL_OK;
}
