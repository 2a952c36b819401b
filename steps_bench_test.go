package ccm_test

import (
	"context"
	"sync"
	"testing"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/source"
)

// BenchmarkSteps measures the engine alone: a program of 1000 trivial
// steps in a chain, and the same number as loop iterations; reported per
// step (steps/s in the custom metric).
func BenchmarkSteps(b *testing.B) {
	const n = 1000
	trivial := func(as *ccm.AsyncSteps, args ...any) { as.Success(args...) }
	b.Run("chain", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			as := ccm.NewSteps()
			for range n {
				as.Add(trivial, nil)
			}
			if _, err := as.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		reportSteps(b, n)
	})
	b.Run("repeat", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			as := ccm.NewSteps().Repeat(n, func(*ccm.AsyncSteps, int) {})
			if _, err := as.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		reportSteps(b, n)
	})
}

func reportSteps(b *testing.B, perOp int) {
	steps := float64(b.N) * float64(perOp)
	b.ReportMetric(steps/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/steps, "ns/step")
}

// BenchmarkCallStepsVsCall is one sequential call over ws to a real
// executor in this process: blocking Call, a one-step program per call,
// and one program making all b.N calls in a loop, in the same run.
func BenchmarkCallStepsVsCall(b *testing.B) {
	s := newService(b)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := register(b, c, s.srv.WSURL())
	params := map[string]any{"msg": "0123456789abcdef"}
	b.Run("Call", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := it.Call(bg, "echo", params); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CallSteps", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			as := ccm.NewSteps()
			it.CallSteps(as, "echo", params)
			if _, err := as.Run(bg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CallSteps-loop", func(b *testing.B) {
		b.ReportAllocs()
		as := ccm.NewSteps().Repeat(b.N, func(as *ccm.AsyncSteps, _ int) { it.CallSteps(as, "echo", params) })
		if _, err := as.Run(bg); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkStreamVsCall makes b.N calls over ws (run with
// -benchtime=100000x for the 100k of the issue) through the channel API
// and through blocking Call from N goroutines, in the same run.
func BenchmarkStreamVsCall(b *testing.B) {
	s := newService(b)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := register(b, c, s.srv.WSURL())
	params := map[string]any{"msg": "0123456789abcdef"}
	for _, tc := range []struct {
		name string
		opts []ccm.StreamOption
	}{
		{"Stream-w64", nil},
		{"Stream-w256", []ccm.StreamOption{source.Window(256)}},
		{"Stream-ordered-w64", []ccm.StreamOption{source.Ordered()}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			in := make(chan ccm.StreamRequest, 64)
			go func() {
				defer close(in)
				for range b.N {
					in <- ccm.StreamRequest{Func: "echo", Params: params}
				}
			}()
			for r := range it.Stream(bg, in, tc.opts...) {
				if r.Err != nil {
					b.Error(r.Err)
				}
			}
			reportCalls(b)
		})
	}
	for _, n := range []int{64, 256} {
		b.Run("Call-goroutines-"+itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			var wg sync.WaitGroup
			for g := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; i < b.N; i += n {
						if _, err := it.Call(bg, "echo", params); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			reportCalls(b)
		})
	}
}

func reportCalls(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}
