ARG RUST_IMAGE=rust:1.82
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=@BINARY@-target,target=/src/target \
    --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry \
    cargo build --release --offline && cargo test --release --offline --no-fail-fast \
    && cp target/release/@BINARY@ /usr/local/bin/@BINARY@
FROM ${RUST_IMAGE}
COPY --from=builder /usr/local/bin/@BINARY@ /usr/local/bin/@BINARY@
ENV PORT=8000
EXPOSE 8000
CMD ["/usr/local/bin/@BINARY@"]
