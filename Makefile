# The README's two commands. `make run` builds the demo app (when Node.js is
# here) and starts Gatehouse on http://127.0.0.1:8080 with SQLite in
# ./gatehouse.db; `make test` runs every test after installing what the tests
# need.
.PHONY: run test web build bench

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
