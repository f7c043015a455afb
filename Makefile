# SPDX-License-Identifier: GPL-2.0
#
# vhost-blk: the in-kernel virtio-blk backend, its tooling and its tests.
#
#   make deps        install what the project needs (scripts/setup-host)
#   make             build the module for every kernel of the matrix, ctl/,
#                    the tests
#   make check       build, unit tests, kselftests in every kernel (the debug
#                    kernel included, built first if need be), style; FULL=1
#                    (what CI runs) adds what it leaves out to stay within 25
#                    minutes (Documentation/testing.rst)
#   make debug-kernel  build (once, into /var/cache/vhost-blk) the 6.12 debug
#                    kernel: KASAN, lockdep, kmemleak and the other detectors
#   make qemu        build (once, into /var/cache/vhost-blk) QEMU 10.0 with the
#                    vhost-blk-pci device (qemu/patches) from Debian's source,
#                    into build/qemu/qemu-system-x86_64
#   make vm-check    only the kselftests and rig self-tests, in VMs
#   make style       checkpatch --strict, sparse, clang-format
#   make demo        boot a VM, load the module, drive it with vhostctl
#   make demo-qemu   the same VM runs a nested QEMU both ways: stock QEMU
#                    behind vhostctl serve, and make qemu's vhost-blk-pci
#   make bench       vhost-blk against raw io_uring and qemu-storage-daemon
#   make soak        the hostile-input suites side by side for DURATION=10m
#   make install     the module (for KVER, default the running kernel), the
#                    udev rule, the uapi header and ctl/; DESTDIR, PREFIX
#   make dkms-install  register the source with DKMS and build it
#
# KVER=6.12 (6.1, 6.12-debug or a full release) limits the kernel matrix to
# one kernel.

TOP := $(CURDIR)
BUILD := $(TOP)/build
CACHE := $(BUILD)/cache
LINUX_SRC_TAR := /usr/src/linux-source-6.12.tar.xz
LINUX_SRC := $(CACHE)/linux-source-6.12
CHECKPATCH := $(LINUX_SRC)/scripts/checkpatch.pl
KSFT_INCLUDE := $(LINUX_SRC)/tools/testing/selftests

KVERS := $(shell $(TOP)/scripts/lib/matrix $(KVER) 2>/dev/null)
VERSION := $(shell $(TOP)/scripts/lib/version)
NPROC := $(shell nproc)

# Kernel sources the module is built from, for the style gates.
# Kernel C (the module and the rig's test modules) follows the kernel's style,
# checked by checkpatch; compat.h alone may test kernel versions.  Userspace
# C and C++ follow .clang-format.
ls_files = $(shell cd $(TOP) && git ls-files -co --exclude-standard -- $(1) 2>/dev/null)
KERNEL_SOURCES = $(filter-out kernel/vhost/compat.h,\
	$(call ls_files,'kernel/*.c' 'kernel/*.h' 'uapi/*.h' 'tests/rig/*.c'))
USER_SOURCES = $(filter-out tests/rig/%,\
	$(call ls_files,'ctl/*.cpp' 'ctl/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'tests/*.c' 'tests/*.h'))

# Userspace C and C++ compile through ccache when it is installed (make deps
# installs it), its cache kept with the other heavy artifacts (VHB_KCACHE)
# when that directory is writable: a fresh clone's build then takes seconds.
VHB_KCACHE ?= /var/cache/vhost-blk
CCACHE := $(shell command -v ccache 2>/dev/null)
ifneq ($(CCACHE),)
ifeq ($(origin CCACHE_DIR),undefined)
ifneq ($(shell test -w $(VHB_KCACHE) && echo y),)
export CCACHE_DIR := $(VHB_KCACHE)/ccache
endif
endif
endif

# The kernel build directory of a release: /lib/modules/RELEASE/build, or
# the debug kernel's tree in its cache (scripts/debug-kernel).
KDIR = $(shell $(TOP)/scripts/lib/kdir $(1))
KBUILD_ARGS = -C $(call KDIR,$(1)) M=$(BUILD)/$(1)/$(2) \
	VHB_VERSION=$(VERSION) CONFIG_DEBUG_INFO_BTF_MODULES=

all: modules ctl kselftest

# Every kernel builds in its own directory: a tree of symlinks to the sources,
# so objects of one kernel never mix with another's.
define kernel_tree
	@mkdir -p $(BUILD)/$(1)/$(2)
	@cp -rsf $(TOP)/$(2)/. $(BUILD)/$(1)/$(2)/
	@find -L $(BUILD)/$(1)/$(2) -type l -delete
endef

modules: $(addprefix module-,$(KVERS))
module-%: FORCE
	$(call kernel_tree,$*,kernel)
	$(MAKE) $(call KBUILD_ARGS,$*,kernel) modules

rig-modules: $(addprefix rig-module-,$(KVERS))
rig-module-%: FORCE
	$(call kernel_tree,$*,tests/rig)
	$(MAKE) $(call KBUILD_ARGS,$*,tests/rig) modules

ctl: FORCE
	cmake -S ctl -B $(BUILD)/ctl -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_COMPILER_LAUNCHER=$(CCACHE) -DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE) >/dev/null
	cmake --build $(BUILD)/ctl -j $(NPROC)

kselftest: $(CHECKPATCH) FORCE
	$(MAKE) -C tests/kselftest OUTPUT=$(BUILD)/tests/kselftest KSFT_INCLUDE=$(KSFT_INCLUDE) \
		$(if $(CCACHE),CC="$(CCACHE) $(CC)")

# checkpatch.pl (with its data files) and the kselftest harness headers come
# from Debian's linux-source-6.12; nothing of it is committed.
$(CHECKPATCH): $(LINUX_SRC_TAR)
	@echo "  EXTRACT checkpatch.pl and the kselftest harness from $(LINUX_SRC_TAR)"
	@mkdir -p $(CACHE)
	tar -xJf $(LINUX_SRC_TAR) -C $(CACHE) \
		linux-source-6.12/scripts/checkpatch.pl \
		linux-source-6.12/scripts/spelling.txt \
		linux-source-6.12/scripts/const_structs.checkpatch \
		linux-source-6.12/tools/testing/selftests/kselftest.h \
		linux-source-6.12/tools/testing/selftests/kselftest_harness.h
	@touch $@

$(LINUX_SRC_TAR):
	@echo "$@ is missing: run 'make deps'" >&2; exit 1

unit: ctl
	$(BUILD)/ctl/tests/unit/unit-tests
	python3 $(TOP)/tests/unit/test_bench_report.py

# The debug kernel (6.12 with KASAN, lockdep, kmemleak...), built once into
# a cache outside the clone; make check builds it when KVER names no kernel.
debug-kernel: FORCE
	@$(TOP)/scripts/debug-kernel

# QEMU with the vhost-blk device (qemu/patches), built likewise; make check
# builds it too.
qemu: FORCE
	@$(TOP)/scripts/qemu

check: FORCE
	@$(TOP)/scripts/setup-host
	@$(if $(KVER),,$(TOP)/scripts/debug-kernel)
	@$(TOP)/scripts/qemu
	@$(MAKE) --no-print-directory check-run

check-run: FORCE
	@$(TOP)/scripts/check $(if $(FULL),--full) $(KVERS)

vm-check: all rig-modules
	@$(TOP)/scripts/qemu
	@$(TOP)/scripts/check --vm-only $(if $(FULL),--full) $(KVERS)

style: $(CHECKPATCH) checkpatch sparse clang-format docs-check nl-spec-check qemu-patches-check \
	pipes-check

CODESPELL_DICT := /usr/lib/python3/dist-packages/codespell_lib/data/dictionary.txt
CHECKPATCH_ARGS := --no-tree --strict --terse --show-types \
	$(if $(wildcard $(CODESPELL_DICT)),--codespell --codespellfile=$(CODESPELL_DICT))
# A few files per checkpatch, one checkpatch per CPU.
checkpatch: $(CHECKPATCH)
	@printf '%s\n' $(KERNEL_SOURCES) | \
		xargs -P $(NPROC) -n 4 perl $(CHECKPATCH) $(CHECKPATCH_ARGS) -f
	perl $(CHECKPATCH) $(CHECKPATCH_ARGS) --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON \
		-f kernel/vhost/compat.h

# sparse, with W=1: the compiler's extra warnings and kernel-doc too.
sparse: $(addprefix sparse-,$(KVERS))
sparse-%: FORCE
	$(call kernel_tree,$*,kernel)
	$(MAKE) -j$(NPROC) $(call KBUILD_ARGS,$*,kernel) C=2 W=1 CF="-D__CHECK_ENDIAN__" modules 2>&1 | \
		tee $(BUILD)/$*/sparse.log
	@! grep -E '(warning|error):' $(BUILD)/$*/sparse.log

clang-format: FORCE
	clang-format --dry-run --Werror $(USER_SOURCES)

# The uapi header must say what the netlink spec says.
nl-spec-check: FORCE
	$(TOP)/scripts/check-nl-spec

# No pipeline of a pipefail script has a reader that stops before its writer.
pipes-check: FORCE
	$(TOP)/scripts/check-pipes

# The QEMU series carries uapi/linux/vhost_blk.h as QEMU's
# linux-headers/linux/vhost_blk.h: the two must not drift apart.
qemu-patches-check: FORCE
	$(TOP)/scripts/check-qemu-patches

# Broken reStructuredText fails the check (Debian's python3-docutils).  The
# index is Sphinx's (toctree), which plain docutils does not know.
docs-check: FORCE
	@set -e; for f in $(filter-out Documentation/index.rst,$(call ls_files,'Documentation/*.rst')); do \
		echo "  RST     $$f"; \
		/usr/bin/rst2html --halt=warning --report=warning $$f >/dev/null; \
	done

# Benchmarks: in one 6.12 VM, raw io_uring, qemu-storage-daemon and
# vhost-blk's worker layouts on one null_blk (Documentation/performance.rst).
bench: FORCE
	@$(TOP)/scripts/setup-host
	@$(MAKE) --no-print-directory modules ctl KVER=6.12
	@$(TOP)/scripts/bench

bench-quick: FORCE
	@$(TOP)/scripts/setup-host
	@$(MAKE) --no-print-directory modules ctl KVER=6.12
	@$(TOP)/scripts/bench --quick

# The hostile-input suites side by side for DURATION (default 10m), in the
# debug kernel when it is built (Documentation/testing.rst).
soak: FORCE
	@$(TOP)/scripts/setup-host
	@$(MAKE) --no-print-directory modules kselftest
	@$(TOP)/scripts/soak $(DURATION)

demo: FORCE
	@$(TOP)/scripts/setup-host
	@$(MAKE) --no-print-directory modules ctl KVER=6.12
	@$(TOP)/scripts/demo

demo-qemu: FORCE
	@$(TOP)/scripts/setup-host
	@$(MAKE) --no-print-directory modules ctl KVER=6.12
	@$(TOP)/scripts/qemu
	@$(TOP)/scripts/demo-qemu

# Installation.  The module goes to /lib/modules/KVER/updates, where it
# overrides nothing in-tree; KVER defaults to the running kernel.
PREFIX ?= /usr/local
UDEVRULESDIR ?= /usr/lib/udev/rules.d
INSTALL_KVER = $(if $(KVER),$(firstword $(KVERS)),$(shell uname -r))
MODDIR = $(DESTDIR)/lib/modules/$(INSTALL_KVER)/updates

install: install-module install-udev install-headers install-ctl

install-module: FORCE
	@test -d /lib/modules/$(INSTALL_KVER)/build || \
		{ echo "no headers for kernel $(INSTALL_KVER): install them or set KVER" >&2; exit 1; }
	$(MAKE) --no-print-directory module-$(INSTALL_KVER)
	install -D -m 0644 $(BUILD)/$(INSTALL_KVER)/kernel/vhost_blk.ko $(MODDIR)/vhost_blk.ko
	depmod -b $(or $(DESTDIR),/) $(INSTALL_KVER)

install-udev: FORCE
	install -D -m 0644 packaging/60-vhost-blk.rules $(DESTDIR)$(UDEVRULESDIR)/60-vhost-blk.rules

install-headers: FORCE
	install -D -m 0644 uapi/linux/vhost_blk.h $(DESTDIR)$(PREFIX)/include/linux/vhost_blk.h

MAN8DIR = $(DESTDIR)$(PREFIX)/share/man/man8
install-ctl: ctl
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)/ctl --prefix $(PREFIX)
	install -d $(MAN8DIR)
	/usr/bin/rst2man --halt=warning Documentation/vhostctl.rst >$(MAN8DIR)/vhostctl.8

uninstall: FORCE
	rm -f $(MODDIR)/vhost_blk.ko $(DESTDIR)$(UDEVRULESDIR)/60-vhost-blk.rules \
		$(DESTDIR)$(PREFIX)/include/linux/vhost_blk.h $(MAN8DIR)/vhostctl.8
	-test ! -f $(BUILD)/ctl/install_manifest.txt || \
		sed 's|^|$(DESTDIR)|' $(BUILD)/ctl/install_manifest.txt | xargs rm -f
	-depmod -b $(or $(DESTDIR),/) $(INSTALL_KVER)

# DKMS: the module's source (dkms.conf, kernel/, uapi/, the version script)
# in /usr/src/vhost-blk-VERSION; with DESTDIR only the copy is made.
DKMS_SRC = $(DESTDIR)/usr/src/vhost-blk-$(VERSION)
dkms-source: FORCE
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	git ls-files -z -- kernel uapi scripts/lib/version | \
		xargs -0 -I{} install -D -m 0644 {} $(DKMS_SRC)/{}
	chmod 0755 $(DKMS_SRC)/scripts/lib/version
	sed 's/@VERSION@/$(VERSION)/g' dkms.conf >$(DKMS_SRC)/dkms.conf

dkms-install: dkms-source
	test -n "$(DESTDIR)" || dkms install -m vhost-blk -v $(VERSION)

dkms-uninstall: FORCE
	-dkms remove -m vhost-blk -v $(VERSION) --all
	rm -rf $(DESTDIR)/usr/src/vhost-blk-$(VERSION)

# HTML documentation, with Debian's python3-sphinx when it is installed.
docs: FORCE
	@command -v sphinx-build >/dev/null || \
		{ echo "sphinx-build is missing: apt-get install python3-sphinx" >&2; exit 1; }
	sphinx-build -q -b html -C -D project=vhost-blk -D master_doc=index \
		-D html_theme=alabaster Documentation $(BUILD)/docs

deps: FORCE
	$(TOP)/scripts/setup-host

clean: FORCE
	rm -rf $(BUILD)

FORCE:

.PHONY: all modules rig-modules ctl kselftest unit check check-run vm-check style debug-kernel \
	qemu qemu-patches-check pipes-check checkpatch sparse clang-format docs-check nl-spec-check demo demo-qemu bench bench-quick deps soak \
	clean FORCE \
	install install-module install-udev install-headers install-ctl uninstall \
	dkms-source dkms-install dkms-uninstall docs
