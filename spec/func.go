package spec

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/ftnpipe/ccm/pipeline"
)

// Func is one function of an [Iface] with its checkers compiled. It is
// immutable and safe for concurrent use; the check methods may be called
// from any number of goroutines, each on its own message.
type Func struct {
	name       string
	fq         string // "iface:ver:name", for messages
	role       Role
	params     []Param
	pindex     map[string]int
	resultVars []ResultVar
	resultType []string
	resultChk  checkFn
	throws     []pipeline.ErrorName
	rawUpload  bool
	rawResult  bool
	heavy      bool
	seclvl     string
	maxReq     int64
	maxRsp     int64
	desc       string
}

// Param is a function parameter.
type Param struct {
	Name string
	// Type is one type name, or the names of a variant.
	Type []string
	// HasDefault marks an optional parameter; Default is its value (nil
	// for "default": null), as a decoder would produce it.
	HasDefault bool
	Default    any
	Desc       string
	check      checkFn
}

// ResultVar is a named result variable.
type ResultVar struct {
	Name  string
	Type  []string // one type name, or the names of a variant
	Desc  string
	check checkFn
}

// Check reports whether v is a value of the parameter's type (one of
// the names of a variant). It does not modify v; null passes only where
// the type accepts it ("any"). Generated code and query-string decoding
// use it for one value at a time.
func (p *Param) Check(v any) bool { return p.check(v, false) }

// Check reports whether v is a value of the result variable's type.
func (r *ResultVar) Check(v any) bool { return r.check(v, false) }

// Name returns the function name.
func (f *Func) Name() string { return f.name }

// Desc returns the function's description.
func (f *Func) Desc() string { return f.desc }

// Params returns the parameters in definition order (the positional order
// of generated clients). The slice is a copy.
func (f *Func) Params() []Param { return slices.Clone(f.params) }

// ResultVars returns the named result variables in definition order, or
// nil when the result is a single type ([Func.ResultType]) or absent.
func (f *Func) ResultVars() []ResultVar { return slices.Clone(f.resultVars) }

// ResultType returns the type of a result declared as a type name
// (FTN3 v1.7; several names for a variant), or nil.
func (f *Func) ResultType() []string { return slices.Clone(f.resultType) }

// ExpectsResult reports whether the peer answers a call without
// "forcersp": the function declares a result type, result variables, or
// a raw result.
func (f *Func) ExpectsResult() bool {
	return f.resultType != nil || len(f.resultVars) > 0 || f.rawResult
}

// Throws returns the declared error names. The slice is a copy.
func (f *Func) Throws() []pipeline.ErrorName { return slices.Clone(f.throws) }

// Declares reports whether name is in the function's "throws".
func (f *Func) Declares(name pipeline.ErrorName) bool { return slices.Contains(f.throws, name) }

// RawUpload reports whether the function accepts a raw request body.
func (f *Func) RawUpload() bool { return f.rawUpload }

// RawResult reports whether the function answers with raw data.
func (f *Func) RawResult() bool { return f.rawResult }

// Heavy reports whether the function is marked as expensive.
func (f *Func) Heavy() bool { return f.heavy }

// SecLvl returns the minimum security level, or "".
func (f *Func) SecLvl() string { return f.seclvl }

// MaxReqSize returns the request size limit in bytes (64 KiB unless the
// function declares maxreqsize).
func (f *Func) MaxReqSize() int64 { return f.maxReq }

// MaxRspSize returns the response size limit in bytes (64 KiB unless the
// function declares maxrspsize).
func (f *Func) MaxRspSize() int64 { return f.maxRsp }

func (f *Func) reqErr(desc string) error {
	return pipeline.NewError(f.role.requestError(), desc)
}

// CheckParams checks request parameters: no unknown names, every required
// parameter present, every value of its declared type. An optional
// parameter that is absent or null passes (ApplyDefaults replaces it).
// In the Executor role, map fields declared optional and missing from p
// are added as null (the receiver fills them, FTN3 §1.2.2); in the Invoker
// role p is not modified.
//
// A failure is an InvokerError (Invoker role) or InvalidRequest (Executor
// role) with the reference's message, e.g. "Unknown parameter:
// iface:ver:f(x)", "Missing parameter: iface:ver:f(x)", "Type mismatch
// for parameter: iface:ver:f(x) = \"value\"". Cost: no allocation when p
// is valid.
func (f *Func) CheckParams(p map[string]any) error {
	if len(f.params) == 0 {
		if len(p) > 0 {
			return f.reqErr("No params are defined: " + f.fq + "()")
		}
		return nil
	}
	fill := f.role == Executor
	seen := 0
	for i := range f.params {
		prm := &f.params[i]
		v, ok := p[prm.Name]
		if ok {
			seen++
		}
		if !ok || v == nil && prm.HasDefault {
			if !ok && !prm.HasDefault {
				return f.paramErr(p, "Missing parameter: "+f.fq+"("+prm.Name+")")
			}
			continue
		}
		if !prm.check(v, fill) {
			return f.paramErr(p, "Type mismatch for parameter: "+f.fq+"("+prm.Name+") = "+showValue(v))
		}
	}
	if seen != len(p) {
		return f.paramErr(p, "")
	}
	return nil
}

// paramErr reports an unknown parameter if p has one (the reference
// checks for those first), else desc. Counting the known names present
// lets the valid path skip a lookup per key.
func (f *Func) paramErr(p map[string]any, desc string) error {
	for k := range p {
		if _, ok := f.pindex[k]; !ok {
			return f.reqErr("Unknown parameter: " + f.fq + "(" + k + ")")
		}
	}
	return f.reqErr(desc)
}

// ApplyDefaults sets every optional parameter that is absent from p or
// null to its declared default, and returns p (a new map when p is nil and
// there is something to set). Defaults are not type-checked, as in the
// reference; a map or array default is copied, so callers may modify the
// result. It allocates only for the entries it adds.
func (f *Func) ApplyDefaults(p map[string]any) map[string]any {
	for i := range f.params {
		prm := &f.params[i]
		if !prm.HasDefault {
			continue
		}
		if v, ok := p[prm.Name]; ok && v != nil {
			continue
		}
		if p == nil {
			p = make(map[string]any, len(f.params))
		}
		p[prm.Name] = clone(prm.Default)
	}
	return p
}

// CheckResult checks a decoded result "r" of a FutoIn message (not raw
// data) and fails with an InternalError carrying the reference's message.
//
// A raw-result function must not get a message ("Raw result is expected:
// f()"). A result type must match ("Result type mismatch: f() =
// \"r\""). Result variables need r to be a map ("Invalid message: r") in
// which every declared variable is present ("Missing result variable:
// f(v)") and well typed ("Type mismatch for result variable: f(v) =
// \"val\""). Variables nobody declared are deleted from r in the Invoker
// role (forward compatibility: a newer peer may add some) and refused in
// the Executor role ("Unknown result variable: f(v)", "No result
// variables are expected: f()"). In the Invoker role, missing optional
// map fields are added as null. Cost: no allocation when r is valid.
func (f *Func) CheckResult(r any) error {
	if f.rawResult {
		return pipeline.NewError(pipeline.InternalError, "Raw result is expected: "+f.name+"()")
	}
	fill := f.role == Invoker
	if f.resultChk != nil {
		if !f.resultChk(r, fill) {
			return pipeline.NewError(pipeline.InternalError, "Result type mismatch: "+f.name+"() = "+showValue(r))
		}
		return nil
	}
	m, ok := r.(map[string]any)
	if !ok {
		return pipeline.NewError(pipeline.InternalError, "Invalid message: r")
	}
	if f.role == Executor && len(f.resultVars) == 0 {
		if len(m) > 0 {
			return pipeline.NewError(pipeline.InternalError, "No result variables are expected: "+f.name+"()")
		}
		return nil
	}
	for i := range f.resultVars {
		rv := &f.resultVars[i]
		v, ok := m[rv.Name]
		if !ok {
			return f.resultErr(m, "Missing result variable: "+f.name+"("+rv.Name+")")
		}
		if !rv.check(v, fill) {
			return f.resultErr(m, "Type mismatch for result variable: "+f.name+"("+rv.Name+") = "+showValue(v))
		}
	}
	if len(m) != len(f.resultVars) {
		// Some variables nobody declared (every declared one is present).
		return f.resultErr(m, "")
	}
	return nil
}

// resultErr handles result variables nobody declared, then reports desc
// if not empty. The Executor refuses them (before any other problem, as
// the reference does); the Invoker deletes them.
func (f *Func) resultErr(m map[string]any, desc string) error {
	for k := range m {
		if f.resultVar(k) != nil {
			continue
		}
		if f.role == Executor {
			return pipeline.NewError(pipeline.InternalError, "Unknown result variable: "+f.name+"("+k+")")
		}
		delete(m, k)
	}
	if desc == "" {
		return nil
	}
	return pipeline.NewError(pipeline.InternalError, desc)
}

func (f *Func) resultVar(name string) *ResultVar {
	for i := range f.resultVars {
		if f.resultVars[i].Name == name {
			return &f.resultVars[i]
		}
	}
	return nil
}

// CheckRaw checks the kind of a successful answer: raw data for a
// raw-result function, a FutoIn message otherwise. A mismatch is an
// InternalError ("Raw result is expected: f()" / "Raw result is not
// expected: f()").
func (f *Func) CheckRaw(raw bool) error {
	switch {
	case f.rawResult && !raw:
		return pipeline.NewError(pipeline.InternalError, "Raw result is expected: "+f.name+"()")
	case !f.rawResult && raw:
		return pipeline.NewError(pipeline.InternalError, "Raw result is not expected: "+f.name+"()")
	}
	return nil
}

// CheckUpload refuses raw upload data for a function without "rawupload":
// "Raw upload is not allowed: f()", an InvokerError (Invoker role) or
// InvalidRequest (Executor role).
func (f *Func) CheckUpload(upload bool) error {
	if upload && !f.rawUpload {
		return f.reqErr("Raw upload is not allowed: " + f.name + "()")
	}
	return nil
}

// IsStandardError reports whether name is one of the nine errors an
// Executor may always send (FTN3 §1.9.1, spec/WIRE.md §8.1).
func IsStandardError(name pipeline.ErrorName) bool {
	switch name {
	case pipeline.UnknownInterface, pipeline.NotSupportedVersion, pipeline.NotImplemented,
		pipeline.Unauthorized, pipeline.InternalError, pipeline.InvalidRequest,
		pipeline.DefenseRejected, pipeline.PleaseReauth, pipeline.SecurityError:
		return true
	}
	return false
}

// CheckError maps an error name raised by (Executor role) or received
// from (Invoker role) this function. A standard error or one in "throws"
// is kept: the Invoker role returns it as a remote *pipeline.Error with
// desc, the Executor role returns nil (send it as is). Any other name
// becomes an InternalError: "Not expected exception from Executor: f() =
// E(desc)" for the Invoker, "Not expected error" for the Executor.
func (f *Func) CheckError(name pipeline.ErrorName, desc string) error {
	ok := IsStandardError(name) || f.Declares(name)
	switch {
	case f.role == Executor && ok:
		return nil
	case f.role == Executor:
		return pipeline.NewError(pipeline.InternalError, "Not expected error")
	case ok:
		return pipeline.RemoteError(name, desc)
	}
	return pipeline.NewError(pipeline.InternalError,
		"Not expected exception from Executor: "+f.name+"() = "+string(name)+"("+desc+")")
}

// maxShown bounds how much of a value an error message shows.
const maxShown = 64

// showValue renders a rejected value for an error message: scalars in
// quotes, as the reference does, cut to 64 bytes; maps and arrays only by
// kind, so that a message never carries a whole (possibly sensitive)
// structure.
func showValue(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		s = "null"
	case string:
		s = x
	case bool:
		s = strconv.FormatBool(x)
	case json.Number:
		s = string(x)
	case []byte:
		s = "(data)"
	case map[string]any:
		s = "(map)"
	case []any:
		s = "(array)"
	default:
		if f, ok := toFloat(v); ok {
			s = strconv.FormatFloat(f, 'g', -1, 64)
			if math.IsInf(f, 0) || math.IsNaN(f) {
				s = strconv.FormatFloat(f, 'f', -1, 64)
			}
		} else if str, ok := toString(v); ok {
			s = str
		} else {
			s = "(" + kindName(v) + ")"
		}
	}
	if len(s) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return `"` + s + `"`
}

func kindName(v any) string {
	k := reflectKind(v)
	return k.String()
}

// clone copies maps and slices of a default value, so that a caller that
// modifies its params cannot change the spec.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = clone(e)
		}
		return a
	}
	return v
}
