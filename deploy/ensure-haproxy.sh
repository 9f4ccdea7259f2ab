#!/usr/bin/env bash
# Install Debian's haproxy if it is missing (the lecture hall's balancer); used by `make hall`,
# `make bench-hall` and .ci/run, the same way .ci/run installs chromium.
set -euo pipefail
if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq haproxy >/dev/null
