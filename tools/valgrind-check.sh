#!/bin/sh
# valgrind (memcheck) on a small tokenizer train -> init -> train -> generate:
# fails on any memory error or leak. One thread (OMP_NUM_THREADS=1,
# OPENBLAS_NUM_THREADS=1) keeps thread-pool noise out; tools/sanitize/
# valgrind.supp names third-party libraries only.
# usage: tools/valgrind-check.sh [OBLIVIATE_BINARY]
set -u
OB=${1:-build-vg/obliviate}
command -v valgrind >/dev/null 2>&1 || { echo "valgrind-check: valgrind is not installed (apt-get install valgrind)"; exit 1; }
T=$(mktemp -d /tmp/obliviate-vg-XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
i=0
while [ $i -lt 60 ]; do
    echo "The quick brown fox jumps over the lazy dog near the river bank, number $((i % 7))."
    i=$((i + 1))
done >"$T/text.txt"
failed=0
# vg NAME ARGS...: one command under memcheck; its log is kept on failure.
vg() {
    name=$1
    shift
    if valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
        --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes \
        --suppressions=tools/sanitize/valgrind.supp --log-file="$T/$name.vg" \
        "$OB" "$@" >"$T/$name.out" 2>"$T/$name.err"; then
        if [ -s "$T/$name.vg" ]; then
            echo "valgrind-check: $name: valgrind reported:"; head -n 40 "$T/$name.vg"; failed=1
        else
            echo "valgrind-check: $name: no errors, no leaks"
        fi
    else
        echo "valgrind-check: $name: FAILED (exit $?)"; head -n 60 "$T/$name.vg"; tail -n 3 "$T/$name.err"
        failed=1
    fi
}
vg tokenizer tokenizer train --vocab 280 -o "$T/tok.gguf" "$T/text.txt"
vg init init --dim 32 --layers 2 --heads 4 --kv-heads 2 --ffn 64 --ctx 32 --tokenizer "$T/tok.gguf" -o "$T/m0.gguf"
vg train train -m "$T/m0.gguf" -o "$T/m.gguf" --steps 6 --batch 2 --seq 16 --ckpt-every 3 --log "$T/log.jsonl" "$T/text.txt"
vg resume train -o "$T/m.gguf" --resume --steps 8 --batch 2 --seq 16 --ckpt-every 3 "$T/text.txt"
vg generate generate -m "$T/m.gguf" -p "The quick brown" -n 12 --json
vg generate-sample generate -m "$T/m.gguf" -p "The quick" -n 8 --temperature 0.8 --seed 3
[ $failed -eq 0 ] && echo "valgrind-check: passed" || { echo "valgrind-check: FAILED"; exit 1; }
