#!/usr/bin/env bash
# The project's commands are Makefile targets now; this forwards for old docs: `./run.sh test` = `make test`.
set -euo pipefail
cd "$(dirname "$0")"
exec make "${@:-help}"
