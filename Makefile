# evbus: one non-recursive Makefile.
#
#   make                build everything
#   make check          install missing build/test packages, build, run every
#                       test: unit tests, fuzz corpus replays, bats suites
#   make demo           install missing packages, build, run a real pipeline
#   make replay         run every fuzz target on its corpus (no clang needed)
#   make lint           mandoc -Tlint the man pages
#   make fuzz           build the libFuzzer targets (clang) into build-fuzz/ and
#                       run each for FUZZ_SECONDS seconds (default 20); a crash
#                       is kept as build-fuzz/NAME-crash-*: add it to
#                       test/fuzz/corpus/NAME/ so that the replay keeps it;
#                       then filters of random seeds against jq, as long
#   make bench          the side-by-side benchmarks (see bench/README)
#   make bench-store    evstore beside SQLite (bench/store.sh), and
#                       evbusd --store beside evbusd (bench/bus-store.sh)
#   make torture        the long versions of the crash tests: kill -9 over
#                       TORTURE_ROUNDS rounds (default 200), every byte of
#                       the last 4 records, bit flips across a segment
#   make bench-evlist   how soon a blocked evlist wakes (bench/evlist.sh)
#   make install        PREFIX=/usr/local DESTDIR=
#
# WERROR=1 adds -Werror; SANITIZE=address,undefined builds with sanitizers;
# EV_VALGRIND=1 runs the tests under valgrind.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
DATADIR	?= $(PREFIX)/share
PKG_CONFIG ?= pkg-config
CC	?= cc
CFLAGS	?= -O2 -g

PROGS	= evbusd evfire evsub evstore evlist evroute
O	?= build
FUZZ_SECONDS ?= 20

WARN	= -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
	  -Wmissing-prototypes -Wpointer-arith -Wcast-qual \
	  -Wimplicit-fallthrough
ifeq ($(WERROR),1)
WARN	+= -Werror
endif
ifneq ($(SANITIZE),)
SANFLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
endif

# Lazily expanded so that "make check" may install pkg-config first.
PKGS	 = jansson libbsd-overlay libmd oniguruma
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# jansson, libbsd and libmd are linked statically when their archives are
# there (STATIC_DEPS=0 to link them shared): a short-lived evfire then maps
# one library less per dependency, which is most of its start-up time.
# Oniguruma (test() in lib/expr.c) has no archive in Debian: it is linked
# shared, and --as-needed keeps it out of the programs that never match a
# regex.  libonig also defines the POSIX regcomp/regexec names: libc is
# named before it, so that targeting's POSIX regexes bind to libc's.
STATIC_DEPS ?= 1
ifeq ($(STATIC_DEPS),1)
PKG_LIBS = -Wl,-Bstatic $(shell $(PKG_CONFIG) --static --libs \
	   jansson libbsd-overlay 2>/dev/null) -Wl,-Bdynamic \
	   -Wl,--as-needed -lc $(shell $(PKG_CONFIG) --libs oniguruma \
	   2>/dev/null) -Wl,--no-as-needed
else
PKG_LIBS = -Wl,--as-needed -lc $(shell $(PKG_CONFIG) --libs $(PKGS) \
	   2>/dev/null) -Wl,--no-as-needed
endif

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(SANFLAGS) -Ilib \
	     $(PKG_CFLAGS) $(CFLAGS) $(CPPFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
LIBS	= $(PKG_LIBS)

LIB_SRC	= $(sort $(wildcard lib/*.c))
LIB_OBJ	= $(LIB_SRC:%.c=$(O)/%.o)
LIBEVBUS = $(O)/libevbus.a

evbusd_SRC = $(sort $(wildcard cmd/evbusd/*.c))
evfire_SRC = $(sort $(wildcard cmd/evfire/*.c))
evsub_SRC  = $(sort $(wildcard cmd/evsub/*.c))
evstore_SRC = $(sort $(wildcard cmd/evstore/*.c))
evroute_SRC = $(sort $(wildcard cmd/evroute/*.c))
evlist_SRC = $(sort $(wildcard cmd/evlist/*.c))

UNIT_SRC = $(sort $(wildcard test/unit/t_*.c))
UNIT_BIN = $(UNIT_SRC:test/unit/%.c=$(O)/test/%)
# Test drivers built like the unit tests but not run as such.
TOOL_BIN = $(O)/test/exprcheck
FUZZ_SRC = $(sort $(wildcard test/fuzz/fuzz_*.c))
# Each fuzz target linked with test/fuzz/replay.c instead of libFuzzer: it
# runs the target on its checked-in corpus, test/fuzz/corpus/NAME.
FUZZ_BIN = $(FUZZ_SRC:test/fuzz/%.c=$(O)/test/%)

MAN	= $(sort $(wildcard man/man1/*.1 man/man7/*.7 man/man8/*.8))

BIN	= $(PROGS:%=$(O)/bin/%)

.PHONY: all check test unit replay bats lint demo bench bench-store fuzz deps \
	torture install uninstall clean bench-evlist

all: $(BIN) $(UNIT_BIN) $(FUZZ_BIN) $(TOOL_BIN)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(O) -name '*.d' 2>/dev/null)

$(LIBEVBUS): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

define prog_rule
$(O)/bin/$(1): $$(addprefix $(O)/,$$($(1)_SRC:.c=.o)) $(LIBEVBUS)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIBEVBUS) $$(LIBS)
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

$(O)/test/%: $(O)/test/unit/%.o $(LIBEVBUS)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBEVBUS) $(LIBS)

$(FUZZ_BIN): $(O)/test/%: $(O)/test/fuzz/%.o $(O)/test/fuzz/replay.o \
	    $(LIBEVBUS)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIBEVBUS) $(LIBS)

deps:
	@sh mk/deps.sh build test

# The unit tests and the bats suites print TAP; mk/summary turns it into
# "N passed, N failed" and fails when anything failed.
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test

test: all
	@sh mk/runtests.sh $(O)

unit: $(UNIT_BIN)
	@sh mk/runtests.sh $(O) unit

replay: $(FUZZ_BIN)
	@sh mk/runtests.sh $(O) fuzz

bats: $(BIN)
	@sh mk/runtests.sh $(O) bats

lint:
	mandoc -Tlint -Wwarning $(MAN)

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	@sh mk/demo.sh $(O)/bin

bench: deps
	@$(MAKE) --no-print-directory $(BIN)
	@sh bench/run.sh $(O)/bin

# SQLite's side of bench/store.sh (libsqlite3-dev, in mk/deps.sh bench).
$(O)/bench/store_sqlite: bench/store_sqlite.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lsqlite3

# evlist's wake-up latency and listing time (bench/evlist.sh).
bench-evlist:
	@$(MAKE) --no-print-directory $(BIN)
	@bash bench/evlist.sh $(O)/bin

bench-store:
	@sh mk/deps.sh build bench
	@$(MAKE) --no-print-directory $(BIN) $(O)/bench/store_sqlite
	@EV_STORE_SQLITE=$(O)/bench/store_sqlite sh bench/store.sh $(O)/bin
	@sh bench/bus-store.sh $(O)/bin

fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh mk/fuzz.sh $(FUZZ_SRC)
	@$(MAKE) --no-print-directory $(BIN) $(TOOL_BIN)
	@EV_EXPR_FUZZ_SECONDS=$(FUZZ_SECONDS) EVBUS_BIN=$(abspath $(O)/bin) \
	    PATH=$(abspath $(O)/bin):$$PATH bats -f 'random seeds' \
	    test/60-expr-jq.bats

# The crash tests' long versions: kill -9 of evbusd (with and without
# --store), of evstore and of evsub over many more rounds than make check
# runs, more bytes cut and more bits flipped (EVBUS_TORTURE=1).  Minutes, not seconds.
TORTURE_ROUNDS ?= 200
TORTURE_SUITES ?= test/35-evsub-cursor.bats test/45-restart.bats \
	test/47-store.bats test/70-evstore.bats
.PHONY: torture
torture: $(BIN)
	@EVBUS_TORTURE=1 EVBUS_TORTURE_ROUNDS=$(TORTURE_ROUNDS) \
	    EV_RESTART_ROUNDS=$(TORTURE_ROUNDS) EV_STORE_ROUNDS=$(TORTURE_ROUNDS) \
	    EV_STORE_BUS_ROUNDS=$(TORTURE_ROUNDS) \
	    EVBUS_BIN=$(abspath $(O)/bin) PATH=$(abspath $(O)/bin):$$PATH \
	    bats $(if $(TORTURE_FILTER),-f '$(TORTURE_FILTER)') $(TORTURE_SUITES)

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)
	for m in $(MAN); do \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/$$(basename $$(dirname $$m))/ || exit 1; \
	done
	install -d $(DESTDIR)$(DATADIR)/bash-completion/completions \
	    $(DESTDIR)$(PREFIX)/lib/systemd/user
	for p in $(PROGS); do \
		install -m 644 share/bash-completion/evbus \
		    $(DESTDIR)$(DATADIR)/bash-completion/completions/$$p || exit 1; \
	done
	sed 's|^ExecStart=evbusd|ExecStart=$(BINDIR)/evbusd|' share/systemd/evbusd.service \
	    >$(DESTDIR)$(PREFIX)/lib/systemd/user/evbusd.service
	# The shared bus (evbusd -A, --group): a system unit and its example ACL.
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system \
	    $(DESTDIR)$(DATADIR)/doc/evbus/examples
	sed 's|^\(Exec[A-Za-z]*=\)evbusd|\1$(BINDIR)/evbusd|' \
	    share/systemd/evbusd-shared.service \
	    >$(DESTDIR)$(PREFIX)/lib/systemd/system/evbusd-shared.service
	install -m 644 share/examples/acl.conf \
	    $(DESTDIR)$(DATADIR)/doc/evbus/examples/acl.conf

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(BINDIR)/$$p; done
	for m in $(MAN); do \
		rm -f $(DESTDIR)$(MANDIR)/$$(basename $$(dirname $$m))/$$(basename $$m); \
	done
	for p in $(PROGS); do \
		rm -f $(DESTDIR)$(DATADIR)/bash-completion/completions/$$p; \
	done
	rm -f $(DESTDIR)$(PREFIX)/lib/systemd/user/evbusd.service
	rm -f $(DESTDIR)$(PREFIX)/lib/systemd/system/evbusd-shared.service \
	    $(DESTDIR)$(DATADIR)/doc/evbus/examples/acl.conf

clean:
	rm -rf $(O) build-*
