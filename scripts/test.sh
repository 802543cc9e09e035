#!/usr/bin/env bash
# Every test of the project, with what they need installed first.
# Called by `make test` (the README's test command) and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser side (web/): Debian's Chromium for the end-to-end tests, the
# npm packages, then the app's build. The build comes first because the Go
# binary embeds web/dist: go test and the e2e tests then see the real app.
echo "== web: prerequisites"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "Node.js 20.19+ and npm are needed for web/ (the machine's Node.js is used)" >&2
  exit 1
fi
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is needed at /usr/bin/chromium: apt-get install chromium" >&2
    exit 1
  fi
fi

echo "== web: npm ci"
# The registry sometimes stalls: npm retries each fetch, and the whole
# install is tried up to three times before the run fails.
for attempt in 1 2 3; do
  if (cd web && npm ci --no-audit --no-fund --fetch-retries=5 --fetch-retry-mintimeout=2000 --fetch-timeout=120000); then
    break
  fi
  if [ "$attempt" = 3 ]; then
    echo "npm ci failed three times" >&2
    exit 1
  fi
  echo "npm ci failed (attempt $attempt); trying again"
  sleep 5
done

echo "== web: build (SDK, React bindings, demo app into web/dist)"
(cd web && npm run build)

echo "== web: unit tests (vitest)"
(cd web && npm test)

echo "== web: end-to-end tests in Chromium against the real server"
# GATEHOUSE_E2E_SDKPACK=1: also pack the SDKs and build an app outside the
# workspace that installs them (about a minute).
(cd web && GATEHOUSE_E2E_SDKPACK=1 npm run e2e)

echo "== go vet"
go vet ./...

echo "== go test -race (PostgreSQL tests: ${GATEHOUSE_TEST_POSTGRES_URL:+on}${GATEHOUSE_TEST_POSTGRES_URL:-skipped, GATEHOUSE_TEST_POSTGRES_URL is unset})"
go test -race -count=1 -timeout 20m ./...

echo "== benchmarks compile and run once"
go test -run '^$' -bench . -benchtime 1x ./... >/dev/null

echo "all tests passed"
