#include "calib/apply.h"

#include <errno.h>
#include <string.h>

#include "core/err.h"

static size_t count_cal_flags(const vis_set *v)
{
	size_t n = 0;

#pragma omp parallel for schedule(static) reduction(+ : n)
	for (int b = 0; b < v->nbls; b++) {
		if (v->ant1[b] == v->ant2[b])
			continue;
		for (int t = 0; t < v->ntimes; t++) {
			const uint8_t *f = &v->flags[vis_idx(v, t, b, 0, 0)];
			for (int k = 0; k < v->nchan * v->npols; k++)
				n += (f[k] & VIS_FLAG_CAL) != 0;
		}
	}
	return n;
}

static int check_type(const gaintab *t, const char *want, const vis_set *v, char *err,
		      size_t errlen)
{
	if (t && t->type[0] && strcmp(t->type, want) != 0)
		return err_set(err, errlen, -EINVAL, "%s: a \"%s\" table was given where a %s table belongs",
			       v->name, t->type, want);
	return 0;
}

int apply_solutions(vis_set *v, const gaintab *k, const gaintab *b, const gaintab *g,
		    int nthreads, apply_stats *ret_stats, char *err, size_t errlen)
{
	const gaintab *order[3] = {k, b, g};
	size_t before = 0, after, ncross = 0;
	apply_stats st = {0, 0};
	int ret;

	if (!v)
		return err_set(err, errlen, -EINVAL, "apply: no visibilities");
	if ((ret = check_type(k, "K", v, err, errlen)) || (ret = check_type(b, "B", v, err, errlen)) ||
	    (ret = check_type(g, "G", v, err, errlen)))
		return ret;
	if (ret_stats)
		before = count_cal_flags(v);
	for (int i = 0; i < 3; i++) {
		if (!order[i])
			continue;
		ret = gaintab_divide(v, order[i], nthreads, err, errlen);
		if (ret)
			return ret;
		st.ntables++;
	}
	if (ret_stats) {
		after = count_cal_flags(v);
		for (int bl = 0; bl < v->nbls; bl++)
			if (v->ant1[bl] != v->ant2[bl])
				ncross += (size_t)v->ntimes * v->nchan * v->npols;
		st.cal_flagged_frac = ncross ? (double)(after - before) / ncross : 0;
		*ret_stats = st;
	}
	return 0;
}
