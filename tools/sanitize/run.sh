#!/bin/sh
# Runs the test suite (tests/run.sh arguments) with the sanitized build:
# the shell tests take build-san/obliviate through OB. Any ASan, LSan or UBSan
# report makes the program exit non-zero, so its test fails.
dir=$(cd "$(dirname "$0")" && pwd)
export OB=build-san/obliviate
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$dir/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87"
exec sh tests/run.sh "$@"
