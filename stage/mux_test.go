package stage_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
	"github.com/matryer/is"
)

// failRecorder is a Mux fail function that records what it was given and
// completes the call with the error (no retry policy).
type failRecorder struct {
	mu    sync.Mutex
	calls []*pipeline.Call
}

func (f *failRecorder) fail(c *pipeline.Call, err error) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	c.Complete(nil, err)
}

func newMux() (*stage.Mux, *failRecorder) {
	f := &failRecorder{}
	return stage.NewMux(stage.NewDecoder(codec.JSON), f.fail), f
}

func result(t *testing.T, rid string, r any) []byte {
	t.Helper()
	b, err := codec.JSON.AppendResponse(nil, &pipeline.Response{R: r, Rid: rid})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assigned(t *testing.T, m *stage.Mux) *pipeline.Call {
	t.Helper()
	c := pipeline.NewCall(context.Background(), fn, nil)
	if err := m.Assign(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMuxRids(t *testing.T) {
	is := is.New(t)
	m, _ := newMux()
	for i := 1; i <= 12; i++ {
		c := assigned(t, m)
		is.Equal(c.Req.Rid, "C"+strconv.Itoa(i)) // C1, C2, … (WIRE.md §4)
		is.True(!c.Sent.Load())                  // marked unsent
	}
	is.Equal(m.Pending(), 12)
}

func TestMuxConcurrentAssign(t *testing.T) {
	is := is.New(t)
	m, _ := newMux()
	const g, n = 8, 500
	rids := make([][]string, g)
	increasing := make([]bool, g)
	var wg sync.WaitGroup
	for w := range g {
		wg.Go(func() {
			prev := 0
			increasing[w] = true
			for range n {
				c := pipeline.NewCall(context.Background(), fn, nil)
				_ = m.Assign(c)
				rids[w] = append(rids[w], c.Req.Rid)
				num, _ := strconv.Atoi(c.Req.Rid[1:])
				if num <= prev {
					increasing[w] = false
				}
				prev = num
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for w := range g {
		is.True(increasing[w]) // increasing as seen by each goroutine
		for _, rid := range rids[w] {
			is.True(!seen[rid]) // unique
			seen[rid] = true
		}
	}
	is.Equal(len(seen), g*n)
	for i := 1; i <= g*n; i++ {
		is.True(seen["C"+strconv.Itoa(i)]) // no gaps: one counter
	}
	is.Equal(m.Pending(), g*n)
}

func TestMuxReceive(t *testing.T) {
	is := is.New(t)
	m, _ := newMux()
	a, b := assigned(t, m), assigned(t, m)
	m.Receive(result(t, b.Req.Rid, map[string]any{"sum": 3}))
	res, err := b.Result()
	is.NoErr(err)
	is.Equal(res, any(map[string]any{"sum": 3.0}))
	is.True(!a.IsDone()) // only the matching call
	is.Equal(m.Pending(), 1)
	is.Equal(b.Rsp.Rid, b.Req.Rid) // the envelope is kept on the call

	frame, err := codec.JSON.AppendResponse(nil, &pipeline.Response{E: pipeline.NotImplemented, EDesc: "nope", Rid: a.Req.Rid})
	is.NoErr(err)
	m.Receive(frame)
	_, err = a.Result()
	is.True(errors.Is(err, pipeline.ErrNotImplemented))
	is.True(pipeline.IsRemote(err))
	is.Equal(m.Pending(), 0)
	is.Equal(m.Unknown(), uint64(0))
}

func TestMuxReceiveUnknown(t *testing.T) {
	is := is.New(t)
	m, _ := newMux()
	c := assigned(t, m)
	frames := []string{
		`{"r":1,"rid":"C99"}`,                // nobody waits for C99
		`{"r":1}`,                            // no rid
		`{"r":1,"rid":""}`,                   // empty rid
		`not json`,                           // undecodable
		`{"r":1,"rid":"` + c.Req.Rid + `"`,   // truncated
		`{"rid":"` + c.Req.Rid + `"}`,        // neither r nor e
		`{"f":"a:1.0:f","p":{},"rid":"S1"}`,  // a server request: no executor here
		``,                                   // empty
		`{"r":1,"rid":7}`,                    // non-string rid
		`null`,                               // the reply that kills the JS invoker
		`{"r":1,"rid":"` + c.Req.Rid + `"}x`, // trailing garbage
	}
	for i, f := range frames {
		m.Receive([]byte(f)) // must not panic
		is.Equal(m.Unknown(), uint64(i+1))
	}
	is.True(!c.IsDone()) // still waiting
	is.Equal(m.Pending(), 1)
	m.Receive(result(t, c.Req.Rid, 1))
	is.True(c.IsDone())
	m.Receive(result(t, c.Req.Rid, 2)) // a duplicate reply
	is.Equal(m.Unknown(), uint64(len(frames)+1))
	res, _ := c.Result()
	is.Equal(res, 1.0)
}

func TestMuxLateResponse(t *testing.T) {
	is := is.New(t)
	m, _ := newMux()
	c := assigned(t, m)
	c.Complete(nil, pipeline.NewError(pipeline.Timeout, "no response")) // timed out
	is.Equal(m.Pending(), 0)                                            // the cleanup removed the entry
	m.Receive(result(t, c.Req.Rid, "late"))
	is.Equal(m.Unknown(), uint64(1)) // dropped
	_, err := c.Result()
	is.True(errors.Is(err, pipeline.ErrTimeout)) // the timeout stands
}

func TestMuxFailSent(t *testing.T) {
	is := is.New(t)
	m, rec := newMux()
	sent, unsent := assigned(t, m), assigned(t, m)
	sent.Sent.Store(true)
	lost := pipeline.NewError(pipeline.CommError, "connection lost")
	m.FailSent(lost)
	_, err := sent.Result()
	is.True(err == lost)                        // failed with the given error
	is.Equal(rec.calls, []*pipeline.Call{sent}) // through the fail function (the retry policy)
	is.True(!unsent.IsDone())                   // goes out on the next connection
	is.Equal(m.Pending(), 1)

	m.Receive(result(t, unsent.Req.Rid, "ok"))
	res, err := unsent.Result()
	is.NoErr(err)
	is.Equal(res, "ok")
}

// FailVia fails only the calls written on the lost connection; every way
// an attempt ends takes the call off its connection's load count exactly
// once (response, loss, completion, a new attempt).
func TestMuxFailVia(t *testing.T) {
	is := is.New(t)
	m, rec := newMux()
	var k1, k2 pipeline.Carrier
	a, b, c, d := assigned(t, m), assigned(t, m), assigned(t, m), assigned(t, m)
	for _, x := range []struct {
		c *pipeline.Call
		k *pipeline.Carrier
	}{{a, &k1}, {b, &k2}, {c, &k1}, {d, &k2}} {
		x.c.SetVia(x.k)
		x.c.Sent.Store(true)
	}
	is.Equal(k1.InFlight(), int64(2))
	is.Equal(k2.InFlight(), int64(2))

	m.FailVia(&k1, pipeline.NewError(pipeline.CommError, "connection 1 lost"))
	is.Equal(len(rec.calls), 2) // only k1's calls…
	is.True(rec.calls[0] == a && rec.calls[1] == c || rec.calls[0] == c && rec.calls[1] == a)
	is.True(a.IsDone() && c.IsDone())
	is.True(!b.IsDone() && !d.IsDone()) // …k2's stay pending
	is.Equal(k1.InFlight(), int64(0))

	m.Receive(result(t, b.Req.Rid, "ok")) // answered
	is.Equal(k2.InFlight(), int64(1))
	d.Complete(nil, pipeline.NewError(pipeline.Timeout, "deadline")) // completed elsewhere
	is.Equal(k2.InFlight(), int64(0))
	is.Equal(m.Pending(), 0)

	e := assigned(t, m)
	e.SetVia(&k1)
	is.NoErr(m.Assign(e)) // a new attempt: off the old connection
	is.Equal(k1.InFlight(), int64(0))
	is.True(e.Via() == nil)
	e.Complete(nil, nil)
	e.SetVia(&k2) // written after it completed (a deadline raced the write)
	is.Equal(k2.InFlight(), int64(0))
}

func TestMuxClose(t *testing.T) {
	is := is.New(t)
	m, rec := newMux()
	sent, unsent := assigned(t, m), assigned(t, m)
	sent.Sent.Store(true)
	m.Close()
	_, err := sent.Result()
	is.True(errors.Is(err, pipeline.ErrCommError)) // sent, no answer
	_, err = unsent.Result()
	is.True(errors.Is(err, pipeline.ErrConnectError)) // never sent
	is.Equal(m.Pending(), 0)
	is.Equal(len(rec.calls), 0) // Close completes directly: no retry at shutdown
	m.Close()                   // twice is fine
}

func TestMuxReassign(t *testing.T) {
	is := is.New(t)
	m, _ := newMux()
	c := assigned(t, m)
	old := c.Req.Rid
	c.Sent.Store(true)
	c.Attempt = 1 // a retry
	is.NoErr(m.Assign(c))
	is.True(c.Req.Rid != old) // a fresh rid per attempt
	is.True(!c.Sent.Load())   // the new attempt is unsent
	is.Equal(m.Pending(), 1)  // the old entry is gone

	m.Receive(result(t, old, "stale"))
	is.Equal(m.Unknown(), uint64(1)) // a reply to the old attempt matches nothing
	is.True(!c.IsDone())

	c.Complete(nil, pipeline.NewError(pipeline.Timeout, ""))
	is.Equal(m.Pending(), 0) // the cleanup (registered once) removes the new rid
}

// TestMuxAssignAfterCompletion: a call can complete (its timer fires)
// between the pipeline's IsDone check and a retry's Assign. The Cleanup
// already ran for the old rid, so Assign must not leave the new rid behind.
func TestMuxAssignAfterCompletion(t *testing.T) {
	is := is.New(t)
	m, _ := newMux()
	c := assigned(t, m)
	c.Sent.Store(true)
	m.FailSent(pipeline.NewError(pipeline.CommError, "lost")) // leaves the table
	c.Attempt = 1                                             // taken for a retry…
	c2 := pipeline.NewCall(context.Background(), fn, nil)     // (control: a live call)
	is.NoErr(m.Assign(c2))
	// …but it completed meanwhile (the fail function above completed it;
	// a timeout would do the same).
	is.True(c.IsDone())
	is.NoErr(m.Assign(c))
	// Regression (fixed): mux.go:45-63: Assign inserts the new rid without checking that
	// the call is still pending; for Attempt > 0 no cleanup will ever remove
	// it, so the table keeps a completed call until Close. Fix: after the
	// insert, `if c.IsDone() { m.Cleanup(c) }` (Complete sets the state
	// before it runs cleanups, so one of the two sees the other).
	is.Equal(m.Pending(), 1) // only the live call is pending
}

func TestMuxConcurrentReceiveAndTimeout(t *testing.T) {
	is := is.New(t)
	m, _ := newMux()
	const n = 2000
	calls := make([]*pipeline.Call, n)
	frames := make([][]byte, n)
	for i := range calls {
		calls[i] = assigned(t, m)
		frames[i] = result(t, calls[i].Req.Rid, i)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			m.Receive(frames[i])
		}
	})
	wg.Go(func() {
		for i := n - 1; i >= 0; i-- {
			calls[i].Complete(nil, pipeline.NewError(pipeline.Timeout, fmt.Sprint(i)))
		}
	})
	wg.Wait()
	is.Equal(m.Pending(), 0)
	var answered, timedOut uint64
	for _, c := range calls {
		_, err := c.Result()
		if err == nil {
			answered++
		} else {
			timedOut++
		}
	}
	is.Equal(answered+timedOut, uint64(n))
	is.True(m.Unknown() <= timedOut) // only replies that lost to a timeout are unknown
}
