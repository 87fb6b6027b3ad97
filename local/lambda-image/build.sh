#!/usr/bin/env bash
# `make lambda-image`: a stand-in for AWS's public.ecr.aws/lambda/python:3.11 image, built here from
# Debian packages and PyPI where no container registry is reachable (docs/sam-local.md).
#
# A bookworm rootfs (debootstrap, Debian's Python 3.11) with the layout SAM CLI and the emulator rely
# on: /var/task (the task root SAM mounts), /opt (where SAM's image build adds the layer),
# /var/runtime/bootstrap (what the emulator starts when it is given no command) running awslambdaric
# from the lock, /var/lang/bin/python3, Lambda's variables; imported with `podman import` under the
# name SAM CLI builds its function images FROM (samcli/local/docker/lambda_image.py: ZIP functions
# use public.ecr.aws/lambda/<runtime>-<arch>, and never pull it with --skip-pull-image).
#
# Cached: rebuilt only when the recipe (this directory, the awslambdaric pins) changes or the
# image is gone; the stamp holds the recipe's hash and the last build's time.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=public.ecr.aws/lambda/python:3.11-x86_64
ALIAS=public.ecr.aws/lambda/python:3.11
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${LAMBDA_IMAGE_CACHE:-.cache/lambda-image}
STAMP=$CACHE/stamp
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/local/podman/containers.conf}
VENV_BIN=.venv/bin
SAM_RIE=$($VENV_BIN/python -c 'import samcli, pathlib; print(pathlib.Path(samcli.__file__).parent / "local/rapid/aws-lambda-rie-x86_64")')

# the runtime's packages: awslambdaric and what it needs, with their hashes, as the lock pins them
runtime_requirements() {
  $VENV_BIN/python - <<'PY'
import re, pathlib
blocks = re.split(r"\n(?=\S)", pathlib.Path("requirements/dev.lock").read_text())
wanted = {"awslambdaric"}
for block in blocks:
    if re.search(r"#\s+via awslambdaric", block) or re.search(r"#\s+via\s*\n(\s+#\s+\S+\n)*\s+#\s+awslambdaric", block):
        wanted.add(block.split("==")[0])
for block in blocks:
    if block.split("==")[0] in wanted:
        print("\n".join(line for line in block.splitlines() if not line.lstrip().startswith("#")))
PY
}

mkdir -p "$CACHE"
runtime_requirements > "$CACHE/runtime-requirements.txt"
RECIPE_HASH=$(cat local/lambda-image/build.sh local/lambda-image/bootstrap local/lambda-image/lambda-entrypoint.sh \
  local/podman/containers.conf "$CACHE/runtime-requirements.txt" "$SAM_RIE" | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP" ] && [ "$(head -n1 "$STAMP")" = "$RECIPE_HASH" ] && podman image exists "$IMAGE"; then
  echo "lambda image $IMAGE is up to date ($(sed -n 2p "$STAMP"))"
  exit 0
fi

started=$(date +%s)
ROOT=$CACHE/rootfs
rm -rf "$ROOT"
echo "building $IMAGE: debootstrap $SUITE ..."
debootstrap --variant=minbase --include=python3,ca-certificates "$SUITE" "$ROOT" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
  || { tail -n 20 "$CACHE/debootstrap.log"; exit 1; }

mkdir -p "$ROOT/var/task" "$ROOT/var/runtime" "$ROOT/var/lang/bin" "$ROOT/opt" "$ROOT/tmp"
ln -sf /usr/bin/python3.11 "$ROOT/var/lang/bin/python3"
ln -sf /usr/bin/python3.11 "$ROOT/var/lang/bin/python3.11"
ln -sf /usr/bin/python3.11 "$ROOT/var/lang/bin/python"
install -m 0755 local/lambda-image/bootstrap "$ROOT/var/runtime/bootstrap"
install -m 0755 local/lambda-image/lambda-entrypoint.sh "$ROOT/lambda-entrypoint.sh"
install -m 0755 "$SAM_RIE" "$ROOT/usr/local/bin/aws-lambda-rie"
echo "installing awslambdaric from the lock into /var/runtime ..."
$VENV_BIN/uv pip install --quiet --target "$ROOT/var/runtime" --python-version 3.11 \
  --python-platform x86_64-manylinux2014 --only-binary :all: --require-hashes --no-deps \
  -r "$CACHE/runtime-requirements.txt"
# nothing in a function's environment uses apt, docs or locales: a smaller image imports faster
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/usr/share/doc/* \
  "$ROOT"/usr/share/man/* "$ROOT"/usr/share/locale/*

echo "importing into podman ..."
podman rmi -f "$IMAGE" "$ALIAS" >/dev/null 2>&1 || true
tar --numeric-owner -C "$ROOT" -c . | podman import \
  --change 'ENV LANG=en_US.UTF-8' \
  --change 'ENV TZ=:/etc/localtime' \
  --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
  --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
  --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
  --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
  --change 'WORKDIR /var/task' \
  --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
  --quiet - "$IMAGE" > /dev/null
podman tag "$IMAGE" "$ALIAS"
rm -rf "$ROOT"
seconds=$(( $(date +%s) - started ))
printf '%s\nbuilt %s in %ss\n' "$RECIPE_HASH" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$seconds" > "$STAMP"
echo "built $IMAGE in ${seconds}s"
