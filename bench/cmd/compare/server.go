package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// The server side runs in a child process (this binary with -serve) so
// that the client allocations and CPU profile we report are the client's
// alone. The child listens on 127.0.0.1 only, prints one line
// "READY {"<part>":"127.0.0.1:<port>",...}" and serves until its stdin
// closes (which also happens when the parent dies).

const readyPrefix = "READY "

// serve is the -serve mode.
func serve(stdin io.Reader, stdout io.Writer) error {
	addrs := make(map[string]string, len(registeredServers))
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	for _, p := range registeredServers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		stop, err := p.serve(ln)
		if err != nil {
			ln.Close()
			return fmt.Errorf("%s: %w", p.name, err)
		}
		stops = append(stops, stop)
		addrs[p.name] = ln.Addr().String()
	}
	b, err := json.Marshal(addrs)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s%s\n", readyPrefix, b); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, stdin) // until the parent closes it
	return nil
}

// A serverProc is the parent's handle on the -serve child.
type serverProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addrs map[string]string
}

// startServer re-executes this binary with -serve plus args and waits for
// its READY line.
func startServer(args ...string) (*serverProc, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, append([]string{"-serve"}, args...)...)
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
		return nil, fmt.Errorf("start server: %w", err)
	}
	pw.Close()
	p := &serverProc{cmd: cmd, stdin: stdin}

	type line struct {
		s   string
		err error
	}
	lines := make(chan line, 1)
	go func() {
		defer pr.Close()
		br := bufio.NewReader(pr)
		s, err := br.ReadString('\n')
		lines <- line{s, err}
		_, _ = io.Copy(os.Stderr, br) // the child should print nothing else
	}()
	select {
	case l := <-lines:
		if l.err != nil {
			p.stop()
			return nil, fmt.Errorf("server did not start: %w", l.err)
		}
		s, ok := strings.CutPrefix(strings.TrimSpace(l.s), readyPrefix)
		if !ok {
			p.stop()
			return nil, fmt.Errorf("server said %q, want %q...", l.s, readyPrefix)
		}
		if err := json.Unmarshal([]byte(s), &p.addrs); err != nil {
			p.stop()
			return nil, fmt.Errorf("server READY line: %w", err)
		}
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, errors.New("server did not say READY within 30s")
	}
	return p, nil
}

// stop closes the child's stdin, which makes it exit, and kills it if it
// has not exited after a few seconds.
func (p *serverProc) stop() error {
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		return errors.New("server did not exit after stdin closed; killed")
	}
}
