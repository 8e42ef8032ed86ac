#!/usr/bin/env bash
# The demo. For now it sets the machine up and prints the Calico objects examples/redis-host renders;
# the XDP part attaches once the XdpProgram provider lands.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "destroy" ]; then
  echo "demo: nothing to tear down yet"
  exit 0
fi
bash scripts/setup.sh
echo "demo: Calico objects rendered by examples/redis-host:"
node scripts/render-example.js redis-host
