#!/usr/bin/env bash
# Install Debian's Chromium (for headless browser tests) plus fonts so pages and
# screenshots render text. Idempotent: exits at once when both are present.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

log() { printf '[install-browser] %s\n' "$*"; }
die() { printf '[install-browser] ERROR: %s\n' "$*" >&2; exit 1; }

chromium_bin=/usr/lib/chromium/chromium
fonts=(fonts-dejavu-core fonts-liberation)

missing=()
if [[ ! -x "$chromium_bin" ]]; then
    missing+=(chromium)
fi
for pkg in "${fonts[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" != installed ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    log "chromium and fonts already installed"
else
    [[ $EUID -eq 0 ]] || die "must run as root to install ${missing[*]}"
    log "installing ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=300 update -qq || die "apt-get update failed"
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
    [[ -x "$chromium_bin" ]] || die "$chromium_bin missing after installing chromium"
fi

# The /usr/bin/chromium wrapper script may print a harmless shell warning on
# stderr, so read the version from the binary itself.
version="$("$chromium_bin" --version 2>/dev/null)" || die "$chromium_bin --version failed"
version="${version%"${version##*[![:space:]]}"}"
[[ "$version" == Chromium* ]] || die "unexpected output from $chromium_bin --version: ${version}"
log "${version} at ${chromium_bin}"
