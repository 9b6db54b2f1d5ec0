#!/bin/sh
# Installs the pinned llama-tokenizer-js 1.2.2 (Llama-2's SentencePiece vocabulary
# and merges in JavaScript, MIT) into tools/llamatok/node_modules, once;
# development-time only. tests/test_llama_tokenizer.c compares obliviate's Llama-2
# tokenizer with it. Usage: sh tools/llamatok/setup.sh
set -u
case "$0" in */*) dir=${0%/*} ;; *) dir=. ;; esac
cd "$dir" || exit 1
if grep -q '"version": "1.2.2"' node_modules/llama-tokenizer-js/package.json 2>/dev/null; then
    exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "obliviate: Llama-2 tokenizer check needs Node.js and npm: apt-get install nodejs npm"
    exit 1
fi
log=$(mktemp)
if ! npm ci --ignore-scripts --no-audit --no-fund >"$log" 2>&1; then
    echo "obliviate: Llama-2 tokenizer check: 'npm ci' failed in tools/llamatok: $(grep -i err "$log" | tail -n 1)"
    rm -f "$log"
    exit 1
fi
rm -f "$log"
