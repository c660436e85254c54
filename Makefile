# tessera - build, test, demo.  See README.md.
#
#   make deps      install missing Debian packages (apt-get)
#   make           build ./tessera and libtessera.a
#   make test      deps + build + the whole suite
#   make demo      deps + build + ingest tests/data/sample, print the summary, write demo-out/report.html
#   make bench     speed against Pillow / OpenCV / vipsthumbnail
#   make install PREFIX=/usr/local   (binary, library, man pages, CLIP vocabulary)
#   make fuzz FUZZ_SECONDS=N   build the libFuzzer targets (clang) and run each N s
#   SANITIZE=address,undefined  build everything with those sanitizers

VERSION := 0.1.0
PREFIX ?= /usr/local
BUILD ?= build

CC ?= cc
PKGS := libturbojpeg libjpeg libwebp libwebpdemux spng libarchive sqlite3 \
	libpcre2-8 libutf8proc jansson lmdb libxxhash zlib libexif libmd libsodium \
	snappy libzstd
# libcurl: headers only; fetch opens it at run time (pipeline/sources/fetch.c)
PKGS_HEADERS := libcurl

# Debian packages needed to build and test (pkg-config names above come from these).
DEBS := build-essential pkg-config libturbojpeg0-dev libjpeg62-turbo-dev \
	libwebp-dev libspng-dev libarchive-dev libsqlite3-dev libpcre2-dev \
	libutf8proc-dev libjansson-dev liblmdb-dev libxxhash-dev zlib1g-dev \
	libexif-dev libcsv-dev libmd-dev python3 sqlite3 tar wordnet-base python3-lmdb python3-pil time \
	libsodium-dev chromium fonts-dejavu-core libsnappy-dev libzstd-dev libcurl4-openssl-dev openssl \
	xxhash libjpeg-turbo-progs

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(PKGS_HEADERS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
OPT ?= -O2 -g
CFLAGS_ALL = -std=gnu11 $(OPT) $(WARN) -D_FILE_OFFSET_BITS=64 -I. \
	-DTS_VERSION='"$(VERSION)"' -DTS_DATADIR='"$(PREFIX)/share/tessera"' -DTS_SRCDIR='"$(CURDIR)"' \
	$(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(LDFLAGS)
ifneq ($(SANITIZE),)
CFLAGS_ALL += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_ALL += -fsanitize=$(SANITIZE)
ifeq ($(SANITIZE),thread)
BUILD := build-tsan
else
BUILD := build-san
endif
endif
# FUZZ=1 (set by `make fuzz`): every object instrumented for libFuzzer
ifneq ($(FUZZ),)
OPT := -O1 -g
CFLAGS_ALL += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
LDFLAGS_ALL += -fsanitize=fuzzer,address,undefined
BUILD := build-fuzz
endif
LIBS = $(PKG_LIBS) -lcsv -lpthread -lm

# Sources are listed, not globbed (like git's Makefile): a half-written file
# in the tree never breaks the build, and adding a file is a visible change.
LIB_SRC := base/ts_error.c base/ts_io.c base/buf.c base/rng.c \
	compose/codec.c compose/resize.c compose/process.c compose/composite.c compose/dct.c compose/jpeg_region.c compose/regions.c \
	captions/caption.c captions/clean.c captions/bpe.c captions/sentence.c captions/strlabel.c \
	captions/wordnet.c captions/tags.c captions/merge.c \
	shards/hash.c shards/tar_writer.c shards/tar_reader.c shards/catalog.c \
	shards/dataset.c shards/sqlite_shard.c shards/lmdb_store.c \
	shards/writer.c shards/out.c shards/index.c \
	shards/thrift.c shards/parquet.c
CLI_SRC := pipeline/main.c pipeline/util.c pipeline/progress.c pipeline/pool.c pipeline/commands/opt.c \
	pipeline/commands/cmd_ingest.c pipeline/commands/ingest_summary.c pipeline/drivers/ingest.c pipeline/drivers/seen.c \
	pipeline/commands/cmd_shards.c pipeline/drivers/shards_ops.c pipeline/commands/cmd_captions.c pipeline/commands/captions_usage.c \
	pipeline/drivers/captions_stats.c pipeline/drivers/captions_split.c pipeline/drivers/captions_tokenize.c pipeline/drivers/rewrite.c \
	pipeline/drivers/tags.c pipeline/commands/cmd_tags.c pipeline/commands/cmd_compose.c pipeline/drivers/compose.c \
	pipeline/sources/source.c pipeline/sources/source_folder.c pipeline/sources/source_csv.c \
	pipeline/sources/source_jsonl.c pipeline/sources/source_coco.c pipeline/sources/source_sharegpt4v.c \
	pipeline/sources/source_urban1k.c pipeline/sources/source_wds.c pipeline/sources/source_count.c pipeline/sources/source_json.c \
	pipeline/sources/source_gtlist.c pipeline/sources/source_lmdb.c pipeline/sources/source_tessera.c \
	pipeline/commands/cmd_str.c pipeline/drivers/str.c pipeline/vocab.c \
	pipeline/commands/cmd_report.c pipeline/drivers/report.c pipeline/drivers/report_svg.c \
	pipeline/commands/cmd_parquet.c pipeline/sources/source_parquet.c \
	pipeline/sources/fetch.c pipeline/sources/source_fetch.c pipeline/commands/cmd_fetch.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := tests/unit/test_base.c tests/unit/test_util.c tests/unit/test_pixels.c \
	tests/unit/test_shards.c tests/unit/test_source.c tests/unit/test_fuzz_replay.c \
	tests/unit/test_bpe.c tests/unit/test_sentence.c tests/unit/test_tags.c tests/unit/test_str.c tests/unit/test_composite.c \
	tests/unit/test_pool.c tests/unit/test_lmdb.c tests/unit/test_parquet.c tests/unit/test_fetch.c
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# pipeline objects minus main, so unit tests can reach readers and drivers
CLI_LIB_OBJ := $(filter-out $(BUILD)/pipeline/main.o,$(CLI_OBJ))

# libFuzzer targets: tests/fuzz/fuzz_<name>.c each, seeds in
# tests/fuzz/corpus/<name>/ (plus the FUZZ_SEEDS_<name> folders), crashes
# kept as tests/fuzz/regress/<name>/ and replayed by tests/unit/test_fuzz_replay.c.
# A new target: add its name here, its file, and a line in test_fuzz_replay.c.
FUZZ_TARGETS := decode tar csv jsonl coco sharegpt4v caption wordnet lmdb parquet
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang-14
FUZZ_SEEDS_decode := tests/data/sample/photos tests/data/sample/more tests/data/sample/hostile
FUZZ_SEEDS_lmdb := tests/data/lmdb
FUZZ_SEEDS_parquet := tests/data/parquet
FUZZ_BIN := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

.PHONY: all deps test check demo bench install clean unit e2e tsan fuzz fuzz-build

all: tessera

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# docs/formats.md's reject table, compiled into the report (tools/reject_doc.awk)
$(BUILD)/gen/reject_doc.h: docs/formats.md tools/reject_doc.awk
	@mkdir -p $(dir $@)
	awk -f tools/reject_doc.awk docs/formats.md > $@.tmp && mv $@.tmp $@
$(BUILD)/pipeline/drivers/report.o: $(BUILD)/gen/reject_doc.h
$(BUILD)/pipeline/drivers/report.o: CFLAGS_ALL += -I$(BUILD)/gen
# the resampler's loops are integer multiply-adds: vectorised, the same results
$(BUILD)/compose/resize.o: CFLAGS_ALL += -ftree-vectorize

$(BUILD)/libtessera.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tessera: $(CLI_OBJ) $(BUILD)/libtessera.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libtessera.a $(LIBS)

tessera: $(BUILD)/tessera
	@ln -sf $(BUILD)/tessera tessera

libtessera.a: $(BUILD)/libtessera.a

$(BUILD)/tests/%: tests/unit/%.c tests/unit/t.h tests/unit/t_img.h $(wildcard tests/fuzz/*.c) $(CLI_LIB_OBJ) $(BUILD)/libtessera.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(CLI_LIB_OBJ) $(BUILD)/libtessera.a $(LIBS)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(CLI_LIB_OBJ) $(BUILD)/libtessera.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(CLI_LIB_OBJ) $(BUILD)/libtessera.a $(LIBS)

fuzz-build:
	@sh tests/install-deps.sh clang libclang-rt-14-dev
	@$(MAKE) --no-print-directory FUZZ=1 CC=$(FUZZ_CC) $(FUZZ_TARGETS:%=build-fuzz/fuzz/fuzz_%)

# Each target for FUZZ_SECONDS; new inputs go to build-fuzz/corpus/<name>/,
# crashes to build-fuzz/crashes/<name>/ (copy them to tests/fuzz/regress/<name>/),
# the fuzzer's output to build-fuzz/<name>.log.  Every target runs; the
# exit status is 1 when one of them found something.
fuzz: fuzz-build
	@rm -f build-fuzz/failed
	@$(MAKE) --no-print-directory -j1 $(FUZZ_TARGETS:%=fuzz-run-%)
	@if [ -f build-fuzz/failed ]; then echo "fuzz: failed: $$(cat build-fuzz/failed)"; exit 1; fi

fuzz-run-%:
	@mkdir -p build-fuzz/corpus/$* build-fuzz/crashes/$*
	@echo "fuzz $*: $(FUZZ_SECONDS) s"
	@./build-fuzz/fuzz/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 \
		-max_len=1048576 -print_final_stats=1 -artifact_prefix=build-fuzz/crashes/$*/ \
		build-fuzz/corpus/$* $(wildcard tests/fuzz/corpus/$* tests/fuzz/regress/$*) $(FUZZ_SEEDS_$*) \
		> build-fuzz/$*.log 2>&1 || echo $* >> build-fuzz/failed
	@grep -E '^stat::(number_of_executed_units|new_units_added)|^SUMMARY|^artifact_prefix|^==[0-9]+==ERROR' \
		build-fuzz/$*.log | sed 's/^/  /'

deps:
	@sh tests/install-deps.sh $(DEBS)

unit: $(UNIT_BIN)

test: deps
	@$(MAKE) --no-print-directory tessera unit
	@TESSERA=$(CURDIR)/$(BUILD)/tessera UNIT_DIR=$(CURDIR)/$(BUILD)/tests \
		UNIT_BINS="$(addprefix $(CURDIR)/,$(UNIT_BIN))" sh tests/run.sh

check: test

# ThreadSanitizer over the multi-threaded paths: the unit tests and the e2e
# suites of the commands that run workers (ingest, compose, captions tokenize
# and split -j, fetch, tags)
tsan: deps
	@$(MAKE) --no-print-directory SANITIZE=thread tessera unit
	@TESSERA=$(CURDIR)/build-tsan/tessera UNIT_DIR=$(CURDIR)/build-tsan/tests \
		TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
		UNIT_BINS="$(addprefix $(CURDIR)/,$(UNIT_BIN:$(BUILD)/%=build-tsan/%))" \
		E2E_SUITES="ingest compose captions fetch tags str" sh tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory tessera
	@rm -rf demo-out
	./$(BUILD)/tessera ingest --format folder tests/data/sample -o demo-out
	@echo "demo dataset written to demo-out/ (shards/ and catalog.sqlite)"
	./$(BUILD)/tessera compose --rate 0.5 --seed 1 demo-out -o demo-out/composed
	@echo "composites written to demo-out/composed/; a few of them:"
	@sqlite3 demo-out/composed/catalog.sqlite "select '  ' || s.key || '  ' || (select name from shards where idx = s.shard) || '  sources ' || c.sources || char(10) || '    ' || s.caption from samples s join compositions c using (key) order by s.key limit 3"
	./$(BUILD)/tessera report demo-out -o demo-out/report.html
	@echo "open demo-out/report.html in a browser: caption lengths, rejects, images, a contact sheet"

bench: deps
	@$(MAKE) --no-print-directory tessera
	@sh bench/run.sh
	@sh bench/fetch.sh
	@sh bench/catalog.sh

install: tessera
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/tessera $(DESTDIR)$(PREFIX)/bin/tessera
	install -m 644 $(BUILD)/libtessera.a $(DESTDIR)$(PREFIX)/lib/libtessera.a
	install -m 644 docs/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	@# the CLIP vocabulary (OpenAI, MIT licence: data/LICENSE)
	install -d $(DESTDIR)$(PREFIX)/share/tessera
	install -m 644 data/bpe_simple_vocab_16e6.txt.gz data/LICENSE $(DESTDIR)$(PREFIX)/share/tessera/

clean:
	rm -rf build build-san build-tsan build-fuzz tessera demo-out

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
