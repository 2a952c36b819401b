package ccm

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// Call is one call in flight, a future: wait on Done, then read Result.
// [Iface.Go] returns it.
type Call = pipeline.Call

// Iface is a registered interface, the spec's NativeIface: calls to its
// functions go to its endpoint. Get one from [CCM.Iface]. It is safe for
// concurrent use; one Iface carries any number of calls at once.
type Iface struct {
	name         string
	iface        string
	version      string
	major, minor int
	prefix       string // "iface:ver:"
	ep           *endpoint
	spec         *spec.Iface // AdvancedCCM registrations only
	closed       atomic.Bool

	// fnames caches "iface:ver:func" by function name, copied on write and
	// bounded, so that a call builds no string for it.
	fnames   atomic.Pointer[map[string]string]
	fnamesMu sync.Mutex
}

// maxFnames bounds the fnames cache; names beyond it are built per call.
const maxFnames = 64

// fname returns "iface:ver:fn".
func (i *Iface) fname(fn string) string {
	if m := i.fnames.Load(); m != nil {
		if f, ok := (*m)[fn]; ok {
			return f
		}
	}
	f := i.prefix + fn
	if m := i.fnames.Load(); m != nil && len(*m) >= maxFnames {
		return f // full: no lock per call for the names beyond it
	}
	i.fnamesMu.Lock()
	defer i.fnamesMu.Unlock()
	old := i.fnames.Load()
	if old == nil || len(*old) < maxFnames {
		next := make(map[string]string, 1+lenOf(old))
		if old != nil {
			for k, v := range *old {
				next[k] = v
			}
		}
		next[fn] = f
		i.fnames.Store(&next)
	}
	return f
}

func lenOf(m *map[string]string) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// Name returns the name the interface was registered under.
func (i *Iface) Name() string { return i.name }

// IfaceName returns the FutoIn interface name, e.g. "com.example.calc".
func (i *Iface) IfaceName() string { return i.iface }

// Version returns the registered "MAJOR.MINOR" version.
func (i *Iface) Version() string { return i.version }

// IfaceVer returns "iface:MAJOR.MINOR".
func (i *Iface) IfaceVer() string { return i.iface + ":" + i.version }

// Secure reports whether the endpoint's channel counts as secure (the
// SecureChannel constraint): https://, wss://, unix://, in-process
// endpoints, and any scheme prefixed with secure+.
func (i *Iface) Secure() bool { return i.ep.secure }

// Call calls function fn with params and waits for the result: the decoded
// "r" of the response (for a result map, a map[string]any; for a typed
// result, that value: float64, string, bool, []any, map[string]any or nil).
// params may be nil.
//
// It returns exactly one of a result or an *Error: the peer's error (Remote
// set), or a local one: Timeout when ctx or the call timeout ends first,
// ConnectError when the endpoint could not be reached, CommError when the
// request was sent but no response came, InvokerError for a bad call or an
// unregistered interface. Call never blocks past its deadline.
//
// Cost: see docs/PERFORMANCE.md; about one allocation per parameter map
// entry plus a fixed overhead, and one channel hop to the transport.
func (i *Iface) Call(ctx context.Context, fn string, params map[string]any) (any, error) {
	return i.Go(ctx, fn, params, nil).Wait()
}

// CallInto is Call that decodes the result into out, a non-nil pointer
// (e.g. to a struct with json tags matching the result variables), with no
// intermediate map. A result that does not fit out is an InvokerError.
func (i *Iface) CallInto(ctx context.Context, fn string, params map[string]any, out any) error {
	if out == nil {
		return pipeline.NewError(pipeline.InvokerError, "CallInto needs a non-nil pointer")
	}
	_, err := i.Go(ctx, fn, params, out).Wait()
	return err
}

// Go starts a call and returns it without waiting for the result: wait
// on c.Done() (or c.Wait()) and read c.Result(). out is as for CallInto,
// or nil. Go runs the cheap steps (rid, signing, encoding) in the calling
// goroutine and may hand the frame to the socket itself; it blocks only
// while the endpoint's queue is full, and never past the call's deadline.
// A call over its limit zone's limits waits in the zone without blocking
// Go (see [CCM.LimitZone]).
// The call completes exactly once, whatever happens; ctx ending completes
// it with Timeout.
func (i *Iface) Go(ctx context.Context, fn string, params map[string]any, out any) *Call {
	c := pipeline.NewCall(ctx, i.fname(fn), params)
	c.Req.ForceRsp = true // SimpleCCM: always ask for a response
	c.Out = out
	if i.closed.Load() {
		c.Complete(nil, pipeline.Errorf(pipeline.InvokerError, "interface %q is unregistered", i.name))
		return c
	}
	p := i.ep.pipeline()
	if p == nil {
		c.Complete(nil, pipeline.Errorf(pipeline.InvokerError, "interface %q is unregistered", i.name))
		return c
	}
	p.Submit(c)
	return c
}

func (i *Iface) close() {
	i.closed.Store(true)
	i.ep.close()
}
