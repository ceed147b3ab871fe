/*
 * core/uvh5_raw.c — raw reads of Data/: the fast path of core/convert.c (see
 * core/uvh5.h and docs/uvh5.md, *Raw reads*).
 */
#include "core/uvh5.h"

#include <fcntl.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/h5.h"
#include "core/uvh5_internal.h"

/* One of the three Data/ arrays as it lies in the file. */
typedef struct raw_array {
	const char *name;      /* "visdata", "flags", "nsamples" */
	size_t es;             /* bytes per sample: 8, 1, 4 */
	int chunked;
	off_t off;             /* contiguous: file offset of the first byte */
	hid_t ds;              /* chunked: the open dataset */
	int rank;              /* chunked: 3 or 4 */
	size_t cr, cc, cp;     /* chunk rows, channels, pols (contiguous: 1, nf, np) */
	size_t cb;             /* bytes per chunk (contiguous: one row) */
	size_t per_row;        /* chunks per chunk row (channel chunks x pol chunks) */
	size_t *off_in_row;    /* [nf * np]: where sample (channel, pol) of a row lies,
				* from the start of its chunk row at its row's offset */
	uint64_t *addr;        /* chunked: the chunk map (file address of chunk (row
				* chunk, channel chunk, pol chunk), that order), or
				* NULL: read with H5Dread_chunk */
} raw_array;

struct uvh5_raw {
	char *path;
	size_t nrows;
	int nf, np;
	int fd;                /* for the contiguous arrays */
	hid_t file;            /* open while any array is chunked */
	raw_array a[3];
};

/* compound {r: f32 LE at 0, i: f32 LE at 4}: exactly a little-endian float complex. */
static int type_is_c8(hid_t t)
{
	int ok = H5Tget_class(t) == H5T_COMPOUND && H5Tget_nmembers(t) == 2 && H5Tget_size(t) == 8;

	for (unsigned k = 0; k < 2 && ok; k++) {
		char *name = H5Tget_member_name(t, k);
		hid_t mt = H5Tget_member_type(t, k);
		ok = name && !strcmp(name, k ? "i" : "r") && H5Tget_member_offset(t, k) == 4 * k &&
		     mt >= 0 && H5Tequal(mt, H5T_IEEE_F32LE) > 0;
		if (mt >= 0)
			H5Tclose(mt);
		if (name)
			H5free_memory(name);
	}
	return ok;
}

/* One byte per flag, non-zero = flagged: bool enum (h5py), int8/uint8, bitfield. */
static int type_is_flag8(hid_t t)
{
	H5T_class_t c = H5Tget_class(t);
	return H5Tget_size(t) == 1 && (c == H5T_ENUM || c == H5T_INTEGER || c == H5T_BITFIELD);
}

static int type_is_f32le(hid_t t)
{
	return H5Tequal(t, H5T_IEEE_F32LE) > 0;
}

static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;

	while (n > 0) {
		ssize_t k = pread(fd, p, n, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

/*
 * The chunk map: every chunk's file address, read from the dataset's chunk
 * index in one pass.  HDF5 1.10 has no call that lists the chunks
 * (H5Dchunk_iter arrived in 1.14); H5Dget_chunk_info and
 * H5Dget_chunk_info_by_coord walk the index from its start on every call, so
 * the map through them costs O(n²): 0.64 s for one subband's visdata.  The
 * index of a chunked dataset in the format HDF5 writes by default (and h5py,
 * hence the correlator: "earliest" library version bounds) is a version 1
 * B-tree found through the layout message (version 3) of a version 1 object
 * header; those three structures are read here, as the HDF5 File Format
 * Specification (version 2.0, sections III.A.1, IV.A.1.a, IV.A.2.i) lays them
 * out.  Anything else (newer headers or indexes, other sizes of offsets) is
 * left to H5Dread_chunk.  The map is checked before use: every chunk of the
 * grid exactly once, unfiltered, of the chunk's size, inside the file, and
 * the first and last chunk where HDF5 itself says they are.
 */

#define MAP_MAX_DEPTH 32

/* An unsigned little-endian integer of n = 2, 4 or 8 bytes (this path runs
 * on little-endian hosts only: uvh5_raw_open). */
static inline uint64_t le_u(const uint8_t *p, int n)
{
	uint64_t v8;
	uint32_t v4;
	uint16_t v2;

	switch (n) {
	case 8:
		memcpy(&v8, p, 8);
		return v8;
	case 4:
		memcpy(&v4, p, 4);
		return v4;
	default:
		memcpy(&v2, p, 2);
		return v2;
	}
}

/* n bytes at off into buf, all inside the file (fsize). */
static int map_read(int fd, uint64_t fsize, uint64_t off, void *buf, size_t n)
{
	if (off > fsize || n > fsize - off)
		return -1;
	return pread_all(fd, buf, n, (off_t)off);
}

/* A data layout message (d, size bytes): 1 when it is version 3, chunked,
 * of the chunk shape HDF5 reported (cd, rank) and element size es, with the
 * B-tree's address in *ret.  Version 3, class 2: dimensionality (rank + 1),
 * the B-tree address, then rank + 1 sizes of 4 bytes, the last the element
 * size. */
static int map_layout(const uint8_t *d, size_t size, int rank, const hsize_t *cd, size_t es,
		      uint64_t *ret)
{
	if (size < 11 + 4 * (size_t)(rank + 1) || d[0] != 3 || d[1] != 2 || d[2] != rank + 1 ||
	    le_u(d + 11 + 4 * rank, 4) != es)
		return 0;
	for (int i = 0; i < rank; i++)
		if (le_u(d + 11 + 4 * i, 4) != cd[i])
			return 0;
	*ret = le_u(d + 3, 8);
	return 1;
}

/* The v1 B-tree address from the dataset's version 1 object header at ohdr
 * (its layout message, map_layout).  0, or -1 when the header is of another
 * version or holds no such message. */
static int map_btree_addr(int fd, uint64_t fsize, uint64_t ohdr, int rank, const hsize_t *cd,
			  size_t es, uint64_t *ret)
{
	uint64_t blk_off[16], blk_len[16];
	uint8_t pre[16], *b = NULL;
	int nblk = 1, found = 0;

	/* Prefix: version 1, reserved, messages (2), references (4), size of
	 * the first block (4), padding to 16. */
	if (map_read(fd, fsize, ohdr, pre, sizeof pre) || pre[0] != 1)
		return -1; /* version 2 headers ("OHDR") come with newer indexes */
	blk_off[0] = ohdr + 16;
	blk_len[0] = le_u(pre + 8, 4);
	for (int k = 0; k < nblk && !found; k++) {
		size_t p = 0;

		free(b);
		b = blk_len[k] <= (1u << 20) ? malloc(blk_len[k] ? blk_len[k] : 1) : NULL;
		if (!b || map_read(fd, fsize, blk_off[k], b, blk_len[k]))
			break;
		/* Messages: type (2), size (2), flags (1), reserved (3), data; a
		 * continuation (type 0x10) names another block. */
		while (p + 8 <= blk_len[k] && !found) {
			const unsigned type = (unsigned)le_u(b + p, 2);
			const size_t size = (size_t)le_u(b + p + 2, 2);

			if (p + 8 + size > blk_len[k])
				break;
			if (type == 0x10 && size >= 16 && nblk < 16) {
				blk_off[nblk] = le_u(b + p + 8, 8);
				blk_len[nblk++] = le_u(b + p + 16, 8);
			} else if (type == 0x8) {
				found = map_layout(b + p + 8, size, rank, cd, es, ret);
				if (!found)
					break;
			}
			p += 8 + size;
		}
		if (!found && p + 8 <= blk_len[k])
			break; /* a malformed or unexpected message */
	}
	free(b);
	return found ? 0 : -1;
}

/* Walk the v1 B-tree node at addr (expected level `level`, -1 at the root)
 * and put every leaf's chunk address into a->addr.  0 or -1. */
static int map_walk(const uvh5_raw *r, raw_array *a, int fd, uint64_t fsize, uint64_t addr,
		    int level, int depth, size_t *count)
{
	const int dimy = a->rank + 1;
	const size_t ks = 8 + 8 * (size_t)dimy; /* chunk size, filter mask, offsets */
	const size_t nj = (r->nf + a->cc - 1) / a->cc, nq = (r->np + a->cp - 1) / a->cp;
	uint8_t hdr[24], *b = NULL;
	size_t n, len;
	int rc = -1, lev;

	if (depth > MAP_MAX_DEPTH || map_read(fd, fsize, addr, hdr, sizeof hdr) ||
	    memcmp(hdr, "TREE", 4) || hdr[4] != 1)
		return -1;
	lev = hdr[5];
	n = (size_t)le_u(hdr + 6, 2);
	if ((level >= 0 && lev != level) || n == 0)
		return -1;
	len = n * (ks + 8) + ks;
	b = malloc(len);
	if (!b || map_read(fd, fsize, addr + sizeof hdr, b, len))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *key = b + i * (ks + 8);
		const uint64_t child = le_u(key + ks, 8);

		if (lev > 0) {
			if (map_walk(r, a, fd, fsize, child, lev - 1, depth + 1, count))
				goto out;
			continue;
		}
		{
			/* A chunk: its size, no filter skipped, its offset in
			 * elements (rank + 1 values, the last 0). */
			const uint64_t o0 = le_u(key + 8, 8);
			const uint64_t oc = le_u(key + 8 + 8 * (size_t)(a->rank - 2), 8);
			const uint64_t op = le_u(key + 8 + 8 * (size_t)(a->rank - 1), 8);
			size_t idx;

			if (le_u(key, 4) != a->cb || le_u(key + 4, 4) != 0 ||
			    le_u(key + 8 + 8 * (size_t)a->rank, 8) != 0 ||
			    (a->rank == 4 && le_u(key + 16, 8) != 0) || o0 % a->cr || oc % a->cc ||
			    op % a->cp || o0 >= r->nrows || oc >= (uint64_t)r->nf ||
			    op >= (uint64_t)r->np || child == 0 || child > fsize ||
			    a->cb > fsize - child)
				goto out;
			idx = ((size_t)(o0 / a->cr) * nj + (size_t)(oc / a->cc)) * nq +
			      (size_t)(op / a->cp);
			if (a->addr[idx])
				goto out; /* twice */
			a->addr[idx] = child;
			(*count)++;
		}
	}
	rc = 0;
out:
	free(b);
	return rc;
}

/* Build a->addr for the chunked dataset ds (a->cr.. set).  0 when the map is
 * complete and checked; -1 when the dataset is not in the format read here or
 * any check fails (the chunks are then read with H5Dread_chunk); -ENOMEM. */
static int map_chunks(const uvh5_raw *r, raw_array *a, hid_t ds, hid_t dcpl, size_t nchunks)
{
	hsize_t cd[H5S_MAX_RANK], first[4] = { 0, 0, 0, 0 }, last[4] = { 0, 0, 0, 0 }, size, ub = 1;
	size_t sa = 0, ss = 0, count = 0;
	const size_t nj = (r->nf + a->cc - 1) / a->cc, nq = (r->np + a->cp - 1) / a->cp;
	uint64_t btree, fsize;
	H5O_info_t oi;
	hid_t fcpl = -1;
	haddr_t ha;
	unsigned fm;
	struct stat st;
	int ok = 0;

	if (r->fd < 0 || fstat(r->fd, &st) || H5Pget_chunk(dcpl, a->rank, cd) != a->rank)
		return -1;
	fsize = (uint64_t)st.st_size;
	/* Addresses in the file are relative to its superblock: no user block
	 * (the DSA-110 files have none) keeps them file offsets. */
	fcpl = H5Fget_create_plist(r->file);
	if (fcpl < 0 || H5Pget_sizes(fcpl, &sa, &ss) < 0 || sa != 8 || ss != 8 ||
	    H5Pget_userblock(fcpl, &ub) < 0 || ub != 0 ||
	    H5Oget_info2(ds, &oi, H5O_INFO_BASIC) < 0 ||
	    map_btree_addr(r->fd, fsize, oi.addr, a->rank, cd, a->es, &btree))
		goto out;
	a->addr = calloc(nchunks, sizeof *a->addr);
	if (!a->addr) {
		h5_close_id(fcpl);
		return -ENOMEM;
	}
	if (map_walk(r, a, r->fd, fsize, btree, -1, 0, &count) || count != nchunks)
		goto out;
	/* HDF5's own word on the first and the last chunk (both cheap: the
	 * lookup walks the index from the start and the last is found at its
	 * end). */
	last[0] = (r->nrows - 1) / a->cr * a->cr;
	last[a->rank - 2] = (r->nf - 1) / a->cc * a->cc;
	last[a->rank - 1] = (r->np - 1) / a->cp * a->cp;
	if (H5Dget_chunk_info_by_coord(ds, first, &fm, &ha, &size) < 0 || ha != a->addr[0] ||
	    H5Dget_chunk_info_by_coord(ds, last, &fm, &ha, &size) < 0 ||
	    ha != a->addr[((last[0] / a->cr) * nj + last[a->rank - 2] / a->cc) * nq +
			  last[a->rank - 1] / a->cp])
		goto out;
	ok = 1;
out:
	h5_close_id(fcpl);
	if (!ok) {
		free(a->addr);
		a->addr = NULL;
	}
	return ok ? 0 : -1;
}

/* Whether Data/<a->name> can be read raw; fills a (keeps the dataset open
 * when chunked).  *why says what disqualifies it; -ENOMEM is the only
 * error. */
static int raw_probe(uvh5_raw *r, raw_array *a, int (*type_ok)(hid_t), const char **why)
{
	hid_t ds = -1, sp = -1, dcpl = -1, t = -1;
	hsize_t dims[H5S_MAX_RANK], cd[H5S_MAX_RANK], n = 0;
	const size_t nf = r->nf, np = r->np;
	size_t want;
	char full[32];
	int rank, ok = 0;

	snprintf(full, sizeof full, "Data/%s", a->name);
	ds = H5Dopen2(r->file, full, H5P_DEFAULT);
	if (ds < 0) {
		*why = "cannot open a Data/ array";
		return 0;
	}
	sp = H5Dget_space(ds);
	dcpl = H5Dget_create_plist(ds);
	t = H5Dget_type(ds);
	rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
	if (sp < 0 || dcpl < 0 || t < 0 || (rank != 3 && rank != 4) ||
	    H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
		*why = "unreadable Data/ array";
		goto out;
	}
	if (dims[0] != r->nrows || (rank == 4 && dims[1] != 1) || dims[rank - 2] != nf ||
	    dims[rank - 1] != np) {
		*why = "Data/ shape differs from the header's";
		goto out;
	}
	if (!type_ok(t)) {
		*why = "Data/ types need conversion";
		goto out;
	}
	if (H5Pget_nfilters(dcpl) != 0) {
		*why = "Data/ is compressed";
		goto out;
	}
	switch (H5Pget_layout(dcpl)) {
	case H5D_CONTIGUOUS: {
		haddr_t off = H5Dget_offset(ds);
		if (off == HADDR_UNDEF ||
		    H5Dget_storage_size(ds) != (hsize_t)(r->nrows * nf * np * a->es)) {
			*why = "Data/ not written";
			goto out;
		}
		a->off = (off_t)off;
		a->cr = 1, a->cc = nf, a->cp = np;
		break;
	}
	case H5D_CHUNKED:
		if (H5Pget_chunk(dcpl, rank, cd) != rank || cd[0] < 1 || cd[rank - 2] < 1 ||
		    cd[rank - 1] < 1) {
			*why = "unreadable chunk shape";
			goto out;
		}
		a->rank = rank;
		a->cr = cd[0], a->cc = cd[rank - 2], a->cp = cd[rank - 1];
		if (a->cr > r->nrows + 0x100000 || a->cr * a->cc * a->cp * a->es > (64u << 20)) {
			*why = "chunks above 64 MiB";
			goto out;
		}
		a->chunked = 1;
		a->cb = a->cr * a->cc * a->cp * a->es;
		/* Every chunk must be written: an unwritten one reads as the fill
		 * value through HDF5, and H5Dread_chunk refuses it.  A complete
		 * chunk map says so; otherwise HDF5 counts them. */
		want = ((r->nrows + a->cr - 1) / a->cr) * ((nf + a->cc - 1) / a->cc) *
		       ((np + a->cp - 1) / a->cp);
		switch (map_chunks(r, a, ds, dcpl, want)) {
		case 0:
			break; /* read with pread() from the map */
		case -1:
			if (H5Dget_num_chunks(ds, sp, &n) < 0 || n != want) {
				*why = "Data/ has unwritten chunks";
				goto out;
			}
			a->ds = ds; /* read with H5Dread_chunk */
			ds = -1;
			break;
		default:
			*why = NULL;
			goto out;
		}
		break;
	default:
		*why = "Data/ is neither contiguous nor chunked";
		goto out;
	}
	/* Chunk geometry (a contiguous array is one chunk per row), and where
	 * each (channel, pol) of a row lies from its chunk row's start. */
	a->cb = a->cr * a->cc * a->cp * a->es;
	a->per_row = ((nf + a->cc - 1) / a->cc) * ((np + a->cp - 1) / a->cp);
	a->off_in_row = malloc(nf * np * sizeof *a->off_in_row);
	if (!a->off_in_row) {
		*why = NULL;
		goto out;
	}
	for (size_t j = 0; j < nf; j++)
		for (size_t p = 0; p < np; p++) {
			size_t chunk = (j / a->cc) * ((np + a->cp - 1) / a->cp) + p / a->cp;
			a->off_in_row[j * np + p] =
				chunk * a->cb + ((j % a->cc) * a->cp + p % a->cp) * a->es;
		}
	ok = 1;
out:
	h5_close_id(t);
	h5_close_id(dcpl);
	h5_close_id(sp);
	h5_close_id(ds);
	return ok ? 1 : *why ? 0 : -ENOMEM;
}

void uvh5_raw_close(uvh5_raw *r)
{
	if (!r)
		return;
	for (int k = 0; k < 3; k++) {
		h5_close_id(r->a[k].ds);
		free(r->a[k].off_in_row);
		free(r->a[k].addr);
	}
	h5_close_id(r->file);
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r);
}

static size_t gcd_size(size_t a, size_t b)
{
	while (b) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

int uvh5_raw_open(const char *path, size_t nrows, int nfreqs, int npols, uvh5_raw **ret,
		  char *why, size_t whylen, char *err, size_t errlen)
{
	static int (*const type_ok[3])(hid_t) = { type_is_c8, type_is_flag8, type_is_f32le };
	static const char *const names[3] = { "visdata", "flags", "nsamples" };
	static const size_t es[3] = { 8, 1, 4 };
	const char *no = NULL;
	uvh5_raw *r = NULL;
	int nhdf5 = 0, rc = 0;

	*ret = NULL;
	if (why && whylen)
		why[0] = 0;
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	/* The stored bytes are little-endian. */
	if (why)
		snprintf(why, whylen, "big-endian host");
	return 0;
#endif
	h5_enter();
	r = calloc(1, sizeof *r);
	if (!r || !(r->path = strdup(path ? path : ""))) {
		free(r);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	r->fd = -1;
	r->nrows = nrows;
	r->nf = nfreqs;
	r->np = npols;
	for (int k = 0; k < 3; k++) {
		r->a[k].name = names[k];
		r->a[k].es = es[k];
		r->a[k].ds = -1;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	r->file = r->fd >= 0 && nrows && nfreqs > 0 && npols > 0
			  ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
	if (r->file < 0)
		no = "cannot open";
	for (int k = 0; k < 3 && !no && !rc; k++)
		rc = raw_probe(r, &r->a[k], type_ok[k], &no) < 0 ? -ENOMEM : 0;
	for (int k = 0; k < 3; k++)
		nhdf5 += r->a[k].ds >= 0;
	if (!no && !rc && nhdf5 == 0) {
		H5Fclose(r->file); /* pread() only */
		r->file = -1;
	}
	if (no || rc) {
		if (why && no)
			snprintf(why, whylen, "%s", no);
		uvh5_raw_close(r);
		return rc ? err_set(err, errlen, rc, "%s: out of memory", path) : 0;
	}
	*ret = r;
	return 0;
}

int uvh5_raw_kind(const uvh5_raw *r)
{
	int kind = UVH5_RAW_CONTIGUOUS;

	for (int k = 0; r && k < 3; k++)
		if (r->a[k].ds >= 0)
			kind = UVH5_RAW_CHUNKS_HDF5;
		else if (r->a[k].chunked && kind == UVH5_RAW_CONTIGUOUS)
			kind = UVH5_RAW_CHUNKS_MAPPED;
	return kind;
}

size_t uvh5_raw_block_rows(const uvh5_raw *r, size_t min_rows)
{
	size_t l = 1;

	if (min_rows < 1)
		min_rows = 1;
	for (int k = 0; r && k < 3; k++)
		if (r->a[k].chunked) {
			l = l / gcd_size(l, r->a[k].cr) * r->a[k].cr;
			if (l > ((size_t)1 << 24))
				return min_rows; /* unrelated chunk lengths: give up aligning */
		}
	return (min_rows + l - 1) / l * l;
}

size_t uvh5_raw_scratch_bytes(const uvh5_raw *r, size_t nrows)
{
	/* After the data: the decoding table (5 x nf x np + 1 offsets, aligned)
	 * and two pointers per row. */
	size_t m = r ? 8 + (5 * (size_t)r->nf * r->np + 1 + 2 * nrows) * sizeof(size_t) : 0;

	/* An unaligned block touches one chunk row more. */
	for (int k = 0; r && k < 3; k++) {
		const raw_array *a = &r->a[k];
		m += a->chunked ? ((nrows + a->cr - 1) / a->cr + 1) * a->per_row * a->cb
				: nrows * a->cb;
	}
	return m;
}

/* Every chunk of array a that rows [row0, row0 + nrows) touch, as stored,
 * one after the other into buf: chunk rows, then channel chunks, then pol
 * chunks (the order of the chunk index and of the file).  Returns the bytes
 * used, or -EIO. */
static ssize_t raw_fetch(uvh5_raw *r, raw_array *a, size_t row0, size_t nrows, uint8_t *buf,
			 char *err, size_t errlen)
{
	const size_t i0 = row0 / a->cr, i1 = (row0 + nrows - 1) / a->cr;
	size_t used = 0;
	char why[256];

	for (size_t i = i0; i <= i1; i++)
		for (size_t j = 0; j < (size_t)r->nf; j += a->cc)
			for (size_t q = 0; q < (size_t)r->np; q += a->cp) {
				hsize_t off[4] = { i * a->cr, 0, 0, 0 };
				uint32_t filters = 0;

				off[a->rank - 2] = j;
				off[a->rank - 1] = q;
				if (H5Dread_chunk(a->ds, H5P_DEFAULT, off, &filters, buf + used) < 0) {
					err_set(err, errlen, -EIO, "%s: Data/%s: cannot read the chunk "
						"at row %zu, channel %zu, pol %zu: %s", r->path, a->name,
						i * a->cr, j, q, h5_reason(why, sizeof why));
					return -EIO;
				}
				used += a->cb;
			}
	return (ssize_t)used;
}

/* HDF5 serialises every call anyway.  Taking this lock around all the chunk
 * reads of one block makes them one uncontended stretch per block, instead
 * of a hundred hand-overs of HDF5's own lock between threads that decode in
 * between (docs/performance.md, *Chunked files*). */
static pthread_mutex_t raw_lock = PTHREAD_MUTEX_INITIALIZER;

int uvh5_raw_read_rows(uvh5_raw *r, size_t row0, size_t nrows, vis_set *dst, const int *chan_map,
		       void *scratch, char *err, size_t errlen)
{
	const size_t drl = (size_t)dst->nchan * dst->npols;
	uint8_t *buf = scratch, *base[3];
	size_t used = 0;
	int rc = 0;

	if (row0 > r->nrows || nrows > r->nrows - row0)
		return err_set(err, errlen, -EINVAL, "%s: rows %zu + %zu outside the file's %zu",
			       r->path, row0, nrows, r->nrows);
	if ((size_t)dst->ntimes * dst->nbls != r->nrows || dst->npols != r->np)
		return err_set(err, errlen, -EINVAL, "%s: the target set's shape differs", r->path);
	if (nrows == 0)
		return 0;
	/* 1. The bytes as stored into scratch: contiguous rows and mapped chunks
	 * with pread() (chunks in their index order, consecutive ones in one
	 * read), other chunks with H5Dread_chunk under raw_lock. */
	for (int k = 0; k < 3; k++) {
		raw_array *a = &r->a[k];
		base[k] = buf + used;
		if (!a->chunked) {
			if (pread_all(r->fd, base[k], nrows * a->cb, a->off + (off_t)(row0 * a->cb)))
				return err_set(err, errlen, -EIO, "%s: Data/%s: read error or file "
					       "truncated (rows %zu..%zu)", r->path, a->name, row0,
					       row0 + nrows);
			used += nrows * a->cb;
		} else if (a->addr) {
			const size_t c0 = row0 / a->cr * a->per_row;
			const size_t c1 = ((row0 + nrows - 1) / a->cr + 1) * a->per_row;
			for (size_t c = c0; c < c1;) {
				size_t e = c + 1;
				while (e < c1 && a->addr[e] == a->addr[e - 1] + a->cb)
					e++;
				if (pread_all(r->fd, buf + used, (e - c) * a->cb, (off_t)a->addr[c]))
					return err_set(err, errlen, -EIO, "%s: Data/%s: read error or "
						       "file truncated (chunks %zu..%zu)", r->path, a->name,
						       c, e);
				used += (e - c) * a->cb;
				c = e;
			}
		}
	}
	if (uvh5_raw_kind(r) == UVH5_RAW_CHUNKS_HDF5) {
		h5_enter();
		pthread_mutex_lock(&raw_lock);
		for (int k = 0; k < 3 && !rc; k++) {
			ssize_t n;
			if (r->a[k].ds < 0)
				continue;
			base[k] = buf + used;
			n = raw_fetch(r, &r->a[k], row0, nrows, base[k], err, errlen);
			rc = n < 0 ? (int)n : 0;
			used += n < 0 ? 0 : (size_t)n;
		}
		pthread_mutex_unlock(&raw_lock);
		if (rc)
			return rc;
	}
	/* 2. Decode every sample straight into place: file channel j of row rr
	 * to dst channel chan_map[j], with the rule of uvh5_read_into.  In the
	 * order of visdata's chunks, each read from start to end (for a
	 * contiguous file that is row order), through a table made here of where
	 * each of a chunk row's samples lies: in its visdata chunk, in the row's
	 * flags and nsamples (offsets from open), and in dst.  The writes stay
	 * within the block's rows of dst, which the cache holds until the chunks
	 * of the other channels and pols fill in the rest; reading each chunk in
	 * turn keeps the reads to a few streams, not one per chunk of a row
	 * (measured: docs/performance.md, *Chunked files*). */
	{
		const raw_array *av = &r->a[0], *af = &r->a[1], *aw = &r->a[2];
		const size_t np = r->np, nf = r->nf, ns = nf * np;
		const size_t i0 = row0 / av->cr, i1 = (row0 + nrows - 1) / av->cr;
		size_t *const tab = (size_t *)(buf + ((used + 7) & ~(size_t)7));
		size_t *const tv = tab, *const tw = tab + ns, *const tf = tab + 2 * ns;
		size_t *const td = tab + 3 * ns, *const tn = tab + 4 * ns;
		const uint8_t **const rowf = (const uint8_t **)(tn + ns + 1);
		const uint8_t **const roww = rowf + nrows;
		size_t t = 0, k = 0;
		const uint8_t *vchunk = base[0];

		for (size_t jc = 0; jc < nf; jc += av->cc)
			for (size_t qc = 0; qc < np; qc += av->cp, k++) {
				const size_t j1 = jc + av->cc < nf ? jc + av->cc : nf;
				const size_t q1 = qc + av->cp < np ? qc + av->cp : np;
				tn[k] = t;
				for (size_t j = jc; j < j1; j++)
					for (size_t p = qc; p < q1; p++, t++) {
						tv[t] = ((j - jc) * av->cp + (p - qc)) * 8;
						tw[t] = aw->off_in_row[j * np + p];
						tf[t] = af->off_in_row[j * np + p];
						td[t] = (size_t)chan_map[j] * np + p;
					}
			}
		tn[k] = t;
		/* Each row's start in the flags and nsamples read above. */
		for (size_t rr = row0; rr < row0 + nrows; rr++) {
			rowf[rr - row0] = base[1] + (rr / af->cr - row0 / af->cr) * af->per_row * af->cb +
					  (rr % af->cr) * af->cc * af->cp;
			roww[rr - row0] = base[2] + (rr / aw->cr - row0 / aw->cr) * aw->per_row * aw->cb +
					  (rr % aw->cr) * aw->cc * aw->cp * 4;
		}
		for (size_t i = i0; i <= i1; i++) {
			const size_t c0 = i * av->cr;
			const size_t rlo = row0 > c0 ? row0 : c0;
			const size_t rhi = row0 + nrows < c0 + av->cr ? row0 + nrows : c0 + av->cr;
			for (size_t kk = 0; kk < av->per_row; kk++, vchunk += av->cb) {
				const size_t u0 = tn[kk], u1 = tn[kk + 1];
				for (size_t rr = rlo; rr < rhi; rr++) {
					const uint8_t *restrict sv = vchunk + (rr - c0) * av->cc * av->cp * 8;
					const uint8_t *restrict sf = rowf[rr - row0];
					const uint8_t *restrict sw = roww[rr - row0];
					float complex *restrict dv = dst->vis + rr * drl;
					uint8_t *restrict df = dst->flags + rr * drl;
					float *restrict dw = dst->weight + rr * drl;

					for (size_t u = u0; u < u1; u++) {
						float complex z;
						float w;

						memcpy(&z, sv + tv[u], sizeof z);
						memcpy(&w, sw + tw[u], sizeof w);
						uvh5_decode_sample(&z, &w, sf[tf[u]], &df[td[u]]);
						dv[td[u]] = z;
						dw[td[u]] = w;
					}
				}
			}
		}
	}
	return 0;
}
