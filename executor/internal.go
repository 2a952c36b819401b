package executor

import (
	"context"

	"github.com/ftnpipe/ccm/pipeline"
)

// ServeInternal implements [pipeline.Handler]: it serves a request that
// arrives on an internal channel, an in-process endpoint of a CCM
// (ccm.RegisterLocal). The request goes through the same checks as one
// from a socket (credentials, "f", interface, version, function; a
// handler's error is mapped the same way; a panic becomes InternalError),
// and "-internal" credentials are accepted, running the handler as user
// [InternalUser] (or as the user its "obf" names); from a socket they are
// a SecurityError.
//
// Unlike a socket request, nothing is encoded: the handler gets req.P as
// is and its result goes back as the value it returned (a nil result as an
// empty map, also for a function without a result called without
// "forcersp"), so no size limit applies (neither the message limit nor a
// definition's maxreqsize/maxrspsize); the channel is secure (type
// [ChannelInternal]) and exempt from MessageSignature; and the handler
// runs with ctx as given (from a CCM: the caller's values, done when the
// call completes), without the Executor's request timeout (the caller's
// deadline bounds it), as in the reference implementation. [Executor.Close] does not wait for in-process calls:
// their callers own them.
//
// It runs the handler on the calling goroutine and is safe for concurrent
// use. Cost: the Request value and whatever the handler allocates.
func (e *Executor) ServeInternal(ctx context.Context, req *pipeline.Request, rsp *pipeline.Response) {
	o := e.run(ctx, req, inbound{ch: chInternal}, nil)
	if o.name != "" {
		rsp.E, rsp.EDesc = o.name, o.desc
		return
	}
	rsp.R, rsp.HasR = o.res, true
	if o.res == nil {
		rsp.R = map[string]any{}
	}
}
