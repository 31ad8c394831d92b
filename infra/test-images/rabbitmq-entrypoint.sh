#!/bin/sh
# Debian's rabbitmq-server as a container: listens on 5672 for every interface and honours
# RABBITMQ_DEFAULT_USER / _PASS / _VHOST as the official image does (Testcontainers sets them).
set -e
conf=/etc/rabbitmq/rabbitmq.conf
echo "loopback_users = none" >"$conf"
echo "listeners.tcp.default = 5672" >>"$conf"
if [ -n "$RABBITMQ_DEFAULT_USER" ]; then echo "default_user = $RABBITMQ_DEFAULT_USER" >>"$conf"; fi
if [ -n "$RABBITMQ_DEFAULT_PASS" ]; then echo "default_pass = $RABBITMQ_DEFAULT_PASS" >>"$conf"; fi
if [ -n "$RABBITMQ_DEFAULT_VHOST" ]; then echo "default_vhost = $RABBITMQ_DEFAULT_VHOST" >>"$conf"; fi
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq
export HOME=/var/lib/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
