package ccm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
)

func TestCallSteps(t *testing.T) {
	s := newService(t)
	for scheme, url := range schemes(s) {
		t.Run(scheme, func(t *testing.T) {
			c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
			defer c.Close()
			it := register(t, c, url)

			t.Run("result to the next step", func(t *testing.T) {
				is := is.New(t)
				as := ccm.NewSteps()
				it.CallSteps(as, "echo", map[string]any{"msg": "hi"})
				as.Add(func(as *ccm.AsyncSteps, args ...any) {
					as.Success(args[0].(map[string]any)["msg"])
				}, nil)
				res, err := runSteps(as)
				is.NoErr(err)
				is.Equal(res, []any{"hi"})
			})
			t.Run("peer error reaches the handler", func(t *testing.T) {
				is := is.New(t)
				var got *ccm.Error
				as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
					it.CallSteps(as, "fail", nil)
				}, func(as *ccm.AsyncSteps, err *ccm.Error) {
					got = err
					as.Success("handled")
				})
				res, err := runSteps(as)
				is.NoErr(err)
				is.Equal(res, []any{"handled"})
				is.Equal(got.Name, ccm.ErrorName("MyError"))
				is.Equal(got.Desc, "it failed on purpose")
				is.True(got.Remote) // the peer sent it
			})
			t.Run("parallel calls overlap", func(t *testing.T) {
				is := is.New(t)
				const n = 8
				as := ccm.NewSteps()
				p := as.Parallel(nil)
				for range n {
					p.Add(func(as *ccm.AsyncSteps, _ ...any) {
						it.CallSteps(as, "wait", nil)
						as.Add(func(as *ccm.AsyncSteps, args ...any) {
							as.State()["ok"] = args[0].(map[string]any)["ok"]
						}, nil)
					}, nil)
				}
				as.Execute(context.Background())
				for range n {
					<-s.arrived // all n reach the peer, from one program
				}
				// On the first transport release is still open, so all n
				// were waiting at the peer at the same time.
				s.releaseAll()
				_, err := as.Await()
				is.NoErr(err)
				is.Equal(as.State()["ok"], true)
			})
		})
	}
}

func TestCallStepsCancelAndTimeout(t *testing.T) {
	s := newService(t)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.RetryCount(0))
	defer c.Close()
	it := register(t, c, s.srv.WSURL())
	is := is.New(t)

	// Cancel while the call is at the peer: the program ends at once,
	// though the peer never answers.
	as := ccm.NewSteps()
	it.CallSteps(as, "wait", nil)
	as.Execute(context.Background())
	<-s.arrived
	is.Equal(ccm.PendingCalls(it), 1) // the call waits for its response
	as.Cancel()
	_, err := as.Await()
	is.True(errors.Is(err, context.Canceled))
	is.Equal(ccm.PendingCalls(it), 0) // cancelling the program completed the call

	// A step timeout cancels the call inside it and raises Timeout.
	var got ccm.ErrorName
	as = ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.SetTimeout(20 * time.Millisecond)
		it.CallSteps(as, "wait", nil)
	}, func(as *ccm.AsyncSteps, err *ccm.Error) { got = err.Name })
	_, err = runSteps(as)
	is.Equal(errName(err), ccm.Timeout)
	is.Equal(got, ccm.Timeout)
	is.Equal(ccm.PendingCalls(it), 0) // the timed-out call was completed too

	// The connection still works: the cancelled calls left nothing behind.
	_, err = it.Call(bg, "echo", map[string]any{"msg": "x"})
	is.NoErr(err)
}

// A CallSteps call that is retried after its connection drops carries
// four completion hooks (await, mux, retry and the program's) and still
// succeeds on the new connection.
func TestCallStepsRetryAfterLoss(t *testing.T) {
	is := is.New(t)
	s := newService(t)
	px := newProxy(t, s.srv.Addr().String())
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := register(t, c, "ws://"+px.addr()+"/", ccm.RetryCount(1))
	as := ccm.NewSteps()
	it.CallSteps(as, "wait", nil)
	as.Execute(bg)
	<-s.arrived
	px.cut()
	<-s.arrived // the retry reached the service again
	s.releaseAll()
	res, err := as.Await()
	is.NoErr(err)
	is.Equal(res, []any{map[string]any{"ok": true}})
	is.Equal(px.connections(), 2)
}
