#!/usr/bin/env bash
# Everything CI checks: setup, lint and type checks, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent lint
npm test
