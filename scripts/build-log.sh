# Progress for the Go builds of scripts/engine.sh and scripts/apiserver.sh (sourced; set LOG_PREFIX).
log() { echo "$LOG_PREFIX: $*" >&2; }
# Go builds are silent for minutes: say every 30 s that they still run.
ticking() {
  local start=$SECONDS
  (while sleep 30; do log "still building ($(((SECONDS - start) / 60)) min so far)"; done) &
  local ticker=$!
  local status=0
  "$@" || status=$?
  kill "$ticker" 2>/dev/null || true
  return "$status"
}
