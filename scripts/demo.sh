#!/usr/bin/env bash
# npm run demo / npm run demo:destroy. Installs what is missing (Debian packages, npm dependencies, the
# Pulumi engine built from Go modules: minutes the first time), then runs scripts/demo.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "demo: providing the Pulumi engine (scripts/engine.sh)"
CALICO_XDP_ENGINE_BIN=$(bash scripts/engine.sh)
export CALICO_XDP_ENGINE_BIN
exec node dist/scripts/demo.js "${1:-up}"
