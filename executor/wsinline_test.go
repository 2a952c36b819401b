package executor_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/executor"
)

// TestWSPeerNotReading: a client that sends many requests with big answers
// and reads nothing fills the socket; the Executor must keep reading and
// serving meanwhile (no write ever holds up the read loop), then deliver
// every answer once the client reads.
func TestWSPeerNotReading(t *testing.T) {
	is := is.New(t)
	reached := make(chan struct{})
	ex := executor.New()
	funcs := testFuncs()
	funcs["mark"] = func(context.Context, *executor.Request) (any, error) {
		close(reached)
		return "marked", nil
	}
	is.NoErr(ex.Register("test.svc:1.0", funcs))
	srv := listen(t, ex)
	c := dial(t, srv.WSURL())

	const n = 300 // ~9 MB of answers: far beyond the socket buffers
	for i := range n {
		send(t, c, `{"f":"test.svc:1.0:big","p":{"n":30000},"rid":"C`+strconv.Itoa(i)+`"}`)
	}
	send(t, c, `{"f":"test.svc:1.0:mark","p":{},"rid":"Cmark"}`)
	select {
	case <-reached: // served although nothing was read
	case <-time.After(10 * time.Second):
		t.Fatal("the Executor stopped reading while its writes were blocked")
	}
	seen := map[string]int{}
	for range n + 1 {
		m, _ := recv(t, c)
		seen[m["rid"].(string)]++
	}
	is.Equal(len(seen), n+1)
	for rid, k := range seen {
		if k != 1 {
			t.Fatalf("%s answered %d times", rid, k)
		}
	}
}

// TestWSPeerVanishes: the client goes away while the Executor's writes
// wait on a full socket; the connection ends and Close joins everything
// (goleak in TestMain checks nothing is left).
func TestWSPeerVanishes(t *testing.T) {
	is := is.New(t)
	ex, srv := start(t)
	c := dial(t, srv.WSURL())
	for i := range 200 {
		send(t, c, `{"f":"test.svc:1.0:big","p":{"n":30000},"rid":"C`+strconv.Itoa(i)+`"}`)
	}
	time.Sleep(50 * time.Millisecond)
	is.NoErr(c.CloseNow())
	done := make(chan struct{})
	go func() { _ = ex.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}

// TestWSInlineHandoff mixes quick requests, requests around the inline
// grace period and requests that block until released, from several
// writers on one connection: every request is answered exactly once, the
// quick ones while the blocking ones still hold their goroutines.
func TestWSInlineHandoff(t *testing.T) {
	is := is.New(t)
	release := make(chan struct{})
	ex := executor.New()
	is.NoErr(ex.Register("test.mix:1.0", map[string]executor.Handler{
		"nap": func(_ context.Context, req *executor.Request) (any, error) {
			us, _ := req.Params["us"].(float64)
			time.Sleep(time.Duration(us) * time.Microsecond)
			return req.Rid, nil
		},
		"hold": func(ctx context.Context, req *executor.Request) (any, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return req.Rid, nil
		},
	}))
	srv := listen(t, ex)
	c := dial(t, srv.WSURL())

	const writers, per, holds = 4, 150, 8
	for i := range holds {
		send(t, c, `{"f":"test.mix:1.0:hold","p":{},"rid":"Ch`+strconv.Itoa(i)+`"}`)
	}
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for i := range per {
				us := (i * 37) % 300 // 0..299 µs: below and above the grace
				msg := `{"f":"test.mix:1.0:nap","p":{"us":` + strconv.Itoa(us) + `},"rid":"C` + strconv.Itoa(w) + `_` + strconv.Itoa(i) + `"}`
				if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		is.NoErr(<-errs)
	}
	seen := map[string]int{}
	for range writers * per { // all quick ones come while the holds still block
		m, _ := recv(t, c)
		rid := m["rid"].(string)
		is.Equal(m["r"], rid)
		seen[rid]++
	}
	close(release)
	for range holds {
		m, _ := recv(t, c)
		seen[m["rid"].(string)]++
	}
	is.Equal(len(seen), writers*per+holds)
	for rid, k := range seen {
		if k != 1 {
			t.Fatalf("%s answered %d times", rid, k)
		}
	}
}

// TestWSSlowHandlersSpawn: after one handler outgrows the inline grace
// period, the connection starts the next requests on goroutines of their
// own instead of handing reading over once per request. n requests that
// all wait for each other complete, and reading was handed over a few
// times at most, not once per request.
func TestWSSlowHandlersSpawn(t *testing.T) {
	is := is.New(t)
	const n = 200
	var arrived atomic.Int64
	all := make(chan struct{})
	ex := executor.New()
	is.NoErr(ex.Register("test.wait:1.0", map[string]executor.Handler{
		"wait": func(ctx context.Context, req *executor.Request) (any, error) {
			if arrived.Add(1) == n {
				close(all)
			}
			select {
			case <-all:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return req.Rid, nil
		},
	}))
	srv := listen(t, ex)
	c := dial(t, srv.WSURL())
	for i := range n {
		send(t, c, `{"f":"test.wait:1.0:wait","p":{},"rid":"C`+strconv.Itoa(i)+`"}`)
	}
	seen := map[string]bool{}
	for range n {
		m, _ := recv(t, c)
		rid := m["rid"].(string)
		is.Equal(m["r"], rid) // answered with its own result
		seen[rid] = true
	}
	is.Equal(len(seen), n)
	st := ex.Stats()
	t.Logf("detached %d, spawned %d", st.Detached, st.Spawned)
	is.True(st.Detached < n/10)       // not one hand-over per waiting request
	is.True(st.Spawned > uint64(n/2)) // they ran on goroutines of their own
}
