//go:build ignore

// blocklist_gen.go builds blocklist.txt.gz from the passwords.json of the
// npm package @zxcvbn-ts/language-common (see BLOCKLIST.md):
//
//	go run blocklist_gen.go -in "$UNPACKED"/package/src/passwords.json
//
// It keeps the -top most common entries, normalises them as Check does
// (NFKC, lower case), drops those shorter than -min code points (Check
// refuses them by length anyway), and writes them sorted and deduplicated,
// one per line. The gzip header carries no name and no time, so the output
// depends on the input alone.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func main() {
	in := flag.String("in", "", "passwords.json: a JSON array of strings, most common first")
	out := flag.String("out", "blocklist.txt.gz", "output file")
	top := flag.Int("top", 10000, "how many of the most common entries to consider")
	minLen := flag.Int("min", 8, "shortest entry kept, in code points after NFKC")
	flag.Parse()

	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var ranked []string
	if err := json.Unmarshal(raw, &ranked); err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	if len(ranked) > *top {
		ranked = ranked[:*top]
	}
	var kept []string
	for _, p := range ranked {
		p = strings.ToLower(norm.NFKC.String(p))
		if utf8.RuneCountInString(p) < *minLen || strings.ContainsAny(p, "\r\n") {
			continue
		}
		kept = append(kept, p)
	}
	slices.Sort(kept)
	kept = slices.Compact(kept)

	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range kept {
		fmt.Fprintln(zw, p)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d of the top %d entries kept, %d bytes written to %s", len(kept), len(ranked), buf.Len(), *out)
}
