#!/usr/bin/env bash
# Installs a pinned kustomize, built from source with `go install` through the Go module proxy,
# into the project's tool cache, and prints the binary's path on stdout (logs go to stderr).
# Idempotent: a second run finds the binary and returns at once. Safe to run concurrently.
#
#   scripts/install-kustomize.sh            -> e.g. ~/.cache/boomerang/tools/kustomize-v5.8.1/kustomize
#
# Environment:
#   BOOMERANG_CACHE_DIR   cache root (default ~/.cache/boomerang, as scripts/kafka.sh)
#   KUSTOMIZE_VERSION     override the pinned version (must build with the local Go)
#
# Needs Go (>= 1.24; v5.8.1 builds with the machine's go1.26). A cold build takes ~45 s on
# 2 cores (module download + compile); later runs take milliseconds.
set -euo pipefail

readonly VERSION="${KUSTOMIZE_VERSION:-v5.8.1}"
readonly MODULE="sigs.k8s.io/kustomize/kustomize/v5"
readonly CACHE_ROOT="${BOOMERANG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/boomerang}"
readonly DEST_DIR="$CACHE_ROOT/tools/kustomize-$VERSION"
readonly BIN="$DEST_DIR/kustomize"

log() { echo "install-kustomize: $*" >&2; }

installed() {
  [[ -x "$BIN" ]] && "$BIN" version 2>/dev/null | grep -qF "$VERSION"
}

if installed; then
  echo "$BIN"
  exit 0
fi

# Go may be installed without being on PATH (e.g. a non-login shell): try its usual home.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || {
  log "go not found: kustomize $VERSION is built with 'go install' (a Go toolchain >= 1.24)"
  exit 1
}

mkdir -p "$DEST_DIR"
# One installer at a time (e.g. parallel test workers); the others wait, then find the binary.
exec 9>"$DEST_DIR/.lock"
flock 9
if installed; then
  echo "$BIN"
  exit 0
fi

tmp="$(mktemp -d "$DEST_DIR/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

log "building $MODULE@$VERSION with $(go version | awk '{print $3}') (once; ~1 min cold)"
# GOTOOLCHAIN=local: never download another Go toolchain. -modcacherw: a module cache that
# `go clean -modcache` or rm -rf can delete. CGO off: a static binary, no C compiler needed.
GOBIN="$tmp" GOTOOLCHAIN=local GOFLAGS=-modcacherw CGO_ENABLED=0 \
  go install -trimpath -ldflags=-s "$MODULE@$VERSION" >&2

mv -f "$tmp/kustomize" "$BIN"
installed || { log "built $BIN but it does not report $VERSION"; exit 1; }
log "installed $BIN"
echo "$BIN"
