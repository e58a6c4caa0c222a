# One image with both binaries. Build: docker build -t caseforge .
# Run:   docker run caseforge auth-server serve   |   docker run caseforge resource-api

FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p auth-server -p resource-api

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/caseforge --create-home caseforge
COPY --from=build /src/target/release/auth-server /src/target/release/resource-api /usr/local/bin/
USER caseforge
WORKDIR /var/lib/caseforge
# Inside a container, listen on all interfaces; compose publishes the ports.
ENV AUTH_BIND=0.0.0.0:8081 API_BIND=0.0.0.0:8080 RUST_LOG=info
EXPOSE 8080 8081
CMD ["auth-server", "serve"]
