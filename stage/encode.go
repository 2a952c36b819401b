package stage

import "github.com/ftnpipe/ccm/pipeline"

// DefaultMaxMessageSize is the FutoIn safety limit for any message, 64 KiB
// (spec WIRE.md §9).
const DefaultMaxMessageSize = 65536

// Encode returns the transform that encodes the request into c.Frame, in
// the call's own frame memory or a pooled buffer (see
// [pipeline.Call.ReleaseFrame]). A request whose encoding is
// larger than max bytes fails with InvokerError and is never sent; a value
// the codec cannot carry fails with InvokerError too.
func Encode(codec pipeline.Codec, max int) pipeline.Transform {
	return func(c *pipeline.Call) error {
		b, err := codec.AppendRequest(c.FrameBuf(), &c.Req)
		c.Frame = b
		if err != nil {
			c.ReleaseFrame()
			return pipeline.Errorf(pipeline.InvokerError, "cannot encode request for %s: %v", c.Req.F, err)
		}
		if len(b) > max {
			c.ReleaseFrame()
			return pipeline.Errorf(pipeline.InvokerError, "request message too long: %d > %d bytes", len(b), max)
		}
		return nil
	}
}
