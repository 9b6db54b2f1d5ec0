#!/bin/sh
# Kill -9 at random moments: a `train` killed and rerun with --resume, and an
# `unlearn` killed and rerun (it resumes itself), must each end with a model
# byte-identical to an uninterrupted run (same seed, same threads). KILLS
# random kill points per command (3 in `make test`; KILLS=20 for a
# measurement); KILL_SEED fixes the kill moments.
set -u
OB=${OB:-build/obliviate}
KILLS=${KILLS:-3}
KILL_SEED=${KILL_SEED:-$$}
T=$(mktemp -d /tmp/obliviate-kill-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

now_ms() { date +%s%3N; }
# delay I MS: the I-th kill moment, in seconds, spread over 5%..95% of MS
# (the I-th draw of one generator: nearby seeds would give related draws).
delay() {
    awk -v s="$KILL_SEED" -v i="$1" -v ms="$2" \
        'BEGIN { srand(s); for (j = 0; j < i; j++) r = rand(); printf "%.3f", ms * (0.05 + 0.9 * r) / 1000 }'
}
# kill_at SECONDS [FILE] -- COMMAND...: starts the command, SIGKILLs it
# SECONDS after FILE appears (after the start without FILE). Sets $late when
# the command had finished before the kill.
kill_at() {
    secs=$1 file=$2
    shift 3
    "$@" >/dev/null 2>&1 &
    pid=$!
    n=0
    while [ -n "$file" ] && [ ! -e "$file" ] && [ $n -lt 3000 ] && kill -0 $pid 2>/dev/null; do
        sleep 0.02
        n=$((n + 1))
    done
    sleep "$secs"
    late=""
    kill -9 $pid 2>/dev/null || late=" (had finished)"
    wait $pid 2>/dev/null
}

zorbin_world "$T" 300 120
check "tokenizer" $OB tokenizer train --vocab 300 -o "$T/tok.gguf" "$T/text.txt"
check "init" $OB init --preset tiny --ctx 32 --tokenizer "$T/tok.gguf" -o "$T/m0.gguf"

echo "kill-resume: $KILLS kill points per command, KILL_SEED=$KILL_SEED" >&2
targs="--steps 150 --batch 2 --seq 32 --ckpt-every 5 --log-every 1000 --threads 2"
t0=$(now_ms)
check "train uninterrupted" $OB train -m "$T/m0.gguf" -o "$T/a.gguf" $targs "$T/text.txt"
train_ms=$(($(now_ms) - t0))
k=0
while [ $k -lt "$KILLS" ]; do
    k=$((k + 1))
    rm -f "$T"/b.gguf*
    d=$(delay $k $((train_ms / (2 - k % 2))))
    # odd kills count from the start, even ones from the first checkpoint
    if [ $((k % 2)) -eq 0 ]; then at="$T/b.gguf"; else at=""; fi
    kill_at "$d" "$at" -- $OB train -m "$T/m0.gguf" -o "$T/b.gguf" $targs "$T/text.txt"
    # Killed before the first checkpoint there is nothing to resume: start again.
    if [ -e "$T/b.gguf" ]; then how="--resume"; else how="-m $T/m0.gguf"; fi
    if $OB train $how -o "$T/b.gguf" $targs "$T/text.txt" >/dev/null 2>"$T/err" &&
        cmp -s "$T/a.gguf" "$T/b.gguf"; then
        ok "train killed at ${d}s$late, rerun with $how: identical ($(grep -o 'at step [0-9]*' "$T/err"))"
    else
        bad "train killed at ${d}s, rerun with $how: $(grep -v '^train: step' "$T/err" | tail -n 2)"
    fi
done

# The same with a LoRA adapter on the frozen base: the checkpoint is the
# adapter, and --resume loads the base (-m) again.
largs="$targs --lora-rank 4 --lr 1e-2"
t0=$(now_ms)
check "LoRA train uninterrupted" $OB train -m "$T/m0.gguf" -o "$T/la.gguf" $largs "$T/text.txt"
lora_ms=$(($(now_ms) - t0))
k=0
while [ $k -lt "$KILLS" ]; do
    k=$((k + 1))
    rm -f "$T"/lb.gguf*
    d=$(delay $((k + 2 * KILLS)) $((lora_ms / (2 - k % 2))))
    if [ $((k % 2)) -eq 0 ]; then at="$T/lb.gguf"; else at=""; fi
    kill_at "$d" "$at" -- $OB train -m "$T/m0.gguf" -o "$T/lb.gguf" $largs "$T/text.txt"
    if [ -e "$T/lb.gguf" ]; then how="--resume"; else how="(fresh)"; fi
    if $OB train -m "$T/m0.gguf" ${how%(fresh)} -o "$T/lb.gguf" $largs "$T/text.txt" \
        >/dev/null 2>"$T/err" && cmp -s "$T/la.gguf" "$T/lb.gguf"; then
        ok "LoRA train killed at ${d}s$late, rerun $how: identical adapter"
    else
        bad "LoRA train killed at ${d}s, rerun $how: $(grep -v '^train: step' "$T/err" | tail -n 2)"
    fi
done

uargs="--target $T/target.txt --anchors $T/anchors.json --block 32 --reinforce-steps 110 \
--steps 150 --batch 4 --soft-k 8 --threads 2"
t0=$(now_ms)
check "unlearn uninterrupted" $OB unlearn -m "$T/m0.gguf" --work "$T/w0" -o "$T/u0.gguf" $uargs
unlearn_ms=$(($(now_ms) - t0))
# Stage times vary with the machine's load, so each kill waits for a stage's
# first file (reinforce started, its first checkpoint, the labels stage, the
# fine-tune's first checkpoint), then a random part of a quarter run.
set -- reinforce.stamp reinforced.gguf anchors.stamp unlearned.ckpt.gguf
k=0
while [ $k -lt "$KILLS" ]; do
    k=$((k + 1))
    rm -rf "$T/w1" "$T/u1.gguf"
    d=$(delay $((k + KILLS)) $((unlearn_ms / 4)))
    eval "at=\${$((k % 4 + 1))}"
    kill_at "$d" "$T/w1/$at" -- $OB unlearn -m "$T/m0.gguf" --work "$T/w1" -o "$T/u1.gguf" $uargs
    d="$d s after $at$late"
    if $OB unlearn -m "$T/m0.gguf" --work "$T/w1" -o "$T/u1.gguf" $uargs >/dev/null 2>"$T/err" &&
        cmp -s "$T/u0.gguf" "$T/u1.gguf"; then
        ok "unlearn killed $d, rerun: identical ($(grep -o 'unlearn: [a-z]*: \(resuming\|running\)' "$T/err" | sed 's/unlearn: //' | tr '\n' ' '))"
        # The logs too, but for the speeds: no half-written line, no step twice.
        for lg in reinforce finetune; do
            sed 's/,"tok_s":[0-9.]*//' "$T/w0/$lg.log.jsonl" >"$T/log0"
            sed 's/,"tok_s":[0-9.]*//' "$T/w1/$lg.log.jsonl" >"$T/log1"
            cmp -s "$T/log0" "$T/log1" || bad "unlearn killed $d: $lg.log.jsonl differs"
        done
    else
        bad "unlearn killed $d, rerun: $(grep -v 'step' "$T/err" | tail -n 2)"
    fi
done
echo "kill-resume: $passed passed, $failed failed"
