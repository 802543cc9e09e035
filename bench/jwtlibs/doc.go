// Package jwtlibs compares Go JWT libraries for Gatehouse's access-token
// verification: speed (BenchmarkVerify) and which of the SECURITY.md §10
// attack tokens each lets through when configured strictly (TestMatrix).
// It is a separate module so that the libraries it measures stay out of
// Gatehouse's own go.mod; README.md holds the results and the choice.
package jwtlibs
