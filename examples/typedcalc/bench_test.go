package main

import (
	"context"
	"testing"
	"time"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/examples/typedcalc/calcapi"
	"github.com/ftnpipe/ccm/executor"
)

// BenchmarkGeneratedVsIface compares one call of add(2, 3) through the
// generated client with the same call through Iface.Call and
// Iface.CallInto, in the same run, against the same executor over one
// WebSocket. The server side (the generated registration with its spec
// check) is the same for all three.
//
// The "interleaved" case makes the three calls in turn in every iteration
// (rotating which goes first) and reports each one's mean time as a
// metric, so machine noise hits all three alike; the other cases time
// each way alone, with its allocations.
//
//	go test -run '^$' -bench GeneratedVsIface -count 6 ./examples/typedcalc/
func BenchmarkGeneratedVsIface(b *testing.B) {
	ctx := context.Background()
	iface := setup(b, service{})
	calc := calcapi.NewCalcClient(iface)
	calls := [3]func() error{
		func() error { _, err := calc.Add(ctx, 2, 3); return err },
		func() error { _, err := iface.Call(ctx, "add", map[string]any{"a": 2, "b": 3}); return err },
		func() error {
			var r calcapi.CalcAddResult
			return iface.CallInto(ctx, "add", map[string]any{"a": 2, "b": 3}, &r)
		},
	}
	b.Run("interleaved", func(b *testing.B) {
		var spent [3]time.Duration
		n := 0
		for b.Loop() {
			for k := range 3 {
				i := (n + k) % 3
				start := time.Now()
				if err := calls[i](); err != nil {
					b.Fatal(err)
				}
				spent[i] += time.Since(start)
			}
			n++
		}
		for i, name := range []string{"generated-ns/call", "Call-ns/call", "CallInto-ns/call"} {
			b.ReportMetric(float64(spent[i].Nanoseconds())/float64(n), name)
		}
		b.ReportMetric(float64(spent[0])/float64(spent[1]), "generated/Call")
	})
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := calc.Add(ctx, 2, 3)
			if err != nil || r.Sum != 5 {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("Iface.Call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := iface.Call(ctx, "add", map[string]any{"a": 2, "b": 3})
			if err != nil || r.(map[string]any)["sum"] != 5.0 {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("Iface.CallInto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r calcapi.CalcAddResult
			err := iface.CallInto(ctx, "add", map[string]any{"a": 2, "b": 3}, &r)
			if err != nil || r.Sum != 5 {
				b.Fatal(r, err)
			}
		}
	})
}

// BenchmarkGeneratedServer compares the generated registration (spec
// check, defaults, typed conversion, declared-error mapping) with a
// hand-written executor.Handler that does none of that, each on its own
// executor, calls interleaved as above, both through Iface.Call over
// WebSocket.
//
//	go test -run '^$' -bench GeneratedServer -count 6 ./examples/typedcalc/
func BenchmarkGeneratedServer(b *testing.B) {
	ctx := context.Background()
	gen := setup(b, service{})
	ex := executor.New()
	b.Cleanup(func() { ex.Close() })
	err := ex.Register(calcapi.CalcIfaceVer, map[string]executor.Handler{
		"add": func(_ context.Context, req *executor.Request) (any, error) {
			a, _ := req.Params["a"].(float64)
			bb, _ := req.Params["b"].(float64)
			return map[string]any{"sum": a + bb}, nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	s, err := ex.Listen("")
	if err != nil {
		b.Fatal(err)
	}
	c := ccm.New()
	b.Cleanup(func() { c.Close() })
	if err := c.Register(ctx, "hand", calcapi.CalcIfaceVer, s.WSURL()); err != nil {
		b.Fatal(err)
	}
	hand, err := c.Iface("hand")
	if err != nil {
		b.Fatal(err)
	}
	ifaces := [2]*ccm.Iface{gen, hand}
	var spent [2]time.Duration
	n := 0
	for b.Loop() {
		for k := range 2 {
			i := (n + k) % 2
			start := time.Now()
			if _, err := ifaces[i].Call(ctx, "add", map[string]any{"a": 2, "b": 3}); err != nil {
				b.Fatal(err)
			}
			spent[i] += time.Since(start)
		}
		n++
	}
	b.ReportMetric(float64(spent[0].Nanoseconds())/float64(n), "generated-ns/call")
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(n), "handwritten-ns/call")
	b.ReportMetric(float64(spent[0])/float64(spent[1]), "generated/handwritten")
}
