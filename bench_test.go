package ccm_test

import (
	"context"
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
// socket.
func BenchmarkPipelineInMemory(b *testing.B) {
	dec := stage.NewDecoder(codec.JSON)
	var p *pipeline.Pipeline
	mux := stage.NewMux(dec, func(c *pipeline.Call, err error) { p.Fail(c, err) })
	pw, _ := stage.ParsePassword("user:secret")
	echo := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
		var req pipeline.Request
		var buf []byte
		for c := range in {
			if err := codec.JSON.DecodeRequest(c.Frame, &req); err != nil {
				c.Complete(nil, err)
				continue
			}
			c.Sent.Store(true)
			buf, _ = codec.JSON.AppendResponse(buf[:0], &pipeline.Response{R: req.P, Rid: req.Rid})
			mux.Receive(buf)
		}
		return nil
	})
	p = pipeline.New([]pipeline.Step{
		pipeline.T("await", stage.Await(stage.DefaultCallTimeout)),
		pipeline.T("mux", mux.Assign),
		pipeline.T("sign", stage.Sign(pw)),
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
// process, over each transport, with 1 and many goroutines.
func BenchmarkCall(b *testing.B) {
	s := newService(b)
	for _, scheme := range []string{"ws", "http"} {
		url := s.srv.WSURL()
		if scheme == "http" {
			url = s.srv.HTTPURL()
		}
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.MaxConns(64))
		if err := c.Register(bg, "svc", "test.svc:1.0", url); err != nil {
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
		c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.LimitZone(ccm.ZoneUnlimited))
		if err := c.Register(bg, "svc", "bench.echo:1.0", srv.WSURL(), tc.opts...); err != nil {
			b.Fatal(err)
		}
		it, _ := c.Iface("svc")
		params := map[string]any{"msg": "0123456789abcdef"}
		b.Run(tc.name, func(b *testing.B) { callParallel(b, it, params) })
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
