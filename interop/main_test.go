//go:build interop

// Package interop_test runs the ftnpipe invoker against the JavaScript
// reference executor (futoin-executor, see package.json and server.js).
//
// Run it with `make test`, or by hand:
//
//	(cd interop && npm ci) && go test -race -tags interop ./interop/
//
// TestMain starts `node server.js`, waits for its "LISTEN 127.0.0.1:PORT"
// line, runs the tests, stops the server and then fails the run if any
// goroutine is left behind (go.uber.org/goleak).
package interop_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const (
	// startupTimeout bounds the wait for the LISTEN line; node needs about
	// half a second here, much more on a loaded CI machine.
	startupTimeout = 30 * time.Second
	// stopTimeout bounds each step of the shutdown (stdin EOF, SIGTERM).
	stopTimeout = 5 * time.Second
	// ftnPath is the executor's path (HTTP_PATH in server.js).
	ftnPath = "/ftn"
)

// peerAddr is "127.0.0.1:PORT" of the running reference executor.
var peerAddr string

// endpoint returns the URL of the reference executor for scheme "http" or "ws".
func endpoint(scheme string) string {
	return scheme + "://" + peerAddr + ftnPath
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	srv, err := startPeer()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: interop: %v\n", err)
		return 1
	}
	peerAddr = srv.addr

	code := m.Run()

	if err := srv.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: interop: %v\n", err)
		code = 1
	}

	// The server is gone, so every connection our clients still hold is
	// closed from the far side: whatever goroutine remains is ours.
	if err := goleak.Find(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: interop: leaked goroutines: %v\n", err)
		code = 1
	}
	return code
}

// peer is the running `node server.js`.
type peer struct {
	addr   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{} // closed once cmd.Wait returned
	err    error         // cmd.Wait's result, valid after exited is closed
}

func startPeer() (*peer, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node (Node.js 18 or newer) is not on PATH: the interop tests need it: %w", err)
	}
	dir, err := os.Getwd() // go test runs in the package directory: interop/
	if err != nil {
		return nil, err
	}
	for _, mod := range []string{"futoin-executor", "futoin-invoker", "futoin-asyncsteps"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", mod, "package.json")); err != nil {
			return nil, fmt.Errorf("node_modules/%s is missing: run `npm ci` in interop/ (make test does this)", mod)
		}
	}

	// Port 0 as an argument, so an INTEROP_PORT in the environment cannot
	// make two runs collide.
	cmd := exec.Command(node, "server.js", "0")
	cmd.Dir = dir
	cmd.Stderr = &prefixWriter{prefix: "[node server.js] ", w: os.Stderr}
	lines := &lineWatcher{listen: make(chan string, 1), echo: os.Stderr}
	cmd.Stdout = lines
	// Only if a grandchild kept the output open: do not wait for it forever.
	cmd.WaitDelay = stopTimeout
	stdin, err := cmd.StdinPipe() // server.js exits when this reaches EOF
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node server.js: %w", err)
	}

	p := &peer{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()

	timer := time.NewTimer(startupTimeout)
	defer timer.Stop()
	select {
	case addr := <-lines.listen:
		host, _, ok := strings.Cut(addr, ":")
		if !ok || host != "127.0.0.1" {
			_ = p.stop()
			return nil, fmt.Errorf("server.js listens on %q, want 127.0.0.1:PORT", addr)
		}
		p.addr = addr
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("node server.js exited before it listened: %v", p.err)
	case <-timer.C:
		_ = p.stop()
		return nil, fmt.Errorf("node server.js did not print a LISTEN line within %v", startupTimeout)
	}
}

// stop ends the server: stdin EOF first (what server.js watches), then
// SIGTERM, then SIGKILL. It reports a server that had already died during
// the tests, or that exited with a failure status.
func (p *peer) stop() error {
	select {
	case <-p.exited:
		return fmt.Errorf("node server.js died during the tests: %v", p.err)
	default:
	}

	_ = p.stdin.Close()
	if p.wait(stopTimeout) {
		return exitErr(p.err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if p.wait(stopTimeout) {
		return exitErr(p.err)
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return errors.New("node server.js ignored stdin EOF and SIGTERM; killed")
}

func (p *peer) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		return false
	}
}

func exitErr(err error) error {
	if err != nil {
		return fmt.Errorf("node server.js exited with %v", err)
	}
	return nil
}

// lineWatcher receives the server's stdout: the first "LISTEN addr" line is
// sent on listen, everything is copied to echo.
type lineWatcher struct {
	listen chan string
	echo   io.Writer

	buf  []byte
	seen bool
}

func (w *lineWatcher) Write(b []byte) (int, error) {
	_, _ = w.echo.Write(prefixLines("[node server.js] ", b))
	if w.seen {
		return len(b), nil
	}
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
		if addr, ok := strings.CutPrefix(line, "LISTEN "); ok {
			w.seen = true
			w.buf = nil
			w.listen <- addr
			break
		}
	}
	return len(b), nil
}

// prefixWriter copies the server's stderr to w, each line prefixed.
type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	_, _ = p.w.Write(prefixLines(p.prefix, b))
	return len(b), nil
}

func prefixLines(prefix string, b []byte) []byte {
	s := strings.TrimSuffix(string(b), "\n")
	return []byte(prefix + strings.ReplaceAll(s, "\n", "\n"+prefix) + "\n")
}
