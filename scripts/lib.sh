# Shared by scripts/test and scripts/run: install apt packages and the venv.
# shellcheck shell=bash

# Debian packages roost's tests and demo use; each line: the command that shows it is
# there, then the package that provides it.
APT_NEEDS=(
  "mosquitto mosquitto"
  "mosquitto_pub mosquitto-clients"
  "ffmpeg ffmpeg"
  "chromium chromium"
  "victoria-metrics victoria-metrics"
  "faketime faketime"
)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

ensure_apt_packages() {
  local missing=() entry
  for entry in "${APT_NEEDS[@]}"; do
    set -- $entry
    have "$1" || missing+=("$2")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "roost: missing Debian packages: ${missing[*]} — run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "== apt-get install ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
  local python="${PYTHON:-python3}"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "roost: needs Python 3.11 or newer ($python is $("$python" --version 2>&1))" >&2
    exit 1
  }
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  echo "== pip install -e .[all,test]" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[all,test]' \
    2> >(grep -v "^WARNING: Location" >&2)
}
