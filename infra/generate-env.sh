#!/usr/bin/env bash
# Writes .env (read by docker compose) with fresh random keys for the platform, unless it exists already:
#   MENTORKD_SERVICE_KEY  the key the five services present to each other
#   MENTORKD_ADMIN_KEY    the key of the deployment's admin client (export MENTORKD_API_KEY=<it> for the mentorkd CLI)
# More clients (readers, runners) go into docker-compose.yml as Auth__Clients__<name>__Key / __Role.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ] && grep -q '^MENTORKD_SERVICE_KEY=' .env && grep -q '^MENTORKD_ADMIN_KEY=' .env; then exit 0; fi
key() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
umask 077
{
  echo "# written by infra/generate-env.sh: the platform's keys (keep this file private)"
  echo "MENTORKD_SERVICE_KEY=$(key)"
  echo "MENTORKD_ADMIN_KEY=$(key)"
} >> .env
echo "wrote .env with new platform keys (MENTORKD_ADMIN_KEY is the admin client's)"
