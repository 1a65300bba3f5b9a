#!/usr/bin/env bash
# Install Debian's chromium for the crawl MCP server and point crawl4ai at it (no browser download).
# Idempotent; run as root or with sudo. Called by .ci/run.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v chromium >/dev/null 2>&1; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
fi

browser="$(command -v chromium)"
folder="${CRAWL4_AI_BASE_DIRECTORY:-$HOME}/.crawl4ai"
mkdir -p "$folder"
printf '%s' "$browser" > "$folder/chromium.path"
echo "crawl4ai will use $browser ($("$browser" --version 2>/dev/null | head -1))"
