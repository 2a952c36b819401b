package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// An extProc is a child process the parent talks to by lines: the -serve
// child, the JavaScript reference executor, the reference invoker's bench
// client. Each of them exits when its stdin closes (which also happens
// when the parent dies), so none outlives a run.
type extProc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout, line by line; closed at end of file
}

// startExt starts exe with args (in dir, when not ""), with the extra
// environment env, its stderr passed through.
func startExt(name, dir string, env []string, exe string, args ...string) (*extProc, error) {
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pw.Close()
	p := &extProc{name: name, cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		defer close(p.lines)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	return p, nil
}

func (p *extProc) pid() int { return p.cmd.Process.Pid }

// expect waits up to timeout for a stdout line starting with prefix and
// returns the rest of it; other lines go to stderr.
func (p *extProc) expect(prefix string, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return "", fmt.Errorf("%s ended before saying %q", p.name, prefix)
			}
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return rest, nil
			}
			fmt.Fprintf(os.Stderr, "%s: %s\n", p.name, l)
		case <-t.C:
			return "", fmt.Errorf("%s did not say %q within %v", p.name, prefix, timeout)
		}
	}
}

// stop closes the child's stdin, which makes it exit, and kills it if it
// has not exited after a few seconds.
func (p *extProc) stop() error {
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not exit after stdin closed; killed", p.name)
	}
}

// findInterop looks for the repository's interop/ folder (the one with
// server.js) from the working directory upwards: bench/ and
// bench/cmd/compare both find it.
func findInterop() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		d := filepath.Join(dir, "interop")
		if _, err := os.Stat(filepath.Join(d, "server.js")); err == nil {
			return d
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// nodeAvailable says why the node cases cannot run, nil when they can.
func nodeAvailable(env caseEnv) error {
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("node is not on PATH")
	}
	if env.interopDir == "" {
		return errors.New("interop/ not found above the working directory")
	}
	if _, err := os.Stat(filepath.Join(env.interopDir, "node_modules", "futoin-invoker")); err != nil {
		return errors.New("interop/node_modules is missing: run `make interop-deps` (npm ci in interop/) first")
	}
	return nil
}
