package pipeline

import (
	"context"
	"errors"
	"time"
)

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

// HandlerContext returns the context an in-process handler of c runs with:
// c's own context for values, but done as soon as c completes, which
// covers the caller's context ending, the call's timeout and its
// endpoint closing (whoever completes the call). Its deadline is
// c.Deadline. After completion, Err is the caller context's error when it
// has one, context.DeadlineExceeded when the call timed out, and
// context.Canceled otherwise. It allocates nothing: the context lives in
// the Call.
func (c *Call) HandlerContext() context.Context {
	c.hctx.c = c
	return &c.hctx
}

// handlerContext is the context of [Call.HandlerContext].
type handlerContext struct{ c *Call }

func (h *handlerContext) Deadline() (time.Time, bool) {
	return h.c.Deadline, !h.c.Deadline.IsZero()
}

func (h *handlerContext) Done() <-chan struct{} { return h.c.done }

func (h *handlerContext) Value(key any) any {
	if key == (handlerKey{}) {
		return h.c
	}
	return h.c.ctx.Value(key)
}

// handlerKey marks a handler context (see InHandler).
type handlerKey struct{}

// InHandler reports whether ctx is, or derives from, the context of an
// in-process handler ([Call.HandlerContext]): a call made with it is a
// nested call, made while the handler of another call waits for it.
func InHandler(ctx context.Context) bool { return ctx.Value(handlerKey{}) != nil }

func (h *handlerContext) Err() error {
	c := h.c
	if !c.IsDone() {
		return nil
	}
	<-c.done // completing: the outcome is being stored
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if errors.Is(c.err, ErrTimeout) {
		return context.DeadlineExceeded
	}
	return context.Canceled
}
