package ccm_test

import (
	"slices"
	"testing"
	"time"

	ccm "github.com/ftnpipe/ccm"
)

// BenchmarkAdvancedCall compares the reference's testFunc called through
// a SimpleCCM and through an AdvancedCCM (params checked before sending,
// result after arrival) over ws, same executor, same run. "defaults"
// leaves out the optional param, so the AdvancedCCM copies the params to
// add it.
func BenchmarkAdvancedCall(b *testing.B) {
	s := newAdvService(b)
	simple := ccm.New()
	defer simple.Close()
	adv, err := ccm.NewAdvanced(advSpecs())
	if err != nil {
		b.Fatal(err)
	}
	defer adv.Close()
	if err := simple.Register(bg, "adv", "test.adv:1.1", s.srv.WSURL()); err != nil {
		b.Fatal(err)
	}
	if err := adv.Register(bg, "adv", "test.adv:1.1", s.srv.WSURL()); err != nil {
		b.Fatal(err)
	}
	full := map[string]any{"a": "1", "n": 2.8, "o": map[string]any{"m": 3.0}, "i": 4.0, "d": "DefAult"}
	short := map[string]any{"a": "1", "n": 2.8, "o": map[string]any{"m": 3.0}, "i": 4.0}
	for _, tc := range []struct {
		name string
		c    *ccm.CCM
		p    map[string]any
	}{
		{"ws/simple", simple, full},
		{"ws/advanced", adv.CCM, full},
		{"ws/advanced-defaults", adv.CCM, short},
	} {
		it, _ := tc.c.Iface("adv")
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := it.Call(bg, "testFunc", tc.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAdvancedVsSimple interleaves rounds of 200 testFunc calls
// through a SimpleCCM and an AdvancedCCM over ws (one executor) and
// reports the median ratio of their times as "adv/simple", which a
// shared, noisy machine disturbs less than two separate figures.
func BenchmarkAdvancedVsSimple(b *testing.B) {
	s := newAdvService(b)
	simple := ccm.New()
	defer simple.Close()
	adv, err := ccm.NewAdvanced(advSpecs())
	if err != nil {
		b.Fatal(err)
	}
	defer adv.Close()
	if err := simple.Register(bg, "adv", "test.adv:1.1", s.srv.WSURL()); err != nil {
		b.Fatal(err)
	}
	if err := adv.Register(bg, "adv", "test.adv:1.1", s.srv.WSURL()); err != nil {
		b.Fatal(err)
	}
	p := map[string]any{"a": "1", "n": 2.8, "o": map[string]any{"m": 3.0}, "i": 4.0, "d": "DefAult"}
	si, _ := simple.Iface("adv")
	ai, _ := adv.Iface("adv")
	var ratios []float64
	for b.Loop() {
		var d [2]time.Duration
		for k, it := range []*ccm.Iface{si, ai} {
			start := time.Now()
			for range 200 {
				if _, err := it.Call(bg, "testFunc", p); err != nil {
					b.Fatal(err)
				}
			}
			d[k] = time.Since(start)
		}
		ratios = append(ratios, float64(d[1])/float64(d[0]))
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "adv/simple")
}
