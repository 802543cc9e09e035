package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// deployment is what one pass measures: the servers' base URLs, their
// processes when known, and what to undo at the end.
type deployment struct {
	store   string // sqlite, postgres, db (--db) or target (--target)
	db      string // for the header; credentials elided
	rawDB   string // the --db value, for the gatehouse CLI
	bases   []string
	pids    []int // empty when the memory cannot be read
	commits *commitCounter
	undo    []func()
}

func (d *deployment) close() {
	for i := len(d.undo) - 1; i >= 0; i-- {
		d.undo[i]()
	}
}

// deploy starts the servers of one pass on a fresh database of store, or
// points at --target.
func deploy(ctx context.Context, cfg config, store string) (_ *deployment, err error) {
	d := &deployment{store: store}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if store == "target" {
		d.db, d.bases = "(unknown: --target)", []string{strings.TrimRight(cfg.target, "/")}
		if cfg.pid > 0 {
			d.pids = []int{cfg.pid}
		}
		return d, nil
	}
	db := cfg.db
	switch store {
	case "sqlite":
		dir, err := os.MkdirTemp("", "gatehouse-load-")
		if err != nil {
			return nil, err
		}
		d.undo = append(d.undo, func() { os.RemoveAll(dir) })
		db = "sqlite:" + filepath.Join(dir, "load.db")
	case "postgres":
		if cfg.postgres == "" {
			return nil, errors.New("--stores postgres needs --postgres or GATEHOUSE_TEST_POSTGRES_URL")
		}
		url, drop, err := newSchema(ctx, cfg.postgres)
		if err != nil {
			return nil, err
		}
		d.undo = append(d.undo, drop)
		db = url
	}
	d.db, d.rawDB = describe(db), db
	env := []string{"GATEHOUSE_KEY_SECRET=" + strings.Repeat("k", 32)}
	for range cfg.instances {
		srv, err := startServer(cfg.bin, db, env, cfg.extra)
		if err != nil {
			return nil, err
		}
		d.undo = append(d.undo, srv.stop)
		d.bases = append(d.bases, srv.url)
		d.pids = append(d.pids, srv.cmd.Process.Pid)
	}
	if isPostgres(db) {
		if d.commits, err = newCommitCounter(ctx, db); err != nil {
			return nil, err
		}
		d.undo = append(d.undo, d.commits.close)
	}
	return d, nil
}

// rss returns the largest VmHWM (peak) or VmRSS (now) of the pass's
// servers in KiB, or -1 when their memory cannot be read.
func (d *deployment) rss(field string) int64 {
	if len(d.pids) == 0 {
		return -1
	}
	var most int64 = -1
	for _, pid := range d.pids {
		if kb, err := procStatus(pid, field); err == nil {
			most = max(most, kb)
		}
	}
	return most
}

type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

func startServer(bin, db string, env, extra []string) (*server, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--login-limit", "0", "--register-limit", "0",
		"--log-level", "error"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, errors.New("the server printed nothing")
	}
	_, rest, _ := strings.Cut(sc.Text(), "listening on ")
	url, _, _ := strings.Cut(rest, " ")
	s := &server{cmd: cmd, url: url, done: make(chan struct{})}
	go func() { io.Copy(io.Discard, stdout); cmd.Wait(); close(s.done) }()
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// procStatus reads a memory field of /proc/PID/status (VmHWM: the peak
// resident set; VmRSS: the current one), in KiB.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func mib(kb int64) string {
	if kb < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

// cpu returns the CPU time (user and system) the pass's servers have used,
// or -1 when it cannot be read. On a machine shared with other work, CPU
// per request varies far less than requests per second do.
func (d *deployment) cpu() time.Duration {
	if len(d.pids) == 0 {
		return -1
	}
	var total time.Duration
	for _, pid := range d.pids {
		t, err := procCPU(pid)
		if err != nil {
			return -1
		}
		total += t
	}
	return total
}

// procCPU reads utime and stime from /proc/PID/stat (proc(5)).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// from the last ")", after which field 3 (state) comes first.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, err
	}
	// In clock ticks of USER_HZ, 100 on every Linux architecture Go
	// supports (sysconf(_SC_CLK_TCK) is not in the standard library).
	return time.Duration(utime+stime) * (time.Second / 100), nil
}
