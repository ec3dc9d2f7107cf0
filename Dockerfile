# Coffer in a container: built in a Rust image, run from a slim Debian as a
# non-root user with the data (zones, metadata, keyring) on a volume.
#   docker build -t coffer .
#   docker run -p 9000:9000 -v coffer-data:/data -e COFFER_ADMIN_TOKEN=... coffer
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends clang libclang-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release -p coffer --bin coffer && cp target/release/coffer /usr/local/bin/coffer

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin coffer \
    && mkdir -p /data && chown coffer:coffer /data
COPY --from=build /usr/local/bin/coffer /usr/local/bin/coffer
USER coffer
VOLUME /data
EXPOSE 9000 9001
ENV COFFER_DATA_DIR=/data COFFER_LISTEN=0.0.0.0:9000 COFFER_ADMIN_LISTEN=0.0.0.0:9001
# The admin listener's health endpoint needs no token.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s CMD curl -fsS http://127.0.0.1:9001/health/ready || exit 1
ENTRYPOINT ["/usr/local/bin/coffer"]
CMD ["server"]
