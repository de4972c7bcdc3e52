#!/usr/bin/env bash
# Installs what building and testing MCPSonar needs on a fresh Debian machine with Swift:
# libpcap and zlib headers (the two system libraries), jemalloc (the sensor's allocator) and
# tcpdump (live tests, fixtures).
set -euo pipefail
need=()
pkg-config --exists libpcap 2>/dev/null || need+=(libpcap-dev)
pkg-config --exists zlib 2>/dev/null || need+=(zlib1g-dev)
pkg-config --exists jemalloc 2>/dev/null || need+=(libjemalloc-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The live-capture tests drive a real MCP session (the official Python SDK, pinned as for the
# fixtures) through the kernel on lo. Its venv lives in the checkout, ignored by git.
cd "$(dirname "$0")/.."
if [ ! -x .venv-mcp1/bin/python ] || ! .venv-mcp1/bin/python -c "import mcp, uvicorn" 2>/dev/null; then
    echo "setup: creating .venv-mcp1 (mcp==1.30.0) for the live tests" >&2
    python3 -m venv .venv-mcp1
    .venv-mcp1/bin/pip install -q --disable-pip-version-check mcp==1.30.0 uvicorn==0.54.0 websockets==17.4
fi
