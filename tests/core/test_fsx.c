/*
 * tests/core/test_fsx.c — durable replacement (core/fsx.h).
 *
 * A child process writes a new 1 MiB product over an old one with
 * fsx_replace and is killed (SIGKILL, from the fault hook) after each step in
 * turn, or half-way through writing its temporary.  Whatever the stop, the
 * product's name holds the old file complete or the new file complete, never
 * a partial one (old before the rename, new after it), and the temporary the
 * crash left is exactly what fsx_remove_temporaries removes.  Under strace the
 * system calls come in the durable order: fsync(tmp), rename, fsync(dir).
 * (A kill is not a power cut: that the fsyncs reach the disk is the kernel's
 * promise; this test checks that they are made, on the right files, in the
 * right order.)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fsx.h"
#include "tests/test.h"

#define SIZE (1 << 20)

/* A file of SIZE bytes, every byte = fill, into path.  upto < SIZE writes
 * only that many (a writer that died half-way). */
static int write_file(const char *path, unsigned char fill, size_t upto)
{
	static unsigned char buf[SIZE];
	FILE *f = fopen(path, "w");
	int r = 0;

	if (!f)
		return -errno;
	memset(buf, fill, sizeof buf);
	if (fwrite(buf, 1, upto, f) != upto)
		r = -EIO;
	if (fclose(f) != 0 && !r)
		r = -EIO;
	return r;
}

/* 'O' or 'N' when path holds SIZE bytes all of that value, 0 when absent,
 * '?' for anything else (a partial or mixed file). */
static int content(const char *path)
{
	static unsigned char buf[SIZE + 1];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (n != SIZE || (buf[0] != 'O' && buf[0] != 'N'))
		return '?';
	for (size_t i = 1; i < n; i++)
		if (buf[i] != buf[0])
			return '?';
	return buf[0];
}

static int stop_at;

static void kill_hook(int step, const char *path, void *arg)
{
	(void)path;
	(void)arg;
	if (step == stop_at)
		raise(SIGKILL);
}

/* Run one writer in a child stopped at step stop (0: never; -1: half-way
 * through writing tmp).  Returns the child's wait status. */
static int run_writer(const char *tmp, const char *path, int stop)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		stop_at = stop;
		fsx_set_hook(kill_hook, NULL);
		if (write_file(tmp, 'N', stop < 0 ? SIZE / 2 : SIZE) < 0)
			_exit(3);
		if (stop < 0)
			raise(SIGKILL);
		_exit(fsx_replace(tmp, path, NULL, 0) == 0 ? 0 : 4);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return status;
}

static void crash_between_steps(int with_old)
{
	for (int stop = -1; stop <= FSX_DIR_SYNCED; stop++) {
		char dir[600], path[700], tmp[720];
		int st, got, want_new = stop == 0 || stop >= FSX_RENAMED, removed;

		snprintf(dir, sizeof dir, "%s/crash%d_%d", test_tmpdir(), with_old, stop + 1);
		mkdir(dir, 0755);
		snprintf(path, sizeof path, "%s/image.fits", dir);
		snprintf(tmp, sizeof tmp, "%s.tmp%d", path, 4242);
		if (with_old)
			CHECK(write_file(path, 'O', SIZE) == 0);
		st = run_writer(tmp, path, stop);
		if (stop == 0)
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
		else
			CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "stop %d: status %#x", stop,
			      st);
		got = content(path);
		printf("# %s product, killed %-10s: product %s, temporary %s\n",
		       with_old ? "old" : "no", stop < 0 ? "mid-write" : stop ? fsx_step_name(stop)
									: "(never)",
		       got == 'N' ? "new" : got == 'O' ? "old" : got ? "PARTIAL" : "absent",
		       access(tmp, F_OK) == 0 ? "left" : "none");
		CHECK(got != '?', "stop %d: a partial product", stop);
		if (want_new)
			CHECK(got == 'N', "stop %d: expected the new product, got %c", stop, got);
		else
			CHECK(got == (with_old ? 'O' : 0), "stop %d: expected the %s, got %c", stop,
			      with_old ? "old product" : "absence", got);
		/* Before the rename the crash leaves its temporary; the next run's
		 * cleaning removes exactly it and never the product. */
		removed = fsx_remove_temporaries(dir, NULL);
		CHECK(removed == (want_new ? 0 : 1), "stop %d: removed %d", stop, removed);
		CHECK(access(tmp, F_OK) != 0);
		CHECK(content(path) == got);
	}
}

static void test_crash_over_old_product(void)
{
	crash_between_steps(1);
}

static void test_crash_first_product(void)
{
	crash_between_steps(0);
}

static int order[8], norder;

static void record_hook(int step, const char *path, void *arg)
{
	(void)path;
	(void)arg;
	if (norder < 8)
		order[norder++] = step;
}

static void test_steps_and_errors(void)
{
	char path[700], tmp[720], err[256] = "";

	snprintf(path, sizeof path, "%s/steps.svg", test_tmpdir());
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	CHECK(write_file(tmp, 'N', SIZE) == 0);
	fsx_set_hook(record_hook, NULL);
	CHECK_OK(fsx_replace(tmp, path, err, sizeof err), err);
	fsx_set_hook(NULL, NULL);
	CHECK(norder == 4 && order[0] == FSX_WRITTEN && order[1] == FSX_SYNCED &&
	      order[2] == FSX_RENAMED && order[3] == FSX_DIR_SYNCED, "%d steps", norder);
	CHECK(content(path) == 'N');
	for (int s = FSX_WRITTEN; s <= FSX_DIR_SYNCED; s++)
		CHECK(fsx_step_parse(fsx_step_name(s)) == s);
	CHECK(fsx_step_parse("rename") == -EINVAL && fsx_step_name(0) == NULL);

	/* A missing temporary, a target directory that does not exist: an
	 * error naming the path, and nothing left behind. */
	CHECK(fsx_replace(tmp, path, err, sizeof err) == -ENOENT);
	CHECK(strstr(err, "fsync") != NULL, "%s", err);
	CHECK(write_file(tmp, 'N', 10) == 0);
	char bad[800];
	snprintf(bad, sizeof bad, "%s/no/such/dir/x.fits", test_tmpdir());
	CHECK(fsx_replace(tmp, bad, err, sizeof err) == -ENOENT);
	CHECK(strstr(err, "rename") != NULL, "%s", err);
	CHECK(access(tmp, F_OK) != 0, "the temporary was removed");
	CHECK(fsx_sync_parent("relative-name") == 0);
	CHECK(fsx_sync_file("/no/such/file") == -ENOENT);
}

static void test_remove_temporaries(void)
{
	char dir[600], p[800];
	const char *temps[] = { "image.fits.tmp123", "G1.uvh5.tmp", "G1_3C286_B.h5.tmp" };
	const char *keep[] = { "image.fits", "a.tmpx", "b.tmp12a", "tmp", "G2_3C286_B.h5.tmp" };

	snprintf(dir, sizeof dir, "%s/clean", test_tmpdir());
	mkdir(dir, 0755);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, temps[i]);
		CHECK(write_file(p, 'N', 1) == 0);
	}
	for (size_t i = 0; i < 5; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
		CHECK(write_file(p, 'N', 1) == 0);
	}
	snprintf(p, sizeof p, "%s/sub.tmp", dir); /* a directory is never removed */
	mkdir(p, 0755);
	CHECK(fsx_remove_temporaries(dir, "G1_") == 1);
	snprintf(p, sizeof p, "%s/G2_3C286_B.h5.tmp", dir);
	CHECK(access(p, F_OK) == 0, "another group's temporary is kept");
	unlink(p);
	int n = fsx_remove_temporaries(dir, NULL);
	printf("# removed %d temporaries (want 2), kept 4 files and a directory\n", n);
	CHECK(n == 2);
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
		CHECK(access(p, F_OK) == 0, "%s kept", keep[i]);
	}
	snprintf(p, sizeof p, "%s/sub.tmp", dir);
	CHECK(access(p, F_OK) == 0);
	snprintf(p, sizeof p, "%s/none", dir);
	CHECK(fsx_remove_temporaries(p, NULL) == -ENOENT);
}

/* The system calls, seen by strace: fsync of the temporary, then the rename,
 * then fsync of an O_DIRECTORY descriptor of the product's directory. */
static void test_syscall_order(void)
{
	char path[700], tmp[720], log[720], cmd[3000], line[1200];
	int fd_tmp = -1, fd_dir = -1, seen_sync = 0, seen_rename = 0, seen_dirsync = 0, bad = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/traced.fits", test_tmpdir());
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	snprintf(log, sizeof log, "%s/strace.log", test_tmpdir());
	CHECK(write_file(tmp, 'N', SIZE) == 0);
	snprintf(cmd, sizeof cmd,
		 "FSX_TRACE_CHILD=1 ASAN_OPTIONS=detect_leaks=0 strace -qq -e trace=openat,fsync,rename,renameat,renameat2 "
		 "-o '%s' /proc/%ld/exe '%s' '%s' 2>/dev/null", log, (long)getpid(), tmp, path);
	CHECK(system(cmd) == 0, "%s", cmd);
	f = fopen(log, "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof line, f)) {
		int fd;
		char *eq = strrchr(line, '=');
		if (!strncmp(line, "openat(", 7) && eq && sscanf(eq + 1, "%d", &fd) == 1 && fd >= 0) {
			if (strstr(line, tmp))
				fd_tmp = fd;
			else if (strstr(line, "O_DIRECTORY") && strstr(line, test_tmpdir()))
				fd_dir = fd;
		} else if (!strncmp(line, "fsync(", 6) && sscanf(line + 6, "%d", &fd) == 1) {
			if (fd == fd_tmp && !seen_rename)
				seen_sync = 1;
			else if (fd == fd_dir && seen_rename)
				seen_dirsync = 1;
			else
				bad++;
		} else if (strstr(line, "rename") && strstr(line, path)) {
			seen_rename = seen_sync;
			if (!seen_sync)
				bad++;
		}
	}
	if (f)
		fclose(f);
	printf("# strace: fsync(tmp) %d, then rename %d, then fsync(dir) %d, out of order %d\n",
	       seen_sync, seen_rename, seen_dirsync, bad);
	CHECK(seen_sync && seen_rename && seen_dirsync && !bad);
	CHECK(content(path) == 'N');
}

int main(int argc, char **argv)
{
	if (getenv("FSX_TRACE_CHILD") && argc == 3)
		return fsx_replace(argv[1], argv[2], NULL, 0) == 0 ? 0 : 1;
	RUN(test_crash_over_old_product);
	RUN(test_crash_first_product);
	RUN(test_steps_and_errors);
	RUN(test_remove_temporaries);
	if (system("strace -V >/dev/null 2>&1") == 0)
		RUN(test_syscall_order);
	else
		printf("ok - test_fsx.c:test_syscall_order # SKIP strace not installed\n");
	return TEST_DONE();
}
