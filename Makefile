# mcpd build. Plain make + pkg-config; see README.md for the two commands that matter.
#   make            build build/mcpd
#   make run        install missing deps, build, start the server in the foreground
#   make test       everything: unit, sanitizer build, integration, conformance; ends "N passed, N failed"
#   make SAN=1      sanitizer build (ASan + UBSan) into build-asan/
#   make fuzz       libFuzzer targets (clang) into build-fuzz/
#   make format | lint | clean
#   make install PREFIX=/usr/local DESTDIR=   binary, man page, systemd unit, example settings
#   make uninstall | man | env-example | docs-settings

PKGS      := libuv jansson openssl libcurl hiredis
LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

CC        ?= cc
HOSTCC    ?= cc
ifeq ($(SAN),1)
BUILD     ?= build-asan
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT       ?= -O1
else
BUILD     ?= build
SANFLAGS  :=
OPT       ?= -O2
endif

CSTD      := -std=c17 -D_GNU_SOURCE
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CPPFLAGS  += -Isrc -I$(LLHTTP_INC) $(shell pkg-config --cflags $(PKGS)) -DMCPD_VERSION=\"$(VERSION)\"
CFLAGS    ?= $(OPT) -g
CFLAGS    += $(CSTD) $(WARN) $(SANFLAGS) -fno-strict-aliasing
LDFLAGS   += $(SANFLAGS)
LDLIBS    += $(shell pkg-config --libs $(PKGS)) -lm

LIB_SRC   := $(filter-out src/main.c,$(wildcard src/*/*.c src/mcp/features/*.c))
LIB_OBJ   := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
WEB_ASSETS := $(wildcard src/web/assets/*)
WEB_GEN_OBJ := $(BUILD)/obj/gen/web_assets.o
LLHTTP_OBJ := $(BUILD)/obj/llhttp/api.o $(BUILD)/obj/llhttp/http.o $(BUILD)/obj/llhttp/llhttp.o
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all run test unit format lint clean fuzz deps bench install uninstall man env-example docs-settings FORCE
all: $(BUILD)/mcpd $(BUILD)/mcpd.1

$(BUILD)/mcpd: $(BUILD)/obj/main.o $(BUILD)/libmcpd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libmcpd.a: $(LIB_OBJ) $(WEB_GEN_OBJ) $(LLHTTP_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*/*.h src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -c -o $@ $<

# llhttp ships as C sources in Debian's node-llhttp; it is third-party code, so it is compiled
# without our warning set.
$(BUILD)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -I$(LLHTTP_INC) $(OPT) -g $(SANFLAGS) -w -c -o $@ $<

# The splash page's files become C arrays (scripts/embed.c), so the binary needs no files at run
# time. The generator runs on the build host: HOSTCC, without the sanitizer or fuzzer flags.
$(BUILD)/embed: scripts/embed.c
	@mkdir -p $(dir $@)
	$(HOSTCC) -O2 $(CSTD) $(WARN) $(shell pkg-config --cflags openssl) -o $@ $< $(shell pkg-config --libs openssl)

$(BUILD)/gen/web_assets.c: $(BUILD)/embed $(WEB_ASSETS)
	@mkdir -p $(dir $@)
	$(BUILD)/embed $@ $(WEB_ASSETS)

$(WEB_GEN_OBJ): $(BUILD)/gen/web_assets.c src/web/web_assets.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libmcpd.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(shell pkg-config --cflags cmocka) $(LDFLAGS) -o $@ $< $(BUILD)/libmcpd.a $(LDLIBS) $(shell pkg-config --libs cmocka)

unit: $(UNIT_BIN)

deps:
	@bash scripts/deps.sh

run: deps all
	@exec ./$(BUILD)/mcpd all

test: deps
	@bash scripts/test.sh

# UBSan stops at its first report, as ASan does, in the library and in the targets alike: a
# recovered report would only scroll past in the log while the run passes. Objects built with
# other sanitizer flags are dropped first, since make does not see a change of flags.
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz:
	@mkdir -p build-fuzz/fuzz
	@echo '$(FUZZ_SAN)' | cmp -s - build-fuzz/sanflags || \
	  { rm -rf build-fuzz/obj build-fuzz/libmcpd.a; echo '$(FUZZ_SAN)' >build-fuzz/sanflags; }
	$(MAKE) BUILD=build-fuzz CC=clang SANFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" build-fuzz/libmcpd.a
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  echo "clang $$n"; clang $(CPPFLAGS) $(CSTD) -g -O1 -fsanitize=fuzzer $(FUZZ_SAN) -o build-fuzz/fuzz/$$n $$f build-fuzz/libmcpd.a $(LDLIBS) || exit 1; done

bench:
	@$(MAKE) -C bench

# ---- documents made from `mcpd --help`, and installation ----
# The man page's options and the example settings come from the binary's own --help (the settings
# table in src/app/config.c) through scripts/gen-help-docs.sh, so they cannot drift from it.
# Install paths follow the GNU conventions: $(DESTDIR)$(PREFIX)/..., DESTDIR for staging.
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/mcpd
UNITDIR   ?= $(PREFIX)/lib/systemd/system
HELP_DOCS := scripts/gen-help-docs.sh

$(BUILD)/mcpd.help: $(BUILD)/mcpd
	./$(BUILD)/mcpd --help >$@.tmp && mv $@.tmp $@

$(BUILD)/mcpd.1: $(BUILD)/mcpd.help packaging/mcpd.1.in $(HELP_DOCS) $(wildcard VERSION)
	bash $(HELP_DOCS) man packaging/mcpd.1.in $(VERSION) $< >$@.tmp && mv $@.tmp $@

$(BUILD)/mcpd.env.example: $(BUILD)/mcpd.help $(HELP_DOCS)
	bash $(HELP_DOCS) env $< >$@.tmp && mv $@.tmp $@

# Remade every time: it depends on BINDIR, which make cannot see change.
$(BUILD)/mcpd.service: packaging/mcpd.service.in FORCE
	@mkdir -p $(dir $@)
	sed 's|@BINDIR@|$(BINDIR)|g' $< >$@.tmp && mv $@.tmp $@

man: $(BUILD)/mcpd.1

# The committed .env.example; tests/layers/install.sh fails when it differs from this output.
env-example: $(BUILD)/mcpd.env.example
	cp $< .env.example

# The settings table of docs/operations.md, between its settings:begin/end markers;
# tests/layers/docs.sh fails when it differs from this output.
docs-settings: $(BUILD)/mcpd.help $(HELP_DOCS)
	bash $(HELP_DOCS) md $< >$(BUILD)/settings.md
	awk -v f=$(BUILD)/settings.md '/<!-- settings:end -->/ {skip = 0} !skip {print} \
	  /<!-- settings:begin/ {while ((getline l < f) > 0) print l; skip = 1}' docs/operations.md \
	  >docs/operations.md.tmp && mv docs/operations.md.tmp docs/operations.md

install: $(BUILD)/mcpd $(BUILD)/mcpd.1 $(BUILD)/mcpd.env.example $(BUILD)/mcpd.service
	install -D -m 0755 $(BUILD)/mcpd $(DESTDIR)$(BINDIR)/mcpd
	install -D -m 0644 $(BUILD)/mcpd.1 $(DESTDIR)$(MANDIR)/man1/mcpd.1
	install -D -m 0644 $(BUILD)/mcpd.service $(DESTDIR)$(UNITDIR)/mcpd.service
	install -D -m 0644 $(BUILD)/mcpd.env.example $(DESTDIR)$(DOCDIR)/mcpd.env.example

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mcpd $(DESTDIR)$(MANDIR)/man1/mcpd.1 \
	  $(DESTDIR)$(UNITDIR)/mcpd.service $(DESTDIR)$(DOCDIR)/mcpd.env.example
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

FORCE:

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# clang-tidy runs once per file: clang-tidy 14's static analyzer keeps state between files in one
# run (its va_start matcher binds to the first file's AST), which gives false valist findings.
# cppcheck does not read system headers; scripts/cppcheck/jansson.cfg gives it jansson's
# iteration macros, which it would otherwise stop on (unknownMacro).
LINT_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
lint:
	git ls-files 'src/*.c' | xargs -P$(LINT_JOBS) -I{} clang-tidy --quiet {} -- $(CPPFLAGS) $(CSTD)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
	  --suppress=missingIncludeSystem --library=scripts/cppcheck/jansson.cfg -Isrc \
	  $$(git ls-files 'src/*.c')

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
