# The README's two commands. `make run` starts Gatehouse on
# http://127.0.0.1:8080 with SQLite in ./gatehouse.db; `make test` runs every
# test after installing what the tests need.
.PHONY: run test build bench

run:
	go run ./cmd/gatehouse serve

test:
	bash scripts/test.sh

build:
	go build -o bin/gatehouse ./cmd/gatehouse

bench:
	go test -run '^$$' -bench . -benchmem ./token/ ./password/ ./sqlite/
