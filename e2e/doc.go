// Package e2e holds Gatehouse's black-box tests: the real server, started
// in-process through the same entry point as the binary, on loopback, with
// real SQLite files. One test per row of CONTRACT §2 and per rule of §4.
package e2e
