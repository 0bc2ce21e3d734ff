#!/usr/bin/env bash
# Start or stop a Docker engine in the background, for CI and for machines without systemd.
#
#   scripts/ci-dockerd.sh start   # no-op when an engine already answers `docker info`
#   scripts/ci-dockerd.sh stop    # stops only the dockerd this script started (by its pidfile)
#
# The engine runs with --bridge=none --iptables=false: it needs no NAT rules (which this kind of
# machine may not allow), builds use the host network, and task containers run with --network none.
set -euo pipefail

PIDFILE="${LABKIT_DOCKERD_PIDFILE:-/var/run/labkit-dockerd.pid}"
LOGFILE="${LABKIT_DOCKERD_LOG:-/var/log/labkit-dockerd.log}"
WAIT_SECONDS="${LABKIT_DOCKERD_WAIT:-60}"

engine_answers() { docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

start() {
  if engine_answers; then
    echo "dockerd: an engine already answers (server $(docker info --format '{{.ServerVersion}}'))"
    return 0
  fi
  if ! command -v dockerd >/dev/null; then
    echo "dockerd: not installed (apt-get install -y docker.io)" >&2
    return 1
  fi
  # A pidfile left by a killed engine makes dockerd refuse to start.
  if [[ -f "$PIDFILE" ]] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then rm -f "$PIDFILE"; fi
  echo "dockerd: starting (pidfile $PIDFILE, log $LOGFILE)"
  nohup dockerd --bridge=none --iptables=false --ip-masq=false --pidfile "$PIDFILE" >"$LOGFILE" 2>&1 &
  local waited=0
  until engine_answers; do
    if (( waited >= WAIT_SECONDS )); then
      echo "dockerd: no answer after ${WAIT_SECONDS}s; last lines of $LOGFILE:" >&2
      tail -n 20 "$LOGFILE" >&2
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "dockerd: ready after ${waited}s (server $(docker info --format '{{.ServerVersion}}'))"
}

stop() {
  if [[ ! -f "$PIDFILE" ]]; then
    echo "dockerd: no pidfile at $PIDFILE, nothing of ours to stop"
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    echo "dockerd: stopped (pid $pid)"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
