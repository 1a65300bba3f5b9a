#!/usr/bin/env bash
# Install Debian's bubblewrap for the code MCP server's sandbox, then check that it can create its
# namespaces here (the code tools refuse to run code without it). Idempotent; run as root or with
# sudo. Called by .ci/run.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v bwrap >/dev/null 2>&1; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends bubblewrap
fi

if ! bwrap --unshare-all --unshare-user --disable-userns --uid 65534 --gid 65534 \
    --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
    --proc /proc --dev /dev -- /usr/bin/true; then
    echo "bubblewrap cannot create its namespaces here: enable user namespaces" \
        "(sysctl -w kernel.unprivileged_userns_clone=1; user.max_user_namespaces > 0)" >&2
    exit 1
fi
echo "code sandbox ready: $(bwrap --version)"
