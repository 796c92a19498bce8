# Pulsegate in a container: a release build in the official Swift image, run from
# Debian's slim image as a non-root user, with its database in the /data volume.
#
#   scripts/fetch-plotly                      # the dashboard's chart library, into Public/vendor/
#   podman build --format docker -t pulsegate .   # or: docker build -t pulsegate .
#   podman run -d --name pulsegate -p 8080:8080 -v pulsegate-data:/data \
#     -e PULSEGATE_TOKENS="read,write,metrics:$(openssl rand -hex 32)" pulsegate
#
# The image listens on 0.0.0.0, and Pulsegate refuses to start there without tokens
# (PULSEGATE_TOKENS, or PULSEGATE_TOKEN_FILE naming a file mounted into the container)
# unless PULSEGATE_TRUSTED_NETWORK=1 says everyone who can reach the port may read and
# write the metrics. `--format docker` because the OCI image format has no HEALTHCHECK.
# scripts/container-check builds and runs this file for real (see README).

# The official Swift image: 6.3, the toolchain CI builds with, on Debian bookworm like the
# run image, so that the binary and the run image agree on glibc.
ARG BUILD_IMAGE=swift:6.3-bookworm
ARG RUN_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
# The system libraries the CSQLite, CZlib and CSnappy targets link; the official image lacks them,
# a builder that has them skips apt.
RUN dpkg -s libsqlite3-dev zlib1g-dev libsnappy-dev >/dev/null 2>&1 \
    || { apt-get update -qq \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libsqlite3-dev zlib1g-dev libsnappy-dev \
         && rm -rf /var/lib/apt/lists/*; }
WORKDIR /src
# All of the package (SwiftPM checks every target's folder, tests included), less what
# .dockerignore leaves out.
COPY . .
RUN test -s Public/vendor/plotly.min.js \
    || { echo "Public/vendor/plotly.min.js is missing: run scripts/fetch-plotly before building the image" >&2; exit 1; }
# The Swift runtime and Foundation linked statically: the run image then needs only
# glibc, libstdc++ (both in every Debian base) and the three C libraries below, instead of
# 79 MB of the toolchain's shared libraries. Debug info stripped (121 MB -> 93 MB; most of
# the rest is ICU's data), symbols kept so that a crash's backtrace names its functions.
RUN swift build -c release --product pulsegate --static-swift-stdlib \
    && install -D -m 755 "$(swift build -c release --show-bin-path)/pulsegate" /out/pulsegate \
    && strip --strip-debug /out/pulsegate

# The binary is all the build gives the run stage: the OpenAPI document is compiled into it
# (no resource bundle to copy); the dashboard's files come from the sources.
FROM ${RUN_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libsqlite3-0 zlib1g libsnappy1v5 \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
# A fixed uid, so that a bind-mounted /data can be given to it (chown 10001:10001 DIR).
RUN groupadd --system --gid 10001 pulsegate \
    && useradd --system --uid 10001 --gid pulsegate --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin pulsegate \
    && install -d -o pulsegate -g pulsegate -m 750 /data
COPY --from=build /out/pulsegate /usr/local/bin/pulsegate
COPY --from=build /src/Public /usr/local/share/pulsegate/Public
ENV PULSEGATE_HOST=0.0.0.0 \
    PULSEGATE_PORT=8080 \
    PULSEGATE_DB=/data/pulsegate.sqlite \
    PULSEGATE_PUBLIC_DIR=/usr/local/share/pulsegate/Public
# Numeric, so that a runtime that insists on a non-root user (runAsNonRoot) can tell.
USER 10001:10001
WORKDIR /data
# A new named volume starts as a copy of the image's /data: owned by pulsegate.
VOLUME /data
EXPOSE 8080
# curl is not in the slim image: bash's /dev/tcp asks /healthz (open without a token) and
# looks for a 200 on the status line.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PULSEGATE_PORT:-8080} && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q '^HTTP/1.1 200 '"]
# Pulsegate is PID 1 and handles SIGTERM itself (a graceful stop within
# PULSEGATE_SHUTDOWN_TIMEOUT, 10 s by default; exit status 0): the exec form, no shell.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pulsegate"]
