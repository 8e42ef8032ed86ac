#!/usr/bin/env bash
# Everything CI checks: setup, lint and type checks, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The end-to-end tests run the real Pulumi engine against a real API server; build both up front
# (minutes, once per machine) so no test waits on a compiler. Without Go those tests say why they skip.
if command -v go >/dev/null; then
  bash scripts/engine.sh >/dev/null
  bash scripts/apiserver.sh >/dev/null
fi
npm run --silent lint
# The API reference (TypeDoc, into dist/api): a broken doc comment or export fails here.
npm run --silent docs:api
npm test
