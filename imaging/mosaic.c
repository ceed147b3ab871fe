/*
 * imaging/mosaic.c — primary-beam-weighted linear mosaics (see mosaic.h).
 */
#include "imaging/mosaic.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>
#include <omp.h>
#include <wcslib/wcs.h>
#include <wcslib/wcshdr.h>

#include "core/err.h"
#include "imaging/fitsout.h"

#define DEG (M_PI / 180.0)

void mosaic_params_default(mosaic_params *p)
{
	memset(p, 0, sizeof *p);
	p->pb_cut = 0.2;
	p->max_size = 16384;
}

void mosaic_result_free(mosaic_result *m)
{
	if (!m)
		return;
	free(m->image);
	free(m->weight);
	free(m->noise);
	free(m->tile_names);
	free(m->tile_sigma_jy);
	free(m);
}

/* One open tile: its header facts, its celestial WCS and (when loaded) data. */
typedef struct tile {
	int nx, ny;
	struct wcsprm cel;        /* the 2-D celestial sub-WCS, wcsset done */
	int have_cel;
	double ra_deg, dec_deg;   /* reference direction */
	double cell_deg;          /* |CDELT2| (or the CD matrix's scale) */
	double sigma_jy;
	double bmaj_deg, bmin_deg, bpa_deg, freq_hz, bw_hz, mjd_obs;
	char date_obs[40];
	char object[MOSAIC_NAME_LEN];
	float *pbcor, *pb;        /* nx*ny each (first plane), NULL until loaded */
} tile;

static void tile_release(tile *t)
{
	if (t->have_cel)
		wcsfree(&t->cel);
	free(t->pbcor);
	free(t->pb);
	memset(t, 0, sizeof *t);
}

static int fits_fail(char *err, size_t errlen, const char *path, int st)
{
	char msg[FLEN_ERRMSG] = "";
	fits_get_errstatus(st, msg);
	return err_set(err, errlen, st == FILE_NOT_OPENED ? -ENOENT : -EIO, "%s: CFITSIO: %s",
		       path, msg);
}

static double key_double(fitsfile *f, const char *key, double def)
{
	double v;
	int st = 0;
	if (fits_read_key(f, TDOUBLE, key, &v, NULL, &st))
		return def;
	return v;
}

int mosaic_read_cel_wcs(fitsfile *f, const char *path, struct wcsprm *ret, char *err,
			size_t errlen)
{
	char *hdr = NULL;
	int st = 0, nkeys = 0, nrej = 0, nwcs = 0, r = 0;
	struct wcsprm *w = NULL;
	int axes[2] = { WCSSUB_LONGITUDE, WCSSUB_LATITUDE }, nsub = 2;

	if (fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st))
		return fits_fail(err, errlen, path, st);
	if (wcspih(hdr, nkeys, WCSHDR_all, 0, &nrej, &nwcs, &w) || nwcs < 1) {
		r = err_set(err, errlen, -EINVAL, "%s: no WCS in the header", path);
		goto out;
	}
	ret->flag = -1;
	if (wcssub(1, &w[0], &nsub, axes, ret) || nsub != 2) {
		wcsfree(ret); /* a no-op on a never-filled wcsprm (flag -1) */
		r = err_set(err, errlen, -EINVAL, "%s: no celestial axes in the WCS", path);
		goto out;
	}
	if (wcsset(ret)) {
		wcsfree(ret);
		r = err_set(err, errlen, -EINVAL, "%s: invalid celestial WCS", path);
		goto out;
	}
out:
	if (w)
		wcsvfree(&nwcs, &w);
	fits_free_memory(hdr, &st);
	return r;
}

static int read_plane(fitsfile *f, const char *path, int nx, int ny, float **ret, char *err,
		      size_t errlen)
{
	int st = 0, anynul = 0;
	size_t n = (size_t)nx * ny;
	float *a = malloc(n * sizeof *a);

	if (!a)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	/* nulval NULL: no null substitution, so NaN pixels stay NaN. */
	if (fits_read_img(f, TFLOAT, 1, (LONGLONG)n, NULL, a, &anynul, &st)) {
		free(a);
		return fits_fail(err, errlen, path, st);
	}
	*ret = a;
	return 0;
}

static int image_dims(fitsfile *f, const char *path, int *nx, int *ny, char *err, size_t errlen)
{
	int st = 0, naxis = 0;
	long naxes[8] = { 0 };

	if (fits_get_img_dim(f, &naxis, &st) || fits_get_img_size(f, 8, naxes, &st))
		return fits_fail(err, errlen, path, st);
	if (naxis < 2 || naxes[0] < 2 || naxes[1] < 2 || naxes[0] > 65536 || naxes[1] > 65536)
		return err_set(err, errlen, -EINVAL, "%s: not a 2-D image", path);
	for (int k = 2; k < naxis && k < 8; k++)
		if (naxes[k] < 1)
			return err_set(err, errlen, -EINVAL, "%s: empty axis %d", path, k + 1);
	*nx = (int)naxes[0];
	*ny = (int)naxes[1];
	return 0;
}

enum { LOAD_HEADER = 0, LOAD_PB, LOAD_ALL };

/* Open a tile's header; with LOAD_PB also read its pb image, with LOAD_ALL
 * both pb and pbcor. */
static int tile_open(const mosaic_tile *in, int load, tile *t, char *err, size_t errlen)
{
	fitsfile *f = NULL, *g = NULL;
	int st = 0, r, pnx = 0, pny = 0;
	char s[FLEN_VALUE];

	memset(t, 0, sizeof *t);
	if (!in->pbcor_path || !in->pb_path)
		return err_set(err, errlen, -EINVAL, "mosaic: a tile without pbcor or pb path");
	if (fits_open_image(&f, in->pbcor_path, READONLY, &st))
		return fits_fail(err, errlen, in->pbcor_path, st);
	r = image_dims(f, in->pbcor_path, &t->nx, &t->ny, err, errlen);
	if (r < 0)
		goto out;
	r = mosaic_read_cel_wcs(f, in->pbcor_path, &t->cel, err, errlen);
	if (r < 0)
		goto out;
	t->have_cel = 1;
	t->ra_deg = t->cel.crval[t->cel.lng];
	t->dec_deg = t->cel.crval[t->cel.lat];
	{
		/* Cell: the pixel scale along latitude, from the linear transform. */
		double c = 0;
		for (int k = 0; k < 2; k++) {
			double pc = t->cel.pc[t->cel.lat * 2 + k] * t->cel.cdelt[t->cel.lat];
			c += pc * pc;
		}
		t->cell_deg = sqrt(c);
	}
	t->sigma_jy = in->sigma_jy > 0 ? in->sigma_jy : key_double(f, "NOISE", 0);
	if (!(t->sigma_jy > 0) || !isfinite(t->sigma_jy)) {
		r = err_set(err, errlen, -EINVAL, "%s: no noise sigma (no NOISE keyword)",
			    in->pbcor_path);
		goto out;
	}
	t->bmaj_deg = key_double(f, "BMAJ", 0);
	t->bmin_deg = key_double(f, "BMIN", 0);
	t->bpa_deg = key_double(f, "BPA", 0);
	t->mjd_obs = key_double(f, "MJD-OBS", NAN);
	st = 0;
	if (!fits_read_key(f, TSTRING, "CTYPE3", s, NULL, &st) && !strncmp(s, "FREQ", 4)) {
		t->freq_hz = key_double(f, "CRVAL3", 0);
		t->bw_hz = fabs(key_double(f, "CDELT3", 0));
	}
	st = 0;
	if (!fits_read_key(f, TSTRING, "DATE-OBS", s, NULL, &st))
		snprintf(t->date_obs, sizeof t->date_obs, "%.39s", s);
	st = 0;
	if (in->name)
		snprintf(t->object, sizeof t->object, "%s", in->name);
	else if (!fits_read_key(f, TSTRING, "OBJECT", s, NULL, &st))
		snprintf(t->object, sizeof t->object, "%.63s", s);
	st = 0;

	if (fits_open_image(&g, in->pb_path, READONLY, &st)) {
		r = fits_fail(err, errlen, in->pb_path, st);
		goto out;
	}
	r = image_dims(g, in->pb_path, &pnx, &pny, err, errlen);
	if (r < 0)
		goto out;
	if (pnx != t->nx || pny != t->ny) {
		r = err_set(err, errlen, -EINVAL, "%s is %dx%d but %s is %dx%d", in->pb_path, pnx,
			    pny, in->pbcor_path, t->nx, t->ny);
		goto out;
	}
	if (load >= LOAD_PB) {
		r = read_plane(g, in->pb_path, t->nx, t->ny, &t->pb, err, errlen);
		if (r < 0)
			goto out;
	}
	if (load >= LOAD_ALL) {
		r = read_plane(f, in->pbcor_path, t->nx, t->ny, &t->pbcor, err, errlen);
		if (r < 0)
			goto out;
	}
out:
	st = 0;
	if (f)
		fits_close_file(f, &st);
	st = 0;
	if (g)
		fits_close_file(g, &st);
	if (r < 0)
		tile_release(t);
	return r;
}

/* Unit vector of (ra, dec). */
static void unitvec(double ra, double dec, double v[3])
{
	v[0] = cos(dec) * cos(ra);
	v[1] = cos(dec) * sin(ra);
	v[2] = sin(dec);
}

/* SIN (orthographic) projection about (ra0, dec0): direction cosines (l, m)
 * with l towards east; returns 0 when the point lies on the far hemisphere. */
static int sin_forward(double ra0, double dec0, double ra, double dec, double *l, double *m)
{
	double da = ra - ra0;
	double n = sin(dec) * sin(dec0) + cos(dec) * cos(dec0) * cos(da);
	*l = cos(dec) * sin(da);
	*m = sin(dec) * cos(dec0) - cos(dec) * sin(dec0) * cos(da);
	return n > 0;
}

/* Inverse of sin_forward (l² + m² <= 1 assumed by the caller's checks). */
static int sin_inverse(double ra0, double dec0, double l, double m, double *ra, double *dec)
{
	double r2 = l * l + m * m;
	if (r2 >= 1)
		return 0;
	double n = sqrt(1 - r2);
	*dec = asin(m * cos(dec0) + n * sin(dec0));
	*ra = ra0 + atan2(l, n * cos(dec0) - m * sin(dec0));
	return 1;
}

/* Extend the (l, m) bounding box by the pb >= cut footprint of tile t: the
 * first and last such pixel of every row, each with a half-pixel margin. */
static int footprint(tile *t, double ra0, double dec0, double cut, double box[4], int *ret_any,
		     const char *path, char *err, size_t errlen)
{
	double pix[8], img[8], phi[4], theta[4], wld[8];
	int stat[4], any = 0;

	for (int j = 0; j < t->ny; j++) {
		const float *row = t->pb + (size_t)j * t->nx;
		int i0 = -1, i1 = -1;
		for (int i = 0; i < t->nx; i++)
			if (row[i] >= cut) {
				if (i0 < 0)
					i0 = i;
				i1 = i;
			}
		if (i0 < 0)
			continue;
		/* FITS pixel coordinates are 1-based: pixel i's centre is i + 1. */
		double xs[2] = { i0 + 0.5, i1 + 1.5 }, ys[2] = { j + 0.5, j + 1.5 };
		for (int a = 0; a < 2; a++)
			for (int b = 0; b < 2; b++) {
				pix[2 * (2 * a + b)] = xs[a];
				pix[2 * (2 * a + b) + 1] = ys[b];
			}
		if (wcsp2s(&t->cel, 4, 2, pix, img, phi, theta, wld, stat))
			return err_set(err, errlen, -EINVAL, "%s: pixel to world failed on row %d",
				       path, j + 1);
		for (int k = 0; k < 4; k++) {
			double l, m;
			if (!sin_forward(ra0, dec0, wld[2 * k] * DEG, wld[2 * k + 1] * DEG, &l, &m))
				return err_set(err, errlen, -ERANGE,
					       "%s: tile reaches the far hemisphere of the mosaic "
					       "centre", path);
			box[0] = fmin(box[0], l);
			box[1] = fmax(box[1], l);
			box[2] = fmin(box[2], m);
			box[3] = fmax(box[3], m);
		}
		any = 1;
	}
	*ret_any = any;
	return 0;
}

/* Bilinear interpolation of the tile at 0-based pixel (x, y), NaN-aware:
 * neighbours where pbcor or pb is not finite get no weight, and the others'
 * coefficients are renormalised.  Returns 0 when the usable neighbours hold
 * less than half of the bilinear weight: the point is then closer to blanked
 * than to valid data, and filling it from a far neighbour would extend the
 * tile past its blanking edge. */
static int interp(const tile *t, double x, double y, double *ret_v, double *ret_pb)
{
	int i0 = (int)floor(x), j0 = (int)floor(y);
	double fx = x - i0, fy = y - j0, sw = 0, sv = 0, sp = 0;

	if (x < -0.5 || y < -0.5 || x > t->nx - 0.5 || y > t->ny - 0.5)
		return 0;
	for (int b = 0; b < 2; b++) {
		int j = j0 + b;
		if (j < 0 || j >= t->ny)
			continue;
		double wy = b ? fy : 1 - fy;
		for (int a = 0; a < 2; a++) {
			int i = i0 + a;
			if (i < 0 || i >= t->nx)
				continue;
			double w = (a ? fx : 1 - fx) * wy;
			size_t k = (size_t)j * t->nx + i;
			float v = t->pbcor[k], p = t->pb[k];
			if (w <= 0 || !isfinite(v) || !isfinite(p))
				continue;
			sw += w;
			sv += w * v;
			sp += w * p;
		}
	}
	if (!(sw >= 0.5))
		return 0;
	*ret_v = sv / sw;
	*ret_pb = sp / sw;
	return 1;
}

/* Per-thread scratch for mapping output pixels to tile pixels. */
typedef struct mapbuf {
	struct wcsprm w;          /* this thread's copy of the tile's celestial WCS */
	double *world, *img, *phi, *theta, *apix;
	int *astat;
} mapbuf;

/* Exact tile pixel coordinates (1-based, WCSLIB's) of output pixels
 * i = i_start + q·step, q < count, on row j: analytic SIN inverse to sky,
 * then wcss2p on the tile's own WCS.  stat[q] != 0 marks points outside the
 * tile's projection. */
static void map_exact(mapbuf *b, const mosaic_result *m, int j, int i_start, int step, int count,
		      double *pix, int *stat)
{
	double cx = m->nx / 2, cy = m->ny / 2;

	for (int q = 0; q < count; q++) {
		double ra, dec;
		int i = i_start + q * step;
		/* l grows to the east, i.e. towards smaller i (CDELT1 < 0). */
		if (!sin_inverse(m->ra0_rad, m->dec0_rad, -(i - cx) * m->cell_rad,
				 (j - cy) * m->cell_rad, &ra, &dec)) {
			ra = m->ra0_rad + M_PI; /* beyond the horizon: the far side */
			dec = -m->dec0_rad;
		}
		b->world[2 * q] = fmod(ra / DEG + 720.0, 360.0);
		b->world[2 * q + 1] = dec / DEG;
	}
	/* The return value only says that some point failed; stat says which. */
	wcss2p(&b->w, count, 2, b->world, b->phi, b->theta, b->img, pix, stat);
}

/* Output pixels between exact anchors this far apart along a row get their
 * tile pixel coordinates by linear interpolation between the anchors.  The
 * map between two SIN grids is smooth: its second derivative is about
 * cell × (angle between the grid centres) per pixel², i.e. < 1e-5 pixel of
 * error at the middle of a 16-pixel segment for tiles 10° apart at 3″, and it
 * saves ~90 % of the trigonometry that dominates the cost. */
#define MAP_STEP 16

/* Add tile t into the accumulators over the output pixel box
 * [box0..box1] × [box2..box3]: map each output pixel to the tile, interpolate
 * (NaN-aware bilinear), w = pb²/σ².  OpenMP over output rows; each thread
 * has its own copy of the tile's wcsprm (WCSLIB writes its error struct into
 * the wcsprm on a failed point, so one shared copy would race). */
static int accumulate(const tile *t, const mosaic_result *m, const int box[4], double cut,
		      int nthreads, double *num, double *den, char *err, size_t errlen)
{
	int nx = m->nx, fail = 0, i0 = box[0], i1 = box[1], j0 = box[2], j1 = box[3];
	double inv_var = 1.0 / (t->sigma_jy * t->sigma_jy);

#pragma omp parallel num_threads(nthreads)
	{
		mapbuf b;
		double *pix = malloc(sizeof(double) * 2 * nx);
		int *stat = malloc(sizeof(int) * nx), ok = 1;

		memset(&b, 0, sizeof b);
		b.w.flag = -1;
		b.world = malloc(sizeof(double) * 2 * nx);
		b.img = malloc(sizeof(double) * 2 * nx);
		b.phi = malloc(sizeof(double) * nx);
		b.theta = malloc(sizeof(double) * nx);
		b.apix = malloc(sizeof(double) * 2 * nx);
		b.astat = malloc(sizeof(int) * nx);
		if (!pix || !stat || !b.world || !b.img || !b.phi || !b.theta || !b.apix ||
		    !b.astat || wcssub(1, &t->cel, NULL, NULL, &b.w) || wcsset(&b.w)) {
			ok = 0;
#pragma omp atomic write
			fail = 1;
		}
#pragma omp for schedule(dynamic, 4)
		for (int j = j0; j <= j1; j++) {
			int n = i1 - i0 + 1, na;
			if (!ok)
				continue;
			/* Anchors at q = 0, STEP, 2·STEP, ... and the last pixel. */
			na = (n - 1) / MAP_STEP + 1;
			map_exact(&b, m, j, i0, MAP_STEP, na, b.apix, b.astat);
			if ((n - 1) % MAP_STEP) {
				map_exact(&b, m, j, i1, 1, 1, b.apix + 2 * na, b.astat + na);
				na++;
			}
			if (na == 1) { /* a one-pixel row */
				pix[0] = b.apix[0];
				pix[1] = b.apix[1];
				stat[0] = b.astat[0];
			}
			for (int s = 0; s + 1 < na; s++) {
				int qa = s * MAP_STEP, qb = s + 2 < na ? qa + MAP_STEP : n - 1;
				if (b.astat[s] || b.astat[s + 1]) {
					/* The segment touches the edge of the tile's
					 * projection: map every pixel exactly. */
					map_exact(&b, m, j, i0 + qa, 1, qb - qa + 1, pix + 2 * qa,
						  stat + qa);
					continue;
				}
				for (int q = qa; q <= qb; q++) {
					double f = (double)(q - qa) / (qb - qa);
					pix[2 * q] = b.apix[2 * s] + f * (b.apix[2 * s + 2] - b.apix[2 * s]);
					pix[2 * q + 1] = b.apix[2 * s + 1] +
							 f * (b.apix[2 * s + 3] - b.apix[2 * s + 1]);
					stat[q] = 0;
				}
			}
			for (int q = 0; q < n; q++) {
				double v, pb;
				if (stat[q] || !isfinite(pix[2 * q]) || !isfinite(pix[2 * q + 1]))
					continue;
				if (!interp(t, pix[2 * q] - 1, pix[2 * q + 1] - 1, &v, &pb))
					continue;
				if (!(pb >= cut))
					continue;
				double wt = pb * pb * inv_var;
				size_t k = (size_t)j * nx + i0 + q;
				num[k] += wt * v;
				den[k] += wt;
			}
		}
		if (b.w.flag != -1)
			wcsfree(&b.w);
		free(b.world);
		free(b.img);
		free(b.phi);
		free(b.theta);
		free(b.apix);
		free(b.astat);
		free(pix);
		free(stat);
	}
	if (fail)
		return err_set(err, errlen, -ENOMEM, "mosaic: out of memory (per-thread buffers)");
	return 0;
}

int mosaic_build(const mosaic_tile *tiles, int ntiles, const mosaic_params *p,
		 mosaic_result **ret, char *err, size_t errlen)
{
	mosaic_result *m = NULL;
	double *num = NULL, *den = NULL;
	tile t = { 0 };
	int r = 0, nthreads;
	double sum[3] = { 0, 0, 0 }, cell_deg = 0, best_area = -1, freq = 0;
	double box[4] = { INFINITY, -INFINITY, INFINITY, -INFINITY };
	double (*tbox)[4] = NULL; /* each tile's pb >= cut footprint in (l, m) */
	int *tany = NULL;
	size_t n;

	if (!tiles || ntiles < 1)
		return err_set(err, errlen, -EINVAL, "mosaic: no tiles");
	if (!(p->pb_cut > 0 && p->pb_cut < 1) || p->max_size < 2 || p->cell_rad < 0 ||
	    (p->nx > 0) != (p->ny > 0))
		return err_set(err, errlen, -EINVAL,
			       "mosaic: need 0 < pb_cut < 1, max_size >= 2, cell >= 0, nx and ny "
			       "both given or both not");
	nthreads = p->nthreads > 0 ? p->nthreads : omp_get_max_threads();
	m = calloc(1, sizeof *m);
	tbox = calloc(ntiles, sizeof *tbox);
	tany = calloc(ntiles, sizeof *tany);
	if (!m || !tbox || !tany || !(m->tile_names = calloc(ntiles, sizeof *m->tile_names)) ||
	    !(m->tile_sigma_jy = calloc(ntiles, sizeof *m->tile_sigma_jy))) {
		r = err_set(err, errlen, -ENOMEM, "mosaic: out of memory");
		goto out;
	}
	m->ntiles = ntiles;

	/* Pass 1: headers — centre, cell, beam, frequency, names. */
	for (int k = 0; k < ntiles; k++) {
		double v[3];
		r = tile_open(&tiles[k], LOAD_HEADER, &t, err, errlen);
		if (r < 0)
			goto out;
		unitvec(t.ra_deg * DEG, t.dec_deg * DEG, v);
		for (int c = 0; c < 3; c++)
			sum[c] += v[c];
		if (t.cell_deg > 0 && (cell_deg == 0 || t.cell_deg < cell_deg))
			cell_deg = t.cell_deg;
		if (t.bmaj_deg * t.bmin_deg > best_area) {
			best_area = t.bmaj_deg * t.bmin_deg;
			m->bmaj_rad = t.bmaj_deg * DEG;
			m->bmin_rad = t.bmin_deg * DEG;
			m->bpa_rad = t.bpa_deg * DEG;
		}
		freq += t.freq_hz / ntiles;
		m->bandwidth_hz = fmax(m->bandwidth_hz, t.bw_hz);
		if (k == 0) {
			m->mjd_obs = t.mjd_obs;
			snprintf(m->date_obs, sizeof m->date_obs, "%s", t.date_obs);
		}
		snprintf(m->tile_names[k], MOSAIC_NAME_LEN, "%s", t.object);
		m->tile_sigma_jy[k] = t.sigma_jy;
		tile_release(&t);
	}
	m->freq_hz = freq;
	if (p->have_centre) {
		m->ra0_rad = p->ra0_rad;
		m->dec0_rad = p->dec0_rad;
	} else {
		double norm = sqrt(sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]);
		if (!(norm > 1e-9)) {
			r = err_set(err, errlen, -ERANGE, "mosaic: tile centres have no mean direction");
			goto out;
		}
		m->ra0_rad = atan2(sum[1], sum[0]);
		if (m->ra0_rad < 0)
			m->ra0_rad += 2 * M_PI;
		m->dec0_rad = asin(sum[2] / norm);
	}
	m->cell_rad = p->cell_rad > 0 ? p->cell_rad : cell_deg * DEG;
	if (!(m->cell_rad > 0)) {
		r = err_set(err, errlen, -EINVAL, "mosaic: no cell size (tiles have no pixel scale)");
		goto out;
	}
	/* Pass 2: pb images — each tile's footprint on the output plane. */
	{
		int any = 0;
		for (int k = 0; k < ntiles; k++) {
			tbox[k][0] = tbox[k][2] = INFINITY;
			tbox[k][1] = tbox[k][3] = -INFINITY;
			r = tile_open(&tiles[k], LOAD_PB, &t, err, errlen);
			if (r < 0)
				goto out;
			r = footprint(&t, m->ra0_rad, m->dec0_rad, p->pb_cut, tbox[k], &tany[k],
				      tiles[k].pbcor_path, err, errlen);
			tile_release(&t);
			if (r < 0)
				goto out;
			if (tany[k]) {
				box[0] = fmin(box[0], tbox[k][0]);
				box[1] = fmax(box[1], tbox[k][1]);
				box[2] = fmin(box[2], tbox[k][2]);
				box[3] = fmax(box[3], tbox[k][3]);
			}
			any |= tany[k];
		}
		if (!any) {
			r = err_set(err, errlen, -EINVAL, "mosaic: no tile has pb >= %g anywhere",
				    p->pb_cut);
			goto out;
		}
	}
	if (p->nx > 0) {
		m->nx = p->nx;
		m->ny = p->ny;
	} else {
		/* The reference pixel is at (nx/2, ny/2): make the grid symmetric
		 * about it, one pixel of margin, even sizes like the imager's. */
		double lmax = fmax(-box[0], box[1]), mmax = fmax(-box[2], box[3]);
		double hx = ceil(lmax / m->cell_rad) + 1, hy = ceil(mmax / m->cell_rad) + 1;
		if (2 * hx > p->max_size || 2 * hy > p->max_size) {
			r = err_set(err, errlen, -ERANGE,
				    "mosaic: footprints need %.0f x %.0f pixels (max_size %d)", 2 * hx,
				    2 * hy, p->max_size);
			goto out;
		}
		m->nx = 2 * (int)hx;
		m->ny = 2 * (int)hy;
	}
	if (m->nx > p->max_size || m->ny > p->max_size) {
		r = err_set(err, errlen, -ERANGE, "mosaic: %d x %d exceeds max_size %d", m->nx, m->ny,
			    p->max_size);
		goto out;
	}

	n = (size_t)m->nx * m->ny;
	num = calloc(n, sizeof *num);
	den = calloc(n, sizeof *den);
	m->image = malloc(n * sizeof *m->image);
	m->weight = malloc(n * sizeof *m->weight);
	m->noise = malloc(n * sizeof *m->noise);
	if (!num || !den || !m->image || !m->weight || !m->noise) {
		r = err_set(err, errlen, -ENOMEM, "mosaic: out of memory for %d x %d", m->nx, m->ny);
		goto out;
	}

	/* Pass 3: one tile at a time into Σ w·T and Σ w, visiting only the
	 * output pixels inside the tile's footprint box (l = -(i - nx/2)·cell,
	 * m = (j - ny/2)·cell), two pixels of margin. */
	for (int k = 0; k < ntiles; k++) {
		int pbox[4];
		double cx = m->nx / 2, cy = m->ny / 2;
		if (!tany[k])
			continue;
		pbox[0] = (int)fmax(0, floor(cx - tbox[k][1] / m->cell_rad) - 2);
		pbox[1] = (int)fmin(m->nx - 1, ceil(cx - tbox[k][0] / m->cell_rad) + 2);
		pbox[2] = (int)fmax(0, floor(cy + tbox[k][2] / m->cell_rad) - 2);
		pbox[3] = (int)fmin(m->ny - 1, ceil(cy + tbox[k][3] / m->cell_rad) + 2);
		if (pbox[0] > pbox[1] || pbox[2] > pbox[3])
			continue; /* outside a grid the caller sized */
		r = tile_open(&tiles[k], LOAD_ALL, &t, err, errlen);
		if (r < 0)
			goto out;
		r = accumulate(&t, m, pbox, p->pb_cut, nthreads, num, den, err, errlen);
		tile_release(&t);
		if (r < 0)
			goto out;
	}
#pragma omp parallel for num_threads(nthreads) schedule(static)
	for (size_t k = 0; k < n; k++) {
		if (den[k] > 0) {
			m->image[k] = (float)(num[k] / den[k]);
			m->weight[k] = (float)den[k];
			m->noise[k] = (float)(1.0 / sqrt(den[k]));
		} else {
			m->image[k] = NAN;
			m->weight[k] = 0;
			m->noise[k] = NAN;
		}
	}
	*ret = m;
	m = NULL;
	r = 0;
out:
	tile_release(&t);
	free(num);
	free(den);
	free(tbox);
	free(tany);
	mosaic_result_free(m);
	return r;
}

int mosaic_write(const mosaic_result *m, int product, const char *path, char *err,
		 size_t errlen)
{
	fitsfile *f = NULL;
	int st = 0;
	char tmp[4200], cpath[4300], key[16], line[FLEN_CARD];
	const float *data;
	const char *bunit, *what;

	switch (product) {
	case MOSAIC_IMAGE:
		data = m->image, bunit = "JY/BEAM", what = "mosaic";
		break;
	case MOSAIC_WEIGHT:
		data = m->weight, bunit = "BEAM**2/JY**2", what = "weight";
		break;
	case MOSAIC_NOISE:
		data = m->noise, bunit = "JY/BEAM", what = "noise";
		break;
	default:
		return err_set(err, errlen, -EINVAL, "mosaic: unknown product %d", product);
	}
	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return err_set(err, errlen, -EINVAL, "mosaic: path too long");
	snprintf(cpath, sizeof cpath, "!%s", tmp);

	double mjd = m->mjd_obs;
	double bmaj = m->bmaj_rad / DEG, bmin = m->bmin_rad / DEG, bpa = m->bpa_rad / DEG;
	int ntiles = m->ntiles;
	fitsout_grid g = {
		.bunit = bunit, .nx = m->nx, .ny = m->ny,
		.ra_deg = m->ra0_rad / DEG, .dec_deg = m->dec0_rad / DEG,
		.cell_deg = m->cell_rad / DEG,
		.freq_hz = m->freq_hz, .freq_note = "[Hz] mean of the tiles' frequencies",
		.bandwidth_hz = m->bandwidth_hz > 0 ? m->bandwidth_hz : 1,
		.bandwidth_note = "[Hz] largest tile bandwidth",
	};

	fitsout_create_image(&f, cpath, &g, &st);
	fits_update_key(f, TDOUBLE, "BMAJ", &bmaj, "[deg] largest tile beam major axis (FWHM)",
			&st);
	fits_update_key(f, TDOUBLE, "BMIN", &bmin, "[deg] largest tile beam minor axis (FWHM)",
			&st);
	fits_update_key(f, TDOUBLE, "BPA", &bpa, "[deg] largest tile beam position angle", &st);
	if (m->date_obs[0])
		fits_update_key(f, TSTRING, "DATE-OBS", (void *)m->date_obs,
				"UTC start of the first tile", &st);
	if (isfinite(mjd))
		fits_update_key(f, TDOUBLE, "MJD-OBS", &mjd, "[d] UTC MJD of the first tile", &st);
	fits_update_key(f, TSTRING, "TIMESYS", "UTC", NULL, &st);
	fits_update_key(f, TSTRING, "TELESCOP", "DSA-110", NULL, &st);
	fits_update_key(f, TSTRING, "ORIGIN", "contimg", NULL, &st);
	fits_update_key(f, TSTRING, "PRODUCT", (void *)what, "mosaic, weight or noise", &st);
	fits_update_key(f, TSTRING, "MOSWEIGH", "PB**2/SIGMA**2",
			"linear mosaic: sum(w*tile)/sum(w)", &st);
	fits_update_key(f, TINT, "NTILES", &ntiles, "tiles (groups) in the mosaic", &st);
	for (int k = 0; k < m->ntiles && k < 999; k++) {
		snprintf(key, sizeof key, "TILE%03d", k + 1);
		fits_update_key(f, TSTRING, key, (void *)m->tile_names[k], "group", &st);
		snprintf(line, sizeof line, "tile %d: group %s sigma %.6g Jy/beam", k + 1,
			 m->tile_names[k], m->tile_sigma_jy[k]);
		fits_write_history(f, line, &st);
	}
	return fitsout_finish(f, data, (long long)m->nx * m->ny, st, tmp, path, err, errlen);
}
