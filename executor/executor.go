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

	"github.com/ftnpipe/ccm/spec"
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
	Params  map[string]any // decoded "p"; never nil; with a definition: checked, defaults applied
	User    string         // authenticated user (see [WithAuth]), "" when anonymous
	Rid     string         // request id on WebSocket ("C1"), "" on HTTP unless the caller sent one
	// Secure reports a secure channel (FTN6 INFO_SECURE_CHANNEL): HTTPS,
	// WSS, a UNIX socket or in process; plain HTTP, WS and TCP are not.
	Secure bool
	// Channel is the channel type: [ChannelHTTP], [ChannelWS],
	// [ChannelTCP], [ChannelUNIX] or [ChannelInternal].
	Channel string
	// SecLvl is the security level the caller authenticated with
	// (FTN6 INFO_SECURITY_LEVEL): [SecLvlAnonymous] without credentials,
	// [SecLvlSafeOps] for "user:password", [SecLvlPrivilegedOps] for a MAC,
	// [SecLvlSystem] for "-internal". It does not depend on the channel.
	SecLvl string
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
// the stack), a handler error that is not a *pipeline.Error, a result
// that cannot be encoded or is too big and, for an interface with a
// definition, a result that does not match it or an error name it does
// not declare (with the check's message). fn is called synchronously on the
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
	// Detached counts requests on multiplexed connections (WebSocket,
	// TCP, UNIX) whose handler ran past the inline grace period, so that
	// another goroutine took over reading the connection.
	Detached uint64
	// Spawned counts requests started on a goroutine of their own because
	// a request just before them on the same connection was slow.
	Spawned uint64
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
	specs   *spec.Set // WithSpecs; nil: Register checks nothing
	keys    keyCache
	errHook func(req *Request, err error)
	maxSize int
	timeout time.Duration
	// heavyTimeout applies to heavy functions (WithHeavyRequestTimeout);
	// anyHeavy is set once a registered definition has one.
	heavyTimeout time.Duration
	anyHeavy     atomic.Bool

	reg   atomic.Pointer[registry] // copy-on-write, read lock-free per request
	regMu sync.Mutex               // serialises writers of reg

	base *scope // ServeHTTP's connections and handlers

	mu      sync.Mutex
	closed  bool
	servers map[io.Closer]struct{} // every *Server and *StreamServer still open

	droppedResponses atomic.Uint64
	badFrames        atomic.Uint64
	detached         atomic.Uint64
	spawned          atomic.Uint64
}

// New returns an Executor with no interfaces registered.
func New(opts ...Option) *Executor {
	e := &Executor{
		maxSize:      DefaultMaxMessageSize,
		timeout:      DefaultRequestTimeout,
		heavyTimeout: DefaultHeavyRequestTimeout,
		servers:      map[io.Closer]struct{}{},
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
	return Stats{
		DroppedResponses: e.droppedResponses.Load(),
		BadFrames:        e.badFrames.Load(),
		Detached:         e.detached.Load(),
		Spawned:          e.spawned.Load(),
	}
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
	spec  *spec.Iface // nil: calls are not checked
	of    string      // the "iface:MAJOR.MINOR" registered, for messages
	cons  constraints // of spec
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
//
// With [WithSpecs], Register loads the definition of ifacever and is
// [Executor.RegisterSpec] with it; a definition that cannot be loaded is
// an error.
func (e *Executor) Register(ifacever string, funcs map[string]Handler) error {
	if e.specs != nil {
		iface, err := e.specs.Iface(ifacever)
		if err != nil {
			return fmt.Errorf("executor: register %q: %w", ifacever, err)
		}
		return e.RegisterSpec(iface, funcs)
	}
	return e.register(ifacever, funcs, nil)
}

func (e *Executor) register(ifacever string, funcs map[string]Handler, sp *spec.Iface) error {
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

	// A definition's ancestors are served by the same implementation
	// (EXECUTOR.md §12: a call addressed to a base interface is governed
	// by the derived one's definition), each up to its own minor.
	im := &impl{minor: minor, funcs: fs, spec: sp, of: ifacever, plain: true}
	if sp != nil {
		im.cons = constraintsOf(sp)
	}
	return e.install(ifacever, servedAs(name, major, minor, sp), im)
}

// servedAs lists the interface versions an implementation of
// name:major.minor with definition sp serves: itself first, then the
// ancestors of sp.
func servedAs(name string, major, minor int, sp *spec.Iface) []entry {
	entries := []entry{{name, major, minor}}
	if sp != nil {
		for _, iv := range sp.Inherits() {
			n, v, _ := strings.Cut(iv, ":")
			a, b, _ := parseVersion(v)
			if n == name && a == major {
				continue // an older minor of the same major: already served
			}
			entries = append(entries, entry{n, a, b})
		}
	}
	return entries
}

// entry is one interface version an implementation serves.
type entry struct {
	name         string
	major, minor int
}

// install adds im as the implementation of every entry (the first is its
// own version, the others the ancestors of its definition). The first may
// already hold an implementation of the other kind (Register's plain
// functions, RegisterRaw's raw ones) of the same version: the two are
// merged. Any other implementation already there is an error.
func (e *Executor) install(ifacever string, entries []entry, im *impl) error {
	e.regMu.Lock()
	defer e.regMu.Unlock()
	old := e.reg.Load()
	for i, en := range entries {
		prev, dup := old.ifaces[en.name][en.major]
		if !dup {
			continue
		}
		if i == 0 && prev.minor == im.minor && prev.hasRaw != im.hasRaw && prev.plain != im.plain {
			merged, err := mergeImpl(ifacever, prev, im)
			if err != nil {
				return err
			}
			im = merged
			continue
		}
		return fmt.Errorf("executor: register %q: %s major %d is already registered (by %q)", ifacever, en.name, en.major, prev.of)
	}
	next := &registry{ifaces: make(map[string]map[int]*impl, len(old.ifaces)+len(entries))}
	for k, v := range old.ifaces {
		next.ifaces[k] = v
	}
	for i, en := range entries {
		majors := make(map[int]*impl, len(next.ifaces[en.name])+1)
		for k, v := range next.ifaces[en.name] {
			majors[k] = v
		}
		if i == 0 {
			majors[en.major] = im
		} else {
			base := *im
			base.minor = en.minor
			majors[en.major] = &base
		}
		next.ifaces[en.name] = majors
	}
	e.reg.Store(next)
	return nil
}

// mergeImpl joins a plain and a raw implementation of one version.
func mergeImpl(ifacever string, prev, im *impl) (*impl, error) {
	merged := *im
	merged.funcs = make(map[string]Handler, len(prev.funcs)+len(im.funcs))
	merged.plain, merged.hasRaw = true, true
	if prev.hasRaw {
		merged.raw = prev.raw
	}
	if merged.spec == nil {
		merged.spec, merged.cons = prev.spec, prev.cons
	}
	for _, src := range []map[string]Handler{prev.funcs, im.funcs} {
		for fn, h := range src {
			if _, dup := merged.funcs[fn]; dup {
				return nil, fmt.Errorf("executor: register %q: function %q is registered both plain and raw", ifacever, fn)
			}
			merged.funcs[fn] = h
		}
	}
	return &merged, nil
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
