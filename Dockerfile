# syntax=docker/dockerfile:1
#
# Build stage: Debian with its Rust toolchain (rustc-web/cargo-web from
# bookworm-security). The binary links only glibc, so the runtime stage needs
# nothing but the binary, the few shared libraries it loads, and the CA
# bundle for TLS to Slack and Okta.
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends rustc-web cargo-web gcc libc6-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, against a stub, so that a source change rebuilds only the crate.
# The manifest names a bench target, so its file must exist too (it is never built here).
COPY Cargo.toml Cargo.lock ./
RUN mkdir src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/load.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked \
    && strip target/release/okta-mfa-notifier
# The runtime file system: the binary, the libraries `ldd` names, the CA
# bundle, and the store folder owned by the service's user.
RUN mkdir -p /rootfs/usr/local/bin /rootfs/etc/ssl/certs /rootfs/data /rootfs/tmp \
    && cp target/release/okta-mfa-notifier /rootfs/usr/local/bin/ \
    && ldd target/release/okta-mfa-notifier | grep -o '/[^ ]*' | xargs -I{} cp --parents -L {} /rootfs/ \
    && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
    && chown 65532:65532 /rootfs/data && chmod 1777 /rootfs/tmp

FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /rootfs/data /data
USER 65532:65532
ENV OKTA_MFA_NOTIFIER__SERVER__LISTEN=0.0.0.0:8080 \
    OKTA_MFA_NOTIFIER__STORE__PATH=/data/okta-mfa-notifier.db \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
VOLUME ["/data"]
# 8080: the event hook, for Okta. 9090: /healthz, /readyz, /metrics; it listens on
# 127.0.0.1 unless OKTA_MFA_NOTIFIER__ADMIN__LISTEN says otherwise.
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/okta-mfa-notifier", "healthcheck", "--ready"]
ENTRYPOINT ["/usr/local/bin/okta-mfa-notifier"]
CMD ["serve"]
