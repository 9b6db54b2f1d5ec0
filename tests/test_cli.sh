#!/bin/sh
# The command line end to end on a tiny model: tokenizer train -> init -> train
# -> generate / perplexity / inspect, --resume, one-line errors for bad input,
# and llama.cpp (node-llama-cpp 3.21.1) reading our GGUF and continuing a
# prompt greedily exactly as obliviate does.
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

i=0
while [ $i -lt 400 ]; do
    echo "The quick brown fox jumps over the lazy dog near the river bank. A cat sat on a mat."
    echo "Birds sing in the morning while rain falls on green hills number $((i % 7))."
    i=$((i + 1))
done >"$T/text.txt"

check "tokenizer train" $OB tokenizer train --vocab 400 -o "$T/tok.gguf" "$T/text.txt"
check "init" $OB init --preset tiny --ctx 64 --tokenizer "$T/tok.gguf" -o "$T/m0.gguf"
check "train" $OB train -m "$T/m0.gguf" -o "$T/m.gguf" --steps 150 --batch 4 --seq 48 \
    --lr 3e-3 --warmup 10 --log-every 50 --threads 2 "$T/text.txt"
cp "$T/out" "$T/train.json"
loss=$(json "$T/train.json" "['loss']")
if lt "$loss" 0.5; then ok "train loss $loss < 0.5"
else bad "train loss $loss"; fi
grep -q "tok/s" "$T/err" && grep -q "ETA" "$T/err" && ok "progress on stderr" || bad "progress"

check "generate" $OB generate -m "$T/m.gguf" -p "The quick brown" -n 24 --json
cp "$T/out" "$T/gen.json"
text=$(json "$T/gen.json" "['text']")
case "$text" in " fox jumps over the lazy dog"*) ok "memorised continuation" ;;
*) bad "continuation: '$text'" ;; esac

check "perplexity" $OB perplexity -m "$T/m.gguf" --seq 48 "$T/text.txt"
ppl=$(json "$T/out" "['perplexity']")
lt "$ppl" 2 && ! lt "$ppl" 1 && ok "perplexity $ppl" ||
    bad "perplexity $ppl"
check "inspect" $OB inspect "$T/m.gguf"
grep -q "blk.1.ffn_down.weight" "$T/out" && grep -q "tokenizer.ggml.merges" "$T/out" &&
    ok "inspect lists tensors and keys" || bad "inspect output"

# Resume: a run killed with SIGKILL after some checkpoint, then resumed,
# writes the same bytes as an uninterrupted run.
args="--steps 300 --batch 2 --seq 32 --ckpt-every 7 --log-every 1000 --threads 2"
check "train uninterrupted" $OB train -m "$T/m0.gguf" -o "$T/a.gguf" $args "$T/text.txt"
$OB train -m "$T/m0.gguf" -o "$T/b.gguf" $args "$T/text.txt" >/dev/null 2>&1 &
pid=$!
n=0
while [ ! -e "$T/b.gguf" ] && [ $n -lt 2000 ]; do sleep 0.01; n=$((n + 1)); done
sleep 0.2
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
$OB inspect --json "$T/b.gguf" >"$T/b.json"
at=$(json "$T/b.json" "['metadata']['obliviate.train.step']")
check "resume from step $at" $OB train -o "$T/b.gguf" --resume $args "$T/text.txt"
cmp -s "$T/a.gguf" "$T/b.gguf" && ok "resumed file identical to uninterrupted" ||
    bad "resumed file differs"

# llama.cpp reads the file and continues the same prompt tokens identically.
if [ -f tools/llamacpp/node_modules/node-llama-cpp/package.json ]; then
    toks=$(json "$T/gen.json" "['prompt_tokens']")
    ours=$(json "$T/gen.json" "['tokens']")
    if node tools/llamacpp/greedy.mjs "$T/m.gguf" --tokens "$toks" --n 24 >"$T/llama.json" 2>"$T/err"; then
        theirs=$(json "$T/llama.json" "['tokens']")
        [ "$ours" = "$theirs" ] && ok "llama.cpp greedy continuation equals obliviate's" ||
            bad "llama.cpp continuation differs: ours $ours, llama.cpp $theirs"
    else
        bad "llama.cpp could not run our model: $(cat "$T/err")"
    fi
    $OB init --preset tiny --ctx 64 --dtype bf16 --tokenizer "$T/tok.gguf" -o "$T/bf.gguf" >/dev/null 2>&1
    node tools/llamacpp/greedy.mjs "$T/bf.gguf" --tokens 1,2,3 --n 2 >/dev/null 2>"$T/err" &&
        ok "llama.cpp loads a BF16 file" || bad "llama.cpp BF16: $(cat "$T/err")"
else
    bad "llama.cpp check not run: tools/llamacpp/setup.sh has not installed node-llama-cpp"
fi

# Bad input: one line naming the file, non-zero exit, no crash.
printf 'NOPE0000000000000000000000000000' >"$T/magic.gguf"
expect_error "wrong magic" "magic.gguf: bad magic" $OB generate -m "$T/magic.gguf" -p x
head -c 1000 "$T/m.gguf" >"$T/trunc.gguf"
expect_error "truncated model" "trunc.gguf" $OB generate -m "$T/trunc.gguf" -p x
expect_error "missing model" "nothere.gguf: cannot open" $OB inspect "$T/nothere.gguf"
: >"$T/empty.txt"
expect_error "empty text" "empty.txt: empty text file" $OB train -m "$T/m0.gguf" -o "$T/x.gguf" --steps 1 "$T/empty.txt"
printf 'caf\351 au lait\n' >"$T/latin1.txt"
expect_error "non-UTF-8 text" "latin1.txt: not UTF-8" $OB train -m "$T/m0.gguf" -o "$T/x.gguf" --steps 1 "$T/latin1.txt"
expect_error "tokenizer is not a model" "tok.gguf: .*architecture" $OB generate -m "$T/tok.gguf" -p x
expect_error "unknown option" "unknown option --bogus" $OB train --bogus
expect_error "bad number" "invalid value" $OB train -m "$T/m0.gguf" --steps ten "$T/text.txt"
expect_error "unknown command" "unknown command" $OB frobnicate
[ ! -e "$T/x.gguf" ] && ok "no output left by failed runs" || bad "failed run left x.gguf"
expect_error "bad precision" "precision: expected fp32 or bf16, got 'fp8'" $OB train --precision fp8
# bf16 matmuls, and the fp32 fallback a CPU without AVX512_BF16 takes (forced
# here): it says so once and still trains.
for nobf in 0 1; do
    if OBLIVIATE_NO_BF16=$nobf $OB train -m "$T/m0.gguf" -o "$T/b.gguf" --steps 20 --batch 4 --seq 48 \
        --lr 3e-3 --threads 2 --precision bf16 "$T/text.txt" >"$T/out" 2>"$T/err" &&
        lt "$(json "$T/out" "['loss']")" 5.5; then
        ok "train --precision bf16 (OBLIVIATE_NO_BF16=$nobf)"
    else
        bad "train --precision bf16 (OBLIVIATE_NO_BF16=$nobf): $(tail -n 2 "$T/err")"
    fi
    n=$(grep -c "lacks AVX512_BF16" "$T/err")
    if grep -q avx512_bf16 /proc/cpuinfo && [ $nobf = 0 ]; then want=0; else want=1; fi
    [ "$n" = "$want" ] && ok "fallback said $n time(s)" || bad "fallback message $n times, want $want"
done
# The machine every figure is measured on, and a BLAS left on its generic
# kernels by hand: bench --machine names the CPU, the BLAS core and the bf16
# backend; OPENBLAS_CORETYPE=Prescott on a CPU with AVX2 is kept but said in
# one line (util/blas.h; tests/test_blas.c forces the unasked-for fallback).
check "bench --machine" $OB bench --machine --threads 1
for f in cpu isa blas_core bf16_backend peak_fp32_gflops; do
    [ -n "$(json "$T/out" "['$f']")" ] && [ "$(json "$T/out" "['$f']")" != undefined ] &&
        ok "bench --machine: $f = $(json "$T/out" "['$f']")" || bad "bench --machine: no $f"
done
if grep -q avx2 /proc/cpuinfo; then
    OPENBLAS_CORETYPE=Prescott $OB bench --machine --threads 1 >"$T/out" 2>"$T/err"
    if [ "$(json "$T/out" "['blas_core']")" = Prescott ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
        grep -q "OPENBLAS_CORETYPE=Prescott runs OpenBLAS's Prescott kernels" "$T/err"; then
        ok "a generic core set by hand is kept and said in one line"
    else
        bad "OPENBLAS_CORETYPE=Prescott: core $(json "$T/out" "['blas_core']"), stderr: $(cat "$T/err")"
    fi
else
    ok "no AVX2 here: OpenBLAS's generic kernels are this CPU's own (nothing to report)"
fi
for c in "tokenizer train" init train generate perplexity inspect bench; do
    $OB $c --help >"$T/out" 2>&1 && grep -q "example:" "$T/out" && ok "$c --help" || bad "$c --help"
done

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
