package main

import (
	"context"
	"fmt"
	"net"
	"slices"
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
	// server names the server part (see serverPart) this case talks to.
	server string
	// dial builds a client against addr (host:port of its server part)
	// for conc concurrent callers.
	dial func(ctx context.Context, addr string, conc int) (client, error)
	// extra cases are diagnostics: they run only when -cases names them
	// and are not part of the default table.
	extra bool
}

// A serverPart runs in the -serve child process on its own loopback
// listener. serve must return once it has started serving in the
// background; stop shuts it down.
type serverPart struct {
	name  string
	serve func(ln net.Listener) (stop func(), err error)
}

var (
	registeredCases   []benchCase
	registeredServers []serverPart
)

func registerCase(c benchCase) {
	registeredCases = append(registeredCases, c)
	slices.SortFunc(registeredCases, func(a, b benchCase) int { return a.order - b.order })
}

func registerServer(s serverPart) { registeredServers = append(registeredServers, s) }

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
