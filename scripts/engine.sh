#!/usr/bin/env bash
# Provides the Pulumi engine the end-to-end tests and the demo run: the pulumi CLI, the Node language
# host, the pulumi-resource-pulumi-nodejs plugin script (dynamic providers) and the Kubernetes resource
# plugin, at the versions of the @pulumi/pulumi and @pulumi/kubernetes packages in package-lock.json.
#
# No prebuilt binary can be downloaded here, so they are built from Go modules into a cache outside the
# repository keyed by version; a second run finds them and prints only the bin directory. A suitable
# `pulumi` already on PATH is used instead of building one.
#
# The Node language host (pulumi-language-nodejs), which `pulumi up` in a project directory runs, has its
# own Go module since v3.69.0, which the proxy does not serve; up to v3.68.0 it was a package of
# sdk/v3, so it is built from that release (the gRPC protocol between engine and language host is
# stable across these versions). Elsewhere the normal Pulumi install provides all of these.
#
# Usage: bash scripts/engine.sh   -> prints the directory to put first on PATH
set -euo pipefail
cd "$(dirname "$0")/.."

PULUMI_VERSION=$(node -p 'require("@pulumi/pulumi/package.json").version')
K8S_VERSION=$(node -p 'require("@pulumi/kubernetes/package.json").version')
# The newest pulumi-kubernetes provider module the proxy serves, and a served SDK module whose own
# pulumi/sdk requirement does not outrun the provider's pulumi/pkg (they must be the same version).
K8S_PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
K8S_PROVIDER_REV=v4.0.0-20260115033456-f47bc2d6f199
K8S_SDK_REV=v4.22.2
# The last sdk/v3 release that carries nodejs/cmd/pulumi-language-nodejs as a package.
LANGUAGE_HOST_SDK=3.68.0

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/calico-xdp/engine/pulumi-$PULUMI_VERSION-kubernetes-$K8S_VERSION"
BIN="$CACHE/bin"
mkdir -p "$BIN"
export GOFLAGS=-mod=mod
LOG_PREFIX=engine
# shellcheck source=scripts/build-log.sh
source scripts/build-log.sh

if [ ! -x "$BIN/pulumi" ]; then
  if command -v pulumi >/dev/null && [ "$(pulumi version 2>/dev/null)" = "v$PULUMI_VERSION" ]; then
    ln -sf "$(command -v pulumi)" "$BIN/pulumi"
  else
    log "building the pulumi CLI v$PULUMI_VERSION from Go modules (several minutes the first time)"
    src="$CACHE/src/cli"
    mkdir -p "$src"
    # pkg/v3 has replace directives, so `go install pkg@version` refuses: build from a wrapper module.
    cat >"$src/go.mod" <<MOD
module calicoxdp/engine/cli

go 1.25

require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >"$src/tools.go"
    (cd "$src" && go mod tidy >&2 && ticking go build -o "$BIN/pulumi.tmp" \
      -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
    mv "$BIN/pulumi.tmp" "$BIN/pulumi"
  fi
fi

if [ ! -x "$BIN/pulumi-language-nodejs" ]; then
  if command -v pulumi-language-nodejs >/dev/null; then
    ln -sf "$(command -v pulumi-language-nodejs)" "$BIN/pulumi-language-nodejs"
  else
    log "building pulumi-language-nodejs from sdk/v3 v$LANGUAGE_HOST_SDK (a minute or two the first time)"
    src="$CACHE/src/language-nodejs"
    mkdir -p "$src"
    # sdk/v3's own replace directive, which a dependent module must repeat.
    cat >"$src/go.mod" <<MOD
module calicoxdp/engine/languagenodejs

go 1.25

require github.com/pulumi/pulumi/sdk/v3 v$LANGUAGE_HOST_SDK

replace golang.org/x/text => golang.org/x/text v0.3.6
MOD
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"\n' >"$src/tools.go"
    (cd "$src" && go mod tidy >&2 && ticking go build -o "$BIN/pulumi-language-nodejs.tmp" \
      github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs)
    mv "$BIN/pulumi-language-nodejs.tmp" "$BIN/pulumi-language-nodejs"
  fi
fi

if [ ! -x "$BIN/pulumi-resource-pulumi-nodejs" ]; then
  log "installing the pulumi-resource-pulumi-nodejs plugin script"
  dir=$(cd "$CACHE" && go mod download -json "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
  install -m 0755 "$dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$BIN/pulumi-resource-pulumi-nodejs"
fi

if [ ! -x "$BIN/pulumi-resource-kubernetes" ]; then
  log "building pulumi-resource-kubernetes (reporting v$K8S_VERSION) from Go modules (several minutes the first time)"
  dir=$(cd "$CACHE" && go mod download -json "$K8S_PROVIDER_MODULE@$K8S_PROVIDER_REV" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
  src="$CACHE/src/kubernetes"
  rm -rf "$src" && mkdir -p "$src" && cp -r "$dir/." "$src/" && chmod -R u+w "$src"
  # The module replaces its SDK with a sibling directory that is not in the module zip.
  sed -i "s#^replace github.com/pulumi/pulumi-kubernetes/sdk/v4 => ../sdk#replace github.com/pulumi/pulumi-kubernetes/sdk/v4 => github.com/pulumi/pulumi-kubernetes/sdk/v4 $K8S_SDK_REV#" "$src/go.mod"
  pkg=$(sed -n 's#^\s*github.com/pulumi/pulumi/pkg/v3 \(v[0-9.]*\)$#\1#p' "$src/go.mod")
  sed -i "s#^\(\s*github.com/pulumi/pulumi/sdk/v3\) v[0-9.]*\$#\1 $pkg#" "$src/go.mod"
  # The embedded schema is generated from the committed schema.json, stamped with the version.
  (cd "$src" && go mod tidy >&2 && (cd cmd/pulumi-resource-kubernetes && VERSION="$K8S_VERSION" go generate . >&2) &&
    ticking go build -o "$BIN/pulumi-resource-kubernetes.tmp" \
      -ldflags "-X $K8S_PROVIDER_MODULE/pkg/version.Version=$K8S_VERSION" ./cmd/pulumi-resource-kubernetes)
  mv "$BIN/pulumi-resource-kubernetes.tmp" "$BIN/pulumi-resource-kubernetes"
fi

echo "$BIN"
