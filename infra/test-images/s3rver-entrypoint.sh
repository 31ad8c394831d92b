#!/bin/sh
# s3rver on 0.0.0.0:${S3RVER_PORT:-4568}; buckets named in S3RVER_BUCKETS are created at start. Path-style requests
# only: by default s3rver takes any host name that is not an IP or localhost (a compose service name) for a bucket.
# Objects are replaced atomically, as in S3 (s3rver-atomic-writes.js).
set -e
data=${S3RVER_DATA:-/data}
mkdir -p "$data"
for bucket in $S3RVER_BUCKETS; do set -- "$@" --configure-bucket "$bucket"; done
exec node -r /opt/s3rver/exit-on-signal.js -r /opt/s3rver/s3rver-atomic-writes.js /opt/s3rver/node_modules/s3rver/bin/s3rver.js \
  --directory "$data" --address 0.0.0.0 --port "${S3RVER_PORT:-4568}" --no-vhost-buckets --silent "$@"
