# contimg — plain GNU Makefile.  See README.md and docs/dependencies.md.
#
#   make            build bin/contimgd bin/contimgctl bin/contimg-sim bin/contimg-web
#   make test       deps (+ the tests' wsclean, casacore) + build + unit tests +
#                   integration tests + ASan/UBSan unit tests and programs (a few
#                   daemon integration tests run with them) + fuzz (FUZZ_SECONDS=30)
#   make run        deps + build + demo (simulate, run the daemon, show products)
#   make bench      full-size timing table
#   make bench-wsclean  the same, plus WSClean on the field group (installs wsclean)
#   make bench-subband  the image stage with and without sub-band images, alternately
#   make asan       sanitizer build of the unit tests and programs (build-asan/,
#                   build-asan/bin/)
#   make install    PREFIX=/usr/local DESTDIR=
#
# B= selects the build directory (default build); helpers building in parallel
# use their own (make B=build-x).  BIN_DIR= where the programs go (default bin).

B        ?= build
BIN_DIR  ?= bin
FUZZ_SECONDS ?= 30
# `make test` builds both builds with this many compilers at once (unless
# make itself was given -j) and tests/run.sh runs this many tests at once.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
ASAN_OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
PKGS     := libuv hdf5 cfitsio fftw3f fftw3 sqlite3 wcslib libsystemd erfa json-c inih cairo fontconfig
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2 -march=x86-64-v2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 -Wall -Wextra -fopenmp -pthread -I. $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lfftw3f_threads -lfftw3_threads -fopenmp -pthread -lm

# Library sources: every .c in the stage and ground directories.
LIB_DIRS := core state calib imaging photometry plot
LIB_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
LIB      := $(B)/libcontimg.a

# Programs: daemon/contimgd.c, daemon/contimgctl.c, daemon/contimg-sim.c are mains;
# every other daemon/*.c is shared by them.
MAINS    := daemon/contimgd.c daemon/contimgctl.c daemon/contimg-sim.c daemon/contimg-web.c
# contimg-web's own objects (libmicrohttpd, the embedded page): only it links them.
WEB_SRC  := daemon/web.c daemon/web_assets.c
WEB_OBJ  := $(WEB_SRC:%.c=$(B)/%.o)
WEB_ASSETS := daemon/web/index.html daemon/web/app.js daemon/web/style.css
WEB_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
WEB_LIBS   := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
DAEMON_SRC := $(filter-out $(MAINS) $(WEB_SRC),$(wildcard daemon/*.c))
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(B)/%.o)
BINS     := $(BIN_DIR)/contimgd $(BIN_DIR)/contimgctl $(BIN_DIR)/contimg-sim $(BIN_DIR)/contimg-web
# The mains' objects are intermediates of the bin/% pattern; keep them, or
# every build recompiles them.
.SECONDARY: $(MAINS:%.c=$(B)/%.o)

# Unit tests: tests/<dir>/test_*.c, one binary each.
TEST_SRC := $(wildcard tests/*/test_*.c)
TEST_BIN := $(TEST_SRC:%.c=$(B)/%)
# Helpers of the integration tests and benchmarks that need the library.
TOOL_BIN := $(B)/tests/integration/truthcheck $(B)/tests/bench_convert \
	$(B)/tests/integration/alertsim

DEPS_PKGS := build-essential pkg-config libuv1-dev libhdf5-dev hdf5-plugin-lzf hdf5-tools \
	libcfitsio-dev libfftw3-dev libsqlite3-dev sqlite3 wcslib-dev wcslib-tools libsystemd-dev \
	liberfa-dev libjson-c-dev libinih-dev fitsverify systemd libmicrohttpd-dev \
	libcairo2-dev libfontconfig-dev fonts-dejavu-core \
	python3-numpy python3-h5py python3-erfa
# For the tests only (the pipeline needs none of them): WSClean 3.1 and
# casacore are the sign authority of tests/integration/test_wsclean_oracle.sh;
# clang with libFuzzer runs the fuzz harness, strace checks the order of the
# fsyncs (tests/core/test_fsx.c).
# chromium, chromium-driver and python3-selenium load contimg-web's page in
# tests/integration/test_web_page.sh; python3-pil draws the fixture's quick-look
# picture (tests/integration/web_fixture.inc).
TEST_DEPS_PKGS := wsclean python3-casacore python3-astropy clang-14 libclang-rt-14-dev strace \
	chromium chromium-driver python3-selenium python3-pil libxml2-utils \
	prometheus
# prometheus: promtool checks the metrics exposition (tests/integration/test_metrics.sh).

.PHONY: FORCE all deps deps-test test unit integration asan run bench bench-wsclean bench-subband clean install fuzz
all: $(BINS)

deps:
	@sh tests/deps.sh $(DEPS_PKGS)

deps-test:
	@sh tests/deps.sh $(DEPS_PKGS) $(TEST_DEPS_PKGS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# The version the programs print (--version) and exported files name in their
# history (core/version.h).  $(B)/version changes only when `git describe`
# does, so core/version.o is rebuilt exactly then.
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(B)/version: FORCE
	@mkdir -p $(dir $@)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' >$@
$(B)/core/version.o: $(B)/version
$(B)/core/version.o: CFLAGS += -DCONTIMG_VERSION='"$(VERSION)"'
FORCE:

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BIN_DIR)/%: $(B)/daemon/%.o $(DAEMON_OBJ) $(LIB)
	@mkdir -p $(BIN_DIR)
	$(CC) $(CFLAGS) -o $@ $< $(DAEMON_OBJ) $(LIB) $(LDLIBS)

$(B)/daemon/web.o $(B)/daemon/contimg-web.o: CFLAGS += $(WEB_CFLAGS)
# .incbin is invisible to -MMD: the page's files are listed here.
$(B)/daemon/web_assets.o: $(WEB_ASSETS)

$(BIN_DIR)/contimg-web: $(B)/daemon/contimg-web.o $(WEB_OBJ) $(DAEMON_OBJ) $(LIB)
	@mkdir -p $(BIN_DIR)
	$(CC) $(CFLAGS) -o $@ $< $(WEB_OBJ) $(DAEMON_OBJ) $(LIB) $(WEB_LIBS) $(LDLIBS)

$(B)/tests/%: tests/%.c tests/test.h $(DAEMON_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(DAEMON_OBJ) $(LIB) $(LDLIBS)

unit: $(TEST_BIN) $(TOOL_BIN)

test: deps-test
	@$(MAKE) --no-print-directory $(if $(findstring j,$(MAKEFLAGS)),,-j$(TEST_JOBS)) all unit
	@$(MAKE) --no-print-directory $(if $(findstring j,$(MAKEFLAGS)),,-j$(TEST_JOBS)) \
		B=build-asan BIN_DIR=build-asan/bin OPT="$(ASAN_OPT)" all unit
	@FUZZ_SECONDS=$(FUZZ_SECONDS) TEST_JOBS=$(TEST_JOBS) sh tests/run.sh $(B) build-asan

asan:
	$(MAKE) B=build-asan BIN_DIR=build-asan/bin OPT="$(ASAN_OPT)" all unit

run: deps
	@$(MAKE) --no-print-directory all
	@sh tests/demo.sh

bench: all $(B)/tests/bench_convert $(B)/tests/photometry/test_stage_photometry
	@B=$(B) sh tests/bench.sh

bench-wsclean: all $(B)/tests/bench_convert
	@B=$(B) BENCH_WSCLEAN=1 sh tests/bench.sh

bench-subband: all
	@sh tests/bench_subband.sh

fuzz:
	@sh tests/fuzz/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/contimg $(DESTDIR)/lib/systemd/system
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 ops/contimg.conf.example $(DESTDIR)/etc/contimg/contimg.conf.example
	sed 's|@BINDIR@|$(PREFIX)/bin|g' ops/contimgd.service > $(DESTDIR)/lib/systemd/system/contimgd.service
	sed 's|@BINDIR@|$(PREFIX)/bin|g' ops/contimg-web.service > $(DESTDIR)/lib/systemd/system/contimg-web.service
	@echo "Next: fit the unit to /etc/contimg/contimg.conf (docs/operations.md):"
	@echo "  mkdir -p /etc/systemd/system/contimgd.service.d"
	@echo "  $(PREFIX)/bin/contimgctl unit > /etc/systemd/system/contimgd.service.d/contimg.conf"
	@echo "  systemctl daemon-reload"

clean:
	rm -rf build build-* bin

-include $(LIB_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) $(WEB_OBJ:.o=.d) $(MAINS:%.c=$(B)/%.d) $(TEST_BIN:=.d) $(TOOL_BIN:=.d)


# The soak of issue 16 (not in `make test`; its 3-minute version is
# tests/integration/test_soak_short.sh): SOAK_GROUPS groups through contimgd
# under kill -9, SIGHUP, full disks, a held database lock and late, duplicate
# and half-written files; TAP checks, a summary, and the RSS and rescan curves
# in SOAK_CSV.  Needs root (tmpfs mounts).  docs/operations.md, "Soak".
SOAK_GROUPS ?= 2000
SOAK_CSV    ?= $(B)/soak_curves.csv
.PHONY: soak
soak: all
	@mkdir -p $(dir $(SOAK_CSV))
	@SOAK_GROUPS=$(SOAK_GROUPS) SOAK_CSV=$(abspath $(SOAK_CSV)) CONTIMG_BIN=$(abspath $(BIN_DIR)) \
		sh tests/soak/soak.sh
