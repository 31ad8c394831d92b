# RabbitMQ for the integration tests, built on the local Debian base (no registry needed).
ARG BASE=local/mentorkd-base:bookworm
FROM ${BASE}
ENV RABBITMQ_LOGS=- HOME=/var/lib/rabbitmq
EXPOSE 5672
CMD ["/usr/local/bin/rabbitmq-entrypoint"]
