#!/bin/sh
# Says in one line what is missing to build obliviate, and how to get it.
# Run as root (CI, a fresh container) it installs them with apt-get instead.
missing=""
[ -f /usr/include/x86_64-linux-gnu/openblas-openmp/cblas.h ] || missing="$missing libopenblas-openmp-dev"
[ -f /usr/include/oneapi/dnnl/dnnl.h ] || missing="$missing libdnnl-dev"
[ -f /usr/include/cjson/cJSON.h ] || missing="$missing libcjson-dev"
[ -f /usr/include/pcre2.h ] || missing="$missing libpcre2-dev"
command -v cc >/dev/null 2>&1 || missing="$missing gcc"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null &&
        exit 0
    echo "obliviate: could not install$missing with apt-get (is the Debian mirror reachable?)" >&2
    exit 1
fi
echo "obliviate: missing build dependencies; install them with: sudo apt-get install -y$missing" >&2
exit 1
