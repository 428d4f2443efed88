# crisp: one Makefile for the whole suite.
#   make setup       install Debian packages (deps/debian-packages.txt) and the
#                    crisp system user; as root, idempotent
#   make             build everything into build/
#   make SANITIZE=1  the same with ASan+UBSan (into build/ too: run `make clean` between)
#   make check       unit tests, proto check, policy checks, integration tests
#   make install     install binaries and systemd units under $(PREFIX)
#   make conformance KIT=DIR  critest from a conformance kit against a suite

VERSION    := 0.1.0
PREFIX     ?= /usr/local
LIBEXECDIR ?= $(PREFIX)/libexec/crisp
BINDIR     ?= $(PREFIX)/bin
UNITDIR    ?= /etc/systemd/system
B          := build
PKGS       := grpc libcrypto libprotobuf-c libcap libseccomp sqlite3 inih json-c libcurl libarchive libselinux zlib libzstd
PYTHON     := /usr/bin/python3

CC         ?= cc
CFLAGS     ?= -O2 -g
CFLAGS     += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
              -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE \
              -DCRISP_VERSION='"$(VERSION)"' -I. -I$(B)/gen -MMD -MP
LDFLAGS    += -pie -Wl,-z,relro,-z,now -Wl,--as-needed
ifeq ($(SANITIZE),1)
CFLAGS     += -fsanitize=address,undefined -fno-omit-frame-pointer -DCRISP_SANITIZE=1
LDFLAGS    += -fsanitize=address,undefined
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

PROTOS     := cri crisp
GEN_C      := $(PROTOS:%=$(B)/gen/%.pb-c.c)
GEN_H      := $(PROTOS:%=$(B)/gen/%.pb-c.h)
GEN_O      := $(PROTOS:%=$(B)/obj/gen/%.pb-c.o)

COMMON_O   := $(patsubst %.c,$(B)/obj/%.o,$(wildcard common/*.c)) $(GEN_O)
DAEMONS    := criserver imaged sandboxd streamd conmon
TOOLS      := crisp-up crispctl
PROGS      := $(DAEMONS) $(TOOLS)
# small programs that live in a daemon's folder: build/NAME from DIR
# (pod-init: the process that holds a pod's shared PID namespace)
HELPERS    := pod-init
pod-init_DIR := sandboxd/pod-init
HELPER_DIRS := $(foreach h,$(HELPERS),$($(h)_DIR))
# a program's sources: the .c files of its folder and of its subfolders,
# but not those of a helper that lives there
src_of     = $(filter-out $(HELPER_DIRS:%=%/%),$(wildcard $(1)/*.c $(1)/*/*.c))
UNIT_O     := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/unit/*.c))
# the unit tests link every daemon module but the mains, and crispctl's (its
# CRI log reading, options and output: tests/unit/test_crispctl_*.c)
MODULE_O   := $(patsubst %.c,$(B)/obj/%.o,$(filter-out %/main.c,$(foreach d,$(DAEMONS) crispctl,$(call src_of,$(d)))))

all: $(PROGS:%=$(B)/%) $(HELPERS:%=$(B)/%) $(B)/tests/unit $(B)/tests/cni-driver $(B)/systemd/.done

.PHONY: all setup check check-unit check-proto check-policy check-integration install clean bench \
	conformance

setup:
	sh scripts/setup.sh

$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -Iproto $<

$(B)/obj/gen/%.o: $(B)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Wno-error -c -o $@ $<

# header dependencies come from -MMD (the .d files beside the objects);
# every object waits for the generated headers
$(B)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

$(B)/libcommon.a: $(COMMON_O)
	rm -f $@ && ar rcs $@ $^

# the objects of one program: every .c in its folder and subfolders ($(1))
prog_objs = $(patsubst %.c,$(B)/obj/%.o,$(call src_of,$(1)))

.SECONDARY:
.SECONDEXPANSION:
$(PROGS:%=$(B)/%): $(B)/%: $$(call prog_objs,$$*) $(B)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libcommon.a $(PKG_LIBS)

# conmon runs once per container, as long as the container: it is linked
# static-pie (glibc, libcap and libseccomp from their Debian -dev packages'
# .a), which halves its resident size (VmRSS about 0.9 MiB against 1.7 MiB
# dynamic: no ld.so, no shared library pages). ld warns that privdrop's
# getpwnam_r and getgrouplist would need glibc's NSS modules at run time:
# conmon never names a user (it stays uid 0), so they are never called.
# The sanitizer build links it dynamically (ASan has no static runtime).
ifneq ($(SANITIZE),1)
$(B)/conmon: LDFLAGS := -static-pie -Wl,-z,relro,-z,now
$(B)/conmon: PKG_LIBS := -lcap -lseccomp
endif

helper_objs = $(patsubst %.c,$(B)/obj/%.o,$(wildcard $($(1)_DIR)/*.c))
$(HELPERS:%=$(B)/%): $(B)/%: $$(call helper_objs,$$*) $(B)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libcommon.a $(PKG_LIBS)

$(B)/tests/unit: $(UNIT_O) $(MODULE_O) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_O) $(MODULE_O) $(B)/libcommon.a $(PKG_LIBS)

# test-only: sandboxd/cni driven by tests/integration/test_cni.py (never installed)
CNI_DRIVER_O := $(B)/obj/tests/drivers/cni_driver.o $(patsubst %.c,$(B)/obj/%.o,$(wildcard sandboxd/cni/*.c))
$(B)/tests/cni-driver: $(CNI_DRIVER_O) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CNI_DRIVER_O) $(B)/libcommon.a $(PKG_LIBS)

# systemd units, with the install paths filled in (checked by systemd-analyze).
$(B)/systemd/.done: $(wildcard systemd/*.in)
	@mkdir -p $(B)/systemd
	for f in $^; do sed -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	  $$f > $(B)/systemd/$$(basename $$f .in); done
	touch $@

check: all
	sh scripts/check.sh

check-unit: all
	$(B)/tests/unit

check-proto: all
	$(PYTHON) -m pytest -q tests/integration/test_proto.py

check-policy: all
	sh scripts/check-policy.sh

check-integration: all
	$(PYTHON) -m pytest -q tests/integration

install: all
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(DAEMONS:%=$(B)/%) $(HELPERS:%=$(B)/%) $(B)/crisp-up $(DESTDIR)$(LIBEXECDIR)/
	install -m 0755 $(B)/crispctl $(DESTDIR)$(BINDIR)/
	ln -sf $(LIBEXECDIR)/crisp-up $(DESTDIR)$(BINDIR)/crisp-up
	install -m 0644 $(B)/systemd/*.service $(B)/systemd/*.target $(DESTDIR)$(UNITDIR)/

bench: all
	sh scripts/bench.sh

# the Kubernetes CRI validation suite (critest) from a conformance kit:
#   make conformance KIT=../shared/conformance [FOCUS=regex]
conformance: all
	KIT=$(KIT) sh scripts/conformance.sh $(if $(FOCUS),--ginkgo.focus='$(FOCUS)')

clean:
	rm -rf $(B)
