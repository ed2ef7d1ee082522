# syntax=docker/dockerfile:1
# The admission server's image: a release build on the Rust image, copied onto distroless `cc`
# (glibc and libgcc only, no shell). Build from the repository root:
#   docker build -t failover-webhook:0.1.0 .

# The toolchain CI tests with; any version from Cargo.toml's rust-version on builds.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Manifests first, so that a change in the sources reuses the layer with the fetched crates.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for b in evaluate topology_watch kube_scale status_controller; do echo 'fn main() {}' > "benches/$b.rs"; done \
    && cargo fetch --locked
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin failover-webhook

# `nonroot` runs as UID/GID 65532, the user the Helm chart's security context names.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/failover-webhook /usr/local/bin/failover-webhook
USER 65532:65532
# 8443: HTTPS webhook (/validate, /mutate); 8080: /healthz, /readyz, /metrics.
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/failover-webhook"]
CMD ["--help"]
