package pipeline_test

import (
	"context"
	"testing"

	"github.com/ftnpipe/ccm/pipeline"
)

// BenchmarkCall: a call's life without a pipeline: NewCall, one cleanup,
// Complete, Wait.
func BenchmarkCall(b *testing.B) {
	cl := &countCleanup{}
	b.ReportAllocs()
	for b.Loop() {
		c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
		c.AddCleanup(cl)
		c.Complete(1, nil)
		if _, err := c.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipeline: per-call cost of Submit through two transforms and a
// completing sink, with the transforms leading (run in Submit's caller)
// or fused behind a stage (one hop more).
func BenchmarkPipeline(b *testing.B) {
	noop := func(*pipeline.Call) error { return nil }
	for _, tc := range []struct {
		name  string
		steps []pipeline.Step
	}{
		{"leading", []pipeline.Step{pipeline.T("a", noop), pipeline.T("b", noop), pipeline.S("sink", echo(), 1)}},
		{"fused", []pipeline.Step{pipeline.S("pass", pass(), 1), pipeline.T("a", noop), pipeline.T("b", noop), pipeline.S("sink", echo(), 1)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := pipeline.New(tc.steps)
			p.Start(context.Background())
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c := pipeline.NewCall(context.Background(), "a:1.0:f", nil)
					p.Submit(c)
					if _, err := c.Wait(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if err := p.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
