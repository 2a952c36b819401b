package ccm_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
)

// BenchmarkPipelineInMemory is an end-to-end call through a real pipeline
// (await, mux, sign, encode, one hop to a transmit stage, decode, complete)
// whose "transport" answers in memory: the cost of ftnpipe itself, with no
// socket. "password" sends user:password; "smac-HS256" signs every request,
// has the peer sign every response and verifies it: the MAC's cost on the
// invoker's path (plus the peer's signing, on the same serial goroutine).
func BenchmarkPipelineInMemory(b *testing.B) {
	pw, _ := stage.ParsePassword("user:secret")
	key, _ := mac.DecodeKey(testKeyB64)
	m, _ := stage.ParseMAC("-smac:svc", key, "HS256")
	srvKey, _ := mac.NewKey("HS256", key)
	b.Run("password", func(b *testing.B) { benchInMemory(b, pw, nil, nil) })
	b.Run("smac-HS256", func(b *testing.B) { benchInMemory(b, m, m, srvKey) })
}

// benchInMemory runs BenchmarkPipelineInMemory with signer on requests;
// with verify and srvKey set, the in-memory peer signs every response and
// the invoker checks it.
func benchInMemory(b *testing.B, signer stage.Signer, verify stage.Verifier, srvKey *mac.Key) {
	dec := stage.NewDecoder(codec.JSON)
	if verify != nil {
		dec = stage.NewVerifyingDecoder(codec.JSON, verify)
	}
	var p *pipeline.Pipeline
	mux := stage.NewMux(dec, func(c *pipeline.Call, err error) { p.Fail(c, err) })
	echo := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
		var req pipeline.Request
		var buf []byte
		for c := range in {
			if err := codec.JSON.DecodeRequest(c.Frame, &req); err != nil {
				c.Complete(nil, err)
				continue
			}
			c.Sent.Store(true)
			rsp := pipeline.Response{R: req.P, Rid: req.Rid}
			if srvKey != nil {
				rsp.Sec, _ = srvKey.SignResponseBase64(&rsp)
			}
			buf, _ = codec.JSON.AppendResponse(buf[:0], &rsp)
			mux.Receive(buf)
		}
		return nil
	})
	p = pipeline.New([]pipeline.Step{
		pipeline.T("await", stage.Await(stage.DefaultCallTimeout)),
		pipeline.T("mux", mux.Assign),
		pipeline.T("sign", stage.Sign(signer)),
		pipeline.T("encode", stage.Encode(codec.JSON, stage.DefaultMaxMessageSize)),
		pipeline.S("transmit", echo, 1),
	}, pipeline.OnClose(mux.Close))
	defer p.Close()
	params := map[string]any{"msg": "0123456789abcdef"}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := pipeline.NewCall(context.Background(), "bench.echo:1.0:echo", params)
			p.Submit(c)
			if _, err := c.Wait(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCall is a full call to a real executor on loopback in the same
// process, over each transport, with 1 and many goroutines; "local" is the
// same executor registered in process (no socket).
func BenchmarkCall(b *testing.B) {
	s := newService(b)
	urls := streamURLs(b, s)
	urls["ws"], urls["http"] = s.srv.WSURL(), s.srv.HTTPURL()
	for _, scheme := range []string{"ws", "http", "tcp", "unix", "local"} {
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.MaxConns(64))
		var err error
		if scheme == "local" {
			err = c.RegisterLocal(bg, "svc", "test.svc:1.0", s.ex)
		} else {
			err = c.Register(bg, "svc", "test.svc:1.0", urls[scheme])
		}
		if err != nil {
			b.Fatal(err)
		}
		it, _ := c.Iface("svc")
		params := map[string]any{"msg": "0123456789abcdef"}
		b.Run(scheme+"/seq", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := it.Call(bg, "echo", params); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(scheme+"/parallel", func(b *testing.B) { callParallel(b, it, params) })
		c.Close()
	}
}

// BenchmarkCallMAC compares a ws call with and without MAC signing in the
// same run (client and executor in this process).
func BenchmarkCallMAC(b *testing.B) {
	key, _ := mac.DecodeKey(testKeyB64)
	ex := executor.New(executor.WithCredentials(executor.Credentials{"svc": {MACKey: key}}))
	_ = ex.Register("bench.echo:1.0", map[string]executor.Handler{
		"echo": func(_ context.Context, r *executor.Request) (any, error) {
			return map[string]any{"msg": r.Params["msg"]}, nil
		},
	})
	srv, err := ex.Listen("")
	if err != nil {
		b.Fatal(err)
	}
	defer ex.Close()
	for _, tc := range []struct {
		name string
		opts []ccm.RegisterOption
	}{
		{"plain", nil},
		{"smac-HS256", []ccm.RegisterOption{ccm.Credentials("-smac:svc"), ccm.MACKeyBase64(testKeyB64, "HS256")}},
	} {
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
		if err := c.Register(bg, "svc", "bench.echo:1.0", srv.WSURL(), tc.opts...); err != nil {
			b.Fatal(err)
		}
		it, _ := c.Iface("svc")
		params := map[string]any{"msg": "0123456789abcdef"}
		b.Run(tc.name, func(b *testing.B) { callParallel(b, it, params) })
		c.Close()
	}
}

// BenchmarkCallCoders is a Go-to-Go WebSocket call per codec in one run
// (client and executor in this process): the same echo, sequential and
// from many goroutines.
func BenchmarkCallCoders(b *testing.B) {
	s := newService(b)
	params := map[string]any{"msg": "0123456789abcdef"}
	for _, coder := range []string{"JSON", "MPCK", "CBOR"} {
		c := ccm.New(ccm.Coder(coder))
		if err := c.Register(bg, "svc", "test.svc:1.0", s.srv.WSURL()); err != nil {
			b.Fatal(err)
		}
		it, _ := c.Iface("svc")
		b.Run(coder+"/seq", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := it.Call(bg, "echo", params); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(coder+"/parallel", func(b *testing.B) { callParallel(b, it, params) })
		c.Close()
	}
}

// callParallel calls echo from 32×GOMAXPROCS goroutines for b.N calls.
func callParallel(b *testing.B, it *ccm.Iface, params map[string]any) {
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := it.Call(bg, "echo", params); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLocalCall is an in-process call whose handler allocates
// nothing (it returns a prepared result), so what it reports is the cost
// of the CCM, the in-process sink and the executor's dispatch alone.
func BenchmarkLocalCall(b *testing.B) {
	ex := executor.New()
	defer ex.Close()
	result := map[string]any{"msg": "0123456789abcdef"}
	_ = ex.Register("bench.echo:1.0", map[string]executor.Handler{
		"echo": func(context.Context, *executor.Request) (any, error) { return result, nil },
	})
	c := ccm.New()
	defer c.Close()
	if err := c.RegisterLocal(bg, "svc", "bench.echo:1.0", ex); err != nil {
		b.Fatal(err)
	}
	it, _ := c.Iface("svc")
	params := map[string]any{"msg": "0123456789abcdef"}
	b.Run("seq", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := it.Call(bg, "echo", params); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) { callParallel(b, it, params) })
}

// BenchmarkCallZone compares ws calls through a generous limit zone (a
// place and a token always free: the throttle's fast path) with the zone
// "unlimited" (no throttle step), in the same run.
func BenchmarkCallZone(b *testing.B) {
	s := newService(b)
	for _, tc := range []struct {
		name string
		zone string
	}{
		{"unlimited", ccm.ZoneUnlimited},
		{"limited", "generous"},
	} {
		c := ccm.New(ccm.LimitZone(tc.zone))
		if err := c.LimitZone("generous", ccm.Limits{Concurrent: 1 << 20, MaxQueue: 1024, Rate: 1 << 30, Period: time.Hour}); err != nil {
			b.Fatal(err)
		}
		if err := c.Register(bg, "svc", "test.svc:1.0", s.srv.WSURL()); err != nil {
			b.Fatal(err)
		}
		it, _ := c.Iface("svc")
		params := map[string]any{"msg": "0123456789abcdef"}
		b.Run(tc.name+"/seq", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := it.Call(bg, "echo", params); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) { callParallel(b, it, params) })
		c.Close()
	}
}

// BenchmarkConns is 64 callers on one endpoint over 1, 2 and 4
// connections ([ccm.Conns]) in the same run, for ws and tcp (client and
// executor in this process). On the 2-core development machine (shared,
// -count 5 -benchtime 1s, medians, ns/op for 1/2/4 connections): ws
// 26.9k/13.6k/16.5k, tcp 14.0k/14.1k/15.5k, 40 allocs/op throughout; a
// second WebSocket connection halves the cost per call, TCP gains
// nothing on two cores.
func BenchmarkConns(b *testing.B) {
	s := newService(b)
	urls := streamURLs(b, s)
	urls["ws"] = s.srv.WSURL()
	params := map[string]any{"msg": "0123456789abcdef"}
	for _, scheme := range []string{"ws", "tcp"} {
		for _, n := range []int{1, 2, 4} {
			c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.Conns(n))
			if err := c.Register(bg, "svc", "test.svc:1.0", urls[scheme]); err != nil {
				b.Fatal(err)
			}
			it, _ := c.Iface("svc")
			b.Run(scheme+"/conns="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := it.Call(bg, "echo", params); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			c.Close()
		}
	}
}
