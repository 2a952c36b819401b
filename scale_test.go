package ccm_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// idleEndpoints is the scale: 10,000 registered endpoints that are
// never called.
const idleEndpoints = 10_000

// TestScaleIdleEndpoints registers 10,000 endpoints (ws and http, with and
// without credentials) that are never called: together they must cost at
// most 20 MB of heap and no goroutine at all, since an endpoint builds its
// pipeline on first use.
func TestScaleIdleEndpoints(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures are meaningless under -race; runs in the plain pass")
	}
	goroutines := runtime.NumGoroutine()
	before := heapInUse()
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	registerIdle(t, c, idleEndpoints)
	after := heapInUse()
	grown := int64(after) - int64(before)
	t.Logf("%d idle endpoints: %.1f MB of heap, %d B each", idleEndpoints, float64(grown)/1e6, grown/idleEndpoints)
	if grown > 20e6 {
		t.Errorf("%d idle endpoints cost %d bytes of heap, want <= 20 MB", idleEndpoints, grown)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d idle endpoints started %d goroutines, want none", idleEndpoints, n-goroutines)
	}
	runtime.KeepAlive(c)
}

// BenchmarkIdleEndpoint reports the heap cost of one registered, never
// called endpoint (B/endpoint) and the time to register it.
func BenchmarkIdleEndpoint(b *testing.B) {
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	before := heapInUse()
	b.ResetTimer()
	registerIdle(b, c, b.N)
	b.StopTimer()
	b.ReportMetric(float64(int64(heapInUse())-int64(before))/float64(b.N), "B/endpoint")
}

func registerIdle(tb testing.TB, c *ccm.CCM, n int) {
	tb.Helper()
	for i := range n {
		var opts []ccm.RegisterOption
		url := "ws://127.0.0.1:1/ftn" // never dialled: idle endpoints connect on first use
		switch i % 4 {
		case 1:
			url = "http://127.0.0.1:1/ftn"
		case 2:
			opts = append(opts, ccm.Credentials("user:secret"))
		case 3:
			opts = append(opts, ccm.Credentials("-smac:svc"), ccm.MACKeyBase64(testKeyB64, "HS256"))
		}
		if err := c.Register(bg, fmt.Sprintf("ep%d", i), "test.idle:1.0", url, opts...); err != nil {
			tb.Fatal(err)
		}
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestScaleInFlightOneWS puts 10,000 calls in flight at once on one
// WebSocket connection: the executor's handler holds every request until
// the 10,000th has arrived, so all are sent and pending together; then all
// complete with their own results. The caller side starts them with
// Iface.Go (futures: no goroutine per call).
func TestScaleInFlightOneWS(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allows 8128 live goroutines; the executor holds 10,000 here")
	}
	const n = 10_000
	var arrived atomic.Int64
	release := make(chan struct{})
	ex := executor.New(executor.WithRequestTimeout(time.Minute))
	defer ex.Close()
	err := ex.Register("test.hold:1.0", map[string]executor.Handler{
		"hold": func(ctx context.Context, r *executor.Request) (any, error) {
			if arrived.Add(1) == n {
				close(release)
			}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return map[string]any{"i": r.Params["i"]}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	srv := &http.Server{Handler: ex, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go srv.Serve(ln)
	defer srv.Close()

	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.CallTimeout(time.Minute))
	defer c.Close()
	if err := c.Register(bg, "hold", "test.hold:1.0", "ws://"+ln.Addr().String()+"/"); err != nil {
		t.Fatal(err)
	}
	it, _ := c.Iface("hold")
	calls := make([]*ccm.Call, n)
	for i := range calls {
		calls[i] = it.Go(bg, "hold", map[string]any{"i": i}, nil)
	}
	for i, call := range calls {
		res, err := call.Wait()
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got := res.(map[string]any)["i"]; got != float64(i) {
			t.Fatalf("call %d got the result of call %v", i, got)
		}
	}
	if got := arrived.Load(); got != n {
		t.Errorf("the executor saw %d requests, want %d", got, n)
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("%d calls used %d connections, want 1", n, got)
	}
}
