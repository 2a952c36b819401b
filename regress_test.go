package ccm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
)

// Regression tests for findings of a review of the core; each failed
// before its fix.

// closingServer accepts WebSocket connections, reads without answering and
// closes each connection after a while.
func closingServer(t *testing.T, after time.Duration) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), after)
		defer cancel()
		for {
			if _, _, err := c.Read(ctx); err != nil {
				break
			}
		}
		c.CloseNow()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A failed write used to leave the rest of its batch pending with nobody to
// send it: those calls waited for their timeout. Every call must end with
// a transport error, never a Timeout, when connections keep failing.
func TestNoCallStrandedByFailedWrite(t *testing.T) {
	srv := closingServer(t, 20*time.Millisecond)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.CallTimeout(20*time.Second), ccm.RetryCount(0))
	defer c.Close()
	it := register(t, c, "ws"+strings.TrimPrefix(srv.URL, "http"))
	var timeouts, total atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				_, err := it.Call(bg, "f", nil)
				total.Add(1)
				if errors.Is(err, ccm.ErrTimeout) {
					timeouts.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if timeouts.Load() > 0 {
		t.Errorf("%d of %d calls were stranded until their timeout", timeouts.Load(), total.Load())
	}
}

// A peer that stops reading must not hold a caller past its deadline (the
// direct lane never blocks on the socket) nor deadlock Close.
func TestStalledPeerHoldsNoCaller(t *testing.T) {
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		<-hold // never reads
		c.CloseNow()
	}))
	defer srv.Close()
	defer close(hold)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.RetryCount(0))
	it := register(t, c, "ws"+strings.TrimPrefix(srv.URL, "http"))
	big := map[string]any{"s": strings.Repeat("x", 60000)}
	for i := 0; i < 300; i++ { // enough to fill the socket buffers many times
		ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
		done := make(chan struct{})
		go func() { it.Go(ctx, "f", big, nil); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a hang detector
			t.Fatalf("Go blocked past its 20 ms deadline (call %d)", i)
		}
		cancel()
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close deadlocked behind a write to a peer that does not read")
	}
}

// An HTTP redirect must not re-send the message (credentials included) to
// another URL, nor be taken for the endpoint's answer.
func TestHTTPDoesNotFollowRedirects(t *testing.T) {
	is := is.New(t)
	got := make(chan string, 4)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		w.Header().Set("Content-Type", "application/futoin+json")
		_, _ = io.WriteString(w, `{"r":{}}`)
	}))
	defer other.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer front.Close()
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.RetryCount(0))
	defer c.Close()
	it := register(t, c, front.URL, ccm.Credentials("alice:s3cret"))
	_, err := it.Call(bg, "f", nil)
	is.True(errors.Is(err, ccm.ErrCommError)) // a 3xx is not a FutoIn reply
	select {
	case b := <-got:
		t.Errorf("the message was re-sent to %s: %s", other.URL, b)
	default:
	}
}

// Printing a call never shows its credentials.
func TestCallPrintsNoSecret(t *testing.T) {
	s := newService(t)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := register(t, c, s.srv.HTTPURL(), ccm.Credentials("alice:pa:ss"))
	call := it.Go(bg, "echo", map[string]any{"msg": "x"}, nil)
	if _, err := call.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, txt := range []string{fmt.Sprint(call), fmt.Sprintf("%+v %#v %v", call, call, call.Req)} {
		if strings.Contains(txt, "pa:ss") {
			t.Errorf("secret printed: %s", txt)
		}
	}
}
