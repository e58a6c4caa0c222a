# One image with both binaries. Build: docker build -t caseforge .
# Run:   docker run caseforge auth-server serve   |   docker run caseforge resource-api
# Health: `auth-server healthcheck` / `resource-api healthcheck` GET the service's own /readyz
# (exit 0 or 1), so the image needs no curl; docker-compose.yml uses them.
#
# Base images are pinned by digest (the multi-platform index), so every build starts from the
# same bytes. To refresh a pin, look up the tag's current digest and replace it here:
#   docker buildx imagetools inspect rust:1.95-bookworm        # the "Digest:" line
#   docker buildx imagetools inspect debian:bookworm-slim
# then rebuild and run the tests against the new image.

# --- cargo-chef: dependencies are built in their own layer, rebuilt only when a Cargo.toml or
# Cargo.lock changes, not on every source edit.
FROM rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS chef
RUN cargo install cargo-chef --locked --version 0.1.77
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked -p auth-server -p resource-api

FROM debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251
# libpq for PostgreSQL, CA certificates for outbound TLS (JWKS, metadata); nothing else.
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/caseforge --create-home caseforge
COPY --from=build /src/target/release/auth-server /src/target/release/resource-api /usr/local/bin/
USER caseforge
WORKDIR /var/lib/caseforge
# Inside a container, listen on all interfaces; compose publishes the ports.
ENV AUTH_BIND=0.0.0.0:8081 API_BIND=0.0.0.0:8080 RUST_LOG=info
EXPOSE 8080 8081
CMD ["auth-server", "serve"]
