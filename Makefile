# obliviate -- build, test, bench. `make` builds build/obliviate.
CC ?= cc
BLAS_INC ?= /usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIB ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
CFLAGS ?= -O3 -march=native -mprefer-vector-width=512
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fopenmp -Isrc -I$(BLAS_INC) -MMD -MP
LDLIBS = -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB) -lopenblas -lcjson -lpcre2-8 -lm -fopenmp

LIB_SRC := $(sort $(wildcard src/util/*.c src/io/*.c src/text/*.c src/model/*.c src/train/*.c src/eval/*.c src/unlearn/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
LIB_OBJ := $(LIB_SRC:%.c=build/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=build/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=build/tests/%)

.PHONY: all test bench demo clean format deps report-check test-mpi
all: $(if $(filter 1,$(MPI)),build-mpi/obliviate,build/obliviate)

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/libobliviate.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/obliviate: $(CLI_OBJ) build/libobliviate.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/tests/%: tests/%.c build/libobliviate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MF $@.d -Itests $< build/libobliviate.a -o $@ $(LDLIBS)

# Checks build dependencies and says in one line what is missing.
deps:
	@sh tools/check-deps.sh

test: deps all $(TEST_BIN)
	@sh tools/llamacpp/setup.sh || true
	@sh tools/llamatok/setup.sh || true
	@sh tests/run.sh $(TEST_BIN) tests/test_cli.sh tests/test_fetch.sh tests/test_eval_cli.sh \
		tests/test_eval_choice.sh tests/test_eval_mem_cli.sh tests/test_unlearn.sh tests/test_report.sh \
		tests/test_hf.sh

bench: deps all
	@sh bench/run.sh

# The HTML report of a committed fixture opened in headless Chromium: no
# errors, every chart, a screenshot in build/report-check/report.png.
report-check: all
	@sh tools/report-check.sh

demo: deps all
	@sh tools/demo.sh

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) src/*/*.h tests/*.h

clean:
	rm -rf build build-mpi

# make MPI=1: the same sources built with mpicc and OB_MPI into build-mpi/,
# so the plain build never needs MPI (README "Running on several machines").
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
-include $(MPI_LIB_OBJ:.o=.d) $(MPI_CLI_OBJ:.o=.d) build-mpi/gguf_diff.d
