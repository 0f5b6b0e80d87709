ARG RUST_IMAGE=rust:1.82
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY model ./model
RUN mkdir src && echo 'fn main() {}' > src/main.rs && cargo build --release --offline \
    && rm -rf src
COPY src ./src
RUN touch src/main.rs && cargo build --release --offline && cargo test --release --offline --no-fail-fast
FROM ${RUST_IMAGE}
COPY --from=builder /src/target/release/@BINARY@ /usr/local/bin/@BINARY@
ENV PORT=8000
EXPOSE 8000
CMD ["/usr/local/bin/@BINARY@"]
