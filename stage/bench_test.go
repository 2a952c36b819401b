package stage_test

import (
	"context"
	"testing"
	"time"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
)

// BenchmarkMuxAssignReceive: one call's trip through the pending table:
// a rid, the table insert, and a response matched, decoded and completed.
func BenchmarkMuxAssignReceive(b *testing.B) {
	m := stage.NewMux(stage.NewDecoder(codec.JSON), func(c *pipeline.Call, err error) { c.Complete(nil, err) })
	frame := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		c := pipeline.NewCall(context.Background(), fn, nil)
		_ = m.Assign(c)
		frame = append(append(append(frame[:0], `{"r":3,"rid":"`...), c.Req.Rid...), `"}`...)
		m.Receive(frame)
		if !c.IsDone() {
			b.Fatal("not completed")
		}
	}
	if m.Pending() != 0 {
		b.Fatal("entries left in the table")
	}
}

// BenchmarkFusedTransforms: the fused request path of one call: await (a
// timer and a context watch), mux, sign and encode, then the completion
// that disarms them.
func BenchmarkFusedTransforms(b *testing.B) {
	m := stage.NewMux(stage.NewDecoder(codec.JSON), func(c *pipeline.Call, err error) { c.Complete(nil, err) })
	pw, err := stage.ParsePassword("alice:pw")
	if err != nil {
		b.Fatal(err)
	}
	ts := []pipeline.Transform{
		stage.Await(stage.DefaultCallTimeout),
		m.Assign,
		stage.Sign(pw),
		stage.Encode(codec.JSON, stage.DefaultMaxMessageSize),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := map[string]any{"a": 1, "b": 2}
	b.ReportAllocs()
	for b.Loop() {
		c := pipeline.NewCall(ctx, fn, p)
		for _, t := range ts {
			if err := t(c); err != nil {
				b.Fatal(err)
			}
		}
		c.Complete(nil, nil)
		c.ReleaseFrame()
	}
}

// BenchmarkZoneAdmit: the throttle's fast path, a call admitted with a free
// place and token, then completed (its cleanup gives the place back).
// Calls are made in batches outside the timer; "none" is the completion
// alone, the baseline to subtract.
func BenchmarkZoneAdmit(b *testing.B) {
	for _, tc := range []struct {
		name string
		l    *stage.Limits
	}{
		{"none", nil},
		{"concurrent", &stage.Limits{Concurrent: 1 << 20, MaxQueue: 32}},
		{"concurrent+rate", &stage.Limits{Concurrent: 1 << 20, MaxQueue: 32, Rate: 1 << 30, Period: time.Hour}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var z *stage.Zone
			if tc.l != nil {
				var err error
				if z, err = stage.NewZone(*tc.l, nil); err != nil {
					b.Fatal(err)
				}
			}
			params := map[string]any{}
			batch := make([]*pipeline.Call, 256)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += len(batch) {
				b.StopTimer()
				n := min(len(batch), b.N-done)
				for i := range n {
					batch[i] = pipeline.NewCall(context.Background(), fn, params)
				}
				b.StartTimer()
				for _, c := range batch[:n] {
					if z != nil && !z.Enter(c, pipeline.Resume{}) {
						b.Fatal("not admitted")
					}
					c.Complete(nil, nil)
				}
			}
			if z != nil && z.InFlight() != 0 {
				b.Fatal("places not given back")
			}
		})
	}
}
