#!/bin/sh
# The engine demo: fetch "The Adventures of Sherlock Holmes" (Project
# Gutenberg #1661, public domain) from a Debian package, train a tokenizer and
# a small Llama model on it, and let it continue a prompt. Everything lands in
# .cache/demo (outside git); a second run reuses what is there.
set -eu
OB=build/obliviate
D=.cache/demo
mkdir -p "$D"
book="$D/sherlock.txt"
if [ ! -s "$book" ]; then
    command -v apt-get >/dev/null 2>&1 ||
        { echo "obliviate demo: needs apt-get (Debian) to fetch the book; put pg1661.txt at $book by hand" >&2; exit 1; }
    (cd "$D" && apt-get download golang-github-bkaradzic-go-lz4-dev >/dev/null 2>&1) ||
        { echo "obliviate demo: 'apt-get download golang-github-bkaradzic-go-lz4-dev' failed (is the Debian mirror reachable?)" >&2; exit 1; }
    rm -rf "$D/x" && dpkg-deb -x "$D"/golang-github-bkaradzic-go-lz4-dev_*.deb "$D/x"
    # Drop the BOM and CRs, keep the text between the Gutenberg START and END lines.
    sed -e '1s/^\xEF\xBB\xBF//' -e 's/\r$//' "$(find "$D/x" -name pg1661.txt | head -n 1)" |
        awk '/^\*\*\* ?START OF/ {on=1; next} /^\*\*\* ?END OF/ {on=0} on' >"$book"
    rm -rf "$D/x" "$D"/*.deb
    [ -s "$book" ] || { echo "obliviate demo: could not extract the book text into $book" >&2; rm -f "$book"; exit 1; }
fi
echo "demo: $(wc -c <"$book") bytes of text in $book" >&2
[ -s "$D/tok.gguf" ] || $OB tokenizer train --vocab 4096 -o "$D/tok.gguf" "$book" >/dev/null
[ -s "$D/init.gguf" ] || $OB init --preset d128 --ctx 256 --tokenizer "$D/tok.gguf" -o "$D/init.gguf" >/dev/null
if [ ! -s "$D/model.gguf" ]; then
    $OB train -m "$D/init.gguf" -o "$D/model.gguf" --steps 600 --batch 8 --seq 256 --lr 2e-3 \
        --warmup 30 --ckpt-every 100 --log-every 20 "$book"
elif [ -s "$D/model.gguf.state" ]; then
    # Finish an interrupted run (no-op when it is complete).
    $OB train -o "$D/model.gguf" --resume --steps 600 --batch 8 --seq 256 --lr 2e-3 \
        --warmup 30 --ckpt-every 100 --log-every 20 "$book"
fi
$OB perplexity -m "$D/model.gguf" --max-windows 64 "$book"
for p in "Sherlock Holmes" "\"My dear Watson," "I had called upon my friend"; do
    echo "--- $p"
    $OB generate -m "$D/model.gguf" -p "$p" -n 48 --temperature 0.7 --top-k 40 --seed 3
done
