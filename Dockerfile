# One image with every binary of the cluster (gatewayd, lobbyd, gamed, bot, clusterctl) in
# /usr/local/bin, run as a non-root user. docker-compose.yml picks the daemon with `command:`.
#
#   docker build -t cluster:local .        (or: docker-compose build)
#
# tests/compose/test_compose.sh checks this file without an engine: the build stage installs
# the build packages of scripts/deps.sh, builds with the same cmake commands as scripts/up.sh
# and scripts/test.sh, and the runtime stage installs every shared library the binaries link.

# ---------------------------------------------------------------- build (Debian 12)
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libuv1-dev libhiredis-dev libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev \
      libpq-dev libsodium-dev uthash-dev \
      libmicrohttpd-dev libcurl4-openssl-dev \
      libssl-dev libwslay-dev libhttp-parser-dev \
      liblua5.4-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# .dockerignore keeps build trees, .local/, .git and .env out of the context
COPY . .
# the same two commands as scripts/up.sh and scripts/test.sh (normal build)
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j"$(nproc)"
# every executable the build made under build/src_*/ (the four below must be there)
RUN mkdir -p /out \
 && find build -mindepth 2 -maxdepth 2 -path 'build/src_*' -type f -perm -u+x \
      -exec install -m 0755 -t /out {} + \
 && for b in gatewayd lobbyd gamed bot; do \
      test -x "/out/$b" || { echo "build did not produce $b" >&2; exit 1; }; \
    done \
 && ls -l /out

# ---------------------------------------------------------------- web (Debian 12 nodejs/npm)
# The cluster page (served by `clusterctl web`) and the browser client, bundled with esbuild;
# protobuf code generated from proto/ (clients/js, npm run proto).
FROM debian:12 AS web
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY proto/ proto/
COPY clients/ clients/
RUN cd clients/js && npm ci --no-audit --no-fund \
 && cd ../web && npm ci --no-audit --no-fund && npm run build \
 && cd ../console && npm ci --no-audit --no-fund && npm run build

# ---------------------------------------------------------------- runtime (Debian 12 slim)
FROM debian:12-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# the shared libraries the binaries link (libc6 is in the base image), curl for the health
# checks of docker-compose.yml, ca-certificates for TLS to Redis/PostgreSQL if ever enabled
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libuv1 libhiredis0.14 libprotobuf-c1 libpq5 libsodium23 \
      libmicrohttpd12 libcurl4 \
      libssl3 libwslay1 libhttp-parser2.9 \
      liblua5.4-0 \
      curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 cluster \
 && useradd --system --uid 10001 --gid cluster --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cluster
COPY --from=build /out/ /usr/local/bin/
# the shipped game modules: gamed's default GAME_MODULES_DIR from /usr/local/bin/gamed
COPY --from=build /src/modules/ /usr/local/share/cluster/modules/
COPY --from=web /src/clients/console/dist/ /usr/share/cluster/console/
COPY --from=web /src/clients/web/dist/ /usr/share/cluster/web/
ENV CONSOLE_DIR=/usr/share/cluster/console
USER cluster:cluster
WORKDIR /tmp
# client port of a gateway, backend link port used by docker-compose.yml, admin HTTP port
EXPOSE 7000 7100 9100
# daemons stop gracefully (drain, deregister, exit 0) on SIGTERM
STOPSIGNAL SIGTERM
CMD ["gatewayd", "--help"]
