//go:build linux

package executor_test

import (
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/executor"
)

// TestStreamAcceptSurvivesEMFILE: running out of file descriptors makes
// Accept fail for a while; once descriptors are free again the server
// serves new connections (it used to stop accepting for good while still
// listening).
func TestStreamAcceptSurvivesEMFILE(t *testing.T) {
	is := is.New(t)
	ex := executor.New()
	is.NoErr(ex.Register("test.svc:1.0", testFuncs()))
	srv, err := ex.ListenTCP("")
	is.NoErr(err)
	t.Cleanup(func() { _ = ex.Close() })

	var old syscall.Rlimit
	is.NoErr(syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old))
	fds, err := os.ReadDir("/proc/self/fd")
	is.NoErr(err)
	lim := old
	lim.Cur = uint64(len(fds) + 6)
	is.NoErr(syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	restored := false
	defer func() {
		if !restored {
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
		}
	}()
	// Client sockets take descriptors too: dial until the process is out,
	// so the server's Accept meets EMFILE.
	var conns []net.Conn
	for range 20 {
		nc, err := net.DialTimeout("tcp", srv.Addr().String(), time.Second)
		if err != nil {
			break
		}
		conns = append(conns, nc)
	}
	time.Sleep(100 * time.Millisecond) // let the accept loop meet EMFILE (not an assertion)
	for _, nc := range conns {
		_ = nc.Close()
	}
	is.NoErr(syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old))
	restored = true

	p := dialStream(t, srv)
	is.Equal(p.call(`{"f":"test.svc:1.0:scalar","p":{},"rid":"C1"}`)["r"], 3.0) // served again
}
