# An S3 server for the integration tests (s3rver; MinIO is not installable here), on the local Debian base.
ARG BASE=local/mentorkd-base:bookworm
FROM ${BASE}
EXPOSE 4568
ENTRYPOINT ["/usr/local/bin/s3rver-entrypoint"]
