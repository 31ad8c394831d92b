#!/usr/bin/env bash
# Makes sure the integration tests have what they need, doing only what is missing:
#   1. a Docker engine (installs Debian's docker.io and starts dockerd when nothing answers on the socket);
#   2. the test images (pulled when a registry is reachable, otherwise built here from Debian packages and npm):
#        ${MENTORKD_RABBITMQ_IMAGE:-local/mentorkd-rabbitmq:test}  RabbitMQ 3.10 from Debian, AMQP on 5672
#        ${MENTORKD_S3_IMAGE:-local/mentorkd-s3rver:test}          s3rver 3.7 (S3 API on 4568, keys S3RVER/S3RVER)
#        local/mentorkd-base:bookworm                             Debian minbase with the native libraries .NET needs
# Run by `make test` before the tests; safe to run again (FORCE=1 rebuilds). Needs root on a fresh machine.
set -euo pipefail
BASE_IMAGE=local/mentorkd-base:bookworm
RABBITMQ_IMAGE=${MENTORKD_RABBITMQ_IMAGE:-local/mentorkd-rabbitmq:test}
S3_IMAGE=${MENTORKD_S3_IMAGE:-local/mentorkd-s3rver:test}
export DOCKER_API_VERSION=${DOCKER_API_VERSION:-1.41}   # Debian's dockerd speaks API 1.41; newer clients ask for more
export DOCKER_BUILDKIT=0                                # the classic builder uses a local FROM image without pulling
here=$(cd "$(dirname "$0")" && pwd)
started=$SECONDS
log() { echo "[test-infra +$((SECONDS - started))s] $*"; }

need_packages=()
command -v dockerd >/dev/null || need_packages+=(docker.io)
command -v debootstrap >/dev/null || need_packages+=(debootstrap)
if ((${#need_packages[@]})); then
  log "installing ${need_packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  setsid dockerd >/var/log/mentorkd-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 240); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/mentorkd-dockerd.log; echo "dockerd did not start" >&2; exit 1; }
fi

have() { docker image inspect "$1" >/dev/null 2>&1; }
build() { # image dockerfile [docker build options]; quiet unless it fails (the classic builder prints a notice every time)
  local image=$1 dockerfile=$2 out; shift 2
  out=$(docker build -q -t "$image" --build-arg BASE="$BASE_IMAGE" "$@" -f "$here/$dockerfile" "$here" 2>&1) || { echo "$out" >&2; exit 1; }
}
# The s3rver image is labelled with a hash of its recipe, so a change to its files rebuilds it (in seconds, on the base).
s3_recipe=$(cat "$here"/s3rver.Dockerfile "$here"/s3rver-entrypoint.sh "$here"/*.js | sha256sum | cut -c1-16)
s3_current() { [ "$(docker image inspect -f '{{index .Config.Labels "mentorkd.recipe"}}' "$S3_IMAGE" 2>/dev/null)" = "$s3_recipe" ]; }
build_s3() { build "$S3_IMAGE" s3rver.Dockerfile --label "mentorkd.recipe=$s3_recipe"; }
if [ -z "${FORCE:-}" ] && have "$BASE_IMAGE" && have "$RABBITMQ_IMAGE"; then
  s3_current || { log "rebuilding $S3_IMAGE (its recipe changed)"; build_s3; }
  log "docker engine up, test images present"; exit 0
fi

# Debian root filesystem: RabbitMQ, Node.js for s3rver, and what .NET needs natively (ICU, OpenSSL, CA roots).
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d /tmp/mentorkd-test-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
log "debootstrap (bookworm, minbase) from $mirror"
debootstrap --variant=minbase --include=rabbitmq-server,nodejs,libicu72,libssl3,ca-certificates,curl \
  bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log"; exit 1; }

log "s3rver from npm"
mkdir -p "$rootfs/opt/s3rver" "$rootfs/data"
(cd "$rootfs/opt/s3rver" && printf '{"name":"mentorkd-s3rver","private":true}\n' >package.json &&
  npm install --omit=dev --no-audit --no-fund --loglevel=error s3rver@3.7.1 >/dev/null)
# s3rver 3.7.1 writes a wrong XML namespace in its responses; the Minio SDK ignores elements outside the real S3
# namespace, so listings would come back empty.
sed -i 's#http://doc.s3.amazonaws.com/2006-03-01/#http://s3.amazonaws.com/doc/2006-03-01/#g' \
  "$rootfs"/opt/s3rver/node_modules/s3rver/lib/controllers/*.js
install -m 755 "$here/rabbitmq-entrypoint.sh" "$rootfs/usr/local/bin/rabbitmq-entrypoint"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/{doc,man,info}/*

log "importing $BASE_IMAGE"
tar --numeric-owner -C "$rootfs" -c . | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
log "building $RABBITMQ_IMAGE and $S3_IMAGE"
build "$RABBITMQ_IMAGE" rabbitmq.Dockerfile
build_s3
log "done"
docker image ls --filter 'reference=local/mentorkd-*'
