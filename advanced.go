package ccm

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"strconv"
	"strings"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// AdvancedCCM is the CCM of the spec that knows interface definitions
// (FTN3 "iface" specs): every endpoint it registers is checked against
// its interface's definition. It embeds a [CCM], so everything but
// registration (Iface, Alias, AssertIface, Unregister, Close, events)
// works as there, and it is its own type, so code that needs the checks
// can ask for a *AdvancedCCM and cannot be handed a plain *CCM (INVOKER.md
// §2's marker interface, done with Go's types).
//
// What an AdvancedCCM adds, for each interface registered through its
// Register or RegisterLocal (REFERENCE-JS §1.2, §6.3, §6.4, §6.6):
//
//   - At registration, the definition is loaded from the [spec.Set] (its
//     errors as the spec package gives them, e.g. InternalError "Failed to
//     load valid spec for iface:ver") and its constraints are enforced:
//     no AllowAnonymous and no credentials → SecurityError "Requires
//     authenticated user" (not for in-process endpoints, which send
//     "-internal" then); SecureChannel on an insecure endpoint →
//     SecurityError "SecureChannel is required"; MessageSignature without
//     MAC credentials (in-process endpoints pass) → SecurityError
//     "MessageSignature is required"; BiDirectChannel on http(s) →
//     InvokerError "BiDirectChannel is required"; BinaryData picks the
//     MPCK coder unless [Coder] chose one, and refuses "JSON" with an
//     InvokerError. An in-process endpoint of an AllowAnonymous interface
//     without credentials calls anonymously; without AllowAnonymous it
//     sends "-internal" (FTN7 §1.3.1).
//   - Before anything is sent, in the caller's goroutine (the "validate"
//     transform at the head of the endpoint's pipeline): an unknown
//     function, an unknown or missing parameter or a value of the wrong
//     type is an InvokerError with the reference's message; optional
//     parameters that are absent or null get their defaults (in a copy of
//     the caller's map, which is never modified); Go values the checker
//     cannot look into (structs, pointers, slices of them, as generated
//     clients pass) are checked, and sent, in the shape JSON gives them;
//     a request whose encoded frame exceeds the function's maxreqsize is
//     an InvokerError.
//   - After the answer arrives: a missing or mistyped result variable, a
//     result of the wrong type, raw data for a function without
//     rawresult or a message for one with it, and an error name neither
//     standard nor in the function's "throws" are InternalErrors with the
//     reference's messages; result variables nobody declared are dropped
//     (a newer peer may add some); a response larger than maxrspsize is a
//     CommError. The connection-wide message limit is raised to the
//     largest maxreqsize/maxrspsize of the interface's functions.
//   - "forcersp" is never sent. A function without a result is
//     fire-and-forget: its call completes with a nil result once the
//     request is written, without waiting for any answer. On ws, wss, tcp
//     and unix that is when the frame was flushed to the socket (an answer
//     the peer sends anyway is dropped). Over http(s) a request is not
//     written until the server answered it (the exchange ends the HTTP
//     request), so the call completes when the reply arrives: an empty
//     body or any message counts as done, an error the peer sends is
//     reported. In process, it completes when the executor's handler
//     returned (the handler runs under the call's context).
//
// For the reference's testFunc signature the checks (validate and the
// result check) cost about 0.6 µs and no allocation per call
// (BenchmarkAdvancedCheck), and a call over ws takes about as long as
// through a SimpleCCM (BenchmarkAdvancedVsSimple).
//
// Registering through the embedded CCM (a.CCM.Register) bypasses all of
// this on purpose: such an endpoint is a SimpleCCM one. An AdvancedCCM is
// safe for concurrent use.
type AdvancedCCM struct {
	*CCM
	specs *spec.Set
}

// NewAdvanced returns an AdvancedCCM that finds interface definitions in
// specs, a Set loaded for the [spec.Invoker] role (e.g.
// spec.Load(embeddedFS) or spec.LoadDir("specs")); opts are as for [New].
// A nil Set or one loaded for the Executor role is an InvokerError.
func NewAdvanced(specs *spec.Set, opts ...Option) (*AdvancedCCM, error) {
	if specs == nil {
		return nil, pipeline.NewError(pipeline.InvokerError, "NewAdvanced needs a spec.Set")
	}
	if specs.Role() != spec.Invoker {
		return nil, pipeline.NewError(pipeline.InvokerError, "NewAdvanced needs a spec.Set loaded for the Invoker role")
	}
	return &AdvancedCCM{CCM: New(opts...), specs: specs}, nil
}

// Specs returns the Set the AdvancedCCM loads definitions from.
func (a *AdvancedCCM) Specs() *spec.Set { return a.specs }

// Register is [CCM.Register] with the interface's definition loaded and
// its constraints enforced (see [AdvancedCCM]); the endpoint's calls are
// checked against it.
func (a *AdvancedCCM) Register(ctx context.Context, name, ifacever, endpoint string, opts ...RegisterOption) error {
	o, err := a.specOption(ctx, name, ifacever, opts)
	if err != nil {
		return err
	}
	return a.CCM.Register(ctx, name, ifacever, endpoint, o...)
}

// RegisterLocal is [CCM.RegisterLocal] with the interface's definition
// loaded and its constraints enforced (see [AdvancedCCM]).
func (a *AdvancedCCM) RegisterLocal(ctx context.Context, name, ifacever string, h pipeline.Handler, opts ...RegisterOption) error {
	o, err := a.specOption(ctx, name, ifacever, opts)
	if err != nil {
		return err
	}
	return a.CCM.RegisterLocal(ctx, name, ifacever, h, o...)
}

// specOption checks what Register checks first, loads the definition and
// returns opts with the option that attaches it, applied last so that it
// sees the user's choices.
func (a *AdvancedCCM) specOption(ctx context.Context, name, ifacever string, opts []RegisterOption) ([]RegisterOption, error) {
	if err := ctx.Err(); err != nil {
		return nil, pipeline.AsError(err, pipeline.InvokerError)
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	if _, _, _, err := parseIfaceVer(ifacever); err != nil {
		return nil, err
	}
	si, err := a.specs.Iface(ifacever)
	if err != nil {
		return nil, err
	}
	var limit int64
	for _, f := range si.Funcs() {
		limit = max(limit, f.MaxReqSize(), f.MaxRspSize())
	}
	o := append(append(make([]RegisterOption, 0, len(opts)+1), opts...), registerOption(func(c *config) {
		c.spec = si
		if si.Requires(constraintBinary) && !c.coderSet {
			c.coder = "MPCK"
		}
		if int64(c.maxMessage) < limit {
			c.maxMessage = int(limit)
		}
	}))
	return o, nil
}

// The constraints an Invoker acts on (FTN3 "requires"; REFERENCE-JS §6.6).
const (
	constraintAnonymous = "AllowAnonymous"
	constraintSecure    = "SecureChannel"
	constraintSignature = "MessageSignature"
	constraintBiDirect  = "BiDirectChannel"
	constraintBinary    = "BinaryData"
)

// checkSpec enforces the definition's constraints on a built endpoint
// (AdvancedCCM registrations only), in the reference's order, and decides
// whether an in-process endpoint calls anonymously.
func (ep *endpoint) checkSpec() error {
	si := ep.cfg.spec
	if si == nil {
		return nil
	}
	anonymousOK := si.Requires(constraintAnonymous)
	switch {
	case !anonymousOK && !ep.cfg.hasCreds && ep.local == nil:
		return pipeline.NewError(pipeline.SecurityError, "Requires authenticated user")
	case si.Requires(constraintSecure) && !ep.secure:
		return pipeline.NewError(pipeline.SecurityError, "SecureChannel is required")
	case si.Requires(constraintSignature) && ep.verify == nil && ep.local == nil:
		return pipeline.NewError(pipeline.SecurityError, "MessageSignature is required")
	case si.Requires(constraintBiDirect) && (ep.scheme == "http" || ep.scheme == "https"):
		return pipeline.NewError(pipeline.InvokerError, "BiDirectChannel is required")
	case si.Requires(constraintBinary) && ep.local == nil && ep.codec.Name() == "JSON":
		return pipeline.NewError(pipeline.InvokerError, `BinaryData is required: the JSON coder cannot carry it; use "MPCK" or "CBOR"`)
	}
	ep.anonymous = ep.local != nil && anonymousOK && !ep.cfg.hasCreds
	return nil
}

// validator is the "validate" transform of an AdvancedCCM endpoint: it
// checks a call's params against its function's definition before
// anything else happens to it, and marks the call for the checks after
// arrival.
type validator struct {
	spec   *spec.Iface
	prefix string // "iface:ver:", how every c.Req.F of the endpoint starts
	funcs  map[string]*checkedFunc
}

type checkedFunc struct {
	f        *spec.Func
	optional []string // params with a default
	oneWay   bool
}

func newValidator(si *spec.Iface) *validator {
	v := &validator{spec: si, prefix: si.IfaceVer() + ":", funcs: map[string]*checkedFunc{}}
	for _, f := range si.Funcs() {
		cf := &checkedFunc{f: f, oneWay: !f.ExpectsResult()}
		for _, p := range f.Params() {
			if p.HasDefault {
				cf.optional = append(cf.optional, p.Name)
			}
		}
		v.funcs[f.Name()] = cf
	}
	return v
}

// validate is the transform. It allocates nothing for a valid call that
// needs no default; a call that does gets a copy of its params with the
// defaults added (the caller's map is never written). It is idempotent, so
// a retried call passes it again unchanged.
func (v *validator) validate(c *pipeline.Call) error {
	fn, ok := strings.CutPrefix(c.Req.F, v.prefix)
	if !ok {
		return pipeline.NewError(pipeline.InvokerError, "call "+c.Req.F+" does not belong to "+v.spec.IfaceVer())
	}
	cf := v.funcs[fn]
	if cf == nil {
		_, err := v.spec.Func(fn) // the reference's "Unknown interface function" error
		return err
	}
	for _, name := range cf.optional {
		if c.Req.P[name] == nil {
			c.Req.P = cf.f.ApplyDefaults(maps.Clone(c.Req.P))
			break
		}
	}
	if err := cf.f.CheckParams(c.Req.P); err != nil {
		q := wireShaped(c.Req.P)
		if q == nil {
			return err
		}
		if err := cf.f.CheckParams(q); err != nil {
			return err
		}
		c.Req.P = q
	}
	c.Check = cf.f
	c.OneWay = cf.oneWay
	c.Req.ForceRsp = false
	return nil
}

// checkReqSize is the transform after encode: the frame must fit the
// function's maxreqsize.
func checkReqSize(c *pipeline.Call) error {
	f, _ := c.Check.(*spec.Func)
	if f == nil || int64(len(c.Frame)) <= f.MaxReqSize() {
		return nil
	}
	n := len(c.Frame)
	c.ReleaseFrame()
	return pipeline.NewError(pipeline.InvokerError, "request of "+c.Req.F+" exceeds its maxreqsize: "+
		strconv.Itoa(n)+" > "+strconv.FormatInt(f.MaxReqSize(), 10)+" bytes")
}

// IfaceInfo is the introspection data of a registered interface (FTN7
// InterfaceInfo): name, version, ancestors, imports, functions and
// constraints.
type IfaceInfo = spec.Info

// Info returns the interface's introspection data. For an interface an
// [AdvancedCCM] registered it comes from the definition (ancestors with
// the direct base first, functions own first, the "requires" list); a
// SimpleCCM knows only the name and version, and the lists are nil. It
// allocates fresh slices.
func (i *Iface) Info() IfaceInfo {
	if i.spec != nil {
		return i.spec.Info()
	}
	return IfaceInfo{Name: i.iface, Version: i.version}
}

// Spec returns the interface's definition, or nil when a SimpleCCM (or
// the CCM embedded in an AdvancedCCM) registered it. Generated clients
// and tools read functions and types from it.
func (i *Iface) Spec() *spec.Iface { return i.spec }

// wireShaped returns a copy of p in which every value the spec checker
// cannot look into (a struct, a pointer, or a slice or map holding one,
// as generated clients pass) is replaced by what JSON makes of it, the
// shape it has on the wire; nil when p has no such value or one does not
// convert. Only a call whose check failed pays for it.
func wireShaped(p map[string]any) map[string]any {
	var q map[string]any
	for k, v := range p {
		if opaque(reflect.ValueOf(v)) {
			b, err := json.Marshal(v)
			var w any
			if err == nil {
				err = json.Unmarshal(b, &w)
			}
			if err != nil {
				return nil
			}
			if q == nil {
				q = maps.Clone(p)
			}
			q[k] = w
		}
	}
	return q
}

// opaque reports whether v holds a struct or pointer anywhere.
func opaque(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Struct, reflect.Pointer:
		return true
	case reflect.Interface:
		return !v.IsNil() && opaque(v.Elem())
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if opaque(v.Index(i)) {
				return true
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if opaque(it.Value()) {
				return true
			}
		}
	}
	return false
}
