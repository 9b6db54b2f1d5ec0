# obliviate -- build, test, bench. `make` builds build/obliviate.
CC ?= cc
BLAS_INC ?= /usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIB ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
CFLAGS ?= -O3 -march=native -mprefer-vector-width=512
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc -I$(BLAS_INC) -MMD -MP
CFLAGS += $(BASE_CFLAGS) -fopenmp
LDLIBS = -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB) -lopenblas -ldnnl -lcjson -lpcre2-8 -lm -fopenmp

LIB_SRC := $(sort $(wildcard src/util/*.c src/io/*.c src/text/*.c src/model/*.c src/train/*.c src/eval/*.c src/unlearn/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
LIB_OBJ := $(LIB_SRC:%.c=build/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=build/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=build/tests/%)

.PHONY: all test bench demo compare sweep clean format deps report-check test-sanitize fuzz fuzz-run valgrind-check \
	test-mpi
all: $(if $(filter 1,$(MPI)),build-mpi/obliviate,build/obliviate)

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/libobliviate.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/obliviate: $(CLI_OBJ) build/libobliviate.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/tests/gguf_diff: tests/gguf_diff.c build/libobliviate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MF $@.d $< build/libobliviate.a -o $@ $(LDLIBS)

build/tests/%: tests/%.c build/libobliviate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MF $@.d -Itests $< build/libobliviate.a -o $@ $(LDLIBS)

# Checks build dependencies and says in one line what is missing.
deps:
	@sh tools/check-deps.sh

TEST_SH := tests/test_cli.sh tests/test_fetch.sh tests/test_eval_cli.sh tests/test_eval_choice.sh \
	tests/test_eval_mem_cli.sh tests/test_unlearn.sh tests/test_report.sh tests/test_kill_resume.sh \
	tests/test_bad_input.sh tests/test_hf.sh tests/test_lora.sh tests/test_own_model.sh \
	tests/test_concurrent.sh tests/test_methods.sh tests/test_compare.sh

test: deps all $(TEST_BIN) build/tests/gguf_diff
	@sh tools/llamacpp/setup.sh || true
	@sh tools/llamatok/setup.sh || true
	@sh tests/run.sh $(TEST_BIN) $(TEST_SH)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer in
# build-san/ (never mixed with build/); UBSan halts on the first error.
# Suppressions in tools/sanitize/ name third-party libraries only.
SAN_CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_LIB_OBJ := $(LIB_SRC:%.c=build-san/obj/%.o)
SAN_CLI_OBJ := $(CLI_SRC:%.c=build-san/obj/%.o)
SAN_TEST_BIN := $(TEST_SRC:tests/%.c=build-san/tests/%)

build-san/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) $(BASE_CFLAGS) -fopenmp -c $< -o $@

build-san/libobliviate.a: $(SAN_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build-san/obliviate: $(SAN_CLI_OBJ) build-san/libobliviate.a
	$(CC) $(SAN_CFLAGS) $^ -o $@ $(LDLIBS)

build-san/tests/%: tests/%.c build-san/libobliviate.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) $(BASE_CFLAGS) -fopenmp -MF $@.d -Itests $< build-san/libobliviate.a -o $@ $(LDLIBS)

test-sanitize: deps build-san/obliviate $(SAN_TEST_BIN) build/tests/gguf_diff
	@sh tools/llamacpp/setup.sh || true
	@sh tools/sanitize/run.sh $(SAN_TEST_BIN) $(TEST_SH)

# libFuzzer targets (clang) for every reader of outside data, in build-fuzz/;
# seeds in fuzz/corpus/<target>/. fuzz-run runs each for FUZZ_SECONDS, one at
# a time, and fails on a crash (fuzz/README.md).
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -Wno-unknown-pragmas
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)

build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(BASE_CFLAGS) -c $< -o $@

build-fuzz/libobliviate.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Single-threaded: no -fopenmp; libgomp only provides the omp_* calls.
build-fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h build-fuzz/libobliviate.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(BASE_CFLAGS) -fsanitize=fuzzer -MF $@.d $< \
		build-fuzz/libobliviate.a -o $@ $(LDLIBS:-fopenmp=-lgomp)

fuzz: $(FUZZ_BIN)

fuzz-run: fuzz
	@sh tools/fuzz-run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

# valgrind on a small train and generate: no errors, no leaks. Its own build
# in build-vg/: valgrind cannot run -march=native's AVX-512 code.
VG_CFLAGS = -O1 -g
VG_LIB_OBJ := $(LIB_SRC:%.c=build-vg/obj/%.o)
VG_CLI_OBJ := $(CLI_SRC:%.c=build-vg/obj/%.o)

build-vg/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(VG_CFLAGS) $(BASE_CFLAGS) -fopenmp -c $< -o $@

build-vg/obliviate: $(VG_CLI_OBJ) $(VG_LIB_OBJ)
	$(CC) $(VG_CFLAGS) $^ -o $@ $(LDLIBS)

valgrind-check: deps build-vg/obliviate
	@sh tools/valgrind-check.sh build-vg/obliviate

bench: deps all
	@sh bench/run.sh

# The HTML report of a committed fixture opened in headless Chromium: no
# errors, every chart, a screenshot in build/report-check/report.png.
report-check: all
	@sh tools/report-check.sh

demo: deps all
	@sh tools/demo.sh

# Every unlearning method from the demo's baseline (tools/compare.sh);
# REDUCED=1: a tiny world, every method a few steps (CI).
compare: deps all
	@REDUCED=$(REDUCED) sh tools/compare.sh

# The learning rate of each of the field's methods on the demo (tools/sweep.sh).
sweep: deps all
	@sh tools/sweep.sh

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) src/*/*.h tests/*.h fuzz/*.c fuzz/*.h

clean:
	rm -rf build build-san build-fuzz build-vg build-mpi

# make MPI=1: the same sources built with mpicc and OB_MPI into build-mpi/,
# so the plain build never needs MPI (docs/mpi.md).
MPICC ?= mpicc
MPI_LIB_OBJ := $(LIB_SRC:%.c=build-mpi/obj/%.o)
MPI_CLI_OBJ := $(CLI_SRC:%.c=build-mpi/obj/%.o)

build-mpi/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) -DOB_MPI -c $< -o $@

build-mpi/libobliviate.a: $(MPI_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build-mpi/obliviate: $(MPI_CLI_OBJ) build-mpi/libobliviate.a
	$(MPICC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build-mpi/gguf_diff: tests/gguf_diff.c build-mpi/libobliviate.a
	$(MPICC) $(CFLAGS) -MF $@.d $< build-mpi/libobliviate.a -o $@ $(LDLIBS)

# Two ranks under mpirun against one (tests/test_mpi.sh).
test-mpi: deps
	@command -v $(MPICC) >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq \
		libopenmpi-dev openmpi-bin >/dev/null; } || { echo "obliviate: make test-mpi needs \
		Open MPI: sudo apt-get install -y libopenmpi-dev openmpi-bin" >&2; exit 1; }
	@$(MAKE) --no-print-directory MPI=1 build-mpi/obliviate build-mpi/gguf_diff
	@sh tests/run.sh tests/test_mpi.sh

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:=.d)
-include $(SAN_LIB_OBJ:.o=.d) $(SAN_CLI_OBJ:.o=.d) $(SAN_TEST_BIN:=.d)
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BIN:=.d) $(VG_LIB_OBJ:.o=.d) $(VG_CLI_OBJ:.o=.d)
-include $(MPI_LIB_OBJ:.o=.d) $(MPI_CLI_OBJ:.o=.d) build-mpi/gguf_diff.d
