# Makefile: one non-recursive build for sluice (see shared STYLE.md section 10).
#
#   make            build/sluice, -O2 with warnings as errors
#   make asan       build-asan/sluice with AddressSanitizer + UBSan
#   make test       unit tests (under ASan) + integration tests against a real
#                   Kafka and Redis that the harness starts; ends with
#                   "N passed, N failed"
#   make up/down/status   the local system (scripts/up.sh); CLUSTER=1 for
#                   three brokers, Redis with a replica and Sentinels, and
#                   several instances of each role (docs/operations.md)
#   make chaos      faults one after another under load, checked at the end
#   make bench      every benchmark in bench/ (one command, side by side)
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (60) each (clang)
#   make check      layering: includes point down, no files calling in a circle
#   make docs       regenerate docs/config.md, logging.md, metrics.md from the code
#   make help       this list
#
# Sources are found by wildcard, so adding a file needs no Makefile change.

CC      ?= gcc
PKGS    := rdkafka hiredis libuv jansson libssl libcrypto
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Werror
CSTD    := -std=c17 -D_GNU_SOURCE
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhiredis -lwslay -lhttp_parser -lcrypt -lm -lpthread
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CFLAGS_COMMON = $(CSTD) $(WARN) -g -MMD -MP -Isrc $(PKG_CFLAGS) -DSL_VERSION='"$(VERSION)"'

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRC      := $(wildcard src/*.c src/core/*.c src/loop/*.c src/auth/*.c src/proto/*.c src/kafka/*.c src/redis/*.c src/roles/*.c src/roles/*/*.c)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
# Helpers of the unit tests (every tests/unit/*.c that is not a test_*.c):
# linked into each test binary.
UNIT_HELPER_SRC := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
# bench/: one program per .c file, but for the library the programs share
# (bench/wsclient.c, the WebSocket client): archived, linked into each.
BENCH_LIB_SRC := bench/wsclient.c
BENCH_SRC := $(filter-out $(BENCH_LIB_SRC),$(wildcard bench/*.c))

# Two flavours share the same rules: build/ (release) and build-asan/.
define flavour
$(1)_OBJ := $$(patsubst %.c,$(1)/obj/%.o,$$(SRC))
$(1)_LIBOBJ := $$(patsubst %.c,$(1)/obj/%.o,$$(LIB_SRC))
$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@printf '  CC%s %s\n' "$(if $(filter build-asan,$(1)), [asan],)" $$<)
	$(Q)$$(CC) $$(CFLAGS_COMMON) $(2) -c $$< -o $$@
$(1)/sluice: $$($(1)_OBJ)
	$$(if $$(Q),@printf '  LD %s\n' $$@)
	$(Q)$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS)
$(1)/tests/%: $(1)/obj/tests/unit/%.o $$(patsubst %.c,$(1)/obj/%.o,$$(UNIT_HELPER_SRC)) $$($(1)_LIBOBJ)
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@printf '  LD %s\n' $$@)
	$(Q)$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS) -lcmocka $$(WRAP_$$*)
$(1)/bench/libbench.a: $$(patsubst %.c,$(1)/obj/%.o,$$(BENCH_LIB_SRC))
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@printf '  AR %s\n' $$@)
	$(Q)rm -f $$@ && $$(AR) rcs $$@ $$^
$(1)/bench/%: $(1)/obj/bench/%.o $(1)/bench/libbench.a $$($(1)_LIBOBJ)
	@mkdir -p $$(dir $$@)
	$(Q)$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS)
-include $$(patsubst %.c,$(1)/obj/%.d,$$(SRC) $$(UNIT_SRC) $$(UNIT_HELPER_SRC) $$(BENCH_SRC) $$(BENCH_LIB_SRC))
endef

OPT_RELEASE := -O2
OPT_ASAN    := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
$(eval $(call flavour,build,$(OPT_RELEASE)))
$(eval $(call flavour,build-asan,$(OPT_ASAN)))

# test_reducer plays Redis replies by hand: the calls reducer_batch.c
# makes to Redis and to the loop go to the test's __wrap_ functions.
comma := ,
WRAP_test_reducer := $(addprefix -Wl$(comma)--wrap=,sl_rconn_commandargv sl_rconn_command sl_rconn_connected \
	sl_reducer__redis_failed sl_reducer__schedule)

# The fuzz flavour: clang, libFuzzer's coverage on every object, ASan +
# UBSan (tests/fuzz/run.sh also runs the targets with a small stack).
FUZZ_CC    ?= clang
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
# librdkafka's RD_KAFKA_V_* macros are GNU statement expressions (gcc lets
# a system header's macro pass -Wpedantic; clang does not).
FUZZ_WARN  := -Wno-gnu-statement-expression
FUZZ_LIBOBJ := $(patsubst %.c,build-fuzz/obj/%.o,$(LIB_SRC))
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(if $(Q),@printf '  CC [fuzz] %s\n' $<)
	$(Q)$(FUZZ_CC) $(CFLAGS_COMMON) $(FUZZ_WARN) $(FUZZ_OPT) -fsanitize=fuzzer-no-link -c $< -o $@
build-fuzz/fuzz_%: build-fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIBOBJ)
	$(if $(Q),@printf '  LD %s\n' $@)
	$(Q)$(FUZZ_CC) $(FUZZ_OPT) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)
-include $(patsubst %.c,build-fuzz/obj/%.d,$(LIB_SRC) $(FUZZ_SRC))

UNIT_BINS      := $(patsubst tests/unit/%.c,build/tests/%,$(UNIT_SRC))
UNIT_BINS_ASAN := $(patsubst tests/unit/%.c,build-asan/tests/%,$(UNIT_SRC))
BENCH_BINS     := $(patsubst bench/%.c,build/bench/%,$(BENCH_SRC))

.PHONY: all asan unit test test-unit test-integration deps up down status chaos fuzzers fuzz bench check docs clean help
.DEFAULT_GOAL := all
.SECONDARY:

all: build/sluice
asan: build-asan/sluice
unit: $(UNIT_BINS) $(UNIT_BINS_ASAN)
benches: $(BENCH_BINS)
fuzzers: $(FUZZ_BINS)

deps:
	@scripts/install-deps.sh

# make test: install what is missing, build both flavours, run every suite
# (unit tests under ASan+UBSan, integration against real Kafka + Redis) and
# print one summary line.
test: deps
	@$(MAKE) --no-print-directory all asan unit benches fuzzers
	@SLUICE_FUZZ_REQUIRED=1 tests/run-all.sh

test-unit: all asan unit
	@tests/run-all.sh --unit-only

test-integration: all asan
	@tests/run-all.sh --integration-only

up: deps
	@$(MAKE) --no-print-directory all
	@scripts/up.sh $(if $(filter 1,$(CLUSTER)),--cluster)

down:
	@scripts/down.sh

status:
	@scripts/status.sh

chaos: deps
	@$(MAKE) --no-print-directory all benches
	@tests/chaos/chaos.sh

bench: deps all benches
	@bench/run-all.sh

# make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="http ws"]: grow the corpora in
# tests/corpus/<target>/; a crash is saved there as crash-* for a test.
fuzz: deps fuzzers
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

check: all
	@scripts/check-layers.sh
	@scripts/check-calls.sh

docs: all
	@scripts/gen-docs.sh

clean:
	rm -rf build build-asan build-fuzz

help:
	@sed -n '3,16p' Makefile | sed 's/^# \{0,1\}//'
