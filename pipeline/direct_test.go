package pipeline_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/pipeline"
)

// The direct lane takes a lone call before it is queued; when it declines,
// the call goes through the stages; after Close it is never offered.
func TestPipelineDirectLane(t *testing.T) {
	is := is.New(t)
	var offered, taken, staged atomic.Int64
	accept := atomic.Bool{}
	sink := pipeline.StageFunc(func(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
		for c := range in {
			staged.Add(1)
			c.Complete("staged", nil)
		}
		return nil
	})
	p := pipeline.New([]pipeline.Step{pipeline.S("sink", sink, 1)},
		pipeline.WithDirect(func(c *pipeline.Call) bool {
			offered.Add(1)
			if !accept.Load() {
				return false
			}
			taken.Add(1)
			c.Complete("direct", nil)
			return true
		}))
	c := pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
	p.Submit(c)
	res, err := c.Wait()
	is.NoErr(err)
	is.Equal(res, "staged") // declined: through the stage
	accept.Store(true)
	c = pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
	p.Submit(c)
	res, _ = c.Wait()
	is.Equal(res, "direct") // taken by the lane
	is.NoErr(p.Close())
	before := offered.Load()
	c = pipeline.NewCall(context.Background(), "a.b:1.0:f", nil)
	p.Submit(c)
	_, err = c.Wait()
	is.Equal(pipeline.NameOf(err), pipeline.ConnectError) // closed
	is.Equal(offered.Load(), before)                      // and not offered after Close
	is.Equal(taken.Load(), int64(1))
	is.Equal(staged.Load(), int64(1))
}
