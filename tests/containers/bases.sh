#!/usr/bin/env bash
# Makes the two base images compose.yaml and the Dockerfile name, from Debian packages,
# for a machine that reaches no container registry: `python:3.11-slim-bookworm` (Debian's
# Python 3.11, pip and venv) and `eclipse-mosquitto:2` (Debian's Mosquitto with the
# /mosquitto/{config,data,log} layout). Each is made only when missing; --force remakes.
# HTTPS leaving some machines is re-signed by a local CA: its certificates from
# /usr/local/share/ca-certificates go into the Python image so pip can reach PyPI.
set -euo pipefail
PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm
MOSQUITTO_IMAGE=docker.io/library/eclipse-mosquitto:2
force=${1:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What a base image needs and no more: no Recommends (they bring Perl and compilers), no
# docs, man pages or translations.
SLIM=(--variant=minbase --aptopt='Apt::Install-Recommends "false"'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*')

missing() { [ "$force" = --force ] || ! podman image exists "$1"; }

make_python() {
  mmdebstrap --quiet "${SLIM[@]}" --include=python3,python3-pip,python3-venv,ca-certificates \
    --customize-hook='for c in /usr/local/share/ca-certificates/*.crt; do [ -e "$c" ] && cp "$c" "$1/usr/local/share/ca-certificates/"; done; true' \
    --customize-hook='chroot "$1" update-ca-certificates >/dev/null' \
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED; ln -sf python3 "$1/usr/bin/python"' \
    bookworm "$work/python.tar"
  podman import --quiet --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' \
    "$work/python.tar" "$PYTHON_IMAGE" >/dev/null
  echo "made $PYTHON_IMAGE" >&2
}

make_mosquitto() {
  # Mosquitto starts as root and drops to its own user, as the upstream image does.
  mmdebstrap --quiet "${SLIM[@]}" --include=mosquitto \
    --customize-hook='mkdir -p "$1"/mosquitto/config "$1"/mosquitto/data "$1"/mosquitto/log' \
    --customize-hook='cp "$1"/etc/mosquitto/mosquitto.conf "$1"/mosquitto/config/mosquitto.conf' \
    --customize-hook='chroot "$1" chown -R mosquitto:mosquitto /mosquitto' \
    bookworm "$work/mosquitto.tar"
  podman import --quiet \
    --change 'CMD ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]' \
    --change 'EXPOSE 1883' --change 'VOLUME ["/mosquitto/data", "/mosquitto/log"]' \
    "$work/mosquitto.tar" "$MOSQUITTO_IMAGE" >/dev/null
  echo "made $MOSQUITTO_IMAGE" >&2
}

pids=()
if missing "$PYTHON_IMAGE"; then make_python & pids+=($!); fi
if missing "$MOSQUITTO_IMAGE"; then make_mosquitto & pids+=($!); fi
for pid in "${pids[@]}"; do wait "$pid"; done
