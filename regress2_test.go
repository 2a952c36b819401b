package ccm_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"go.uber.org/goleak"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// Regression tests for findings of the review of the transports and
// codecs; each failed before its fix.

// TestCallIntoNotWrittenAfterTimeoutLocal: an in-process call whose
// deadline passes while its handler runs returns Timeout, and its target
// is never written afterwards (it was, by the worker, once the handler
// returned: a data race on the caller's memory).
func TestCallIntoNotWrittenAfterTimeoutLocal(t *testing.T) {
	is := is.New(t)
	ex := executor.New()
	defer ex.Close()
	release := make(chan struct{})
	is.NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"slow": func(ctx context.Context, _ *executor.Request) (any, error) {
			<-release
			return map[string]any{"v": 42}, nil
		},
	}))
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	is.NoErr(c.RegisterLocal(bg, "x", "test.svc:1.0", ex))
	it, _ := c.Iface("x")
	var out struct {
		V int `json:"v"`
	}
	ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
	err := it.CallInto(ctx, "slow", nil, &out)
	cancel()
	is.True(errors.Is(err, ccm.ErrTimeout))
	close(release)
	is.NoErr(c.Close()) // joins the worker that ran the handler
	is.Equal(out.V, 0)  // not written after CallInto returned
}

// slowTarget cancels its call's context while it is being decoded into.
type slowTarget struct {
	V      int
	cancel context.CancelFunc
}

func (s *slowTarget) UnmarshalJSON([]byte) error {
	s.cancel() // the caller's context ends during the decode
	// Give the cancel's completion time to run (it used to win and let
	// CallInto return while this decode went on writing).
	time.Sleep(10 * time.Millisecond)
	s.V = 42
	return nil
}

// TestCallIntoNotWrittenAfterCancelRemote: over WebSocket, a cancel that
// comes while the result is decoded into the target either loses (the
// call succeeds with the target filled) or wins (the target stays
// untouched); CallInto never returns an error with the target written.
func TestCallIntoNotWrittenAfterCancelRemote(t *testing.T) {
	is := is.New(t)
	s := newService(t)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	it := register(t, c, s.srv.WSURL())
	ctx, cancel := context.WithCancel(bg)
	out := &slowTarget{cancel: cancel}
	err := it.CallInto(ctx, "echo", map[string]any{"v": 1}, out)
	is.NoErr(c.Close())
	if err != nil {
		is.Equal(out.V, 0) // an error, and the target was written
	} else {
		is.Equal(out.V, 42)
	}
}

// TestLocalResultNotShared: a handler returning state it keeps (a cached
// map) gives each in-process caller its own copy, as a remote call does.
func TestLocalResultNotShared(t *testing.T) {
	is := is.New(t)
	ex := executor.New()
	defer ex.Close()
	cached := map[string]any{"limit": 10.0, "nested": map[string]any{"k": "v"}}
	is.NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"cfg": func(context.Context, *executor.Request) (any, error) { return cached, nil },
	}))
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	is.NoErr(c.RegisterLocal(bg, "x", "test.svc:1.0", ex))
	it, _ := c.Iface("x")
	res, err := it.Call(bg, "cfg", nil)
	is.NoErr(err)
	res.(map[string]any)["limit"] = 0.0
	res.(map[string]any)["nested"].(map[string]any)["k"] = "changed"
	is.Equal(cached["limit"], 10.0)                       // the service's map is its own
	is.Equal(cached["nested"].(map[string]any)["k"], "v") // deep
}

// TestLocalNestedCalls: handlers of an in-process executor that call the
// same endpoint again (with their context) while every worker is taken by
// such a handler still complete: nested calls do not queue for a worker
// (they used to wait forever for one).
func TestLocalNestedCalls(t *testing.T) {
	is := is.New(t)
	ex := executor.New()
	defer ex.Close()
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	var it *ccm.Iface
	const workers = 2
	var barrier sync.WaitGroup
	barrier.Add(workers)
	is.NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"inner": func(context.Context, *executor.Request) (any, error) { return 1, nil },
		"outer": func(ctx context.Context, _ *executor.Request) (any, error) {
			barrier.Done()
			barrier.Wait() // every worker holds an outer call
			return it.Call(ctx, "inner", nil)
		},
	}))
	is.NoErr(c.RegisterLocal(bg, "x", "test.svc:1.0", ex, ccm.MaxConns(workers)))
	it, _ = c.Iface("x")
	ctx, cancel := context.WithTimeout(bg, 10*time.Second) // a deadlock ends here
	defer cancel()
	errs := make(chan error, workers)
	for range workers {
		go func() {
			_, err := it.Call(ctx, "outer", nil)
			errs <- err
		}()
	}
	for range workers {
		is.NoErr(<-errs)
	}
}

// TestWSFailedDialLeavesNothing: a ws:// peer that answers the upgrade
// with a plain HTTP status fails the dial with ConnectError, and once the
// CCM and the server are closed nothing is left behind (the dial's
// transport used to keep the connection in its idle pool, with two
// goroutines, forever).
func TestWSFailedDialLeavesNothing(t *testing.T) {
	is := is.New(t)
	before := goleak.IgnoreCurrent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not here", http.StatusNotFound)
	})}
	go srv.Serve(ln)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.RetryCount(0))
	is.NoErr(c.Register(bg, "x", "test.svc:1.0", "ws://"+ln.Addr().String()+"/"))
	it, _ := c.Iface("x")
	ctx, cancel := context.WithTimeout(bg, 5*time.Second)
	defer cancel()
	_, err = it.Call(ctx, "echo", nil)
	is.Equal(ccm.NameOf(err), ccm.ConnectError)
	is.NoErr(c.Close())
	// The server still runs: nothing of the client's may wait on it.
	goleak.VerifyNone(t, before, goleak.IgnoreAnyFunction("net/http.(*Server).Serve"))
	is.NoErr(srv.Close())
}
