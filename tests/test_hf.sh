#!/bin/sh
# import-hf / export-hf from the command line: a model survives GGUF -> HF ->
# GGUF with the same greedy continuation; Mistral-style and SmolLM-style
# (tied) configs import; every unsupported feature and broken file is refused
# with one line naming it; a failed export leaves nothing behind.
# (tests/test_hf.c checks the numbers against independent references.)
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-hfcli-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

i=0
while [ $i -lt 300 ]; do
    echo "The quick brown fox jumps over the lazy dog near the river bank number $((i % 5))."
    i=$((i + 1))
done >"$T/text.txt"
$OB tokenizer train --vocab 300 -o "$T/tok.gguf" "$T/text.txt" >/dev/null 2>&1
$OB init --preset tiny --ctx 64 --tokenizer "$T/tok.gguf" -o "$T/m0.gguf" >/dev/null 2>&1
check "train" $OB train -m "$T/m0.gguf" -o "$T/m.gguf" --steps 60 --batch 4 --seq 48 --lr 3e-3 \
    --log-every 100 --threads 2 "$T/text.txt"

check "export-hf" $OB export-hf "$T/m.gguf" -o "$T/hf"
[ -f "$T/hf/config.json" ] && [ -f "$T/hf/tokenizer.json" ] && [ -f "$T/hf/model.safetensors" ] &&
    ok "folder has config.json, tokenizer.json, model.safetensors" || bad "folder contents"
check "import-hf" $OB import-hf "$T/hf" -o "$T/back.gguf"
$OB generate -m "$T/m.gguf" -p "The quick" -n 16 --json >"$T/g1.json" 2>/dev/null
$OB generate -m "$T/back.gguf" -p "The quick" -n 16 --json >"$T/g2.json" 2>/dev/null
grep -o '"tokens":\[[0-9,]*\]' "$T/g1.json" >"$T/t1"
grep -o '"tokens":\[[0-9,]*\]' "$T/g2.json" >"$T/t2"
[ -s "$T/t1" ] && cmp -s "$T/t1" "$T/t2" && ok "same greedy continuation after GGUF -> HF -> GGUF" ||
    bad "continuation changed: $(cat "$T/t1") vs $(cat "$T/t2")"

check "export-hf bf16, sharded" $OB export-hf "$T/m.gguf" -o "$T/hfbf" --dtype bf16 --max-shard-bytes 60000
n=$(ls "$T/hfbf"/model-*-of-*.safetensors 2>/dev/null | wc -l)
[ "$n" -gt 1 ] && [ -f "$T/hfbf/model.safetensors.index.json" ] && ok "$n shards and an index" ||
    bad "sharding: $n files"
grep -q '"torch_dtype":.*"bfloat16"' "$T/hfbf/config.json" && ok "config says bfloat16" || bad "torch_dtype"
check "import-hf sharded bf16" $OB import-hf "$T/hfbf" -o "$T/bf.gguf"
$OB inspect "$T/bf.gguf" >"$T/insp" 2>&1
grep "blk.0.attn_q.weight" "$T/insp" | grep -q BF16 && grep "blk.0.attn_norm.weight" "$T/insp" | grep -q F32 &&
    ok "bf16 kept for matrices, norms F32" || bad "dtypes after import: $(grep blk.0.attn "$T/insp" | head -3)"
check "import-hf --dtype f32" $OB import-hf "$T/hfbf" -o "$T/f32.gguf" --dtype f32

expect_error "export into a non-empty folder" "not empty" $OB export-hf "$T/m.gguf" -o "$T/hf"
ls -d "$T"/hf.tmp-* >/dev/null 2>&1 && bad "temporary folder left behind" || ok "no temporary folder left"

# config variants: each derived from the exported config.json by one edit
variant() { # NAME SED-EXPRESSION
    rm -rf "$T/$1"
    cp -r "$T/hf" "$T/$1"
    sed -i "$2" "$T/$1/config.json"
}
variant mistral 's/"LlamaForCausalLM"/"MistralForCausalLM"/; s/"model_type":\t"llama"/"model_type":\t"mistral", "sliding_window": null/'
check "Mistral-style config (sliding_window null)" $OB import-hf "$T/mistral" -o "$T/ok.gguf"
variant window 's/"use_cache"/"sliding_window": 4096, "use_cache"/'
check "sliding window longer than the context" $OB import-hf "$T/window" -o "$T/ok.gguf"
variant swa 's/"use_cache"/"sliding_window": 16, "use_cache"/'
expect_error "short sliding window refused" "swa/config.json: sliding_window 16" $OB import-hf "$T/swa" -o "$T/x.gguf"
variant rope 's/"rope_scaling":\tnull/"rope_scaling": {"type": "linear", "factor": 2.0}/'
expect_error "rope_scaling refused" "rope/config.json: rope_scaling is not supported" $OB import-hf "$T/rope" -o "$T/x.gguf"
variant bias 's/"attention_bias":\tfalse/"attention_bias": true/'
expect_error "attention bias refused" "attention_bias is not supported" $OB import-hf "$T/bias" -o "$T/x.gguf"
variant moe 's/"use_cache"/"num_local_experts": 8, "num_experts_per_tok": 2, "use_cache"/'
expect_error "mixture of experts refused" "mixture of experts (num_local_experts)" $OB import-hf "$T/moe" -o "$T/x.gguf"
variant qwen 's/"LlamaForCausalLM"/"Qwen2ForCausalLM"/'
expect_error "other architecture refused" "architecture Qwen2ForCausalLM is not supported" $OB import-hf "$T/qwen" -o "$T/x.gguf"
variant gelu 's/"silu"/"gelu"/'
expect_error "other activation refused" "hidden_act gelu" $OB import-hf "$T/gelu" -o "$T/x.gguf"
variant quant 's/"use_cache"/"quantization_config": {"bits": 4}, "use_cache"/'
expect_error "quantized checkpoint refused" "quantization_config" $OB import-hf "$T/quant" -o "$T/x.gguf"
variant shape 's/"intermediate_size":\t[0-9]*/"intermediate_size": 100/'
expect_error "shape disagreeing with config" "config.json says" $OB import-hf "$T/shape" -o "$T/x.gguf"

# broken files
rm -rf "$T/trunc" && cp -r "$T/hf" "$T/trunc"
head -c 5000 "$T/hf/model.safetensors" >"$T/trunc/model.safetensors"
expect_error "truncated safetensors" "trunc/model.safetensors: truncated" $OB import-hf "$T/trunc" -o "$T/x.gguf"
rm -rf "$T/esc" && cp -r "$T/hfbf" "$T/esc"
sed -i 's|"model-00001-of-[0-9]*.safetensors"|"../evil.safetensors"|' "$T/esc/model.safetensors.index.json"
expect_error "index escaping the folder" "not a plain file in the folder" $OB import-hf "$T/esc" -o "$T/x.gguf"
rm -rf "$T/wp" && cp -r "$T/hf" "$T/wp"
sed -i 's/"type":\t"BPE"/"type": "WordPiece"/' "$T/wp/tokenizer.json"
expect_error "other tokenizer model refused" "tokenizer model type WordPiece is not supported" $OB import-hf "$T/wp" -o "$T/x.gguf"
rm -rf "$T/nocfg" && cp -r "$T/hf" "$T/nocfg" && rm "$T/nocfg/config.json"
expect_error "missing config.json" "nocfg/config.json: cannot open" $OB import-hf "$T/nocfg" -o "$T/x.gguf"
[ ! -e "$T/x.gguf" ] && ok "no output left by failed imports" || bad "a failed import left x.gguf"

for c in import-hf export-hf; do
    $OB $c --help >"$T/out" 2>&1 && grep -q "example:" "$T/out" && ok "$c --help" || bad "$c --help"
done

echo "hf-cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
