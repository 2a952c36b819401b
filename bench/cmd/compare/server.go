package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
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
		if p.start != nil {
			addr, stop, err := p.start()
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			stops = append(stops, stop)
			addrs[p.name] = addr
			continue
		}
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
	*extProc
	addrs map[string]string
}

// startServer re-executes this binary with -serve plus args and waits for
// its READY line.
func startServer(args ...string) (*serverProc, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	p, err := startExt("server", "", nil, exe, append([]string{"-serve"}, args...)...)
	if err != nil {
		return nil, err
	}
	sp := &serverProc{extProc: p}
	s, err := p.expect(readyPrefix, 30*time.Second)
	if err == nil {
		err = json.Unmarshal([]byte(s), &sp.addrs)
	}
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("server did not start: %w", err)
	}
	return sp, nil
}
