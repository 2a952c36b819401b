package executor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// benchSpec defines bench.svc:1.0 for the checked runs.
const benchSpec = `{"iface": "bench.svc", "version": "1.0", "requires": ["AllowAnonymous"],
	"funcs": {"add": {"params": {"a": {"type": "number"}, "b": {"type": "number"}},
		"result": {"sum": {"type": "number"}}}}}`

func benchExecutor(b *testing.B) *executor.Server {
	b.Helper()
	return listenBench(b, newBenchExecutor(b, false))
}

// newBenchExecutor returns an Executor serving bench.svc:1.0, checked
// against benchSpec when checked is set.
func newBenchExecutor(b *testing.B, checked bool) *executor.Executor {
	b.Helper()
	var opts []executor.Option
	if checked {
		opts = append(opts, executor.WithSpecs(spec.New(spec.WithRole(spec.Executor), spec.JSON([]byte(benchSpec)))))
	}
	ex := executor.New(opts...)
	err := ex.Register("bench.svc:1.0", map[string]executor.Handler{
		"add": func(_ context.Context, req *executor.Request) (any, error) {
			a, _ := req.Params["a"].(float64)
			c, _ := req.Params["b"].(float64)
			return map[string]any{"sum": a + c}, nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ex.Close() })
	return ex
}

func listenBench(b *testing.B, ex *executor.Executor) *executor.Server {
	b.Helper()
	srv, err := ex.Listen("")
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

// BenchmarkExecutorWS: 64 concurrent callers on ONE WebSocket connection,
// with a minimal raw client (one reader routing replies by rid).
func BenchmarkExecutorWS(b *testing.B) { benchWS(b, benchExecutor(b)) }

// BenchmarkExecutorHTTP: parallel POSTs over keep-alive connections.
func BenchmarkExecutorHTTP(b *testing.B) { benchHTTP(b, benchExecutor(b)) }

// BenchmarkSpecChecks: the same calls to an Executor without and with a
// definition of the interface (params, result and access checks), in
// process (no transport, one goroutine: the checks' share is the largest
// there), over WebSocket and over HTTP.
func BenchmarkSpecChecks(b *testing.B) {
	for _, checked := range []bool{false, true} {
		name := "plain"
		if checked {
			name = "checked"
		}
		b.Run("inproc/"+name, func(b *testing.B) {
			ex := newBenchExecutor(b, checked)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() { // one goroutine: less noise than RunParallel
				req := pipeline.Request{F: "bench.svc:1.0:add", P: map[string]any{"a": 1.0, "b": 2.0}}
				var rsp pipeline.Response
				ex.ServeInternal(ctx, &req, &rsp)
				if rsp.E != "" {
					b.Fatalf("error %s: %s", rsp.E, rsp.EDesc)
				}
			}
		})
		b.Run("ws/"+name, func(b *testing.B) { benchWS(b, listenBench(b, newBenchExecutor(b, checked))) })
		b.Run("http/"+name, func(b *testing.B) { benchHTTP(b, listenBench(b, newBenchExecutor(b, checked))) })
	}
}

func benchWS(b *testing.B, srv *executor.Server) {
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, srv.WSURL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()

	var mu sync.Mutex
	pending := map[string]chan []byte{}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var m struct {
			Rid string `json:"rid"`
		}
		for {
			_, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			m.Rid = ""
			if json.Unmarshal(msg, &m) != nil {
				continue
			}
			mu.Lock()
			ch := pending[m.Rid]
			delete(pending, m.Rid)
			mu.Unlock()
			if ch != nil {
				ch <- msg
			}
		}
	}()

	const callers = 64
	var next atomic.Int64
	var rid atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			ch := make(chan []byte, 1)
			for next.Add(1) <= int64(b.N) {
				id := "C" + strconv.FormatUint(rid.Add(1), 10)
				mu.Lock()
				pending[id] = ch
				mu.Unlock()
				msg := `{"f":"bench.svc:1.0:add","p":{"a":1,"b":2},"rid":"` + id + `","forcersp":true}`
				if err := c.Write(ctx, websocket.MessageBinary, []byte(msg)); err != nil {
					b.Error(err)
					return
				}
				if rsp := <-ch; !bytes.Contains(rsp, []byte(`"sum":3`)) {
					b.Errorf("bad response %s", rsp)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	_ = c.Close(websocket.StatusNormalClosure, "")
	<-readerDone
}

func benchHTTP(b *testing.B, srv *executor.Server) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	body := []byte(`{"f":"bench.svc:1.0:add","p":{"a":1,"b":2},"forcersp":true}`)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rsp, err := client.Post(srv.HTTPURL(), "application/futoin+json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			out, _ := io.ReadAll(rsp.Body)
			rsp.Body.Close()
			if !bytes.Contains(out, []byte(`"sum":3`)) {
				b.Errorf("bad response %s", out)
				return
			}
		}
	})
}
