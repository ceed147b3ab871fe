/*
 * tests/daemon/test_util.c — daemon/util.h: util_iso_utc, the one ISO 8601
 * stamp the CLI and contimg-web print (against dates worked out by hand from
 * the Unix epoch), and that a buffer too short for it gets "".
 */
#include "tests/test.h"

#include "daemon/util.h"

static void test_iso_utc(void)
{
	char buf[32];

	util_iso_utc(0, buf, sizeof buf);
	CHECK(!strcmp(buf, "1970-01-01T00:00:00Z"), "%s", buf);
	/* 1700000000 s = 19675 days + 80000 s: 2023-11-14, 22:13:20; the
	 * fraction is dropped, never rounded up. */
	util_iso_utc(1700000000.999, buf, sizeof buf);
	CHECK(!strcmp(buf, "2023-11-14T22:13:20Z"), "%s", buf);
	/* 2024 is a leap year: day 59 after 1 January is 29 February. */
	util_iso_utc(1704067200.0 + 59 * 86400.0 + 3599, buf, sizeof buf);
	CHECK(!strcmp(buf, "2024-02-29T00:59:59Z"), "%s", buf);
	/* 20 characters need 21 bytes. */
	util_iso_utc(0, buf, 20);
	CHECK(buf[0] == 0, "%s", buf);
	util_iso_utc(0, buf, 21);
	CHECK(!strcmp(buf, "1970-01-01T00:00:00Z"), "%s", buf);
}

int main(void)
{
	RUN(test_iso_utc);
	return TEST_DONE();
}
