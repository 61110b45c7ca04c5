# syntax=docker/dockerfile:1
# The idbridge container image: `idbridge serve` as a non-root user, SQLite in the
# volume /var/lib/idbridge by default, PostgreSQL with IDBRIDGE_DATABASE_URL.
#
#   docker build -t idbridge .
#   docker run -p 127.0.0.1:8080:8080 -v idbridge-data:/var/lib/idbridge \
#     -e IDBRIDGE_ADMIN_API_KEY=... idbridge
#
# compose.yaml runs two of these on one PostgreSQL; docs/deployment.md has the rest.

# --- build ------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
# What scripts/install-deps installs: libxmlsec1 (with libxml2 and OpenSSL) through
# pkg-config, and libclang for the bindings bindgen generates at build time.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config libxmlsec1-dev libxml2-dev libssl-dev libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and target directory are BuildKit caches, so a rebuild after a source
# change compiles only what changed; the binary is copied out of the cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p idbridge \
 && install -m 0755 target/release/idbridge /usr/local/bin/idbridge

# --- run --------------------------------------------------------------------------
FROM debian:bookworm-slim
# The shared libraries the binary links (ldd; each mapped to its package with
# dpkg -S), apt pulling in theirs, and the CA certificates that outbound TLS (IdP
# metadata, webhooks, SMTP, PostgreSQL) verifies against.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libxmlsec1 libxmlsec1-openssl libxml2 libssl3 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 idbridge \
 && useradd --system --uid 10001 --gid idbridge --home-dir /var/lib/idbridge \
      --no-create-home --shell /usr/sbin/nologin idbridge \
 && install -d -o idbridge -g idbridge -m 0750 /var/lib/idbridge
COPY --from=build /usr/local/bin/idbridge /usr/local/bin/idbridge

# Inside a container it listens on every interface; publish the port on the host
# (or put a reverse proxy in front) as needed. Logs are JSON lines on stderr.
ENV IDBRIDGE_LISTEN=0.0.0.0:8080 \
    IDBRIDGE_DATABASE_URL=sqlite:///var/lib/idbridge/idbridge.db \
    IDBRIDGE_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/idbridge
VOLUME ["/var/lib/idbridge"]
EXPOSE 8080
# GET /healthz over bash's /dev/tcp (no curl in the image), on the port of
# IDBRIDGE_LISTEN: healthy on a 200, which idbridge answers once its database does.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${IDBRIDGE_LISTEN##*:} && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 ' || exit 1"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["idbridge"]
CMD ["serve"]
