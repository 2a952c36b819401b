package ccm_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// service is a real executor on 127.0.0.1 hosting test.svc:1.0.
type service struct {
	ex      *executor.Executor
	srv     *executor.Server
	calls   atomic.Int64
	arrived chan struct{} // one value per "wait" call that arrived
	release chan struct{} // closed to let "wait" calls return
}

func newService(t testing.TB) *service {
	t.Helper()
	s := &service{arrived: make(chan struct{}, 10000), release: make(chan struct{})}
	ex := executor.New(executor.WithAuth(func(_ context.Context, user, password string) error {
		if user == "alice" && password == "pa:ss" {
			return nil
		}
		return errors.New("no")
	}), executor.WithRequestTimeout(time.Minute))
	err := ex.Register("test.svc:1.2", map[string]executor.Handler{
		"echo": func(_ context.Context, r *executor.Request) (any, error) {
			s.calls.Add(1)
			return map[string]any{"msg": r.Params["msg"]}, nil
		},
		"whoami": func(_ context.Context, r *executor.Request) (any, error) {
			return map[string]any{"user": r.User}, nil
		},
		"fail": func(context.Context, *executor.Request) (any, error) {
			return nil, ccm.NewError("MyError", "it failed on purpose")
		},
		"typed": func(context.Context, *executor.Request) (any, error) { return 42, nil },
		"sleep": func(ctx context.Context, r *executor.Request) (any, error) {
			ms, _ := r.Params["ms"].(float64)
			t := time.NewTimer(time.Duration(ms) * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			return map[string]any{"msg": r.Params["msg"]}, nil
		},
		"wait": func(ctx context.Context, _ *executor.Request) (any, error) {
			s.arrived <- struct{}{}
			select {
			case <-s.release:
			case <-ctx.Done():
			}
			return map[string]any{"ok": true}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.ex = ex
	s.srv, err = ex.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.releaseAll()
		s.srv.Close()
		ex.Close()
	})
	return s
}

var releaseMu sync.Mutex

func (s *service) releaseAll() {
	releaseMu.Lock()
	defer releaseMu.Unlock()
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

func schemes(s *service) map[string]string {
	return map[string]string{"ws": s.srv.WSURL(), "http": s.srv.HTTPURL()}
}

func register(t testing.TB, c *ccm.CCM, url string, opts ...ccm.RegisterOption) *ccm.Iface {
	t.Helper()
	if err := c.Register(bg, "svc", "test.svc:1.0", url, opts...); err != nil {
		t.Fatal(err)
	}
	it, err := c.Iface("svc")
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func TestCallResults(t *testing.T) {
	s := newService(t)
	for scheme, url := range schemes(s) {
		t.Run(scheme, func(t *testing.T) {
			is := is.New(t)
			c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
			defer c.Close()
			it := register(t, c, url, ccm.Credentials("alice:pa:ss"))

			res, err := it.Call(bg, "echo", map[string]any{"msg": "héllo\n\"q\""})
			is.NoErr(err)
			is.Equal(res, map[string]any{"msg": "héllo\n\"q\""})

			var who struct {
				User string `json:"user"`
			}
			is.NoErr(it.CallInto(bg, "whoami", nil, &who))
			is.Equal(who.User, "alice") // credentials reached the executor

			res, err = it.Call(bg, "typed", nil)
			is.NoErr(err)
			is.Equal(res, float64(42)) // a typed (non-map) result

			var wrong struct {
				User int `json:"user"`
			}
			err = it.CallInto(bg, "whoami", nil, &wrong)
			is.Equal(ccm.NameOf(err), ccm.InvokerError) // result does not fit the target
		})
	}
}

func TestCallRemoteErrors(t *testing.T) {
	s := newService(t)
	for scheme, url := range schemes(s) {
		t.Run(scheme, func(t *testing.T) {
			is := is.New(t)
			c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
			defer c.Close()
			it := register(t, c, url, ccm.Credentials("alice:pa:ss"))

			_, err := it.Call(bg, "fail", nil)
			var fe *ccm.Error
			is.True(errors.As(err, &fe))
			is.Equal(fe.Name, ccm.ErrorName("MyError"))
			is.Equal(fe.Desc, "it failed on purpose")
			is.True(fe.Remote)
			is.True(ccm.IsRemote(err))

			_, err = it.Call(bg, "nosuch", nil)
			is.True(errors.Is(err, ccm.ErrNotImplemented))

			is.NoErr(c.Register(bg, "v", "test.svc:1.3", url, ccm.Credentials("alice:pa:ss")))
			v, _ := c.Iface("v")
			_, err = v.Call(bg, "echo", nil)
			is.True(errors.Is(err, ccm.ErrNotSupportedVersion)) // 1.3 > 1.2

			is.NoErr(c.Register(bg, "u", "test.other:1.0", url))
			u, _ := c.Iface("u")
			_, err = u.Call(bg, "echo", nil)
			is.True(errors.Is(err, ccm.ErrUnknownInterface))

			is.NoErr(c.Register(bg, "bad", "test.svc:1.0", url, ccm.Credentials("alice:wrong")))
			bad, _ := c.Iface("bad")
			_, err = bad.Call(bg, "echo", nil)
			is.True(errors.Is(err, ccm.ErrSecurityError))
			is.True(!strings.Contains(err.Error(), "wrong")) // no secret echoed
		})
	}
}

func TestCallTimeouts(t *testing.T) {
	s := newService(t)
	for scheme, url := range schemes(s) {
		t.Run(scheme, func(t *testing.T) {
			is := is.New(t)
			c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
			defer c.Close()
			it := register(t, c, url, ccm.CallTimeout(50*time.Millisecond))

			// The endpoint's call timeout, no deadline on ctx.
			_, err := it.Call(bg, "wait", nil)
			is.True(errors.Is(err, ccm.ErrTimeout))
			is.True(!ccm.IsRemote(err))

			// The caller's deadline.
			is.NoErr(c.Register(bg, "long", "test.svc:1.0", url, ccm.CallTimeout(time.Hour)))
			long, _ := c.Iface("long")
			ctx, cancel := context.WithTimeout(bg, 30*time.Millisecond)
			_, err = long.Call(ctx, "wait", nil)
			cancel()
			is.True(errors.Is(err, ccm.ErrTimeout))
			is.True(errors.Is(err, context.DeadlineExceeded))

			// Cancellation: Timeout by name, context.Canceled as the cause.
			ctx, cancel = context.WithCancel(bg)
			call := long.Go(ctx, "wait", nil, nil)
			<-s.arrived // the request reached the service
			cancel()
			_, err = call.Wait()
			is.True(errors.Is(err, ccm.ErrTimeout))
			is.True(errors.Is(err, context.Canceled))

			// An already-cancelled context never reaches the wire.
			before := s.calls.Load()
			_, err = long.Call(ctx, "echo", nil)
			is.True(errors.Is(err, context.Canceled))
			is.Equal(s.calls.Load(), before)
		})
	}
}

// Nothing listens: the call fails with ConnectError at once (after its one
// retry), not at its deadline.
func TestConnectError(t *testing.T) {
	ln := httptest.NewServer(http.NotFoundHandler())
	addr := ln.Listener.Addr().String()
	ln.Close() // a port on which nothing listens now
	for _, scheme := range []string{"ws", "http"} {
		t.Run(scheme, func(t *testing.T) {
			is := is.New(t)
			c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.CallTimeout(time.Hour))
			defer c.Close()
			it := register(t, c, scheme+"://"+addr+"/ftn")
			for i := 0; i < 3; i++ { // and the next call dials again
				_, err := it.Call(bg, "echo", nil)
				is.True(errors.Is(err, ccm.ErrConnectError))
			}
		})
	}
}

// Many calls in flight on one WebSocket connection, answered out of order.
func TestWebSocketMultiplexes(t *testing.T) {
	is := is.New(t)
	s := newService(t)
	px := newProxy(t, s.srv.Addr().String())
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := register(t, c, "ws://"+px.addr()+"/")
	const n = 300
	calls := make([]*ccm.Call, n)
	for i := range calls {
		calls[i] = it.Go(bg, "wait", nil, nil)
	}
	for i := 0; i < n; i++ {
		<-s.arrived // all n are in the service at once
	}
	s.releaseAll()
	for _, call := range calls {
		res, err := call.Wait()
		is.NoErr(err)
		is.Equal(res, map[string]any{"ok": true})
	}
	is.Equal(px.connections(), 1) // one connection carried them all
}

// Losing the connection fails the calls written on it with CommError; the
// next call dials again.
func TestWebSocketConnectionLoss(t *testing.T) {
	is := is.New(t)
	_, px, it, call := callThenCut(t, 0)
	_, err := call.Wait()
	is.True(errors.Is(err, ccm.ErrCommError))
	res, err := it.Call(bg, "echo", map[string]any{"msg": "again"})
	is.NoErr(err)
	is.Equal(res, map[string]any{"msg": "again"})
	is.Equal(px.connections(), 2)
}

// With a retry, a call whose connection drops is sent again on a new
// connection and succeeds.
func TestWebSocketRetryAfterLoss(t *testing.T) {
	is := is.New(t)
	s, px, _, call := callThenCut(t, 1)
	<-s.arrived // the retry reached the service again
	s.releaseAll()
	res, err := call.Wait()
	is.NoErr(err)
	is.Equal(res, map[string]any{"ok": true})
	is.Equal(px.connections(), 2)
}

// The HTTP pool keeps at most MaxConns connections and reuses them.
func TestHTTPKeepAlivePool(t *testing.T) {
	is := is.New(t)
	s := newService(t)
	px := newProxy(t, s.srv.Addr().String())
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.MaxConns(4))
	defer c.Close()
	it := register(t, c, "http://"+px.addr()+"/")
	var wg sync.WaitGroup
	var failed atomic.Int64
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := it.Call(bg, "echo", map[string]any{"msg": "x"}); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	is.Equal(failed.Load(), int64(0))
	is.True(px.connections() <= 4) // 640 calls over at most 4 connections
}

// HTTP replies that are not FutoIn messages are CommErrors naming the
// status, never a fake success.
func TestHTTPNonFutoInReplies(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"500 html": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(500)
			_, _ = w.Write([]byte("<h1>oops</h1>"))
		},
		"200 html": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<h1>hi</h1>"))
		},
		"200 empty": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/futoin+json")
		},
		"200 garbage": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/futoin+json")
			_, _ = w.Write([]byte("{not json"))
		},
		"200 too big": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.futoin+json")
			_, _ = w.Write([]byte(`{"r":"` + strings.Repeat("x", 70000) + `"}`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			srv := httptest.NewServer(h)
			defer srv.Close()
			c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
			defer c.Close()
			it := register(t, c, srv.URL+"/ftn", ccm.RetryCount(0))
			res, err := it.Call(bg, "f", nil)
			is.Equal(res, nil)
			is.True(errors.Is(err, ccm.ErrCommError))
			if strings.HasPrefix(name, "500") {
				is.True(strings.Contains(err.Error(), "500"))
			}
		})
	}
}

// The vnd media type is accepted as a FutoIn reply.
func TestHTTPAcceptsVndType(t *testing.T) {
	is := is.New(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.True(strings.Contains(r.Header.Get("Accept"), "application/vnd.futoin+json"))
		is.Equal(r.Header.Get("Content-Type"), "application/futoin+json")
		w.Header().Set("Content-Type", "application/vnd.futoin+json; charset=utf-8")
		_, _ = w.Write([]byte(`{"r":{"ok":1}}`))
	}))
	defer srv.Close()
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := register(t, c, srv.URL)
	res, err := it.Call(bg, "f", nil)
	is.NoErr(err)
	is.Equal(res, map[string]any{"ok": float64(1)})
}

// Unregister and Close complete the calls in flight and fail later ones
// fast.
func TestUnregisterAndCloseCompleteInFlight(t *testing.T) {
	s := newService(t)
	for _, how := range []string{"unregister", "close"} {
		for scheme, url := range schemes(s) {
			t.Run(how+"/"+scheme, func(t *testing.T) {
				is := is.New(t)
				c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
				defer c.Close()
				it := register(t, c, url, ccm.RetryCount(0))
				call := it.Go(bg, "wait", nil, nil)
				<-s.arrived
				if how == "close" {
					is.NoErr(c.Close())
				} else {
					is.NoErr(c.Unregister("svc"))
				}
				_, err := call.Wait()
				is.True(errors.Is(err, ccm.ErrCommError))
				_, err = it.Call(bg, "echo", nil)
				is.True(errors.Is(err, ccm.ErrInvokerError))
			})
		}
	}
}

// callThenCut starts a "wait" call over ws through a proxy with the given
// retry count and cuts the connection once the call reached the service.
// The CCM is closed when the test ends.
func callThenCut(t *testing.T, retries int) (*service, *proxy, *ccm.Iface, *ccm.Call) {
	s := newService(t)
	px := newProxy(t, s.srv.Addr().String())
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	t.Cleanup(func() { c.Close() })
	it := register(t, c, "ws://"+px.addr()+"/", ccm.RetryCount(retries))
	call := it.Go(bg, "wait", nil, nil)
	<-s.arrived
	px.cut()
	return s, px, it, call
}
