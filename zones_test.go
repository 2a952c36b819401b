package ccm_test

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
)

func TestLimitZoneAPI(t *testing.T) {
	is := is.New(t)
	c := ccm.New(ccm.LimitZone("batch"))
	defer c.Close()
	url := "ws://127.0.0.1:1/ftn"

	is.Equal(ccm.NameOf(c.LimitZone(ccm.ZoneUnlimited, ccm.Limits{})), ccm.InvokerError) // cannot be redefined
	is.Equal(ccm.NameOf(c.LimitZone("", ccm.Limits{})), ccm.InvokerError)
	is.Equal(ccm.NameOf(c.LimitZone("x", ccm.Limits{Rate: -1})), ccm.InvokerError)

	err := c.Register(bg, "a", "test.svc:1.0", url) // the CCM default names a missing zone
	is.Equal(ccm.NameOf(err), ccm.InvokerError)
	is.True(err != nil && strings.Contains(err.Error(), `unknown limit zone "batch"`))
	is.NoErr(c.LimitZone("batch", ccm.Limits{Concurrent: 2}))
	is.NoErr(c.Register(bg, "a", "test.svc:1.0", url))
	is.NoErr(c.LimitZone("batch", ccm.Limits{Concurrent: 4})) // replaces the limits in place

	err = c.Register(bg, "b", "test.svc:1.0", url, ccm.LimitZone("nope"))
	is.Equal(ccm.NameOf(err), ccm.InvokerError) // unknown at Register
	is.NoErr(c.Register(bg, "b", "test.svc:1.0", url, ccm.LimitZone(ccm.ZoneDefault)))
	is.NoErr(c.Register(bg, "c", "test.svc:1.0", url, ccm.LimitZone(ccm.ZoneUnlimited)))
	is.NoErr(c.LimitZone(ccm.ZoneDefault, ccm.Limits{Concurrent: 100, MaxQueue: 100}))

	c.Close()
	is.Equal(ccm.NameOf(c.LimitZone("late", ccm.Limits{})), ccm.InvokerError) // closed
}

// TestLimitZoneEndToEnd: over a real executor, calls beyond the zone's
// concurrency wait in the zone (nothing reaches the executor for them)
// and succeed once places free up.
func TestLimitZoneEndToEnd(t *testing.T) {
	for _, scheme := range []string{"ws", "http"} {
		t.Run(scheme, func(t *testing.T) {
			is := is.New(t)
			s := newService(t)
			c := ccm.New()
			defer c.Close()
			is.NoErr(c.LimitZone("two", ccm.Limits{Concurrent: 2, MaxQueue: 10}))
			it := register(t, c, schemes(s)[scheme], ccm.LimitZone("two"))
			calls := make([]*ccm.Call, 5)
			for i := range calls {
				calls[i] = it.Go(bg, "wait", nil, nil)
			}
			is.Equal(ccm.ZoneWaiting(c, "two"), 3) // parked, not sent
			for range 2 {
				<-s.arrived
			}
			s.releaseAll()
			for _, call := range calls {
				res, err := call.Wait()
				is.NoErr(err) // the waiting calls went on and succeeded
				is.Equal(res, map[string]any{"ok": true})
			}
			is.Equal(len(s.arrived), 3) // the three that waited reached the executor afterwards
			is.Equal(ccm.ZoneWaiting(c, "two"), 0)
		})
	}
}

// TestLimitZoneShared: two endpoints (ws and http) naming one zone share
// its one place.
func TestLimitZoneShared(t *testing.T) {
	is := is.New(t)
	s := newService(t)
	c := ccm.New()
	defer c.Close()
	is.NoErr(c.LimitZone("one", ccm.Limits{Concurrent: 1, MaxQueue: 4}))
	is.NoErr(c.Register(bg, "ws", "test.svc:1.2", s.srv.WSURL(), ccm.LimitZone("one")))
	is.NoErr(c.Register(bg, "http", "test.svc:1.2", s.srv.HTTPURL(), ccm.LimitZone("one")))
	ws, _ := c.Iface("ws")
	h, _ := c.Iface("http")
	a := ws.Go(bg, "wait", nil, nil)
	<-s.arrived
	b := h.Go(bg, "wait", nil, nil)
	is.Equal(ccm.ZoneWaiting(c, "one"), 1) // the http call waits for the ws call's place
	s.releaseAll()
	_, err := a.Wait()
	is.NoErr(err)
	_, err = b.Wait()
	is.NoErr(err)
}

// TestDefaultZone: an external endpoint registered without options is in
// the zone "default": 8 calls at once, 32 waiting, the rest rejected at
// once with DefenseRejected; Close fails the waiting ones.
func TestDefaultZone(t *testing.T) {
	is := is.New(t)
	s := newService(t)
	c := ccm.New(ccm.CallTimeout(time.Minute))
	it := register(t, c, s.srv.WSURL())
	calls := make([]*ccm.Call, 45)
	for i := range calls {
		calls[i] = it.Go(bg, "wait", nil, nil)
	}
	is.Equal(ccm.ZoneWaiting(c, ccm.ZoneDefault), 32)
	for _, call := range calls[40:] {
		is.True(call.IsDone()) // rejected at once
		_, err := call.Result()
		is.Equal(ccm.NameOf(err), ccm.DefenseRejected)
	}
	for range 8 {
		<-s.arrived
	}
	c.Close()
	for _, call := range calls[8:40] {
		_, err := call.Wait()
		is.Equal(ccm.NameOf(err), ccm.ConnectError) // never sent
	}
	is.Equal(ccm.ZoneWaiting(c, ccm.ZoneDefault), 0)
}
