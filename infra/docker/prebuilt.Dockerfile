# All five services in one image, from framework-dependent publishes made on the host and the host's .NET runtime,
# on the local Debian base: for machines that cannot pull images (CI here). infra/compose-smoke.sh prepares the
# context (dotnet/, services/<Name>/) and docker-compose picks the service with MENTORKD_SERVICE.
ARG BASE=local/mentorkd-base:bookworm
FROM ${BASE}
COPY dotnet /usr/share/dotnet
COPY services /app
RUN ln -s /usr/share/dotnet/dotnet /usr/local/bin/dotnet \
 && printf '#!/bin/sh\nexec dotnet "/app/$MENTORKD_SERVICE/MentorKd.$MENTORKD_SERVICE.dll" "$@"\n' > /app/run && chmod 755 /app/run
ENV DOTNET_ROOT=/usr/share/dotnet
ENTRYPOINT ["/app/run"]
