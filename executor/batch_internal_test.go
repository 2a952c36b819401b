package executor

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// TestBatchConnPipe drives batchConn over net.Pipe, which has no
// non-blocking writes and no buffer: every batch goes through the writer
// goroutine and each write waits for the reader. Concurrent writers,
// held output around reads, and drain must deliver every byte in the
// order of the Write calls of each writer.
func TestBatchConnPipe(t *testing.T) {
	a, peer := net.Pipe()
	bc := newBatchConn(a)
	if bc.raw != nil {
		t.Fatal("net.Pipe should have no raw conn")
	}
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(peer)
		got <- all
	}()

	const writers, per = 4, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				if _, err := bc.Write([]byte("w" + strconv.Itoa(w) + ":" + strconv.Itoa(i) + ";")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() { // toggles hold the way the reader does
		for range 100 {
			bc.mu.Lock()
			bc.hold = true
			bc.mu.Unlock()
			bc.mu.Lock()
			bc.hold = false
			flush := !bc.writing && len(bc.buf) > 0 && bc.err == nil
			if flush {
				bc.writing = true
			}
			bc.mu.Unlock()
			if flush {
				bc.push()
			}
		}
	})
	wg.Wait()
	bc.drain()
	_ = bc.Close()
	all := <-got

	next := make([]int, writers)
	for _, tok := range bytes.Split(bytes.TrimSuffix(all, []byte(";")), []byte(";")) {
		ws, is, ok := bytes.Cut(tok, []byte(":"))
		if !ok {
			t.Fatalf("garbled %q", tok)
		}
		w, _ := strconv.Atoi(string(ws[1:]))
		i, _ := strconv.Atoi(string(is))
		if i != next[w] {
			t.Fatalf("writer %d: got %d, want %d", w, i, next[w])
		}
		next[w]++
	}
	for w, n := range next {
		if n != per {
			t.Fatalf("writer %d: %d of %d writes arrived", w, n, per)
		}
	}
	if _, err := bc.Write([]byte("x")); err == nil {
		t.Fatal("write after Close succeeded")
	}
}
