# Multi-stage build: compile in a Rust image, run in a slim Debian image as a
# non-root user. The container answers Okta on 8080; the admin port stays
# inside unless published on purpose.
FROM docker.io/library/rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
RUN cargo build --release --locked

FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin notifier \
    && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /src/target/release/okta-mfa-notifier /usr/local/bin/okta-mfa-notifier
USER 10001:10001
ENV OKTA_MFA_NOTIFIER__SERVER__LISTEN=0.0.0.0:8080 \
    OKTA_MFA_NOTIFIER__STORE__PATH=/data/okta-mfa-notifier.db
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["okta-mfa-notifier"]
CMD ["serve"]
