#!/usr/bin/env bash
# Brings docker-compose.yml up with local images (no registry needed) and pushes a tiny Mentor-KD run through the
# five containers with `mentorkd submit`. Run by `make compose-smoke` (and so by `make test`); cleans up after itself.
#   1. Docker engine and the local RabbitMQ / S3 / Debian base images (infra/test-images/prepare.sh);
#   2. docker-compose (Debian's) when no compose is installed;
#   3. one image with the five services: framework-dependent publishes plus this machine's .NET runtime on the base;
#   4. compose up with infra/docker/compose.local.yml, two trainer replicas and fresh keys, wait for the health-gated
#      start, check that a submit without a key is refused, submit with the admin key, check that both replicas
#      trained jobs of the run, compose down.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOCKER_API_VERSION=${DOCKER_API_VERSION:-1.41} DOCKER_BUILDKIT=0
CONFIGURATION=${CONFIGURATION:-Release}
IMAGE=local/mentorkd-services:smoke
PROJECT=mentorkd-smoke
started=$SECONDS
log() { echo "[compose-smoke +$((SECONDS - started))s] $*"; }

bash infra/test-images/prepare.sh
if docker compose version >/dev/null 2>&1; then compose=(docker compose)
else
  command -v docker-compose >/dev/null || {
    log "installing docker-compose"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
  }
  compose=(docker-compose)
fi
compose+=(-p "$PROJECT" -f docker-compose.yml -f infra/docker/compose.local.yml)
# Fresh keys for this smoke run (the environment takes precedence over a developer's .env).
key() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
MENTORKD_SERVICE_KEY=$(key) MENTORKD_ADMIN_KEY=$(key) RABBITMQ_PASSWORD=$(key) MINIO_ROOT_PASSWORD=$(key)
export MENTORKD_SERVICE_KEY MENTORKD_ADMIN_KEY RABBITMQ_PASSWORD MINIO_ROOT_PASSWORD

context=$(mktemp -d /tmp/mentorkd-smoke.XXXXXX)
cleanup() {
  local status=$?
  if [ $status -ne 0 ]; then "${compose[@]}" logs --no-color --tail 60 2>/dev/null || true; fi
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$context"
  exit $status
}
trap cleanup EXIT

log "publishing the five services"
services=(TeacherGateway MentorServer Augmentation Trainer Evaluator)
for service in "${services[@]}"; do
  dotnet publish "services/$service" -c "$CONFIGURATION" -o "$context/services/$service" -v quiet -nologo >/dev/null
  # Only linux-x64 natives are needed in the image.
  find "$context/services/$service/runtimes" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
done
# The services share almost every file (libtorch above all): identical files become hard links, stored once.
first="$context/services/${services[0]}"
for service in "${services[@]:1}"; do
  (cd "$context/services/$service" && find . -type f) | while read -r file; do
    if [ -f "$first/$file" ] && cmp -s "$first/$file" "$context/services/$service/$file"; then ln -f "$first/$file" "$context/services/$service/$file"; fi
  done
done
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
mkdir -p "$context/dotnet"
cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$dotnet_root/shared" "$context/dotnet/"
log "building $IMAGE ($(du -sh "$context" | cut -f1) of context)"
out=$(docker build -q -t "$IMAGE" -f infra/docker/prebuilt.Dockerfile "$context" 2>&1) || { echo "$out" >&2; exit 1; }

log "compose up"
"${compose[@]}" up -d --no-build --scale trainer=2
container=$("${compose[@]}" ps -q augmentation)
for _ in $(seq 120); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$container")" = healthy ] && break
  sleep 2
done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$container")" = healthy ] || { log "augmentation never became healthy"; exit 1; }
"${compose[@]}" ps

log "submitting configs/mentor-kd.tiny.json"
dotnet build src/MentorKd.Cli -c "$CONFIGURATION" -v quiet -nologo >/dev/null
# Without a key the platform refuses the run; with the admin key it takes it.
if dotnet run --project src/MentorKd.Cli -c "$CONFIGURATION" --no-build -- submit --address http://localhost:5103 --config configs/mentor-kd.tiny.json > "$context/no-key.log" 2>&1 \
   || ! grep -q Unauthenticated "$context/no-key.log"; then
  cat "$context/no-key.log"; log "a submit without a key was not refused as Unauthenticated"; exit 1
fi
MENTORKD_API_KEY=$MENTORKD_ADMIN_KEY dotnet run --project src/MentorKd.Cli -c "$CONFIGURATION" --no-build -- submit --address http://localhost:5103 --config configs/mentor-kd.tiny.json

# The run's training jobs (mentor, then the student arms together) went through the shared queue: both replicas took some.
for replica in $("${compose[@]}" ps -q trainer); do
  jobs=$(docker logs "$replica" 2>&1 | grep -oE 'Job [0-9a-f-]{36}-[a-z_]+: [0-9]+ examples' | sed -E 's/^Job [0-9a-f-]{36}-([a-z_]+):.*/\1/' | sort -u | tr '\n' ' ' || true)
  log "trainer replica ${replica:0:12} trained: ${jobs:-nothing}"
  [ -n "$jobs" ] || { log "a trainer replica took no job"; exit 1; }
done
log "passed"
