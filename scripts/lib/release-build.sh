# Sourced by the load scripts (load.sh, load-instructions.sh, large-review.sh), from the
# repository's root: builds the release server and the load-test benches named as arguments
# (benches/noop_server.rs, benches/latency.rs), then sets WEBHOOK to the server and, for each
# bench, its name in capitals (NOOP_SERVER, LATENCY) to its executable.
build_release() {
    echo "== building (release)"
    cargo build --release --locked --bin failover-webhook
    WEBHOOK=target/release/failover-webhook
    local benches=() name built
    for name in "$@"; do benches+=(--bench "$name"); done
    # cargo prints where it put each bench only in its progress text; --no-run keeps it there.
    built=$(cargo bench --locked --no-run "${benches[@]}" 2>&1 | tee /dev/stderr)
    for name in "$@"; do
        local exe
        exe=$(grep -o "target/release/deps/$name-[0-9a-f]*" <<<"$built" | tail -1)
        [ -x "$exe" ] || { echo "build_release: no executable for bench $name" >&2; return 1; }
        printf -v "${name^^}" '%s' "$exe"
    done
}
