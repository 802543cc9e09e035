package password

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The reasons Check gives. NIST SP 800-63B: a verifier that refuses a
// password SHALL tell the subscriber why, so that they can choose another.
const (
	msgInvalidUTF8 = "must be valid UTF-8 text"
	msgCommon      = "is too common"
	msgRepetitive  = "is too repetitive"
	msgSequential  = "is too predictable: a sequence such as abcd, 1234 or qwerty"
	msgServiceName = "must not be based on the name of this service"
)

// serviceName is the context-specific word NIST SP 800-63B asks verifiers
// to refuse (the name of the service). Check sees only the password, not
// the user's email or name.
const serviceName = "gatehouse"

// Check returns "" when password may be set, or a short reason why not, to
// show next to the password field (NIST SP 800-63B: SHALL say why). The
// password is NFKC-normalised first, as Hash does, and its length counted
// in code points; then it must not be on the list of common passwords
// (compared case-insensitively), repetitive, a sequence or keyboard walk,
// or built on the service's name. There are no composition rules (NIST SP
// 800-63B: SHALL NOT impose them).
func (h *Hasher) Check(password string) string {
	// Code points are what NIST counts; bytes that are not UTF-8 have none.
	if !utf8.ValidString(password) {
		return msgInvalidUTF8
	}
	p := norm.NFKC.String(password)
	n := utf8.RuneCountInString(p)
	if n < h.minLen {
		return fmt.Sprintf("must be at least %d characters", h.minLen)
	}
	if n > h.maxLen {
		return fmt.Sprintf("must be at most %d characters", h.maxLen)
	}
	return h.weakness(strings.ToLower(p))
}

// weakness returns why the lower-cased password p is easy to guess, or "".
// It calls itself on strictly shorter strings (a repeated unit, what is
// left around the service name), so it terminates, and each level is
// linear in len(p).
func (h *Hasher) weakness(p string) string {
	if blocked(p) {
		return msgCommon
	}
	r := []rune(p)
	// "abcabcabc", "passwordpassword": as strong as one copy at most.
	if q := period(r); q > 0 {
		if q < h.minLen || h.weakness(string(r[:q])) != "" {
			return msgRepetitive
		}
	}
	if predictable(r) {
		return msgSequential
	}
	// "Gatehouse1!", "gatehouse2024": judge what the name leaves.
	if strings.Contains(p, serviceName) {
		rest := strings.ReplaceAll(p, serviceName, "")
		if utf8.RuneCountInString(strings.TrimSpace(rest)) < h.minLen || h.weakness(rest) != "" {
			return msgServiceName
		}
	}
	return ""
}

// period returns the smallest q such that r[i] == r[i+q] for every i, if r
// holds at least two whole copies of r[:q] (q <= len(r)/2), else 0. It is
// len(r) minus the longest proper border, from the KMP failure function.
func period(r []rune) int {
	n := len(r)
	if n < 2 {
		return 0
	}
	border := make([]int, n)
	for i := 1; i < n; i++ {
		k := border[i-1]
		for k > 0 && r[i] != r[k] {
			k = border[k-1]
		}
		if r[i] == r[k] {
			k++
		}
		border[i] = k
	}
	if q := n - border[n-1]; 2*q <= n {
		return q
	}
	return 0
}

// predictable reports whether r is made of runs: repeated characters
// ("aaaa"), steps of one code point ("abcd", "4321", "αβγδ") or walks
// along a keyboard ("qwer", "1qaz", "poiu"). NIST SP 800-63B names
// repetitive and sequential strings ("aaaaaa", "1234abcd") among what a
// blocklist should hold. r is predictable when at most two runs cover it,
// or when every run covering it is three or more long ("aaabbbccc");
// natural words and passphrases are neither.
func predictable(r []rune) bool {
	runs, shortest := 0, len(r)
	for i := 0; i < len(r); {
		l := longestRun(r[i:])
		runs++
		shortest = min(shortest, l)
		i += l
	}
	return runs <= 2 || shortest >= 3
}

// longestRun returns the length of the longest run that starts r (at
// least 1). A run keeps one relation between each character and the next:
// the same code-point step of -1, 0 or +1, or a keyboard step forwards, or
// one backwards.
func longestRun(r []rune) int {
	if len(r) < 2 {
		return len(r)
	}
	best := 1
	for _, rel := range runRelations {
		l := 1
		for l < len(r) && rel(r[l-1], r[l]) {
			l++
		}
		best = max(best, l)
	}
	return best
}

var runRelations = []func(a, b rune) bool{
	func(a, b rune) bool { return b == a },
	func(a, b rune) bool { return b == a+1 },
	func(a, b rune) bool { return b == a-1 },
	func(a, b rune) bool { return keyboardStep[[2]rune{a, b}] },
	func(a, b rune) bool { return keyboardStep[[2]rune{b, a}] },
}

// keyboardWalks are runs of neighbouring keys, in lower case: the rows of
// QWERTY, AZERTY and QWERTZ, the rows read on from one to the next, the
// columns, the shifted digit row, and the digits and letters wrapping
// around ("7890123", "xyzab").
var keyboardWalks = []string{
	"`1234567890-=", "~!@#$%^&*()_+", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./",
	"qwertyuiopasdfghjklzxcvbnm",
	"azertyuiop", "qsdfghjklm", "wxcvbn", "qwertzuiop", "yxcvbnm",
	"1qaz", "2wsx", "3edc", "4rfv", "5tgb", "6yhn", "7ujm", "8ik,", "9ol.", "0p;/",
	"01234567890", "zabcdefghijklmnopqrstuvwxyza",
}

// keyboardStep holds the pairs (a, b) where b follows a in a keyboard walk.
var keyboardStep = func() map[[2]rune]bool {
	m := map[[2]rune]bool{}
	for _, w := range keyboardWalks {
		r := []rune(w)
		for i := 1; i < len(r); i++ {
			m[[2]rune{r[i-1], r[i]}] = true
		}
	}
	return m
}()

//go:embed blocklist.txt.gz
var blocklistGz []byte

// blocklist returns the common passwords of blocklist.txt.gz (see
// BLOCKLIST.md), sorted. It is read on first use, so that a process that
// never checks a new password never pays for it; the strings all share one
// backing array (about 90 KB in all, see TestBlocklistMemory).
var blocklist = sync.OnceValue(loadBlocklist)

func loadBlocklist() []string {
	zr, err := gzip.NewReader(bytes.NewReader(blocklistGz))
	if err != nil {
		// The file is compiled in and tested: this is a broken build.
		panic("password: embedded blocklist: " + err.Error())
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		panic("password: embedded blocklist: " + err.Error())
	}
	list := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if !slices.IsSorted(list) {
		slices.Sort(list)
	}
	return list
}

// blocked reports whether the lower-cased password p is a common password.
func blocked(p string) bool {
	_, found := slices.BinarySearch(blocklist(), p)
	return found
}
