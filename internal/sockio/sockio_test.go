package sockio_test

import (
	"net"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/ftnpipe/ccm/internal/sockio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TryWriteFD writes what the socket takes and reports a full socket with
// n == 0 instead of blocking, against a peer that never reads.
func TestTryWriteFDNeverBlocks(t *testing.T) {
	if !sockio.CanTryWrite {
		t.Skip("no non-blocking socket writes on this platform; callers use a writer goroutine")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); acc <- c }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := <-acc // never reads
	defer peer.Close()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	total, full := 0, false
	for i := 0; i < 10000 && !full; i++ { // bounded: loopback buffers are a few MB
		var n int
		var werr error
		if err := raw.Write(func(fd uintptr) bool { n, werr = sockio.TryWriteFD(fd, chunk); return true }); err != nil {
			t.Fatal(err)
		}
		if werr != nil {
			t.Fatal(werr)
		}
		total += n
		full = n == 0
	}
	if !full {
		t.Fatalf("the socket never reported full after %d bytes", total)
	}
	if total == 0 {
		t.Fatal("nothing was written")
	}
}
