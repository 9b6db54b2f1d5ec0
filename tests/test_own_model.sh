#!/bin/sh
# The README's "Unlearning your own model" block, run as written: the
# commands are pulled out of README.md (the editor line skipped) and run on a
# Hugging Face folder exported from a tiny model that learned a made-up story
# among general sentences. Every command must succeed, and each of its
# outputs must be there and readable.
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-own-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
ROOT=$(pwd)

story_world "$T" # tests/lib.sh
cp "$T/general_heldout.txt" "$T/heldout.txt"
cp "$T/general_train.txt" "$T/general.txt"
cp "$T/target.txt" "$T/forget.txt"

# The model "from elsewhere": trained here, handed over as a Hugging Face folder.
$OB tokenizer train --vocab 400 -o "$T/tok.gguf" "$T/general.txt" "$T/forget.txt" >/dev/null 2>&1
$OB init --preset tiny --ctx 128 --tokenizer "$T/tok.gguf" -o "$T/init.gguf" >/dev/null 2>&1
check "a model to start from" $OB train -m "$T/init.gguf" -o "$T/trained.gguf" --steps 200 \
    --batch 6 --seq 64 --mix "$T/forget.txt" --mix-rows 2 --lr 3e-3 --warmup 20 --log-every 100 \
    "$T/general.txt"
check "exported as a Hugging Face folder" $OB export-hf "$T/trained.gguf" -o "$T/my-model"

# The block: from the first `obliviate import-hf` line to the closing fence.
block=$(awk '/^## Unlearning your own model/ { s = 1 } s && /^```$/ { n++; if (n == 2) exit; next }
    s && n == 1' README.md)
[ -n "$block" ] && ok "README block found ($(echo "$block" | grep -c '^obliviate') commands)" ||
    bad "no README block"
# Joined continuation lines, comments cut, the review step (an editor) left out; the
# small model gets small settings (the README's defaults are for real models).
echo "$block" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | sed 's/  *#.*$//' | grep '^obliviate' |
    sed -e "s|^obliviate|$ROOT/$OB|" \
        -e 's|unlearn -m base.gguf|unlearn --block 64 --reinforce-steps 20 --steps 20 -m base.gguf|' \
        -e 's|--completions 100|--completions 10 --seq 64|' >"$T/block.sh"
n=0
while IFS= read -r line; do
    n=$((n + 1))
    name=$(echo "$line" | awk '{ print $2 }')
    if (cd "$T" && eval "$line") >"$T/out" 2>"$T/err"; then
        ok "README step $n: obliviate $name"
    else
        bad "README step $n: $line: $(tail -n 2 "$T/err")"
    fi
done <"$T/block.sh"
for f in base.gguf anchors.json anchors-report.json unlearned.gguf eval.json report/report.html \
    my-model-unlearned/config.json my-model-unlearned/model.safetensors unlearned.q4_k_m.gguf; do
    [ -s "$T/$f" ] && ok "$f written" || bad "$f missing"
done
# both models, each also after Q4_K_M and Q8_0
names=$(json "$T/eval.json" "['models'].map(m => m.name)")
[ "$names" = "base,base@q4_k_m,base@q8_0,unlearned,unlearned@q4_k_m,unlearned@q8_0" ] &&
    ok "eval.json has both models, quantised too" || bad "eval.json models: $names"

echo "own-model: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
