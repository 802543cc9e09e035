#!/usr/bin/env bash
# Every test of the project, with what they need installed first.
# Called by `make test` (the README's test command) and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== go test -race (PostgreSQL tests: ${GATEHOUSE_TEST_POSTGRES_URL:+on}${GATEHOUSE_TEST_POSTGRES_URL:-skipped, GATEHOUSE_TEST_POSTGRES_URL is unset})"
go test -race -count=1 -timeout 20m ./...

echo "== benchmarks compile and run once"
go test -run '^$' -bench . -benchtime 1x ./... >/dev/null

echo "all tests passed"
