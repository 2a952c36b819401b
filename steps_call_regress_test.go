package ccm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	ccm "github.com/ftnpipe/ccm"
)

// fillQueue makes the only worker of it busy and fills its endpoint's
// queue with "wait" calls; the returned func releases and drains them.
func fillQueue(t *testing.T, s *service, it *ccm.Iface) func() {
	t.Helper()
	calls := []*ccm.Call{it.Go(bg, "wait", nil, nil)}
	<-s.arrived // the only worker is busy
	for range 64 {
		calls = append(calls, it.Go(bg, "wait", nil, nil)) // the queue's capacity
	}
	return func() {
		s.releaseAll()
		for _, c := range calls {
			<-c.Done()
		}
	}
}

// TestCallStepsFullQueueKeepsProgramLive: while the endpoint's queue is
// full, a CallSteps step does not block its program: an enclosing step's
// timeout and Cancel still end it; before the fix the program's goroutine
// sat in Submit and neither could run.
func TestCallStepsFullQueueKeepsProgramLive(t *testing.T) {
	s := newService(t)
	c := ccm.New(ccm.MaxConns(1))
	defer c.Close()
	it := registerLocal(t, c, s.ex)
	defer fillQueue(t, s, it)()

	as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.SetTimeout(20 * time.Millisecond)
		it.CallSteps(as, "echo", nil)
	}, nil)
	as.Execute(bg)
	waitDone(t, as, "the step timeout did not end the program: its goroutine is blocked in Submit")
	if _, err := as.Await(); ccm.NameOf(err) != ccm.Timeout || errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the step's Timeout", err)
	}

	started := make(chan struct{})
	as = ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		it.CallSteps(as, "echo", nil)
		close(started)
	}, nil)
	as.Execute(bg)
	<-started
	as.Cancel()
	waitDone(t, as, "Cancel did not end the program: its goroutine is blocked in Submit")
	if _, err := as.Await(); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the cancel", err)
	}
}

// TestCallStepsCancelStopsHTTPRequest: cancelling a program whose
// CallSteps request is at an HTTP peer cancels the request, so its
// connection is free for the next call (MaxConns(1)); before the fix the
// request kept the only connection until the peer answered.
func TestCallStepsCancelStopsHTTPRequest(t *testing.T) {
	s := newService(t)
	c := ccm.New(ccm.MaxConns(1), ccm.RetryCount(0))
	defer c.Close()
	it := register(t, c, s.srv.HTTPURL())
	as := ccm.NewSteps()
	it.CallSteps(as, "wait", nil)
	as.Execute(bg)
	<-s.arrived
	as.Cancel()
	if _, err := as.Await(); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the cancel", err)
	}
	// The bound only turns a held connection into a failure.
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	if _, err := it.Call(ctx, "echo", map[string]any{"msg": "x"}); err != nil {
		t.Errorf("next call after a cancelled CallSteps: %v (the abandoned request still holds the only connection)", err)
	}
}
