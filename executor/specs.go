package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// Security levels (FTN6 SL_*, spec SECURITY.md §6), lowest first: the
// values of [Request.SecLvl] and of a function's "seclvl".
const (
	SecLvlAnonymous      = "Anonymous"
	SecLvlInfo           = "Info"
	SecLvlSafeOps        = "SafeOps"
	SecLvlPrivilegedOps  = "PrivilegedOps"
	SecLvlExceptionalOps = "ExceptionalOps"
	SecLvlSystem         = "System"
)

// Channel types, the values of [Request.Channel] (FTN6 ChannelContext.type()).
const (
	ChannelHTTP     = "HTTP"     // HTTP POST, with or without TLS
	ChannelWS       = "WS"       // WebSocket, with or without TLS
	ChannelTCP      = "TCP"      // a TCP stream socket ([Executor.ListenTCP])
	ChannelUNIX     = "UNIX"     // a UNIX stream socket ([Executor.ListenUnix])
	ChannelInternal = "INTERNAL" // in process ([Executor.ServeInternal])
)

// channel is the transport a request came through.
type channel uint8

const (
	chHTTP channel = iota
	chHTTPS
	chWS
	chWSS
	chTCP
	chUnix
	chInternal
)

// secure reports a secure channel (INVOKER.md §4): TLS, a UNIX socket (only
// local peers reach it), or in process. Plain TCP is not secure.
func (c channel) secure() bool {
	switch c {
	case chHTTPS, chWSS, chUnix, chInternal:
		return true
	}
	return false
}

// stateful reports a persistent channel: everything but HTTP.
func (c channel) stateful() bool { return c != chHTTP && c != chHTTPS }

func (c channel) String() string {
	switch c {
	case chHTTP, chHTTPS:
		return ChannelHTTP
	case chWS, chWSS:
		return ChannelWS
	case chTCP:
		return ChannelTCP
	case chUnix:
		return ChannelUNIX
	}
	return ChannelInternal
}

// inbound is what the transport knows of a request besides its message.
type inbound struct {
	ch   channel
	size int // encoded size in bytes; 0 in process
}

// levels orders the security levels.
var levels = map[string]int{
	SecLvlAnonymous: 1, SecLvlInfo: 2, SecLvlSafeOps: 3,
	SecLvlPrivilegedOps: 4, SecLvlExceptionalOps: 5, SecLvlSystem: 6,
}

// secLvl is the level a caller authenticated with (INVOKER.md §3.2):
// anonymous, clear text SafeOps, a MAC PrivilegedOps, "-internal" System,
// or the level "obf" carries on a "-internal" call.
func (a authResult) secLvl() string {
	switch {
	case a.lvl != "":
		return a.lvl
	case a.user == "":
		return SecLvlAnonymous
	case a.user == InternalUser:
		return SecLvlSystem
	case a.key != nil:
		return SecLvlPrivilegedOps
	}
	return SecLvlSafeOps
}

// levelMet reports whether have meets the required level need. An unknown
// required level counts as the highest (FTN3: "all unknown level names
// are treated as the maximum level").
func levelMet(have, need string) bool {
	n, ok := levels[need]
	if !ok {
		n = levels[SecLvlSystem]
	}
	return levels[have] >= n
}

// WithSpecs gives the Executor interface definitions: [Executor.Register]
// then loads the definition of each interface from set (which must be
// loaded in the [spec.Executor] role) and checks its calls as
// [Executor.RegisterSpec] describes; an interface set does not define is
// a Register error (never silently unchecked). Without WithSpecs,
// Register checks nothing and RegisterSpec still adds checked interfaces.
func WithSpecs(set *spec.Set) Option {
	return func(e *Executor) { e.specs = set }
}

// RegisterSpec adds an implementation of the interface iface defines
// (loaded in the [spec.Executor] role, e.g. with spec.WithRole), under
// iface.IfaceVer(), as [Executor.Register] does. Every key of funcs must
// name a function of iface; a function of iface without a handler is
// answered NotImplemented. Calls of a checked interface go through the
// checks of spec EXECUTOR.md §7, in this order, before the handler runs:
//
//   - unknown function: InvalidRequest "Unknown interface function:
//     iface:ver:f()" (UnknownInterface for an anonymous caller when the
//     interface lacks AllowAnonymous, which also hides a too-high minor);
//   - the request's encoded size over the function's maxreqsize:
//     InvalidRequest (the transport limit, [WithMaxMessageSize], applies
//     first: a maxreqsize above it cannot take effect);
//   - constraints, with the RI's descriptions: SecureChannel on an
//     insecure channel (plain HTTP, WS or TCP): SecurityError "Insecure
//     channel"; MessageSignature without a MAC (in-process calls exempt):
//     SecurityError "Message Signature is required"; no AllowAnonymous and
//     an anonymous caller: SecurityError "Anonymous not allowed";
//     BiDirectChannel over HTTP: InvalidRequest "Bi-Direct Channel is
//     required";
//   - "seclvl": the caller's level ([Request.SecLvl]) below it:
//     PleaseReauth, whose description is the required level (as in the
//     RI);
//   - parameters ([spec.Func.CheckParams]): unknown, missing or mistyped
//     parameters are InvalidRequest with the reference's message (e.g.
//     "Type mismatch for parameter: iface:ver:f(x) = \"value\""); the
//     handler then gets its params with defaults applied and missing
//     optional map fields set to nil.
//
// After the handler:
//
//   - an error whose name is neither standard nor in the function's
//     "throws" is sent as InternalError "Not expected error";
//   - a result that does not match the definition ([spec.Func.CheckResult]:
//     result variables need a map[string]any) is sent as InternalError
//     with a fixed description; the detail goes to [WithErrorHook];
//   - a function without a result answers only a request with "forcersp"
//     (with {}; a handler's result must then be nil or an empty map); on
//     HTTP the POST gets an empty 200 response otherwise, on other sockets
//     nothing. Errors are always sent. In process, the result is always
//     returned;
//   - the response may be as big as the function's maxrspsize;
//   - a "heavy" function runs with the heavy timeout
//     ([WithHeavyRequestTimeout], 60 s by default, as in the RI) instead
//     of the request timeout, counted from the request's arrival;
//   - a rawresult function registered here (not with
//     [Executor.RegisterRaw]) answers InternalError; raw functions go
//     through RegisterRaw, which applies these checks to them.
//
// The interfaces iface inherits from are served by the same
// implementation, each up to its own version, and checked against iface's
// definition (as in the RI, EXECUTOR.md §12): registering
// "futoin.anonping:1.0" also serves "futoin.ping:1.0", anonymously. So an
// ancestor cannot also be registered on its own (the "one derived
// interface per base" rule).
//
// RegisterSpec fails if iface was loaded for the Invoker role, a handler
// has no function, or iface or an ancestor is already registered with
// the same major, besides Register's own errors.
func (e *Executor) RegisterSpec(iface *spec.Iface, funcs map[string]Handler) error {
	if iface == nil {
		return fmt.Errorf("executor: RegisterSpec: nil interface")
	}
	iv := iface.IfaceVer()
	if iface.Role() != spec.Executor {
		return fmt.Errorf("executor: register %q: the definition was loaded for the %v role; load it with spec.WithRole(spec.Executor)", iv, iface.Role())
	}
	for fn := range funcs {
		if _, err := iface.Func(fn); err != nil {
			return fmt.Errorf("executor: register %q: handler %q has no function in the definition", iv, fn)
		}
	}
	if err := e.register(iv, funcs, iface); err != nil {
		return err
	}
	if hasHeavy(iface) {
		e.anyHeavy.Store(true)
	}
	return nil
}

// Descriptions of errors made by the spec checks.
const (
	descBadResult = "result does not match the function's definition"
	descRawResult = "raw results are not supported by this executor"
)

// runChecked runs a request routed to an interface with a definition:
// the checks before the handler, the handler, and the checks after it
// (see RegisterSpec). o.req is set once the handler is known.
func (e *Executor) runChecked(ctx context.Context, m *pipeline.Request, in inbound, who authResult, im *impl, o *outcome, name, ver string) {
	iface, fn := im.spec, o.fn
	f, err := iface.Func(fn)
	if err != nil {
		if who.user == "" && !im.cons.allowAnonymous {
			ferr := errUnknownIface(name)
			o.setErr(ferr.Name, ferr.Desc)
			return
		}
		o.setErr(pipeline.InvalidRequest, descOf(err))
		return
	}
	o.maxRsp = int(f.MaxRspSize())
	if in.size > 0 && int64(in.size) > f.MaxReqSize() {
		o.setErr(pipeline.InvalidRequest, tooBigDesc(int(f.MaxReqSize())))
		return
	}
	if ferr := checkAccess(im.cons, f, in.ch, who); ferr != nil {
		o.setErr(ferr.Name, ferr.Desc)
		return
	}
	h, ok := im.funcs[fn]
	if !ok {
		o.setErr(pipeline.NotImplemented, "function "+fn+" is not implemented")
		return
	}
	if err := f.CheckParams(m.P); err != nil {
		o.setErr(pipeline.InvalidRequest, descOf(err))
		return
	}
	p := f.ApplyDefaults(m.P)
	if p == nil {
		p = map[string]any{}
	}
	o.req = o.newRequest(m, p, in, who, name, ver)
	res, err := h(ctx, o.req)
	if err != nil {
		name, desc := e.errorOf(o.req, err)
		if f.CheckError(name, desc) != nil {
			e.report(o.req, fmt.Errorf("executor: %s raised %s, which is neither standard nor in its throws: %w", m.F, name, err))
			name, desc = pipeline.InternalError, "Not expected error"
		}
		o.setErr(name, desc)
		return
	}
	switch {
	case f.RawResult():
		e.report(o.req, fmt.Errorf("executor: %s: %w", m.F, f.CheckRaw(false)))
		o.setErr(pipeline.InternalError, descRawResult)
		return
	case !f.ExpectsResult():
		if res != nil {
			if err := f.CheckResult(res); err != nil {
				e.report(o.req, fmt.Errorf("executor: %s returned a result it does not declare: %w", m.F, err))
				o.setErr(pipeline.InternalError, descBadResult)
				return
			}
		}
		o.noReply = !m.ForceRsp && in.ch != chInternal
		return
	}
	if err := f.CheckResult(res); err != nil {
		e.report(o.req, fmt.Errorf("executor: %s returned a bad result: %w", m.F, err))
		o.setErr(pipeline.InternalError, descBadResult)
		return
	}
	o.res = res
}

// descOf is the description of a *pipeline.Error from package spec.
func descOf(err error) string {
	var fe *pipeline.Error
	if errors.As(err, &fe) {
		return fe.Desc
	}
	return err.Error()
}

// constraints are the "requires" of a definition the Executor enforces,
// looked up once at registration.
type constraints struct {
	secureChannel, messageSignature, allowAnonymous, biDirect bool
}

func constraintsOf(iface *spec.Iface) constraints {
	return constraints{
		secureChannel:    iface.Requires("SecureChannel"),
		messageSignature: iface.Requires("MessageSignature"),
		allowAnonymous:   iface.Requires("AllowAnonymous"),
		biDirect:         iface.Requires("BiDirectChannel"),
	}
}

// checkAccess applies the interface's constraints and the function's
// seclvl (EXECUTOR.md §7 rows 7-11).
func checkAccess(c constraints, f *spec.Func, ch channel, who authResult) *pipeline.Error {
	switch {
	case c.secureChannel && !ch.secure():
		return pipeline.NewError(pipeline.SecurityError, "Insecure channel")
	case c.messageSignature && who.key == nil && ch != chInternal:
		return pipeline.NewError(pipeline.SecurityError, "Message Signature is required")
	case !c.allowAnonymous && who.user == "":
		return pipeline.NewError(pipeline.SecurityError, "Anonymous not allowed")
	case c.biDirect && !ch.stateful():
		return pipeline.NewError(pipeline.InvalidRequest, "Bi-Direct Channel is required")
	}
	if need := f.SecLvl(); need != "" && !levelMet(who.secLvl(), need) {
		return pipeline.NewError(pipeline.PleaseReauth, need)
	}
	return nil
}

// DefaultHeavyRequestTimeout is the default time a request to a function
// marked "heavy" may take (the reference executor's heavyReqTimeout).
const DefaultHeavyRequestTimeout = 60 * time.Second

// WithHeavyRequestTimeout sets how long a request to a function marked
// "heavy" in its definition may run (default
// [DefaultHeavyRequestTimeout]); [WithRequestTimeout] applies to the
// others. A value of 0 or less disables the timeout for heavy functions.
func WithHeavyRequestTimeout(d time.Duration) Option {
	return func(e *Executor) { e.heavyTimeout = d }
}

// timeoutFor is the time m may take: the heavy timeout when it calls a
// heavy function of an interface with a definition. It routes m on its
// own (about 50 ns), before authentication; nothing is decided by it but
// the deadline.
func (e *Executor) timeoutFor(m *pipeline.Request) time.Duration {
	if !e.anyHeavy.Load() {
		return e.timeout
	}
	iface, _, fn, major, minor, ok := splitF(m.F)
	if !ok {
		return e.timeout
	}
	im, err := e.route(iface, major, minor)
	if err != nil || im.spec == nil {
		return e.timeout
	}
	if f, err := im.spec.Func(fn); err == nil && f.Heavy() {
		return e.heavyTimeout
	}
	return e.timeout
}

// hasHeavy reports whether a definition has a heavy function.
func hasHeavy(iface *spec.Iface) bool {
	for _, f := range iface.Funcs() {
		if f.Heavy() {
			return true
		}
	}
	return false
}
