# An S3 server for the integration tests (s3rver; MinIO is not installable here), on the local Debian base.
ARG BASE=local/mentorkd-base:bookworm
FROM ${BASE}
COPY exit-on-signal.js s3rver-atomic-writes.js /opt/s3rver/
COPY s3rver-entrypoint.sh /usr/local/bin/s3rver-entrypoint
RUN chmod 755 /usr/local/bin/s3rver-entrypoint
EXPOSE 4568
ENTRYPOINT ["/usr/local/bin/s3rver-entrypoint"]
