#!/usr/bin/env bash
# Make the local base image computesat-base:bookworm from Debian packages, for machines
# that cannot pull python:3.11-slim from Docker Hub.
#
#   sudo docker/build-base.sh            # skip if the image already exists
#   sudo FORCE=1 docker/build-base.sh    # rebuild it
#
# A debootstrap "minbase" Debian bookworm plus python3 (3.11), python3-venv, python3-pip and
# ca-certificates, imported with `docker import`. Needs root (debootstrap), a running Docker
# engine and a Debian mirror (MIRROR, default http://deb.debian.org/debian). The rootfs is
# built in a temporary directory outside the repository and removed afterwards.
set -euo pipefail

IMAGE="${IMAGE:-computesat-base:bookworm}"
SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
PACKAGES="python3,python3-venv,python3-pip,ca-certificates"

log() { printf 'build-base: %s\n' "$*" >&2; }

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE exists; nothing to do (FORCE=1 rebuilds it)"
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    log "debootstrap needs root; run with sudo"
    exit 1
fi
command -v debootstrap >/dev/null || { log "install debootstrap (apt-get install debootstrap)"; exit 1; }
docker info >/dev/null 2>&1 || { log "no Docker engine reachable (is dockerd running?)"; exit 1; }

workdir="$(mktemp -d "${TMPDIR:-/var/tmp}/computesat-rootfs.XXXXXX")"
cleanup() {
    # debootstrap may leave /proc or /sys mounted in the rootfs if it fails half-way.
    for mnt in proc sys dev/pts dev; do
        mountpoint -q "$workdir/rootfs/$mnt" 2>/dev/null && umount -l "$workdir/rootfs/$mnt"
    done
    rm -rf --one-file-system "$workdir"
}
trap cleanup EXIT

rootfs="$workdir/rootfs"
log "debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes)"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" \
    >"$workdir/debootstrap.log" 2>&1 || {
    tail -n 40 "$workdir/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
}

# Slim it down: package caches and lists, docs (but not the copyright files), man pages;
# the image is only a runtime base.
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old "$rootfs"/tmp/*
find "$rootfs/usr/share/doc" -mindepth 1 \( -type f -o -type l \) ! -name copyright -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
# Like the official Debian images: keep docs and man pages out of later apt installs too.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-minimal" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
EOF

log "docker import -> $IMAGE"
tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap $SUITE minbase + $PACKAGES" \
    - "$IMAGE" >/dev/null
docker image ls "$IMAGE" >&2
