#!/usr/bin/env bash
# Installs the system packages the full test run needs (Debian/Ubuntu), or stops with
# a message saying exactly what to install.
#
#   clang, libclang-dev  bindgen for the rocksdb crate (backend-rocks)
#   g++                  RocksDB's C++ sources
#   redis-server         the real server backend-redis's tests start on a free loopback port
set -euo pipefail

missing=()
command -v cargo >/dev/null || {
    echo "error: cargo not found. Install Rust with rustup (https://rustup.rs); rust-toolchain.toml pins the version." >&2
    exit 1
}
command -v clang >/dev/null || missing+=(clang)
if [ -z "${LIBCLANG_PATH:-}" ] && ! compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' >/dev/null \
    && ! compgen -G '/usr/lib/*/libclang*.so*' >/dev/null; then
    missing+=(libclang-dev)
fi
command -v g++ >/dev/null || missing+=(g++)
command -v redis-server >/dev/null || missing+=(redis-server)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "setup: installing ${missing[*]}"
if command -v apt-get >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        exit 0
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        exit 0
    fi
fi
echo "error: missing system packages: ${missing[*]}" >&2
echo "install them, e.g. on Debian/Ubuntu: sudo apt-get install -y ${missing[*]}" >&2
echo "(or point REDIS_TEST_URL at a Redis server you run, and LIBCLANG_PATH at libclang)" >&2
exit 1
