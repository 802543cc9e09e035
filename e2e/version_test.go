package e2e

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/cli"
)

// "gatehouse version" prints what make release stamps with -ldflags -X:
// the version and the commit. Not parallel: it sets the package's
// variables, which the parallel tests only read after it returned.
func TestVersionPrintsStampedVersionAndCommit(t *testing.T) {
	oldV, oldC := cli.Version, cli.Commit
	t.Cleanup(func() { cli.Version, cli.Commit = oldV, oldC })

	cli.Version, cli.Commit = "v1.2.3", "0123abcd"
	out, err := runCLI(t, nil, "", "version")
	if err != nil || strings.TrimSpace(out) != "gatehouse v1.2.3 (commit 0123abcd)" {
		t.Fatalf("version: %v %q", err, out)
	}

	// Unstamped (go run, go install): still one line naming both; the
	// commit is the go command's vcs.revision when it recorded one.
	cli.Version, cli.Commit = "", ""
	out, err = runCLI(t, nil, "", "version")
	if err != nil || !strings.HasPrefix(out, "gatehouse ") || !strings.Contains(out, "(commit ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("unstamped version: %v %q", err, out)
	}
}
