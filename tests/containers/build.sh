#!/usr/bin/env bash
# Builds every target of the Dockerfile with Podman, from local base images only
# (tests/containers/bases.sh makes them), tagged as compose.yaml names them
# (roost/<service>), in Docker's image format (the OCI format drops HEALTHCHECK). The
# builder stage first, then the service targets in parallel (they share its wheelhouse).
# Prints each build's seconds; a failed build's log goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGETS=(${ROOST_TARGETS:-i2c-bridge recorder event-engine camera detector webui supervisor})
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

build() {
  local target=$1 tag=$2 start=$SECONDS
  if podman build --pull=never --format docker --target "$target" --tag "$tag" . >"$logs/$target.log" 2>&1; then
    echo "built $tag in $((SECONDS - start)) s"
  else
    echo "== podman build --target $target failed:" >&2
    tail -40 "$logs/$target.log" >&2
    return 1
  fi
}

start=$SECONDS
build builder roost/builder
pids=()
for target in "${TARGETS[@]}"; do
  build "$target" "roost/$target" & pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
echo "all built in $((SECONDS - start)) s"
exit $failed
