#!/usr/bin/env bash
# Writes the platform's secrets into .env (read by docker compose), each one only when .env does not have it yet:
#   MENTORKD_SERVICE_KEY  the key the five services present to each other
#   MENTORKD_ADMIN_KEY    the key of the deployment's admin client (export MENTORKD_API_KEY=<it> for the mentorkd CLI)
#   RABBITMQ_PASSWORD, MINIO_ROOT_PASSWORD  the broker's and the bucket's: whoever holds them bypasses the API keys
# More clients (readers, runners) go into docker-compose.yml as Auth__Clients__<name>__Key / __Role.
set -euo pipefail
cd "$(dirname "$0")/.."
touch .env
chmod 600 .env
key() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
written=()
for name in MENTORKD_SERVICE_KEY MENTORKD_ADMIN_KEY RABBITMQ_PASSWORD MINIO_ROOT_PASSWORD; do
  grep -q "^$name=" .env && continue
  echo "$name=$(key)" >> .env
  written+=("$name")
done
if [ ${#written[@]} -gt 0 ]; then echo "wrote ${written[*]} to .env (keep it private; MENTORKD_ADMIN_KEY is the admin client's)"; fi
