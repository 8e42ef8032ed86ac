#!/usr/bin/env bash
# Provides the Kubernetes API server the end-to-end tests apply the Calico resources to:
# k8s.io/apiextensions-apiserver (CRDs, their schemas and CEL rules, server-side apply) built from Go
# modules into a cache outside the repository keyed by version; etcd comes from Debian (etcd-server,
# installed by scripts/setup.sh). A second run finds the binary and prints only its directory.
#
# Usage: bash scripts/apiserver.sh   -> prints the directory holding apiextensions-apiserver
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=v0.37.2
BIN="${XDG_CACHE_HOME:-$HOME/.cache}/calico-xdp/apiserver/apiextensions-apiserver-$VERSION/bin"
LOG_PREFIX=apiserver
# shellcheck source=scripts/build-log.sh
source scripts/build-log.sh

if [ ! -x "$BIN/apiextensions-apiserver" ]; then
  log "building k8s.io/apiextensions-apiserver $VERSION from Go modules (about 6 minutes the first time)"
  mkdir -p "$BIN"
  GOBIN="$BIN" GOFLAGS=-mod=mod ticking go install "k8s.io/apiextensions-apiserver@$VERSION"
fi
echo "$BIN"
