package pipeline

import "context"

// Handler is an Executor inside the process: an in-process endpoint hands
// it each request instead of encoding it and writing it to a socket. The
// executor package implements it; it is declared here so that the sink
// that calls it (sink.InProc) and the executor do not import each other
// (DESIGN.md §3).
type Handler interface {
	// ServeInternal runs req as a request arriving on an internal channel
	// (FTN6: channel type INTERNAL, secure; "-internal" credentials are
	// accepted only here) and fills rsp: R with HasR set for a result,
	// or E and EDesc for an error. It returns when the request is done.
	//
	// ctx is the caller's context. The caller never runs ServeInternal on
	// a goroutine that has Invoker frames on its stack (spec INVOKER.md
	// §9): the in-process sink calls it from its own workers. req and the
	// values it holds belong to the handler until it returns; the result
	// it puts in rsp belongs to the caller from then on.
	ServeInternal(ctx context.Context, req *Request, rsp *Response)
}
