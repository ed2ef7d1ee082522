# Sourced by the load scripts (load.sh, load-instructions.sh, large-review.sh), from the
# repository's root: builds the release server and the load tools named as arguments (the
# examples tools/noop_server.rs and tools/latency.rs), then sets WEBHOOK to the server and, for
# each tool, its name in capitals (NOOP_SERVER, LATENCY) to its executable.
build_release() {
    echo "== building (release)"
    # Two builds: in one, the examples' dev-dependencies would switch on features (tokio's
    # test-util among them) in the server too, and the server measured would not be the one
    # `make build` ships.
    cargo build --release --locked --bin failover-webhook
    WEBHOOK=target/release/failover-webhook
    local examples=() name
    for name in "$@"; do examples+=(--example "$name"); done
    cargo build --release --locked "${examples[@]}"
    for name in "$@"; do
        printf -v "${name^^}" '%s' "target/release/examples/$name"
    done
}
