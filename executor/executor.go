package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxMessageSize is the default limit, in bytes, on an incoming
// request and on an outgoing response (spec WIRE.md §9).
const DefaultMaxMessageSize = 64 << 10

// DefaultRequestTimeout is the default time a request may take before the
// Executor answers InternalError on its behalf (the reference executor's
// default, spec EXECUTOR.md §7).
const DefaultRequestTimeout = 5 * time.Second

// Request is one call as a [Handler] sees it. The Executor builds a fresh
// Request per call and never touches it after the handler returns, so a
// handler may keep it.
type Request struct {
	Iface   string         // interface name, e.g. "com.example.calc"
	Version string         // version the caller asked for, "MAJOR.MINOR"
	Func    string         // function name
	Params  map[string]any // decoded "p"; never nil
	User    string         // authenticated user (see [WithAuth]), "" when anonymous
	Rid     string         // request id on WebSocket ("C1"), "" on HTTP unless the caller sent one
}

// Handler implements one FutoIn function. ctx ends when the request times
// out ([WithRequestTimeout]), when the caller's connection goes away or
// when the Executor or Server closes; a handler that runs on after that
// only delays [Server.Close].
//
// The result is sent as "r": a map[string]any for result variables, or
// any value the request's codec can encode for a typed result ([]byte
// needs MessagePack or CBOR; params decode to the same Go types in every
// codec, see package codec). A nil result
// is sent as {} (see the package doc). A returned *pipeline.Error (found
// with errors.As) is sent as "e"/"edesc"; any other error, and a panic,
// is sent as InternalError with a generic description.
type Handler func(ctx context.Context, req *Request) (any, error)

// Option configures an [Executor] in [New].
type Option func(*Executor)

// WithAuth installs the check for clear-text credentials: a request whose
// "sec" is "user:password" (split at the first ':') reaches its handler
// only if check returns nil, and then carries user in [Request.User].
// check runs on the request's goroutine with the request's context and may
// be called concurrently. Any error it returns becomes SecurityError with
// the generic description "authentication failed"; the error itself and
// the password are never sent or logged.
//
// Without WithAuth or [WithCredentials], a request that carries
// credentials is answered SecurityError "authentication is not enabled". Requests without "sec"
// are anonymous either way: handlers that need a user check Request.User.
func WithAuth(check func(ctx context.Context, user, password string) error) Option {
	return func(e *Executor) { e.auth = check }
}

// WithMaxMessageSize sets the largest request accepted and the largest
// response sent, in bytes (default [DefaultMaxMessageSize]). Values below 1
// keep the default.
func WithMaxMessageSize(n int) Option {
	return func(e *Executor) {
		if n > 0 {
			e.maxSize = n
		}
	}
}

// WithRequestTimeout sets how long a request may run (default
// [DefaultRequestTimeout]). When it expires the handler's context is
// cancelled and the caller gets InternalError "request timed out" at once,
// with its rid; whatever the handler returns later is discarded. A value
// of 0 or less disables the timeout.
func WithRequestTimeout(d time.Duration) Option {
	return func(e *Executor) { e.timeout = d }
}

// WithErrorHook installs fn to observe failures the caller only sees as a
// generic InternalError: a handler panic (err holds the panic value and
// the stack), a handler error that is not a *pipeline.Error, and a result
// that cannot be encoded or is too big. fn is called synchronously on the
// request's goroutine, possibly concurrently; it never sees credentials.
func WithErrorHook(fn func(req *Request, err error)) Option {
	return func(e *Executor) { e.errHook = fn }
}

// Stats are counters of an Executor, read with [Executor.Stats].
type Stats struct {
	// DroppedResponses counts WebSocket messages whose rid starts with "S":
	// responses to server-initiated calls, which this Executor never makes.
	DroppedResponses uint64
	// BadFrames counts TCP and UNIX stream frames whose declared length
	// was 0 or over the message limit; each closed its connection.
	BadFrames uint64
}

// Executor hosts Go functions under "iface:version:func" and serves them
// over HTTP POST and WebSocket ([Executor.ServeHTTP], [Executor.Listen]).
//
// An Executor is safe for concurrent use; Register may be called while it
// serves. Create it with [New]; the zero value is not usable. Close it
// with [Executor.Close], which also closes every [Server] it started.
type Executor struct {
	auth    func(ctx context.Context, user, password string) error
	creds   CredentialStore
	keys    keyCache
	errHook func(req *Request, err error)
	maxSize int
	timeout time.Duration

	reg   atomic.Pointer[registry] // copy-on-write, read lock-free per request
	regMu sync.Mutex               // serialises writers of reg

	base *scope // ServeHTTP's connections and handlers

	mu      sync.Mutex
	closed  bool
	servers map[io.Closer]struct{} // every *Server and *StreamServer still open

	droppedResponses atomic.Uint64
	badFrames        atomic.Uint64
}

// New returns an Executor with no interfaces registered.
func New(opts ...Option) *Executor {
	e := &Executor{
		maxSize: DefaultMaxMessageSize,
		timeout: DefaultRequestTimeout,
		servers: map[io.Closer]struct{}{},
	}
	for _, o := range opts {
		o(e)
	}
	e.base = newScope(e)
	e.reg.Store(&registry{})
	return e
}

// Stats returns a snapshot of the Executor's counters.
func (e *Executor) Stats() Stats {
	return Stats{DroppedResponses: e.droppedResponses.Load(), BadFrames: e.badFrames.Load()}
}

// Close stops the Executor: it closes every [Server] and [StreamServer]
// it started, ends the WebSocket connections accepted through
// [Executor.ServeHTTP], cancels the contexts of running handlers and
// waits for them and for every goroutine the Executor started. After
// Close, ServeHTTP answers 503 and Listen fails. Close is safe to call
// more than once; it always returns nil.
func (e *Executor) Close() error {
	e.mu.Lock()
	e.closed = true
	servers := make([]io.Closer, 0, len(e.servers))
	for s := range e.servers {
		servers = append(servers, s)
	}
	e.mu.Unlock()
	for _, s := range servers {
		_ = s.Close()
	}
	e.base.close()
	return nil
}

// registry maps an interface name to its implementations by major version.
type registry struct {
	ifaces map[string]map[int]*impl
}

type impl struct {
	minor int
	funcs map[string]Handler
	// raw holds the functions of RegisterRaw (raw.go); each also has an
	// entry in funcs for the transports without raw data.
	raw    map[string]*RawFunc
	plain  bool // Register filled it
	hasRaw bool // RegisterRaw filled it
}

// Register adds the functions of one interface version. ifacever is
// "iface:MAJOR.MINOR"; the interface name is two or more dot-separated
// lowercase tokens ("com.example.calc") and each function name is
// camelCase starting with a lowercase letter (spec WIRE.md §6). The
// implementation then serves callers asking for the same major and a minor
// up to MINOR (compared as numbers). One implementation per interface and
// major: registering the same pair twice is an error. funcs is copied.
func (e *Executor) Register(ifacever string, funcs map[string]Handler) error {
	name, ver, ok := strings.Cut(ifacever, ":")
	if !ok || !validIfaceName(name) {
		return fmt.Errorf("executor: register %q: want \"iface:MAJOR.MINOR\" with a dotted lowercase interface name", ifacever)
	}
	major, minor, ok := parseVersion(ver)
	if !ok {
		return fmt.Errorf("executor: register %q: bad version, want MAJOR.MINOR", ifacever)
	}
	fs := make(map[string]Handler, len(funcs))
	for fn, h := range funcs {
		if !validFuncName(fn) {
			return fmt.Errorf("executor: register %q: bad function name %q", ifacever, fn)
		}
		if h == nil {
			return fmt.Errorf("executor: register %q: nil handler for %q", ifacever, fn)
		}
		fs[fn] = h
	}

	return e.install(ifacever, name, major, &impl{minor: minor, funcs: fs, plain: true})
}

// parseVersion parses "MAJOR.MINOR" (decimal digits only).
func parseVersion(s string) (major, minor int, ok bool) {
	a, b, ok := strings.Cut(s, ".")
	if !ok {
		return 0, 0, false
	}
	major, ok1 := parseUint(a)
	minor, ok2 := parseUint(b)
	return major, minor, ok1 && ok2
}

func parseUint(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 31)
	return int(n), err == nil
}

// validIfaceName checks ^([a-z][a-z0-9]*)(\.[a-z][a-z0-9]*)+$.
func validIfaceName(s string) bool {
	tokens := strings.Split(s, ".")
	if len(tokens) < 2 {
		return false
	}
	for _, t := range tokens {
		if t == "" || t[0] < 'a' || t[0] > 'z' {
			return false
		}
		for i := 1; i < len(t); i++ {
			if c := t[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// validFuncName checks ^[a-z][a-zA-Z0-9]*$.
func validFuncName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var errClosed = errors.New("executor: closed")
