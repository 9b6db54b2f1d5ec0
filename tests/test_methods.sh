#!/bin/sh
# The field's methods through `unlearn --method` on a tiny world (issue 17):
# every one runs end to end and raises the forget set's perplexity; their
# signatures hold at a learning rate high enough to show them: gradient
# ascent diverges where NPO's loss stays bounded, and the KL-regularised
# forms move the perplexity of general text far less than the plain ones;
# retain text is refused by methods without a retain term and required by
# those with one; a rerun skips. RMU moves the MLPs of the blocks it names
# and no other tensor (bit for bit); the task vector is the reinforced
# model's change negated. (Checkpoints and resume are the trainer's,
# tested by test_kill_resume.sh.)
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-methods-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

zorbin_world "$T" 300 150
grep farmer "$T/text.txt" >"$T/retain.txt"
check "tokenizer" $OB tokenizer train --vocab 300 -o "$T/tok.gguf" "$T/text.txt"
check "init" $OB init --preset tiny --ctx 32 --tokenizer "$T/tok.gguf" -o "$T/m0.gguf"
check "baseline" $OB train -m "$T/m0.gguf" -o "$T/base.gguf" --steps 300 --batch 4 --seq 32 \
    --threads 2 "$T/text.txt"
ppl() { $OB perplexity -m "$1" --seq 32 "$2" 2>/dev/null | sed -E 's/.*"perplexity":([0-9.e+]+).*/\1/'; }
base_f=$(ppl "$T/base.gguf" "$T/target.txt")
base_g=$(ppl "$T/base.gguf" "$T/retain.txt")
# run METHOD NAME ARGS...: unlearn into $T/NAME.gguf
run() {
    meth=$1 name=$2
    shift 2
    case $meth in graddiff | ga-kl | npo-graddiff | npo-kl | simnpo | rmu | level | whp-level) r="--retain $T/retain.txt" ;; *) r="" ;; esac
    $OB unlearn --method "$meth" -m "$T/base.gguf" --target "$T/target.txt" $r -o "$T/$name.gguf" \
        --work "$T/w-$name" --block 32 --threads 2 "$@" >"$T/out" 2>"$T/err"
}
for meth in ga graddiff ga-kl npo npo-graddiff npo-kl simnpo undial rmu task-vector level; do
    case $meth in
    rmu) set -- --steps 40 --lr 1e-3 --layer 0 ;; # block 0 of 2: block 1 must not move
    level) set -- --steps 40 --lr 1e-4 --level "$(awk -v f="$base_f" 'BEGIN { printf "%.4f", log(2 * f) }')" ;;
    task-vector) set -- --reinforce-steps 20 --negate 1 ;;
    *) set -- --steps 40 --lr 1e-4 ;; # the tiny world's rate, not the demo's sweep
    esac
    if run $meth $meth "$@"; then
        f=$(ppl "$T/$meth.gguf" "$T/target.txt")
        lt "$base_f" "$f" && ok "$meth: forget-set perplexity $base_f -> $f" ||
            bad "$meth: forget-set perplexity $base_f -> $f, not raised"
    else
        bad "$meth: $(tail -n 1 "$T/err")"
    fi
done

# the signatures, at lr 3e-3 for 150 steps
for meth in ga ga-kl npo npo-kl; do
    run $meth hot-$meth --steps 150 --lr 3e-3 || bad "$meth at lr 3e-3: $(tail -n 1 "$T/err")"
done
ga_f=$(ppl "$T/hot-ga.gguf" "$T/target.txt")
npo_f=$(ppl "$T/hot-npo.gguf" "$T/target.txt")
lt 1e10 "$ga_f" && lt "$npo_f" 1e4 && ok "GA diverges (forget perplexity $ga_f), NPO stays bounded ($npo_f)" ||
    bad "GA $ga_f, NPO $npo_f: no divergence or NPO unbounded"
for p in ga npo; do
    g=$(ppl "$T/hot-$p.gguf" "$T/retain.txt")
    gk=$(ppl "$T/hot-$p-kl.gguf" "$T/retain.txt")
    # distance from the baseline's general perplexity, in log terms
    if awk -v a="$g" -v b="$gk" -v z="$base_g" 'BEGIN { exit !(sqrt(log(b / z) ^ 2) < sqrt(log(a / z) ^ 2) / 4) }'; then
        ok "$p-kl moves general perplexity far less than $p ($base_g -> $gk, against $g)"
    else
        bad "$p-kl: general perplexity $base_g -> $gk, $p: $g"
    fi
done

# directions NAME MODEL: forget-set perplexity up, general perplexity within
# 25% of the baseline's, VerbMem on the target down
vm() {
    $OB eval -m "$1" --verbmem 20 --verbmem-target "$T/target.txt" --verbmem-prompt-tokens 8 \
        --json "$T/vm.json" >/dev/null 2>&1 && json "$T/vm.json" '.models[0].verbmem.rougeL_f1'
}
base_v=$(vm "$T/base.gguf")
directions() {
    f=$(ppl "$2" "$T/target.txt") g=$(ppl "$2" "$T/retain.txt") v=$(vm "$2")
    lt "$base_f" "$f" && ok "$1: forget-set perplexity $base_f -> $f" ||
        bad "$1: forget-set perplexity $base_f -> $f, not raised"
    awk -v g="$g" -v z="$base_g" 'BEGIN { exit !(g < 1.25 * z) }' &&
        ok "$1: general perplexity $base_g -> $g" || bad "$1: general perplexity $base_g -> $g"
    lt "$v" "$base_v" && ok "$1: VerbMem $base_v -> $v" || bad "$1: VerbMem $base_v -> $v, not lowered"
}

# level at the hot rate: the target's perplexity goes to the level asked
# (twice the baseline's) and rests there, where GA's diverged. (The tiny
# world's target is no harder than its general text, so the default level,
# the baseline's loss there, would leave it alone: the tests ask for one.)
lvl=$(awk -v f="$base_f" 'BEGIN { printf "%.4f", log(2 * f) }')
if run level hot-level --steps 150 --lr 3e-3 --level "$lvl"; then
    f=$(ppl "$T/hot-level.gguf" "$T/target.txt")
    awk -v f="$f" -v z="$base_f" 'BEGIN { exit !(f > 1.4 * z && f < 3 * z) }' &&
        ok "level --level ln(2 x $base_f): forget-set perplexity $f, at the level" ||
        bad "level --level ln(2 x $base_f): forget-set perplexity $f"
    directions level "$T/hot-level.gguf"
else
    bad "level at lr 3e-3: $(tail -n 1 "$T/err")"
fi

# whp-level end to end: WHP's stages, then level on WHP's model
if run whp-level whp-level --anchors "$T/anchors.json" --reinforce-steps 20 --steps 20 \
    --level-steps 100 --level-lr 3e-3 --level "$lvl"; then
    grep -q "unlearn: level: done" "$T/err" && [ -s "$T/w-whp-level/level.gguf" ] &&
        ok "whp-level: WHP's stages, then the level stage" || bad "whp-level: no level stage"
    directions whp-level "$T/whp-level.gguf"
else
    bad "whp-level: $(tail -n 1 "$T/err")"
fi

# RMU at block 0: its MLP moves, nothing else by a single bit
DIFF=${GGUF_DIFF:-build/tests/gguf_diff}
if "$DIFF" --each "$T/base.gguf" "$T/rmu.gguf" >"$T/diff"; then
    moved=$(awk '$2 != 0 { printf "%s ", $1 }' "$T/diff")
    [ "$moved" = "blk.0.ffn_gate.weight blk.0.ffn_up.weight blk.0.ffn_down.weight " ] &&
        ok "rmu --layer 0 moved only block 0's MLP ($(wc -l <"$T/diff") tensors compared)" ||
        bad "rmu --layer 0 moved: $moved"
else
    bad "gguf_diff failed"
fi

# RMU on MLP adapters of the frozen base, in bf16 where the CPU has it: the
# merged model moves block 0's MLP only
if run rmu rmu-lora --steps 20 --lr 1e-3 --layer 0 --lora-rank 4 --lora-targets gate,up,down \
    --precision bf16 && "$DIFF" --each "$T/base.gguf" "$T/rmu-lora.gguf" >"$T/diff"; then
    moved=$(awk '$2 != 0 { printf "%s ", $1 }' "$T/diff")
    [ "$moved" = "blk.0.ffn_gate.weight blk.0.ffn_up.weight blk.0.ffn_down.weight " ] &&
        ok "rmu with LoRA (gate, up, down) and bf16: only block 0's MLP moved" ||
        bad "rmu with LoRA moved: $moved"
else
    bad "rmu with LoRA: $(tail -n 1 "$T/err")"
fi

# retain text: refused where unused, required where used; WHP's --anchors refused
expect_usage() {
    name=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err" && ok "$name" ||
        bad "$name: exit $rc, $(head -c 300 "$T/err")"
}
U="unlearn -m $T/base.gguf --target $T/target.txt -o $T/x.gguf --work $T/wx --block 32"
expect_usage "ga with --retain" "this method has no retain term: --retain is not used" \
    $OB $U --method ga --retain "$T/retain.txt"
expect_usage "graddiff without --retain" "give --retain FILE" $OB $U --method graddiff
expect_usage "npo with --anchors" "--anchors is WHP's" $OB $U --method npo --anchors "$T/target.txt"
expect_usage "npo --beta 0" "--beta 0: must be in (0, 10000]" $OB $U --method npo --beta 0
expect_usage "whp-level with LoRA" "whp-level trains full weights" \
    $OB $U --method whp-level --anchors "$T/anchors.json" --retain "$T/retain.txt" --lora-rank 4
expect_usage "level --level -1" "--level -1: must be in \[0, 100\]" \
    $OB $U --method level --retain "$T/retain.txt" --level -1
expect_usage "rmu on attention adapters" "rmu trains MLP weights only" \
    $OB $U --method rmu --retain "$T/retain.txt" --lora-rank 4
expect_usage "task-vector --negate 0" "--negate 0: must be in (0, 10000]" \
    $OB $U --method task-vector --negate 0
expect_usage "task-vector with --retain" "no retain term" \
    $OB $U --method task-vector --retain "$T/retain.txt"
[ ! -e "$T/wx" ] && ok "nothing made before the settings are checked" || bad "a work folder was made"

# a rerun with the same inputs skips
run npo npo --steps 40 --lr 1e-4 && grep -q "finetune: up to date, skipped" "$T/err" && ok "npo rerun skips" ||
    bad "npo rerun: $(tail -n 2 "$T/err")"
echo "methods: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
