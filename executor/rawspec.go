package executor

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// Raw functions of an interface with a definition (RegisterRaw under
// WithSpecs) are checked as messages are (see RegisterSpec), over HTTP:
// constraints and seclvl, then the upload against "rawupload", then the
// params (URL-mapped query strings converted to the declared types first,
// see queryParams), defaults applied; after the handler, errors not in
// "throws" become InternalError "Not expected error" and the result of a
// function without "rawresult" is checked.

// rawChecks is the definition side of a raw request: nil when its
// interface has none.
type rawChecks struct {
	f    *spec.Func
	cons constraints
}

// rawSpecOf returns the checks for the raw function f names, or nil.
func (e *Executor) rawSpecOf(f string) *rawChecks {
	iface, _, fn, major, minor, ok := splitF(f)
	if !ok {
		return nil
	}
	im, ferr := e.route(iface, major, minor)
	if ferr != nil || im.spec == nil {
		return nil
	}
	sf, err := im.spec.Func(fn)
	if err != nil {
		return nil
	}
	return &rawChecks{f: sf, cons: im.cons}
}

// before runs the checks ahead of the handler and returns the params the
// handler sees. query marks params that are a URL-mapped request's query
// strings.
func (c *rawChecks) before(m *pipeline.Request, ch channel, who authResult, upload, query bool) (map[string]any, *pipeline.Error) {
	if ferr := checkAccess(c.cons, c.f, ch, who); ferr != nil {
		return nil, ferr
	}
	if err := c.f.CheckUpload(upload); err != nil {
		return nil, pipeline.NewError(pipeline.InvalidRequest, descOf(err))
	}
	p := m.P
	if query {
		p = queryParams(c.f, p)
	}
	if err := c.f.CheckParams(p); err != nil {
		return nil, pipeline.NewError(pipeline.InvalidRequest, descOf(err))
	}
	p = c.f.ApplyDefaults(p)
	if p == nil {
		p = map[string]any{}
	}
	return p, nil
}

// queryParams converts query strings to the declared types of f's params
// (HTTP.md §3). Each value becomes the first of these that the param's
// type accepts: an integer (strconv.ParseInt), a number (ParseFloat), a
// boolean (ParseBool), a JSON object or array, the string as it is. So a
// variant takes the most specific reading ("1" is an integer for
// "string|integer"), "any" takes numbers, booleans, objects and arrays
// decoded and everything else as a string, and "string" always keeps the
// text. A value no reading fits stays a string, which CheckParams then
// refuses with InvalidRequest "Type mismatch for parameter"; an unknown
// param stays a string for CheckParams to name. p is not modified.
func queryParams(f *spec.Func, p map[string]any) map[string]any {
	if len(p) == 0 {
		return p
	}
	params := f.Params()
	out := make(map[string]any, len(p))
	for k, v := range p {
		out[k] = v
		s, ok := v.(string)
		if !ok {
			continue
		}
		for i := range params {
			if params[i].Name == k {
				out[k] = fromQuery(&params[i], s)
				break
			}
		}
	}
	return out
}

// fromQuery is one query string read as param's type (see queryParams).
func fromQuery(param *spec.Param, s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && param.Check(n) {
		return n
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil && param.Check(x) {
		return x
	}
	if b, err := strconv.ParseBool(s); err == nil && param.Check(b) {
		return b
	}
	if len(s) > 0 && (s[0] == '{' || s[0] == '[') {
		var v any
		if json.Unmarshal([]byte(s), &v) == nil && param.Check(v) {
			return v
		}
	}
	return s
}

// rawAfter maps the handler's error herr, named (name, desc), or checks
// its result res; it returns the error to send, or "" when res may be
// sent.
func (e *Executor) rawAfter(c *rawChecks, req *Request, res any, herr error, name pipeline.ErrorName, desc string) (pipeline.ErrorName, string) {
	if herr != nil {
		if c.f.CheckError(name, desc) != nil {
			e.report(req, fmt.Errorf("executor: %s:%s:%s raised %s, which is neither standard nor in its throws: %w", req.Iface, req.Version, req.Func, name, herr))
			return pipeline.InternalError, "Not expected error"
		}
		return name, desc
	}
	if c.f.RawResult() || (res == nil && !c.f.ExpectsResult()) {
		return "", ""
	}
	if err := c.f.CheckResult(res); err != nil {
		e.report(req, fmt.Errorf("executor: %s:%s:%s returned a bad result: %w", req.Iface, req.Version, req.Func, err))
		return pipeline.InternalError, descBadResult
	}
	return "", ""
}

// checkRawFlags refuses a raw function whose Upload and Result disagree
// with its definition's rawupload and rawresult.
func checkRawFlags(sp *spec.Iface, fn string, rf *RawFunc) error {
	f, err := sp.Func(fn)
	if err != nil {
		return fmt.Errorf("raw function %q has no function in the definition", fn)
	}
	if rf.Upload != f.RawUpload() || rf.Result != f.RawResult() {
		return fmt.Errorf("raw function %q: Upload=%v Result=%v, the definition says rawupload=%v rawresult=%v", fn, rf.Upload, rf.Result, f.RawUpload(), f.RawResult())
	}
	return nil
}
