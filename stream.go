package ccm

import (
	"context"

	"github.com/ftnpipe/ccm/source"
)

// StreamRequest is one call for [Iface.Stream]: function, params, and a
// Tag of the caller's returned with the result.
type StreamRequest = source.Request

// StreamResult answers one StreamRequest: the request, and the decoded
// result or the *Error.
type StreamResult = source.Result

// StreamOption configures [Iface.Stream]: [source.Window],
// [source.Ordered].
type StreamOption = source.Option

// Stream is the channel API: it reads requests from in, calls each
// function through the endpoint's pipeline as [Iface.Call] would, and
// sends one StreamResult per request on the returned channel, in
// completion order (or request order with source.Ordered()).
//
// Close in when done: the calls outstanding finish, their results are
// sent, and the output closes. When ctx ends, no further request is read
// and no further call started (a request read just as ctx ends is
// answered with ctx's error), the calls outstanding complete with ctx's
// error (Timeout, cause kept), and the output closes after them. Receive from the output until it is
// closed.
//
// Back-pressure: at most the window (default source.DefaultWindow) calls
// are outstanding; beyond that, and while the endpoint's queue is full,
// Stream stops reading in. It costs two goroutines per stream, none per
// request.
func (i *Iface) Stream(ctx context.Context, in <-chan StreamRequest, opts ...StreamOption) <-chan StreamResult {
	return source.Stream(ctx, in, func(ctx context.Context, fn string, params map[string]any) *Call {
		return i.Go(ctx, fn, params, nil)
	}, opts...)
}
