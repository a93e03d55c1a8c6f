# evbus: one non-recursive Makefile.
#
#   make                build everything
#   make check          install missing build/test packages, build, run every test
#   make demo           install missing packages, build, run a real pipeline
#   make lint           mandoc -Tlint the man pages
#   make fuzz           build the libFuzzer targets (clang) and run each briefly
#   make bench          the side-by-side benchmarks (see bench/README)
#   make bench-store    evstore beside SQLite (bench/store.sh)
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

PROGS	= evbusd evfire evsub evstore
O	?= build

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
PKGS	 = jansson libbsd-overlay
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# jansson, libbsd and libmd are linked statically when their archives are
# there (STATIC_DEPS=0 to link them shared): a short-lived evfire then maps
# one library less per dependency, which is most of its start-up time.
STATIC_DEPS ?= 1
ifeq ($(STATIC_DEPS),1)
PKG_LIBS = -Wl,-Bstatic $(shell $(PKG_CONFIG) --static --libs $(PKGS) \
	   2>/dev/null) -Wl,-Bdynamic
else
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
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

UNIT_SRC = $(sort $(wildcard test/unit/t_*.c))
UNIT_BIN = $(UNIT_SRC:test/unit/%.c=$(O)/test/%)
FUZZ_SRC = $(sort $(wildcard test/fuzz/fuzz_*.c))

MAN	= $(sort $(wildcard man/man1/*.1 man/man7/*.7 man/man8/*.8))

BIN	= $(PROGS:%=$(O)/bin/%)

.PHONY: all check test unit bats lint demo bench bench-store fuzz deps \
	install uninstall clean

all: $(BIN) $(UNIT_BIN)

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

bench-store:
	@sh mk/deps.sh build bench
	@$(MAKE) --no-print-directory $(BIN) $(O)/bench/store_sqlite
	@EV_STORE_SQLITE=$(O)/bench/store_sqlite sh bench/store.sh $(O)/bin

fuzz:
	@sh mk/fuzz.sh $(FUZZ_SRC)

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

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(BINDIR)/$$p; done
	for m in $(MAN); do \
		rm -f $(DESTDIR)$(MANDIR)/$$(basename $$(dirname $$m))/$$(basename $$m); \
	done
	for p in $(PROGS); do \
		rm -f $(DESTDIR)$(DATADIR)/bash-completion/completions/$$p; \
	done
	rm -f $(DESTDIR)$(PREFIX)/lib/systemd/user/evbusd.service

clean:
	rm -rf $(O) build-*
