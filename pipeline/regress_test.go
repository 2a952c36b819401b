package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/ftnpipe/ccm/pipeline"
)

// Submit returns as soon as its call completes, even while the pipeline
// stays full (the call timeout completes the call, not its context).
func TestSubmitReturnsWhenCallCompletes(t *testing.T) {
	release := make(chan struct{})
	sink := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
		for c := range in {
			<-release // a stalled transport
			c.Complete(nil, nil)
		}
		return nil
	})
	p := pipeline.New([]pipeline.Step{pipeline.S("sink", sink, 1)}, pipeline.WithBuffer(1))
	defer p.Close()
	defer close(release)
	p.Submit(pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)) // held by the sink
	p.Submit(pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)) // fills the buffer
	c := pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
	ret := make(chan struct{})
	go func() { p.Submit(c); close(ret) }()
	time.AfterFunc(10*time.Millisecond, func() { c.Complete(nil, pipeline.NewError(pipeline.Timeout, "t")) })
	select {
	case <-ret:
	case <-time.After(10 * time.Second): // a hang detector
		t.Fatal("Submit stayed blocked after its call completed")
	}
}

// A stage's panic re-panics from Close, but only after the OnClose hooks
// completed the calls they hold.
func TestClosePanicStillRunsHooks(t *testing.T) {
	held := pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
	taken := make(chan struct{})
	boom := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
		<-in // the call now sits in "a pending table" the hook completes
		close(taken)
		panic("boom")
	})
	p := pipeline.New([]pipeline.Step{pipeline.S("boom", boom, 1)},
		pipeline.OnClose(func() { held.Complete(nil, pipeline.NewError(pipeline.CommError, "closed")) }))
	p.Submit(held)
	<-taken
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Close did not re-panic with the stage's panic")
			}
		}()
		_ = p.Close()
	}()
	if !held.IsDone() {
		t.Fatal("the call held outside the channels never completed")
	}
}
