//go:build !noftnpipe

package main

import (
	"context"
	"os"
	"path/filepath"

	ccm "github.com/ftnpipe/ccm"
)

// ftnpipe-tcp and ftnpipe-unix: the ftnpipe invoker against the ftnpipe
// executor over its length-prefixed stream transports (executor ListenTCP
// and ListenUnix in the server process): one multiplexed connection each,
// like WS but without WebSocket framing and HTTP upgrade.
//
// ftnpipe-local: the ftnpipe invoker calling an executor in the same
// process (CCM.RegisterLocal): no socket, no encoding, no server process;
// the client columns hold both sides and the server columns show "-".

const (
	ftnTCPPartKey  = "ftnpipe-tcp"
	ftnUnixPartKey = "ftnpipe-unix"
)

func init() {
	registerServer(serverPart{
		name: ftnTCPPartKey,
		start: func() (string, func(), error) {
			e, err := newBenchExecutor()
			if err != nil {
				return "", nil, err
			}
			s, err := e.ListenTCP("127.0.0.1:0")
			if err != nil {
				e.Close()
				return "", nil, err
			}
			return s.Addr().String(), func() { _ = e.Close() }, nil
		},
	})
	registerServer(serverPart{
		name: ftnUnixPartKey,
		start: func() (string, func(), error) {
			dir, err := os.MkdirTemp("", "ftnbench")
			if err != nil {
				return "", nil, err
			}
			e, err := newBenchExecutor()
			if err != nil {
				os.RemoveAll(dir)
				return "", nil, err
			}
			path := filepath.Join(dir, "ftn.sock")
			if _, err := e.ListenUnix(path); err != nil {
				e.Close()
				os.RemoveAll(dir)
				return "", nil, err
			}
			return path, func() { _ = e.Close(); _ = os.RemoveAll(dir) }, nil
		},
	})
	registerCase(benchCase{name: "ftnpipe-tcp", order: 21, server: ftnTCPPartKey,
		dial: dialFtn(func(addr string) string { return "tcp://" + addr }, ftnIfaceV)})
	registerCase(benchCase{name: "ftnpipe-unix", order: 22, server: ftnUnixPartKey,
		dial: dialFtn(func(path string) string { return "unix://" + path }, ftnIfaceV)})
	registerCase(benchCase{name: "ftnpipe-local", order: 23, dial: dialLocal})
}

// dialLocal builds the executor and the CCM in this process; closing the
// client closes both.
func dialLocal(ctx context.Context, _ string, conc int) (client, error) {
	e, err := newBenchExecutor()
	if err != nil {
		return nil, err
	}
	c := ccm.New()
	// MaxConns bounds the calls running at once in the executor: one per
	// caller, as every other case allows.
	if err := c.RegisterLocal(ctx, ftnIface, ftnIfaceV, e, ccm.MaxConns(conc)); err != nil {
		c.Close()
		e.Close()
		return nil, err
	}
	return newFtnClient(c, e.Close)
}
