package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"
)

// payload is the string every case echoes: 16 bytes, the same for all of
// them, so that the comparison measures the stacks and not the data.
const payload = "0123456789abcdef"

// A client is one case's client side, shared by all callers of one
// measurement the way an application would share it (one connection pool,
// one multiplexed connection, one grpc.ClientConn).
type client interface {
	// call makes one echo round trip with payload and checks the answer.
	// It must be safe for concurrent use.
	call(ctx context.Context) error
	close() error
}

// A benchCase is one line of the table.
type benchCase struct {
	name  string
	order int // position in the table
	// server names the server part (see serverPart) or the external
	// server (see externalPart) this case talks to; "" for a case that
	// runs entirely in the client process (no server process is involved
	// and the server columns show "-").
	server string
	// dial builds a client against addr (its server part's address: a
	// host:port, or a socket path) for conc concurrent callers.
	dial func(ctx context.Context, addr string, conc int) (client, error)
	// drive, when set, replaces dial and the in-process callers: the whole
	// measurement runs elsewhere (a node process) and reports itself.
	// serverPid is the server process, for its CPU and syscall columns.
	drive func(ctx context.Context, env caseEnv, addr string, conc int, warmup, dur time.Duration, serverPid int) (measurement, error)
	// available says why the case cannot run on this machine (node or the
	// interop node_modules missing), nil when it can. A case that cannot
	// run is skipped with that message, not failed.
	available func(env caseEnv) error
	// extra cases are diagnostics: they run only when -cases names them
	// and are not part of the default table.
	extra bool
}

// A serverPart runs in the -serve child process on its own loopback
// listener. serve must return once it has started serving in the
// background; stop shuts it down. A part that makes its own listener (a
// UNIX socket, or a server that insists on listening itself) sets start
// instead of serve and returns the address its clients dial.
type serverPart struct {
	name  string
	serve func(ln net.Listener) (stop func(), err error)
	start func() (addr string, stop func(), err error)
}

// An externalPart is a server that is not ours to build into the -serve
// child (the JavaScript reference executor): the parent starts it as a
// process of its own the first time a case needs it, and stops it at the
// end of the run. Its process id gives the server columns.
type externalPart struct {
	name  string
	start func(env caseEnv) (p *extProc, addr string, err error)
}

// caseEnv is what cases may need from the run's setup.
type caseEnv struct {
	// interopDir is the repository's interop/ folder (node peer and its
	// pinned node_modules); "" when it was not found.
	interopDir string
}

var (
	registeredCases    []benchCase
	registeredServers  []serverPart
	registeredExternal []externalPart
)

func registerCase(c benchCase) {
	registeredCases = append(registeredCases, c)
	slices.SortFunc(registeredCases, func(a, b benchCase) int { return a.order - b.order })
}

func registerServer(s serverPart) { registeredServers = append(registeredServers, s) }

func registerExternal(p externalPart) { registeredExternal = append(registeredExternal, p) }

func findExternal(name string) (externalPart, bool) {
	for _, p := range registeredExternal {
		if p.name == name {
			return p, true
		}
	}
	return externalPart{}, false
}

func findCase(name string) (benchCase, error) {
	for _, c := range registeredCases {
		if c.name == name {
			return c, nil
		}
	}
	names := make([]string, 0, len(registeredCases))
	for _, c := range registeredCases {
		names = append(names, c.name)
	}
	return benchCase{}, fmt.Errorf("unknown case %q (have %v)", name, names)
}

// errMismatch is returned when an echo comes back different.
func errMismatch(got any) error {
	return fmt.Errorf("echo mismatch: got %#v, want %q", got, payload)
}
