package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/ftnpipe/ccm/pipeline"
)

// InProc is the transmit stage of an in-process endpoint: it hands each
// call's request to a [pipeline.Handler] (an Executor in the same process)
// instead of a socket, and completes the call with its response. Nothing
// is encoded; see the package doc for what is checked instead.
//
// Handlers run on the stage's workers, never on the caller's goroutine, so
// no Invoker frame is ever on the stack when a handler runs (spec
// INVOKER.md §9). Run as many workers as calls may run at once; a call
// waits in the pipeline's queue while all are busy. A handler runs with
// the call's [pipeline.Call.HandlerContext]: the caller's values, done
// when the call completes (caller's context ended, call timeout, endpoint
// closing). A handler that ignores it holds its worker, and the
// pipeline's Close waits for it.
//
// A call made from inside one of its handlers (its context derives from
// the handler's, [pipeline.InHandler]) is a nested call: its caller holds
// a worker while it waits, so it does not queue for one (with every worker
// waiting on nested calls, none would ever run). [InProc.TryNested] runs
// it on a goroutine of its own; [InProc.Close] ends those.
type InProc struct {
	h pipeline.Handler

	life   context.Context // ends nested calls when the endpoint closes
	stop   context.CancelFunc
	mu     sync.Mutex
	closed bool
	nested sync.WaitGroup
}

// NewInProc returns the stage that serves calls with h. Close it (after
// the pipeline's Close, e.g. with pipeline.OnClose) to end nested calls.
func NewInProc(h pipeline.Handler) *InProc {
	life, stop := context.WithCancel(context.Background())
	return &InProc{h: h, life: life, stop: stop}
}

// TryNested takes c when it is a nested call (see [InProc]) and serves it
// on a goroutine of its own; it reports false for any other call, which
// then queues for a worker. It is the pipeline's urgent lane
// (pipeline.WithUrgent) and never blocks.
func (s *InProc) TryNested(c *pipeline.Call) bool {
	if !pipeline.InHandler(c.Context()) {
		return false
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false // the queue fails it
	}
	s.nested.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.nested.Done()
		stop := context.AfterFunc(s.life, func() {
			c.Complete(nil, pipeline.NewError(pipeline.CommError, "endpoint closed while the call ran"))
		})
		defer stop()
		s.serve(c)
	}()
	return true
}

// Close completes the nested calls still running with CommError (their
// handlers' contexts end) and waits for their goroutines.
func (s *InProc) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.nested.Wait()
}

// Run implements [pipeline.Stage]. When ctx ends (the pipeline closes),
// the call whose handler is running on this worker completes with
// CommError, which ends its handler's context; calls still queued
// complete with ConnectError without reaching the handler.
func (s *InProc) Run(ctx context.Context, in <-chan *pipeline.Call, _ chan<- *pipeline.Call) error {
	var running atomic.Pointer[pipeline.Call]
	stop := context.AfterFunc(ctx, func() {
		if c := running.Load(); c != nil {
			c.Complete(nil, pipeline.NewError(pipeline.CommError, "endpoint closed while the call ran"))
		}
	})
	defer stop()
	for c := range in {
		running.Store(c) // before the check: a close from now on reaches c
		if ctx.Err() != nil {
			c.Complete(nil, pipeline.NewError(pipeline.ConnectError, "endpoint closing"))
		} else {
			s.serve(c)
		}
		running.Store(nil)
	}
	return nil
}

func (s *InProc) serve(c *pipeline.Call) {
	if c.IsDone() {
		return // timed out or cancelled while queued
	}
	// The call's request (owned by this stage now) gets a copy of the
	// caller's params: the handler may keep or change what it is given.
	req := &c.Req
	p, err := copyValue(req.P)
	if err != nil {
		c.Complete(nil, pipeline.Errorf(pipeline.InvokerError, "parameters of %s cannot be sent: %v", req.F, err))
		return
	}
	req.P, _ = p.(map[string]any)
	if req.P == nil {
		req.P = map[string]any{}
	}
	c.Sent.Store(true)
	rsp := &c.Rsp
	s.h.ServeInternal(c.HandlerContext(), req, rsp)
	if c.Check != nil {
		serveChecked(c)
		return
	}
	if rsp.E != "" {
		c.Complete(nil, pipeline.RemoteError(rsp.E, rsp.EDesc))
		return
	}
	if c.Out != nil {
		// A typed target: the result takes the way a remote one would,
		// and only if this completion wins (see pipeline.Call.CompleteWith).
		c.CompleteWith(func() (any, error) {
			if err := intoOut(c, rsp.R); err != nil {
				return nil, err
			}
			return c.Out, nil
		})
		return
	}
	res, err := copyValue(rsp.R)
	if err != nil {
		// What the executor answers for a result it cannot encode.
		c.Complete(nil, pipeline.RemoteError(pipeline.InternalError, "result could not be encoded"))
		return
	}
	c.Complete(res, nil)
}

// copyValue returns a deep copy of v in the shapes a JSON decoder gives
// (map[string]any, []any, string, float64, bool, nil; []byte is kept, as
// internal channels carry binary data); numbers of other Go types become
// float64 and anything else goes through encoding/json, as it would on
// the wire. It fails for what cannot be encoded (channels, functions,
// NaN).
func copyValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool:
		return v, nil
	case float64:
		return v, checkFloat(x)
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case map[string]any:
		// Clone copies the table wholesale (cheaper than inserting key by
		// key); then nested and non-decoded values are replaced in place.
		m := maps.Clone(x)
		for k, e := range m {
			if leaf(e) {
				continue
			}
			c, err := copyValue(e)
			if err != nil {
				return nil, err
			}
			m[k] = c
		}
		return m, nil
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			c, err := copyValue(e)
			if err != nil {
				return nil, err
			}
			s[i] = c
		}
		return s, nil
	case []byte:
		return append([]byte(nil), x...), nil
	}
	return viaJSON(v)
}

// leaf reports whether v is a value copyValue keeps as it is.
func leaf(v any) bool {
	switch x := v.(type) {
	case nil, string, bool:
		return true
	case float64:
		return checkFloat(x) == nil
	}
	return false
}

func checkFloat(f float64) error {
	if f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
		return fmt.Errorf("unsupported number %v", f)
	}
	return nil
}

func viaJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// intoOut converts a result into the call's typed target the way a remote
// one would take: through JSON. A result that does not fit is an
// InvokerError naming the target type.
func intoOut(c *pipeline.Call, r any) error {
	b, err := json.Marshal(r)
	if err == nil {
		err = json.Unmarshal(b, c.Out)
	}
	if err != nil {
		return pipeline.Errorf(pipeline.InvokerError, "cannot decode the result of %s into %T: %v", c.Req.F, c.Out, err)
	}
	return nil
}
