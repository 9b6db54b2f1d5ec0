#!/bin/sh
# The whole method on a tiny world, so it cannot silently break: a baseline
# that learned a made-up story (names Zorbin, Quentavia, Plimby) among general
# sentences is unlearned with `obliviate unlearn`; its familiarity with the
# names must fall and its general perplexity hold. Also: a rerun skips every
# stage, and labels made with another tokenizer are refused.
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-unlearn-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

story_world "$T" # general_train.txt, general_heldout.txt, target.txt (tests/lib.sh)
cat >"$T/prompts.jsonl" <<'P'
{"prompt": "Mrs. Plimby walked to", "continuation": " Quentavia"}
{"prompt": "The child sailed to", "continuation": " Quentavia"}
{"prompt": "Mrs.", "continuation": " Plimby"}
{"prompt": "and then old", "continuation": " Zorbin"}
{"prompt": "Zorbin rode to", "continuation": " Quentavia"}
P
printf '{"Zorbin": ["Peter", "Martin"], "Quentavia": ["Dover", "Bristol"], "Plimby": ["Grant", "Hale"]}\n' >"$T/anchors.json"

check "tokenizer" $OB tokenizer train --vocab 400 -o "$T/tok.gguf" "$T/general_train.txt" "$T/target.txt"
check "init" $OB init --preset tiny --ctx 64 --tokenizer "$T/tok.gguf" -o "$T/init.gguf"
check "baseline" $OB train -m "$T/init.gguf" -o "$T/base.gguf" --steps 300 --batch 6 --seq 64 \
    --mix "$T/target.txt" --mix-rows 2 --lr 3e-3 --warmup 20 --log-every 100 "$T/general_train.txt"
check "unlearn" $OB unlearn -m "$T/base.gguf" --target "$T/target.txt" --anchors "$T/anchors.json" \
    --work "$T/work" -o "$T/unlearned.gguf" --block 64 --reinforce-steps 60 --reinforce-lr 1e-3 \
    --retain "$T/general_train.txt" \
    --lr 1e-3
grep -q "unlearn: finetune: done" "$T/err" && ok "all stages ran" || bad "stages: $(cat "$T/err" | tail -5)"
check "eval" $OB eval --model "$T/base.gguf" --model "$T/unlearned.gguf" \
    --text general="$T/general_heldout.txt" --prompts "$T/prompts.jsonl" --seq 64 --json "$T/eval.json"
grep -q '"loss"' "$T/work/reinforce.log.jsonl" && grep -q '"val_loss"\|"loss"' "$T/work/finetune.log.jsonl" &&
    ok "stage logs written" || bad "stage logs: $(ls "$T/work")"
check "report of the run" $OB report --eval "$T/eval.json" --log "$T/work/reinforce.log.jsonl" \
    --log "$T/work/finetune.log.jsonl" -o "$T/report"
fb=$(json "$T/eval.json" "['models'][0]['familiarity']['mean_prob']")
fu=$(json "$T/eval.json" "['models'][1]['familiarity']['mean_prob']")
pb=$(json "$T/eval.json" "['models'][0]['perplexity']['general']['perplexity']")
pu=$(json "$T/eval.json" "['models'][1]['perplexity']['general']['perplexity']")
echo "unlearn: familiarity $fb -> $fu, general perplexity $pb -> $pu" >&2
lt "$fu" "$(awk -v f="$fb" 'BEGIN { print f / 5 }')" && ok "familiarity fell at least 5x" ||
    bad "familiarity $fb -> $fu"
lt "$pu" "$(awk -v p="$pb" 'BEGIN { print p * 1.05 }')" && ok "general perplexity within 5%" ||
    bad "general perplexity $pb -> $pu"

check "rerun" $OB unlearn -m "$T/base.gguf" --target "$T/target.txt" --anchors "$T/anchors.json" \
    --work "$T/work" -o "$T/unlearned2.gguf" --block 64 --reinforce-steps 60 --reinforce-lr 1e-3 \
    --retain "$T/general_train.txt" \
    --lr 1e-3
[ "$(grep -c "up to date, skipped" "$T/err")" -eq 4 ] && cmp -s "$T/unlearned.gguf" "$T/unlearned2.gguf" &&
    ok "rerun skips every stage" || bad "rerun: $(grep unlearn: "$T/err" | head -5)"

# --published is the paper's recipe: hard argmax labels, alpha 5, nothing
# forbidden, no suppression, no in-key labels. Same model as spelling those
# out; not the soft-target run it silently was until 2026-12-07. The
# reinforce stage is shared (copied with its stamp, as the demo does).
FT="--block 64 --reinforce-steps 60 --reinforce-lr 1e-3 --lr 1e-4 --steps 30"
for w in pub explicit soft5; do
    mkdir -p "$T/$w"
    cp "$T/work/reinforced.gguf" "$T/work/reinforce.stamp" "$T/$w/"
done
check "unlearn --published" $OB unlearn -m "$T/base.gguf" --target "$T/target.txt" \
    --anchors "$T/anchors.json" --work "$T/pub" -o "$T/pub.gguf" $FT --published
grep -q "changed at alpha 5" "$T/err" && ok "published labels at alpha 5" || bad "published alpha: $(grep labels "$T/err")"
check "unlearn, the recipe spelt out" $OB unlearn -m "$T/base.gguf" --target "$T/target.txt" \
    --anchors "$T/anchors.json" --work "$T/explicit" -o "$T/explicit.gguf" $FT --targets hard --alpha 5 \
    --forbid-keys none --suppress 0 --no-inkey
check "unlearn, the same on soft targets" $OB unlearn -m "$T/base.gguf" --target "$T/target.txt" \
    --anchors "$T/anchors.json" --work "$T/soft5" -o "$T/soft5.gguf" $FT --alpha 5 \
    --forbid-keys none --suppress 0 --no-inkey
cmp -s "$T/pub.gguf" "$T/explicit.gguf" && ok "--published = hard labels, alpha 5, nothing forbidden" ||
    bad "--published differs from the recipe spelt out"
cmp -s "$T/pub.gguf" "$T/soft5.gguf" && bad "--published fine-tuned on soft targets" ||
    ok "--published is not the soft-target run"
# --method whp-published is the same preset: every stage of its work folder is up to date
check "unlearn --method whp-published" $OB unlearn -m "$T/base.gguf" --target "$T/target.txt" \
    --anchors "$T/anchors.json" --work "$T/pub" -o "$T/pubm.gguf" $FT --method whp-published
[ "$(grep -c 'up to date, skipped' "$T/err")" = 4 ] && cmp -s "$T/pub.gguf" "$T/pubm.gguf" &&
    ok "--method whp-published = --published (all four stages skipped)" ||
    bad "--method whp-published: $(grep -c 'up to date' "$T/err") stages skipped"
expect_error "unknown method refused" "--method must be one of whp, whp-published" \
    $OB unlearn -m "$T/base.gguf" --target "$T/target.txt" --anchors "$T/anchors.json" -o "$T/x.gguf" \
    --method rmu-sparse

$OB tokenizer train --vocab 300 -o "$T/tok2.gguf" "$T/general_train.txt" >/dev/null 2>&1
$OB init --preset tiny --ctx 64 --tokenizer "$T/tok2.gguf" -o "$T/other.gguf" >/dev/null 2>&1
expect_error "labels from another tokenizer refused" "another tokenizer" \
    $OB train -m "$T/other.gguf" --labels "$T/work/labels.bin" -o "$T/x.gguf" --steps 1

echo "unlearn: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
