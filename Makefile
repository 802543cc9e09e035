# The README's two commands. `make run` builds the demo app (when Node.js is
# here) and starts Gatehouse on http://127.0.0.1:8080 with SQLite in
# ./gatehouse.db; `make test` runs every test after installing what the tests
# need.
.PHONY: run test web build bench release

run: web
	go run ./cmd/gatehouse serve

# The demo app is embedded from web/dist. Without Node.js the server still
# runs and its pages say how to build the app.
web:
	@if command -v npm >/dev/null 2>&1; then \
		cd web && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build --silent; \
	else \
		echo "Node.js not found: serving without the demo app (see web/README.md)"; \
	fi

test:
	bash scripts/test.sh

build: web
	go build -o bin/gatehouse ./cmd/gatehouse

bench:
	go test -run '^$$' -bench . -benchmem ./token/ ./password/ ./sqlite/ ./verify/

# `make release` cross-compiles static binaries (no cgo: the SQLite driver is
# pure Go) with the web app embedded, into dist/ with a SHA256SUMS file.
# The version and commit are stamped into `gatehouse version`; override
# VERSION=v1.2.3 or PLATFORMS="linux/amd64" on the command line.
CLI_PKG   := github.com/gatehouse/gatehouse/internal/cli
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

release: web
	@test -f web/dist/index.html || { echo "make release: the web app is not built (web/dist/index.html is missing): install Node.js, see web/README.md" >&2; exit 1; }
	rm -rf dist
	mkdir -p dist
	@for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/gatehouse-$(VERSION)-$$os-$$arch; \
		echo "build $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath \
			-ldflags "-s -w -X $(CLI_PKG).Version=$(VERSION) -X $(CLI_PKG).Commit=$(COMMIT)" \
			-o $$out ./cmd/gatehouse || exit 1; \
	done
	cd dist && { command -v sha256sum >/dev/null && sha256sum gatehouse-* || shasum -a 256 gatehouse-*; } > SHA256SUMS
	@cat dist/SHA256SUMS
