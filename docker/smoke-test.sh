#!/usr/bin/env bash
# Smoke test for the container image: build it, run it, ping it over the RF link, stop it.
# Not part of CI (it needs a Docker engine and takes minutes); run it by hand:
#
#   docker/smoke-test.sh                              # offline: local base + host-built wheels
#   BASE=python:3.11-slim WHEELS= docker/smoke-test.sh  # open internet: Docker Hub + PyPI
#
# Environment:
#   BASE      base image. Unset: docker/build-base.sh makes computesat-base:bookworm (root).
#   WHEELS    wheel directory in the build context (default docker/wheels). Unless empty, the
#             dependency wheels are built there on the host first with $PYTHON -m pip wheel.
#             Set WHEELS= (empty) to let the image build install from PyPI instead.
#   PYTHON    host python used to build the wheels; must be the image's minor version (3.11).
#   IMAGE     tag to build (default computesat:smoke).
#   HOST_PORT loopback UDP port the RF link is published on (default 17301).
#   ATTEMPTS  pings tried while the container boots (default 20, a few seconds apart).
#   REF       build a committed revision (git archive REF, e.g. HEAD) instead of the working
#             tree; docker/ and the wheels still come from the working tree. Useful when
#             uncommitted edits elsewhere in the tree are half-done.
#
# Traffic stays on 127.0.0.1. Exits non-zero on any failure and prints the container log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"

IMAGE="${IMAGE:-computesat:smoke}"
HOST_PORT="${HOST_PORT:-17301}"
ATTEMPTS="${ATTEMPTS:-20}"
PYTHON="${PYTHON:-python3}"
WHEELS="${WHEELS-docker/wheels}"
container="computesat-smoke-$$"
snapshot=""

log() { printf '\n== smoke-test: %s\n' "$*" >&2; }
fail() { printf '\n== smoke-test: FAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
    local rc=$?
    if docker container inspect "$container" >/dev/null 2>&1; then
        if [[ $rc != 0 ]]; then
            log "container log"
            docker logs "$container" 2>&1 | tail -n 60 >&2 || true
        fi
        docker rm -f "$container" >/dev/null 2>&1 || true
    fi
    [[ -z "$snapshot" ]] || rm -rf "$snapshot"
    exit "$rc"
}
trap cleanup EXIT

docker info >/dev/null 2>&1 || fail "no Docker engine reachable (start dockerd first)"

# --- base image ------------------------------------------------------------------------------
if [[ -z "${BASE:-}" ]]; then
    BASE=computesat-base:bookworm
    log "base image $BASE (docker/build-base.sh)"
    "$here/build-base.sh"
fi

# --- build context ---------------------------------------------------------------------------
context="$repo"
if [[ -n "${REF:-}" ]]; then
    snapshot="$(mktemp -d "${TMPDIR:-/tmp}/computesat-context.XXXXXX")"
    context="$snapshot"
    log "build context: git archive $REF (+ working-tree docker/)"
    git -C "$repo" archive "$REF" | tar -x -C "$context"
fi

# --- host-built wheels -----------------------------------------------------------------------
if [[ -n "$WHEELS" ]]; then
    pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    [[ "$pyver" == 3.11 ]] || fail "$PYTHON is $pyver; wheels must match the image's python 3.11 (set PYTHON)"
    log "wheels for the dependencies -> $WHEELS ($PYTHON $pyver)"
    # Dependencies plus build requirements, read from pyproject.toml. computesat itself is
    # not built here: the image builds it from source, so its wheel can never be stale.
    reqs="$(mktemp)"
    "$PYTHON" - "$context/pyproject.toml" >"$reqs" <<'EOF'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    p = tomllib.load(f)
print("\n".join(p["project"]["dependencies"] + p["build-system"]["requires"]))
EOF
    mkdir -p "$WHEELS"
    "$PYTHON" -m pip wheel --quiet --prefer-binary -r "$reqs" -w "$WHEELS"
    rm -f "$reqs"
    ls "$WHEELS"/*.whl >/dev/null 2>&1 || fail "no wheels in $WHEELS"
fi

if [[ -n "$snapshot" ]]; then
    rm -rf "$context/docker"
    cp -a "$repo/docker" "$context/docker"
    if [[ -n "$WHEELS" && ! -e "$context/$WHEELS" ]]; then
        mkdir -p "$context/$WHEELS" && cp -a "$repo/$WHEELS/." "$context/$WHEELS/"
    fi
fi

# --- image -----------------------------------------------------------------------------------
log "docker build $IMAGE (BASE=$BASE WHEELS=${WHEELS:-<PyPI>})"
started=$(date +%s)
docker build -f "$context/docker/Dockerfile" -t "$IMAGE" \
    --build-arg BASE="$BASE" --build-arg WHEELS="$WHEELS" "$context" >&2
log "built in $(( $(date +%s) - started )) s; size $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

# --- run and ping ----------------------------------------------------------------------------
log "docker run -p 127.0.0.1:$HOST_PORT:7301/udp"
docker run -d --name "$container" -p "127.0.0.1:$HOST_PORT:7301/udp" "$IMAGE" >/dev/null

# The ground station: the host's computesat if installed, else the image's own on the host
# network namespace (still 127.0.0.1, through the same published port).
if command -v computesat >/dev/null 2>&1; then
    ground=(computesat)
else
    ground=(docker run --rm --network host "$IMAGE" computesat)
fi

ok=""
for attempt in $(seq 1 "$ATTEMPTS"); do
    running="$(docker container inspect -f '{{.State.Running}}' "$container")"
    [[ "$running" == true ]] || fail "container exited during boot"
    if "${ground[@]}" ground ping --host 127.0.0.1 --port "$HOST_PORT" --timeout 3; then
        ok=yes
        log "ping answered (attempt $attempt)"
        break
    fi
    sleep 2
done
[[ -n "$ok" ]] || fail "no answer to ping after $ATTEMPTS attempts"

# --- clean stop ------------------------------------------------------------------------------
log "docker stop"
started=$(date +%s)
docker stop --time 20 "$container" >/dev/null
code="$(docker container inspect -f '{{.State.ExitCode}}' "$container")"
log "stopped in $(( $(date +%s) - started )) s, exit code $code"
[[ "$code" == 0 ]] || fail "satellite exited with $code on SIGTERM"

log "PASSED"
