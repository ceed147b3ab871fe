#include "core/vis.h"

#include "core/pool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

vis_set *vis_new(int ntimes, int nbls, int nchan, int npols, int nants)
{
	vis_set *v;
	size_t n, rows;

	if (ntimes <= 0 || nbls <= 0 || nchan <= 0 || npols <= 0 || npols > 4 || nants < 0)
		return NULL;
	v = calloc(1, sizeof *v);
	if (!v)
		return NULL;
	v->ntimes = ntimes;
	v->nbls = nbls;
	v->nchan = nchan;
	v->npols = npols;
	v->nants = nants;
	n = vis_nsamples(v);
	rows = (size_t)ntimes * nbls;
	v->ants = nants ? calloc(nants, sizeof *v->ants) : NULL;
	v->ant1 = calloc(nbls, sizeof *v->ant1);
	v->ant2 = calloc(nbls, sizeof *v->ant2);
	v->time_jd = calloc(ntimes, sizeof *v->time_jd);
	v->freq_hz = calloc(nchan, sizeof *v->freq_hz);
	v->uvw_m = calloc(rows * 3, sizeof *v->uvw_m);
	v->vis = calloc(n, sizeof *v->vis);
	v->flags = calloc(n, sizeof *v->flags);
	v->weight = malloc(n * sizeof *v->weight);
	if ((nants && !v->ants) || !v->ant1 || !v->ant2 || !v->time_jd || !v->freq_hz ||
	    !v->uvw_m || !v->vis || !v->flags || !v->weight) {
		vis_free(v);
		return NULL;
	}
	/* The big arrays are first touched by the reader: huge pages make
	 * that 3x faster (core/pool.h). */
	pool_advise_huge(v->uvw_m, rows * 3 * sizeof *v->uvw_m);
	pool_advise_huge(v->vis, n * sizeof *v->vis);
	pool_advise_huge(v->flags, n * sizeof *v->flags);
	pool_advise_huge(v->weight, n * sizeof *v->weight);
	for (size_t i = 0; i < n; i++)
		v->weight[i] = 1.0f;
	return v;
}

void vis_free(vis_set *v)
{
	if (!v)
		return;
	free(v->ants);
	free(v->ant1);
	free(v->ant2);
	free(v->time_jd);
	free(v->freq_hz);
	free(v->uvw_m);
	free(v->vis);
	free(v->flags);
	free(v->weight);
	free(v->history);
	free(v);
}

int vis_ant_index(const vis_set *v, int number)
{
	for (int i = 0; i < v->nants; i++)
		if (v->ants[i].number == number)
			return i;
	return -1;
}

int vis_pol_index(const vis_set *v, int code)
{
	for (int p = 0; p < v->npols; p++)
		if (v->pols[p] == code)
			return p;
	return -1;
}

double vis_mid_jd(const vis_set *v)
{
	double s = 0;
	for (int t = 0; t < v->ntimes; t++)
		s += v->time_jd[t] - v->time_jd[0];
	return v->time_jd[0] + s / v->ntimes;
}

vis_set *vis_dup(const vis_set *v)
{
	vis_set *d = vis_new(v->ntimes, v->nbls, v->nchan, v->npols, v->nants);
	size_t n = vis_nsamples(v), rows = (size_t)v->ntimes * v->nbls;
	vis_set keep;

	if (!d)
		return NULL;
	keep = *d;
	*d = *v; /* scalars and fixed-size fields */
	d->ants = keep.ants; d->ant1 = keep.ant1; d->ant2 = keep.ant2;
	d->time_jd = keep.time_jd; d->freq_hz = keep.freq_hz; d->uvw_m = keep.uvw_m;
	d->vis = keep.vis; d->flags = keep.flags; d->weight = keep.weight;
	d->history = NULL;
	if (v->history && !(d->history = strdup(v->history))) {
		vis_free(d);
		return NULL;
	}
	if (v->nants)
		memcpy(d->ants, v->ants, v->nants * sizeof *d->ants);
	memcpy(d->ant1, v->ant1, v->nbls * sizeof *d->ant1);
	memcpy(d->ant2, v->ant2, v->nbls * sizeof *d->ant2);
	memcpy(d->time_jd, v->time_jd, v->ntimes * sizeof *d->time_jd);
	memcpy(d->freq_hz, v->freq_hz, v->nchan * sizeof *d->freq_hz);
	memcpy(d->uvw_m, v->uvw_m, rows * 3 * sizeof *d->uvw_m);
	memcpy(d->vis, v->vis, n * sizeof *d->vis);
	memcpy(d->flags, v->flags, n * sizeof *d->flags);
	memcpy(d->weight, v->weight, n * sizeof *d->weight);
	return d;
}

int vis_history_set(vis_set *v, const char *text)
{
	char *h = NULL;

	if (text && *text && !(h = strdup(text)))
		return -ENOMEM;
	free(v->history);
	v->history = h;
	return 0;
}

int vis_history_add(vis_set *v, const char *fmt, ...)
{
	size_t old = v->history ? strlen(v->history) : 0;
	va_list ap;
	char *h;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	/* old text, '\n' between lines, the new line, NUL */
	h = realloc(v->history, old + (old ? 1 : 0) + (size_t)n + 1);
	if (!h)
		return -ENOMEM;
	if (old)
		h[old++] = '\n';
	va_start(ap, fmt);
	vsnprintf(h + old, (size_t)n + 1, fmt, ap);
	va_end(ap);
	v->history = h;
	return 0;
}

const char *vis_x_orientation_name(const char *s)
{
	if (!s)
		return NULL;
	if (!strcasecmp(s, "east") || !strcasecmp(s, "e"))
		return "east";
	if (!strcasecmp(s, "north") || !strcasecmp(s, "n"))
		return "north";
	return NULL;
}
