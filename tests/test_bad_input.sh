#!/bin/sh
# What bad input gets (docs/bad-input.md): every row of that table
# run here -- a one-line error and exit 1 (2 for a bad command line), never a
# crash -- and the atomic writes: a full disk (RLIMIT_FSIZE: writes fail with
# EFBIG, which works as root too) or an unwritable folder is a one-line error
# and leaves the previous file byte-identical, with no temporary file behind.
set -u
OB=${OB:-build/obliviate}
T=$(mktemp -d /tmp/obliviate-bad-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh

i=0
while [ $i -lt 200 ]; do
    echo "The quick brown fox jumps over the lazy dog near the river bank, number $((i % 7))."
    i=$((i + 1))
done >"$T/text.txt"
check "tokenizer" $OB tokenizer train --vocab 300 -o "$T/tok.gguf" "$T/text.txt"
check "tokenizer 2" $OB tokenizer train --vocab 280 -o "$T/tok2.gguf" "$T/text.txt"
check "init" $OB init --preset tiny --ctx 32 --tokenizer "$T/tok.gguf" -o "$T/m.gguf"
check "init 2" $OB init --preset tiny --ctx 32 --tokenizer "$T/tok2.gguf" -o "$T/m2.gguf"
expect_error "init --ctx past what a model file may hold" "model dimensions must be at most 1073741824" \
    $OB init --preset tiny --ctx 2147483647 --tokenizer "$T/tok.gguf" -o "$T/hugectx.gguf"
[ ! -e "$T/hugectx.gguf" ] && ok "init --ctx 2147483647: no file written" || bad "init wrote a model others refuse"

# ---- model files
head -c 3 "$T/m.gguf" >"$T/short.gguf"
expect_error "3-byte model" "short.gguf: truncated" $OB inspect "$T/short.gguf"
head -c 200000 "$T/m.gguf" >"$T/trunc.gguf"
expect_error "truncated model" "trunc.gguf: truncated: tensor" $OB inspect "$T/trunc.gguf"
printf 'PK\003\004 not a gguf file at all' >"$T/zip.gguf"
expect_error "wrong magic" "zip.gguf: bad magic 0x04034b50 (not a GGUF file)" $OB generate -m "$T/zip.gguf" -p x
: >"$T/empty.gguf"
expect_error "empty model" "empty.gguf: empty file" $OB inspect "$T/empty.gguf"
# header: magic, version 3, tensor count, kv count (little-endian u64s)
printf 'GGUF\003\000\000\000\000\020\245\324\350\000\000\000\000\000\000\000\000\000\000\000' >"$T/huge.gguf"
expect_error "10^12 tensors" "huge.gguf: header claims 1000000000000 tensors, more than a 24-byte file can hold" \
    $OB inspect "$T/huge.gguf"
printf 'GGUF\003\000\000\000\001\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' >"$T/big.gguf"
printf '\001\000\000\000\000\000\000\000t\001\000\000\000\000\000\000\000\000\000\000\020' >>"$T/big.gguf"
printf '\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' >>"$T/big.gguf"
expect_error "2^60-element tensor" "big.gguf: truncated: tensor \"t\": 4611686018427387904 bytes" \
    $OB inspect "$T/big.gguf"
# a corrupt byte in the middle of the tokenizer strings
cp "$T/m.gguf" "$T/flip.gguf"
printf '\377\377\377\377' | dd of="$T/flip.gguf" bs=1 seek=1000 conv=notrunc 2>/dev/null
expect_error "corrupt model" "flip.gguf: " $OB generate -m "$T/flip.gguf" -p x
expect_error "tokenizer file as a model" "tok.gguf: key general.architecture missing" \
    $OB generate -m "$T/tok.gguf" -p x

# ---- text
: >"$T/empty.txt"
expect_error "empty text" "empty.txt: empty text file" $OB train -m "$T/m.gguf" -o "$T/x.gguf" --steps 1 "$T/empty.txt"
printf 'caf\351 cr\350me\n' >"$T/latin1.txt"
expect_error "non-UTF-8 text" "latin1.txt: not UTF-8" $OB train -m "$T/m.gguf" -o "$T/x.gguf" --steps 1 "$T/latin1.txt"

# ---- mismatched vocabularies
expect_error "models with other tokenizers" "tokenizer" \
    $OB labels --base "$T/m.gguf" --reinforced "$T/m2.gguf" --target "$T/text.txt" -o "$T/l.bin"
check "labels" $OB labels --base "$T/m.gguf" --reinforced "$T/m.gguf" --target "$T/text.txt" \
    --block 16 --soft-k 4 -o "$T/labels.bin"
expect_error "labels for another tokenizer" "labels.bin: made for another tokenizer" \
    $OB train -m "$T/m2.gguf" --labels "$T/labels.bin" -o "$T/x.gguf" --steps 1

head -c 1000 "$T/labels.bin" >"$T/cut.bin"
expect_error "truncated labels" "cut.bin: file is 1000 bytes, the header needs" \
    $OB train -m "$T/m.gguf" --labels "$T/cut.bin" -o "$T/x.gguf" --steps 1
expect_error "resume without a checkpoint" "none.gguf: no checkpoint to resume from" \
    $OB train --resume -o "$T/none.gguf" --steps 1 "$T/text.txt"

# ---- dictionaries, JSON, JSON Lines
printf '{"Harry": ["Jon", 3]}\n' >"$T/badval.json"
expect_error "malformed dictionary" "badval.json" $OB anchors check --dict "$T/badval.json" --tokenizer "$T/tok.gguf"
printf '{"Harry": "Jon",\n' >"$T/broken.json"
expect_error "broken dictionary JSON" "broken.json:1: " $OB anchors check --dict "$T/broken.json" --tokenizer "$T/tok.gguf"
printf '{"Holmes\\u0000xyz": "Jones"}' >"$T/nul.json"
expect_error "\\u0000 in an anchor key" 'nul.json:1: \\u0000 (a NUL character) at byte 8 is not supported' \
    $OB anchors check --dict "$T/nul.json" --tokenizer "$T/tok.gguf"
printf '{"prompt": "a", "continuation": "b"}\n{"prompt": "a"\n' >"$T/p.jsonl"
expect_error "malformed JSON Lines" "p.jsonl:2: " $OB eval -m "$T/m.gguf" --prompts "$T/p.jsonl" --seq 16
printf '{"prompt": "a"}\n' >"$T/p2.jsonl"
expect_error "JSON Lines field missing" "p2.jsonl:1: field \"continuation\" missing" \
    $OB eval -m "$T/m.gguf" --prompts "$T/p2.jsonl" --seq 16
printf '{"models": [' >"$T/eval.json"
expect_error "malformed eval JSON" "eval.json: not valid JSON" $OB report --eval "$T/eval.json" -o "$T/rep"
expect_error "bad option" "unknown option --bogus" $OB train --bogus

# expect_last_error NAME PATTERN COMMAND...: like expect_error for commands
# that print progress first: exit 1, and the error is one line, the last.
expect_last_error() {
    name=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -eq 1 ] && [ "$(grep -c '^obliviate ' "$T/err")" -eq 1 ] &&
        tail -n 1 "$T/err" | grep '^obliviate ' | grep -q -- "$pat"; then
        ok "$name"
    else
        bad "$name: exit $rc, stderr: $(tail -c 300 "$T/err")"
    fi
}

# ---- writes: full disk, unwritable folder, not a regular file
# full LIMIT_KB COMMAND...: runs it with writes past LIMIT_KB KiB failing with
# EFBIG (SIGXFSZ ignored, so the write call reports it).
full() {
    lim=$1
    shift
    (trap '' XFSZ && ulimit -f "$lim" && exec "$@")
}
# untouched NAME FILE COPY: FILE still equals COPY and no "FILE.tmp.*" is left.
untouched() {
    if cmp -s "$2" "$3" && [ -z "$(ls "$2".tmp.* 2>/dev/null)" ]; then ok "$1: previous file untouched"
    else bad "$1: previous file changed or temporary file left"; fi
}
cp "$T/m.gguf" "$T/keep.gguf"
expect_error "init, disk full" "m.gguf: write failed: File too large" \
    full 100 $OB init --preset tiny --ctx 32 --seed 9 --tokenizer "$T/tok.gguf" -o "$T/m.gguf"
untouched "init, disk full" "$T/m.gguf" "$T/keep.gguf"
cp "$T/tok.gguf" "$T/keep.tok"
expect_last_error "tokenizer, disk full" "tok.gguf: write failed: File too large" \
    full 2 $OB tokenizer train --vocab 290 -o "$T/tok.gguf" "$T/text.txt"
untouched "tokenizer, disk full" "$T/tok.gguf" "$T/keep.tok"
cp "$T/m.gguf" "$T/t.gguf"
cp "$T/t.gguf" "$T/keep.t"
expect_last_error "train, disk full" "t.gguf.state: write failed: File too large" \
    full 100 $OB train -m "$T/m.gguf" -o "$T/t.gguf" --steps 2 --batch 1 --seq 16 "$T/text.txt"
untouched "train, disk full" "$T/t.gguf" "$T/keep.t"
cp "$T/labels.bin" "$T/keep.labels"
expect_last_error "labels, disk full" "labels.bin: write failed: File too large" \
    full 20 $OB labels --base "$T/m.gguf" --reinforced "$T/m.gguf" --target "$T/text.txt" \
    --block 16 --soft-k 8 -o "$T/labels.bin"
untouched "labels, disk full" "$T/labels.bin" "$T/keep.labels"
# (the limit applies to stderr, a file here, too: each output must outgrow
# its KiB while the messages stay under it)
i=0
while [ $i -lt 40 ]; do
    echo '{"prompt": "The quick brown", "continuation": " fox jumps"}'
    i=$((i + 1))
done >"$T/many.jsonl"
printf '{"old": 1}\n' >"$T/e.json"
cp "$T/e.json" "$T/keep.e"
expect_last_error "eval --json, disk full" "e.json: write failed: File too large" \
    full 1 $OB eval -m "$T/m.gguf" --prompts "$T/many.jsonl" --seq 16 --json "$T/e.json"
untouched "eval --json, disk full" "$T/e.json" "$T/keep.e"
expect_error "unwritable folder" "text.txt/m.gguf: cannot create file: Not a directory" \
    $OB init --preset tiny --ctx 32 --tokenizer "$T/tok.gguf" -o "$T/text.txt/m.gguf"
expect_error "missing folder" "nodir/m.gguf: cannot create file: No such file or directory" \
    $OB init --preset tiny --ctx 32 --tokenizer "$T/tok.gguf" -o "$T/nodir/m.gguf"
expect_error "output is a device" "/dev/null: exists and is not a regular file" \
    $OB init --preset tiny --ctx 32 --tokenizer "$T/tok.gguf" -o /dev/null
[ -c /dev/null ] && ok "/dev/null still a device" || bad "/dev/null replaced"
mkdir "$T/adir"
expect_error "output is a folder" "adir: exists and is not a regular file" \
    $OB init --preset tiny --ctx 32 --tokenizer "$T/tok.gguf" -o "$T/adir"

# ---- settings out of range: a usage error (exit 2) naming the flag, before
# any file is read (the model given does not even exist)
# expect_usage NAME PATTERN COMMAND...: exit 2, one stderr line matching.
expect_usage() {
    name=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err"; then
        ok "$name"
    else
        bad "$name: exit $rc, stderr: $(head -c 300 "$T/err")"
    fi
}
for s in "--lr 1e30:--lr 1e+30: must be in (0, 1]" "--beta1 1:--beta1 1: must be in \[0, 1)" \
    "--beta1 -1:--beta1 -1: must be" "--beta2 2:--beta2 2: must be" "--lr -1:--lr -1: must be" \
    "--min-lr -1:--min-lr -1: must be" "--wd -1:--wd -1: must be 0 or more" \
    "--adam-eps -1:--adam-eps -1: must be" "--adam-eps 0:--adam-eps 0: must be" \
    "--steps 0:--steps 0: must be 1 or more" "--batch 0:--batch 0: must be 1 or more" \
    "--log-every 0:--log-every 0: must be 1 or more" "--threads -1:--threads -1: must be 0"; do
    expect_usage "train ${s%%:*}" "${s#*:}" $OB train -m "$T/nomodel.gguf" -o "$T/x.gguf" ${s%%:*} "$T/text.txt"
done
expect_usage "reinforce --lr 1e30" "--lr 1e+30: must be" $OB reinforce -m "$T/nomodel.gguf" -o "$T/x.gguf" --lr 1e30 "$T/text.txt"
for v in 2 -0.5 1; do
    expect_usage "train --labels --val-share $v" "--val-share" \
        $OB train -m "$T/nomodel.gguf" --labels "$T/labels.bin" -o "$T/x.gguf" --val-share $v
done
expect_usage "train --labels --batch 0" "--batch 0: must be 1 or more" \
    $OB train -m "$T/nomodel.gguf" --labels "$T/labels.bin" -o "$T/x.gguf" --batch 0
U="unlearn -m $T/m.gguf --target $T/text.txt --anchors $T/badval.json -o $T/u.gguf --work $T/uw"
expect_usage "unlearn --soft-k 0" "--soft-k 0 makes hard labels only" $OB $U --soft-k 0
expect_usage "unlearn --batch 0" "--batch 0: must be 1 or more" $OB $U --batch 0
expect_usage "unlearn --reinforce-lr 1e30" "--reinforce-lr 1e+30: must be" $OB $U --reinforce-lr 1e30
expect_usage "unlearn --lr -1" "--lr -1: must be" $OB $U --lr -1
[ ! -e "$T/uw" ] && ok "unlearn: nothing made before the settings are checked" ||
    bad "unlearn made its work folder before refusing its settings"

# ---- non-finite numbers: models with a NaN weight are refused at load; a
# NaN loss stops training at its step, leaving the output as it was; a
# damaged optimizer state is refused on resume.
# poke IN OUT VALUE COUNT: OUT is IN with the first COUNT floats of its first
# norm vector (a run of 1.0s: blk.0.attn_norm) set to VALUE.
poke() {
    node -e 'const fs = require("fs"), b = fs.readFileSync(process.argv[1]);
             const i = b.indexOf(Buffer.from("0000803f0000803f0000803f0000803f", "hex"));
             for (let k = 0; k < +process.argv[4]; k++) b.writeFloatLE(+process.argv[3], i + 4 * k);
             fs.writeFileSync(process.argv[2], b)' "$@"
}
poke "$T/m.gguf" "$T/nan.gguf" NaN 1
for c in "labels --base $T/nan.gguf --reinforced $T/m.gguf --target $T/text.txt -o $T/nl.bin" \
    "train -m $T/nan.gguf -o $T/x.gguf --steps 1 $T/text.txt" \
    "generate -m $T/nan.gguf -p x"; do
    expect_error "NaN model: ${c%% *}" "nan.gguf: tensor blk.0.attn_norm.weight holds a non-finite value" $OB $c
done
expect_last_error "NaN model: eval" "nan.gguf: tensor blk.0.attn_norm.weight holds a non-finite value" \
    $OB eval -m "$T/nan.gguf" --prompts "$T/many.jsonl" --seq 16
[ ! -e "$T/nl.bin" ] && [ -z "$(ls "$T"/nl.bin.tmp.* 2>/dev/null)" ] && ok "NaN model: no labels file" ||
    bad "NaN model: labels left a file"
poke "$T/m.gguf" "$T/huge.gguf" 3e38 32
cp "$T/m.gguf" "$T/h.gguf"
expect_last_error "NaN loss stops training" "step 1: the loss is NaN: training stopped" \
    $OB train -m "$T/huge.gguf" -o "$T/h.gguf" --steps 3 --batch 1 --seq 16 --log "$T/h.log" "$T/text.txt"
cmp -s "$T/m.gguf" "$T/h.gguf" && ! grep -qi nan "$T/h.log" && ok "NaN loss: output untouched, no NaN logged" ||
    bad "NaN loss: output changed or NaN logged"
check "train with checkpoints" $OB train -m "$T/m.gguf" -o "$T/s.gguf" --steps 2 --batch 1 --seq 16 \
    --ckpt-every 1 "$T/text.txt"
sz=$(wc -c <"$T/s.gguf.state")
printf '\377\377\377\377' | dd of="$T/s.gguf.state" bs=1 seek=$((sz - 4)) conv=notrunc 2>/dev/null
expect_last_error "NaN optimizer state" "s.gguf.state: optimizer state holds a non-finite value" \
    $OB train --resume -o "$T/s.gguf" --steps 2 --batch 1 --seq 16 --ckpt-every 1 "$T/text.txt"

# ---- generation respects the model's context (32 here): refused, saying the limit
expect_error "generate past the context" "a prompt of 2 tokens + 100000 to generate exceed the model's context of 32 tokens (-n 30 at most)" \
    $OB generate -m "$T/m.gguf" -p "The" -n 100000
expect_error "generate -n 2^31-1" "exceed the model's context of 32 tokens" \
    $OB generate -m "$T/m.gguf" -p "The" -n 2147483647
expect_error "prompt longer than the context" "(-n 0 at most)" \
    $OB generate -m "$T/m.gguf" -p "$(head -c 600 "$T/text.txt")" -n 1
check "generate up to the context" $OB generate -m "$T/m.gguf" -p "The" -n 30 --json

# ---- an output that is one of the inputs is refused before any work
cp "$T/text.txt" "$T/t.txt"
cp "$T/t.txt" "$T/keep.txt"
expect_error "train -o INPUT" "t.txt: the output is also an input" \
    $OB train -m "$T/m.gguf" -o "$T/t.txt" --steps 1 --batch 1 --seq 16 "$T/t.txt"
expect_error "tokenizer train -o INPUT" "the output is also an input" \
    $OB tokenizer train --vocab 300 -o "$T/t.txt" "$T/t.txt"
expect_error "unlearn -o TARGET" "the output is also an input" \
    $OB unlearn -m "$T/m.gguf" --target "$T/t.txt" --anchors "$T/badval.json" -o "$T/t.txt" --work "$T/uw"
expect_error "unlearn -o ANCHORS" "badval.json: the output is also an input" \
    $OB unlearn -m "$T/m.gguf" --target "$T/t.txt" --anchors "$T/badval.json" -o "$T/badval.json" --work "$T/uw"
expect_error "labels -o TARGET (another name for it)" "the output is also an input" \
    $OB labels --base "$T/m.gguf" --reinforced "$T/m.gguf" --target "$T/t.txt" -o "$T/../$(basename "$T")/t.txt"
cp "$T/m.gguf" "$T/keep.m"
expect_error "eval --json MODEL" "m.gguf: the output is also an input" \
    $OB eval -m "$T/m.gguf" --prompts "$T/many.jsonl" --seq 16 --json "$T/m.gguf"
cmp -s "$T/t.txt" "$T/keep.txt" && cmp -s "$T/m.gguf" "$T/keep.m" && [ ! -e "$T/uw" ] &&
    ok "inputs untouched, nothing made" || bad "an input changed or a work folder was made"

# ---- one writer per output (rows 1-2): a second run on a held output or
# work folder is refused naming the holder; --resume with other settings is
# refused naming the setting
# wait_for FILE: up to 30 s for FILE to appear
wait_for() {
    n=0
    while [ ! -e "$1" ] && [ $n -lt 1500 ]; do sleep 0.02; n=$((n + 1)); done
}
$OB train -m "$T/m.gguf" -o "$T/busy.gguf" --steps 100000 --batch 1 --seq 16 --threads 1 \
    --log "$T/busy.log" "$T/text.txt" >/dev/null 2>"$T/busy.err" &
bp=$!
wait_for "$T/busy.gguf.lock"
expect_last_error "train on an output in use" "busy.gguf: in use by another obliviate run (pid $bp, lock" \
    $OB train -m "$T/m.gguf" -o "$T/busy.gguf" --steps 1 --batch 1 --seq 16 --threads 1 "$T/text.txt"
# ---- SIGTERM (row 3): one line saying what to do, the lock and temporary
# files removed, exit 143
kill -TERM $bp
wait $bp
rc=$?
[ $rc -eq 143 ] && grep -q "interrupted; temporary files removed; rerun with --resume" "$T/busy.err" &&
    [ -z "$(ls "$T" | grep -E '^busy\.gguf\.(lock|tmp\.)')" ] && ok "SIGTERM: exit 143, one line, nothing left" ||
    bad "SIGTERM: exit $rc, $(tail -n 1 "$T/busy.err"), left: $(ls "$T" | grep busy)"
printf '{"fox": ["cat"], "river": ["lake"]}\n' >"$T/anchors.json"
UW="unlearn -m $T/m.gguf --target $T/text.txt --anchors $T/anchors.json --block 16 --reinforce-steps 100000 --threads 1"
# a background job of a script starts with SIGINT ignored (and obliviate
# keeps a signal its caller ignores): perl puts the default back first
perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die' $OB $UW --work "$T/busyw" -o "$T/bu1.gguf" \
    >/dev/null 2>"$T/busyw.err" &
bp=$!
wait_for "$T/busyw/lock"
expect_error "unlearn on a work folder in use" "busyw: in use by another obliviate run (pid $bp, lock" \
    $OB $UW --work "$T/busyw" -o "$T/bu2.gguf" --seed 2
kill -INT $bp
wait $bp
rc=$?
[ $rc -eq 130 ] && [ ! -e "$T/busyw/lock" ] && [ ! -e "$T/bu1.gguf.lock" ] &&
    grep -q "obliviate unlearn: interrupted; temporary files removed; rerun the same command" "$T/busyw.err" &&
    ok "SIGINT: exit 130, one line, the work folder's and the output's locks removed" ||
    bad "SIGINT: exit $rc, $(tail -n 1 "$T/busyw.err"), left: $(ls "$T/busyw" "$T" | grep lock)"
sh -c 'exit 0' &
deadpid=$!
wait $deadpid
: >"$T/o2.gguf.tmp.$deadpid"
check "train after a killed one" $OB train -m "$T/m.gguf" -o "$T/o2.gguf" --steps 2 --batch 1 --seq 16 \
    --ckpt-every 1 --log "$T/o2.log" "$T/text.txt"
[ ! -e "$T/o2.gguf.tmp.$deadpid" ] && ok "a dead process's temporary file removed by the next write" ||
    bad "o2.gguf.tmp.$deadpid left"
expect_last_error "--resume with another seed" "o2.gguf.state: the run being resumed used --seed 1, this one --seed 2" \
    $OB train --resume -o "$T/o2.gguf" --steps 2 --batch 1 --seq 16 --seed 2 "$T/text.txt"
expect_last_error "--resume with other steps" "used --steps 2, this one --steps 5" \
    $OB train --resume -o "$T/o2.gguf" --steps 5 --batch 1 --seq 16 "$T/text.txt"
# ---- row 15: a fresh run starts a fresh log (one log never holds two runs)
printf '{"st{"step":1,"loss":9}\n' >>"$T/o2.log"
check "train afresh over an old log" $OB train -m "$T/m.gguf" -o "$T/o2.gguf" --steps 2 --batch 1 --seq 16 \
    --log "$T/o2.log" "$T/text.txt"
[ "$(wc -l <"$T/o2.log")" -eq 2 ] && ! grep -q '{"st{' "$T/o2.log" && ok "fresh run: a fresh log" ||
    bad "fresh run appended to the old log: $(wc -l <"$T/o2.log") lines"

# ---- row 9: a missing folder or a name too long for the checkpoint's files
# is found before the first step
expect_error "output folder missing" "nodir/x.gguf: cannot write in its folder" \
    $OB train -m "$T/m.gguf" -o "$T/nodir/x.gguf" --steps 1 --batch 1 --seq 16 "$T/text.txt"
n250=$(printf '%0245d' 0).gguf
expect_error "a 250-byte output name" "file name too long for the files written beside it" \
    $OB train -m "$T/m.gguf" -o "$T/$n250" --steps 1 --batch 1 --seq 16 "$T/text.txt"

expect_error "unlearn -o into a missing folder" "nodir/u.gguf: cannot write in its folder" \
    $OB unlearn -m "$T/m.gguf" --target "$T/text.txt" --anchors "$T/anchors.json" -o "$T/nodir/u.gguf" --work "$T/uw9"
[ ! -e "$T/uw9" ] && ok "unlearn: refused before any stage (no work folder)" || bad "unlearn made its work folder first"

# ---- row 13: a finished stage's output damaged afterwards is made again
UA="unlearn -m $T/m.gguf --target $T/text.txt --anchors $T/anchors.json --block 16 --reinforce-steps 2 --steps 2 --batch 2 --soft-k 4 --threads 1"
check "unlearn" $OB $UA --work "$T/uw13" -o "$T/u13.gguf"
head -c 100 "$T/uw13/labels.bin" >"$T/lb" && mv "$T/lb" "$T/uw13/labels.bin"
check "unlearn after labels.bin was truncated" $OB $UA --work "$T/uw13" -o "$T/u13.gguf"
grep -q "unlearn: labels: output unreadable, made again" "$T/err" && ok "truncated labels.bin made again" ||
    bad "truncated labels.bin: $(grep labels "$T/err" | head -n 2)"

# ---- report: figures out of range, one line naming the file and the field
for f in '"perplexity": {"general": {"perplexity": -5}}|perplexity.general.perplexity" is -5' \
    '"perplexity": {"general": {"perplexity": 0}}|perplexity.general.perplexity" is 0' \
    '"familiarity": {"mean_prob": -1}|familiarity.mean_prob" is -1' \
    '"completions": {"leak_rate": 7.5}|completions.leak_rate" is 7.5' \
    '"familiarity": {"mean_prob": 1e999}|familiarity.mean_prob" is inf'; do
    printf '{"models": [{"name": "base", %s}]}\n' "${f%%|*}" >"$T/range.json"
    expect_error "report: ${f#*|}" "range.json: model 1 (base): \"${f#*|}, outside" \
        $OB report --eval "$T/range.json" -o "$T/rep"
done

# ---- a long path keeps the reason (the message once stopped at 511 bytes)
long=$T
for i in 1 2 3; do long=$long/$(printf '%0200d' $i); done
expect_error "600-byte output path" "$(printf '%0200d' 3)/m.gguf: cannot create file: No such file or directory" \
    $OB init --preset tiny --ctx 32 --tokenizer "$T/tok.gguf" -o "$long/m.gguf"
echo "bad-input: $passed passed, $failed failed"
