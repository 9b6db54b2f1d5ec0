#!/bin/sh
# Installs the pinned node-llama-cpp (llama.cpp with prebuilt CPU binaries) into
# tools/llamacpp/node_modules, once; development-time only. Usage: sh tools/llamacpp/setup.sh
# Afterwards: node tools/llamacpp/greedy.mjs MODEL.gguf --tokens 1,2,3 --n 20
set -u
case "$0" in */*) dir=${0%/*} ;; *) dir=. ;; esac
cd "$dir" || exit 1

if [ -f node_modules/node-llama-cpp/package.json ] &&
    grep -q '"version": "3.21.1"' node_modules/node-llama-cpp/package.json 2>/dev/null; then
    exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "obliviate: llama.cpp check needs Node.js and npm: apt-get install nodejs npm"
    exit 1
fi
registry=$(npm config get registry 2>/dev/null)
[ -n "$registry" ] || registry=https://registry.npmjs.org/
if ! npm ping >/dev/null 2>&1; then
    echo "obliviate: llama.cpp check: the npm registry ($registry) is unreachable; cannot install node-llama-cpp 3.21.1"
    exit 1
fi
if [ -f package-lock.json ]; then
    cmd="npm ci"
else
    cmd="npm install"
fi
# --ignore-scripts: the prebuilt binaries come as optional packages
# (@node-llama-cpp/linux-x64 ...); the postinstall step would only try to
# download or build llama.cpp, which greedy.mjs never does (build: "never").
log=$(mktemp)
if ! $cmd --ignore-scripts --no-audit --no-fund >"$log" 2>&1; then
    echo "obliviate: llama.cpp check: '$cmd' failed in tools/llamacpp: $(grep -i err "$log" | tail -n 1)"
    rm -f "$log"
    exit 1
fi
rm -f "$log"
