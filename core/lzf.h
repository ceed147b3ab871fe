/*
 * core/lzf.h — the LZF decoder (liblzf's block format; HDF5 filter 32000).
 *
 * h5py and pyuvdata compress flags and nsamples with LZF: each HDF5 chunk is
 * one LZF block.  core/h5.c registers this decoder as HDF5 filter 32000
 * (docs/uvh5.md says why Debian's plugin is not used).  Decoding only: contimg
 * never writes LZF.
 *
 * Format (liblzf lzf_d.c, Marc Lehmann): a sequence of runs, each starting
 * with a control byte c.  c < 32: a literal run of c + 1 bytes follows.
 * Otherwise a back-reference: length (c >> 5) + 2, where a length field of 7
 * means "add the next byte" (so 9..264), and distance ((c & 31) << 8) + next
 * byte + 1 (1..8192) back from the current output position; source and
 * destination may overlap (a distance shorter than the length repeats bytes).
 */
#ifndef CONTIMG_LZF_H
#define CONTIMG_LZF_H

#include <stddef.h>

/* Decode the LZF block in[0 .. in_len) into out[0 .. out_len).  Returns the
 * number of bytes written.  Returns 0 when the block is corrupt (a run that
 * reads past the input's end, a back-reference before the output's start) or
 * does not fit: then *ret_full is 1 when only the output was too small (the
 * caller may retry with a larger buffer), 0 for a corrupt block.  Every access
 * is bounds-checked: no input makes it read or write outside the buffers.  An
 * empty input decodes to 0 bytes with *ret_full = 0. */
size_t lzf_decode(const void *in, size_t in_len, void *out, size_t out_len, int *ret_full);

#endif
