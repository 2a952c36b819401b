package ccm

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
)

// CCM is a Connection and Credentials Manager: a registry of named
// endpoints, each one a FutoIn interface at a URL with its credentials and
// options. Code registers endpoints once, at start-up, then gets an [Iface]
// by name and calls functions on it.
//
// This is the SimpleCCM of the spec: it knows no interface definitions,
// sets "forcersp" on every request so every call gets a response, and
// returns results as decoded values. Specs, type checks and generated
// clients come with the AdvancedCCM.
//
// A CCM is safe for concurrent use. Any number may live in one process;
// they share nothing. Registering costs no goroutine and no connection: an
// endpoint's pipeline starts on its first call. Close releases everything.
type CCM struct {
	defaults config

	closeOnce sync.Once

	mu     sync.RWMutex
	closed bool
	names  map[string]*registration // main names and aliases
	zones  map[string]*stage.Zone   // limit zones; "unlimited" is nil

	subMu   sync.Mutex
	subs    map[int]func(Event)
	nextSub int
}

// registration is one Register: its main name, its aliases, its Iface.
type registration struct {
	name    string
	aliases []string
	iface   *Iface
}

// New returns a CCM; opts set the defaults for every endpoint.
func New(opts ...Option) *CCM {
	def, _ := stage.NewZone(stage.DefaultLimits, nil) // valid by construction
	c := &CCM{
		defaults: defaultConfig(),
		names:    make(map[string]*registration),
		zones:    map[string]*stage.Zone{ZoneDefault: def, ZoneUnlimited: nil},
	}
	for _, o := range opts {
		o.applyCCM(&c.defaults)
	}
	return c
}

// ifaceVerRe is the "iface:major.minor" pattern of the reference
// implementation.
var ifaceVerRe = regexp.MustCompile(`^([a-z][a-z0-9]*(?:\.[a-z][a-z0-9]*)*):([0-9]+)\.([0-9]+)$`)

// parseIfaceVer splits "iface:major.minor".
func parseIfaceVer(s string) (name string, major, minor int, err error) {
	m := ifaceVerRe.FindStringSubmatch(s)
	if m == nil {
		return "", 0, 0, pipeline.Errorf(pipeline.InvokerError, "invalid ifacever %q: want \"iface.name:MAJOR.MINOR\"", s)
	}
	major, err1 := strconv.Atoi(m[2])
	minor, err2 := strconv.Atoi(m[3])
	if err1 != nil || err2 != nil {
		return "", 0, 0, pipeline.Errorf(pipeline.InvokerError, "invalid ifacever %q: version out of range", s)
	}
	return m[1], major, minor, nil
}

// reservedNames are the "#" names the spec reserves for standard services
// (INVOKER.md §1.1); they may be registered. Any other name starting with
// "#" is refused.
var reservedNames = map[string]bool{"#resolver": true, "#auth": true, "#defense": true, "#acl": true, "#log": true}

func checkName(name string) error {
	switch {
	case name == "":
		return pipeline.NewError(pipeline.InvokerError, "empty endpoint name")
	case strings.HasPrefix(name, "#") && !reservedNames[name] && !strings.HasPrefix(name, "#cache."):
		return pipeline.Errorf(pipeline.InvokerError, "name %q is reserved: names starting with '#' are for standard services", name)
	}
	return nil
}

// Register adds an endpoint under name: the interface ifacever
// ("iface.name:MAJOR.MINOR") served at endpoint, a URL with one of the
// schemes
//
//	http://host[:port]/path    one POST per call            not secure
//	https://host[:port]/path   the same over TLS            secure
//	ws://host[:port]/path      one multiplexed WebSocket    not secure
//	wss://host[:port]/path     the same over TLS            secure
//	tcp://host:port            one multiplexed TCP stream   not secure
//	unix:///abs/path           one multiplexed UNIX stream  secure
//
// WebSocket, TCP and UNIX endpoints keep one connection unless [Conns]
// says more; lost connections are dialled again when calls need them
// ([Reconnect]) and silent ones are pinged ([Heartbeat]); the [Event]s
// connect and disconnect report each connection's changes.
//
// Every URL may be prefixed "secure+" to mark a channel secure that the scheme
// alone does not (e.g. a trusted network): "secure+tcp://10.0.0.5:7000".
// Secure follows INVOKER.md §4: TLS schemes and unix (a local socket,
// guarded by file permissions) are secure; tcp, which the spec does not
// list, counts like http and ws. tcp and unix carry the length-prefixed
// frames of the sink package doc (a local extension: FutoIn defines no
// stream framing); the executor serves them with ListenTCP and
// ListenUnix. opts override the CCM's defaults for this endpoint. For an
// Executor in this process, use [CCM.RegisterLocal].
//
// Register checks everything it can at once and returns an InvokerError
// for: an empty or reserved name, a name already registered (as a name or
// an alias), a malformed ifacever, a malformed URL or an unknown scheme,
// user info in the URL, malformed credentials, an unknown limit zone
// ([LimitZone]), a closed CCM. It opens no
// connection: the first call does. ctx is for registrations that wait for
// resources (spec loading, later); it is checked, not retained.
//
// On success the register event is emitted.
func (c *CCM) Register(ctx context.Context, name, ifacever, endpoint string, opts ...RegisterOption) error {
	return c.register(ctx, name, ifacever, opts, remote(endpoint))
}

// remote makes the endpoint of Register's URL.
func remote(url string) func(config) (*endpoint, error) {
	return func(cfg config) (*endpoint, error) { return parseEndpoint(url, cfg) }
}

// register is Register and RegisterLocal: the checks they share, the
// options applied over the CCM's defaults, then newEndpoint.
func (c *CCM) register(ctx context.Context, name, ifacever string, opts []RegisterOption, newEndpoint func(config) (*endpoint, error)) error {
	if err := ctx.Err(); err != nil {
		return pipeline.AsError(err, pipeline.InvokerError)
	}
	if err := checkName(name); err != nil {
		return err
	}
	if _, _, _, err := parseIfaceVer(ifacever); err != nil {
		return err
	}
	cfg := c.defaults
	for _, o := range opts {
		o.applyRegister(&cfg)
	}
	ep, err := newEndpoint(cfg)
	if err != nil {
		return err
	}
	return c.add(name, ifacever, ep)
}

// RegisterLocal adds an in-process endpoint under name: the interface
// ifacever served by h, an Executor in this process (*executor.Executor
// implements [pipeline.Handler]); the spec's "Executor instance as-is"
// endpoint. Calls reach h without sockets or encoding but through the same
// checks (see the sink package doc); they run on the endpoint's own
// goroutines, never on the caller's (INVOKER.md §9), at most [MaxConns] at
// once. The channel is internal: [Iface.Secure] reports true, and without
// credentials every request carries "-internal", which the executor
// accepts only from in-process calls and runs as user "-internal" (level
// System). "user:password" credentials are sent as given; MAC credentials
// are an InvokerError. There is no retry (nothing can be lost on the way)
// and no call timeout unless [CallTimeout] is given. Otherwise it behaves
// as Register, with the same checks and errors.
func (c *CCM) RegisterLocal(ctx context.Context, name, ifacever string, h pipeline.Handler, opts ...RegisterOption) error {
	return c.register(ctx, name, ifacever, opts, func(cfg config) (*endpoint, error) {
		return localEndpoint(h, cfg)
	})
}

// add registers ep under name once everything was checked.
func (c *CCM) add(name, ifacever string, ep *endpoint) error {
	iname, major, minor, err := parseIfaceVer(ifacever)
	if err != nil {
		return err
	}
	zone := ep.cfg.limitZone
	if zone == "" {
		zone = ep.defaultZone()
	}
	it := &Iface{
		name: name, iface: iname, major: major, minor: minor,
		version: strconv.Itoa(major) + "." + strconv.Itoa(minor),
		ep:      ep,
	}
	it.prefix = iname + ":" + it.version + ":"
	if err := ep.checkSpec(); err != nil {
		return err
	}
	it.spec = ep.cfg.spec
	ep.name, ep.ifaceVer, ep.emit = name, ifacever, c.emit
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return pipeline.NewError(pipeline.InvokerError, "CCM is closed")
	}
	if _, dup := c.names[name]; dup {
		c.mu.Unlock()
		return pipeline.Errorf(pipeline.InvokerError, "already registered: %q", name)
	}
	z, ok := c.zones[zone]
	if !ok {
		c.mu.Unlock()
		return pipeline.Errorf(pipeline.InvokerError, "unknown limit zone %q", zone)
	}
	ep.zone = z
	c.names[name] = &registration{name: name, iface: it}
	c.mu.Unlock()
	c.emit(Event{Kind: EventRegister, Name: name, IfaceVer: ifacever})
	return nil
}

// Iface returns the interface registered under name or alias. All names of
// one registration return the same *Iface. An unknown name is an
// InvokerError.
func (c *CCM) Iface(name string) (*Iface, error) {
	c.mu.RLock()
	r := c.names[name]
	c.mu.RUnlock()
	if r == nil {
		return nil, pipeline.Errorf(pipeline.InvokerError, "unknown interface name %q", name)
	}
	return r.iface, nil
}

// Alias makes alias another name for the registration known as name (a main
// name or another alias). It fails with InvokerError when name is unknown
// or alias is taken or invalid. It emits a register event for the alias,
// as the reference implementation does.
func (c *CCM) Alias(name, alias string) error {
	if err := checkName(alias); err != nil {
		return err
	}
	c.mu.Lock()
	r := c.names[name]
	switch {
	case c.closed:
		c.mu.Unlock()
		return pipeline.NewError(pipeline.InvokerError, "CCM is closed")
	case r == nil:
		c.mu.Unlock()
		return pipeline.Errorf(pipeline.InvokerError, "unknown interface name %q", name)
	case c.names[alias] != nil:
		c.mu.Unlock()
		return pipeline.Errorf(pipeline.InvokerError, "already registered: %q", alias)
	}
	r.aliases = append(r.aliases, alias)
	c.names[alias] = r
	it := r.iface
	c.mu.Unlock()
	c.emit(Event{Kind: EventRegister, Name: alias, IfaceVer: it.IfaceVer()})
	return nil
}

// AssertIface checks that name is registered for the same interface and
// major version as ifacever, with a minor version at least as high (compared
// as numbers: 1.10 satisfies 1.9). Otherwise, and for an unknown name or a
// malformed ifacever, it returns an InvokerError. For an interface an
// [AdvancedCCM] registered, any ancestor it inherits from satisfies too
// (its imports do not). Components call it at start-up for each name they
// use.
func (c *CCM) AssertIface(name, ifacever string) error {
	iname, major, minor, err := parseIfaceVer(ifacever)
	if err != nil {
		return err
	}
	it, err := c.Iface(name)
	if err != nil {
		return err
	}
	if it.spec != nil {
		// AdvancedCCM: the interface or any of its ancestors will do.
		if !it.spec.Implements(ifacever) {
			return pipeline.Errorf(pipeline.InvokerError, "interface %q is %s, which does not satisfy %s", name, it.IfaceVer(), ifacever)
		}
		return nil
	}
	if it.iface != iname || it.major != major || it.minor < minor {
		return pipeline.Errorf(pipeline.InvokerError, "interface %q is %s, which does not satisfy %s", name, it.IfaceVer(), ifacever)
	}
	return nil
}

// Unregister removes a name. For a main name, the registration goes with
// all its aliases; its connections close and calls in flight on it
// complete (CommError for those already sent), later calls on its Iface
// fail with InvokerError. For an alias, only that alias goes. An unknown
// name is an InvokerError. It emits the unregister event.
func (c *CCM) Unregister(name string) error {
	c.mu.Lock()
	r := c.names[name]
	if r == nil {
		c.mu.Unlock()
		return pipeline.Errorf(pipeline.InvokerError, "unknown interface name %q", name)
	}
	delete(c.names, name)
	var closeIt *Iface
	if name == r.name {
		for _, a := range r.aliases {
			if c.names[a] == r {
				delete(c.names, a)
			}
		}
		r.aliases = nil
		closeIt = r.iface
	} else {
		for i, a := range r.aliases {
			if a == name {
				r.aliases = append(r.aliases[:i], r.aliases[i+1:]...)
				break
			}
		}
	}
	c.mu.Unlock()
	if closeIt != nil {
		closeIt.close()
	}
	c.emit(Event{Kind: EventUnregister, Name: name, IfaceVer: r.iface.IfaceVer()})
	return nil
}

// Close unregisters everything: every endpoint's connections close and
// every call in flight completes (CommError for those already sent,
// ConnectError for those not yet sent). Later calls on any Iface of this
// CCM and later registrations fail with InvokerError. It emits the close
// event once. Close is safe to call more than once and concurrently; every
// call returns once the first has finished. It returns nil.
func (c *CCM) Close() error {
	c.closeOnce.Do(c.close)
	return nil
}

func (c *CCM) close() {
	c.mu.Lock()
	c.closed = true
	var all []*Iface
	for n, r := range c.names {
		if n == r.name {
			all = append(all, r.iface)
		}
	}
	c.names = map[string]*registration{}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, it := range all {
		wg.Add(1)
		go func() { defer wg.Done(); it.close() }()
	}
	wg.Wait()
	c.emit(Event{Kind: EventClose})
}
