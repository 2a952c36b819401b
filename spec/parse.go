package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/ftnpipe/ccm/pipeline"
)

// Name patterns (FTN3 §1.2, and the reference's throws pattern).
var (
	funcNameRE  = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	paramNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	typeNameRE  = regexp.MustCompile(`^[A-Z][a-zA-Z0-9]*$`)
	throwsRE    = regexp.MustCompile(`^([A-Z][a-zA-Z0-9]*|[A-Z][A-Z0-9_]*)$`)
	ifaceNameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*$`)
	versionRE   = regexp.MustCompile(`^([0-9]+)\.([0-9]+)$`)
	sizeRE      = regexp.MustCompile(`^([1-9][0-9]*)([BKM])$`)
)

// DefaultMaxSize is the message size limit of a function that declares no
// maxreqsize/maxrspsize: 64 KiB (FTN3 §1.12).
const DefaultMaxSize = 65536

// The standard type names (FTN3 §1.2.1).
var standardTypes = map[string]bool{
	"any": true, "boolean": true, "integer": true, "number": true, "string": true,
	"map": true, "array": true, "enum": true, "set": true, "data": true,
}

// typeRef is a type as written in a definition: one type name, or a
// variant (any of several names).
type typeRef []string

func (t typeRef) equal(o typeRef) bool {
	if len(t) != len(o) {
		return false
	}
	for i := range t {
		if t[i] != o[i] {
			return false
		}
	}
	return true
}

// cons holds the constraint keys of a custom type. A nil pointer or slice
// means "not set", so that a derived type overrides only what it sets.
type cons struct {
	min, max       *float64
	minlen, maxlen *int
	regex          *string
	elemtype       typeRef
	fields         []rawField
	hasFields      bool
	items          []any
}

// over returns inner with every key that c sets replaced: the derived
// type's constraints win over its base's (reference behaviour).
func (c cons) over(inner cons) cons {
	r := inner
	if c.min != nil {
		r.min = c.min
	}
	if c.max != nil {
		r.max = c.max
	}
	if c.minlen != nil {
		r.minlen = c.minlen
	}
	if c.maxlen != nil {
		r.maxlen = c.maxlen
	}
	if c.regex != nil {
		r.regex = c.regex
	}
	if c.elemtype != nil {
		r.elemtype = c.elemtype
	}
	if c.hasFields {
		r.fields, r.hasFields = c.fields, true
	}
	if c.items != nil {
		r.items = c.items
	}
	return r
}

type rawField struct {
	name     string
	types    typeRef
	optional bool
	short    bool // written as a shortcut string
	variant  bool // written as a variant array
	desc     string
}

type rawType struct {
	name    string
	base    typeRef // one name, or several for a variant
	short   bool    // written as a shortcut string
	variant bool    // written as a variant array
	cons    cons
	desc    string
}

type rawParam struct {
	name       string
	types      typeRef
	short      bool // written as a shortcut string
	variant    bool // written as a variant array
	hasDefault bool
	def        any // plain value
	desc       string
}

type rawResultVar struct {
	name    string
	types   typeRef
	short   bool // written as a shortcut string
	variant bool // written as a variant array
	desc    string
}

type rawFunc struct {
	name       string
	params     []rawParam
	resultVars []rawResultVar
	resultType typeRef // set when "result" is a type name (or a variant)
	throws     []string
	hasThrows  bool
	rawUpload  bool
	rawResult  bool
	heavy      bool
	seclvl     string
	maxReq     int64
	maxRsp     int64
	hasSizes   bool
	desc       string
}

func (f *rawFunc) expectResult() bool {
	return f.resultType != nil || len(f.resultVars) > 0 || f.rawResult
}

// rawIface is one definition file, parsed and checked for shape, before
// inheritance and imports are resolved.
type rawIface struct {
	name, version string
	revMinor      int
	hasTypes      bool
	hasImports    bool
	types         []*rawType
	funcs         []*rawFunc
	requires      []string
	inherit       string
	imports       []string
	desc          string
}

func internalf(format string, args ...any) *pipeline.Error {
	return pipeline.Errorf(pipeline.InternalError, format, args...)
}

// ifaceVer splits "iface:major.minor".
func ifaceVer(s string) (name, ver string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", false
	}
	name, ver = s[:i], s[i+1:]
	return name, ver, ifaceNameRE.MatchString(name) && versionRE.MatchString(ver)
}

// parseRaw checks the shape of a definition whose iface and version
// already matched the lookup. role decides which ftn3rev minors load.
func parseRaw(doc *object, role Role) (*rawIface, error) {
	r := &rawIface{}
	r.name, _ = doc.vals["iface"].(string)
	r.version, _ = doc.vals["version"].(string)
	r.desc, _ = doc.vals["desc"].(string)

	if err := r.parseRev(doc, role); err != nil {
		return nil, err
	}
	if v, ok := doc.get("requires"); ok {
		a, ok := v.([]any)
		if !ok {
			return nil, internalf(`"requires" is not array`)
		}
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, internalf(`Invalid "requires" item: %s`, jsType(e))
			}
			r.requires = append(r.requires, s)
		}
	}
	if v, ok := doc.get("inherit"); ok {
		s, _ := v.(string)
		if _, _, ok := ifaceVer(s); !ok {
			return nil, pipeline.Errorf(pipeline.InvokerError, "Invalid inherit ifacever: %s", show(v))
		}
		r.inherit = s
	}
	if v, ok := doc.get("imports"); ok {
		r.hasImports = true
		a, ok := v.([]any)
		if !ok {
			return nil, pipeline.Errorf(pipeline.InvokerError, "Invalid import ifacever: %s", show(v))
		}
		for _, e := range a {
			s, _ := e.(string)
			if _, _, ok := ifaceVer(s); !ok {
				return nil, pipeline.Errorf(pipeline.InvokerError, "Invalid import ifacever: %s", show(e))
			}
			r.imports = append(r.imports, s)
		}
	}
	if v, ok := doc.get("types"); ok {
		r.hasTypes = true
		o, ok := v.(*object)
		if !ok {
			return nil, internalf(`"types" is not an object`)
		}
		for _, name := range o.keys {
			t, err := parseType(name, o.vals[name])
			if err != nil {
				return nil, err
			}
			r.types = append(r.types, t)
		}
	}
	if v, ok := doc.get("funcs"); ok {
		o, ok := v.(*object)
		if !ok {
			return nil, internalf(`"funcs" is not an object`)
		}
		for _, name := range o.keys {
			f, err := parseFunc(name, o.vals[name])
			if err != nil {
				return nil, err
			}
			r.funcs = append(r.funcs, f)
		}
	}
	return r, nil
}

// parseRev reads ftn3rev: "1.0" when absent; any major but 1 is refused;
// an Executor refuses minors newer than the ones this package implements,
// an Invoker accepts them (FTN3 §1.11, reference SpecTools).
func (r *rawIface) parseRev(doc *object, role Role) error {
	rev := "1.0"
	if v, ok := doc.get("ftn3rev"); ok {
		s, isStr := v.(string)
		if !isStr {
			return internalf("Invalid ftn3rev field")
		}
		rev = s
	}
	m := versionRE.FindStringSubmatch(rev)
	if m == nil {
		return internalf("Invalid ftn3rev field")
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil || major != 1 {
		return internalf("Not supported FTN3 revision")
	}
	if role == Executor && minor > MaxFTN3Minor {
		return internalf("Not supported FTN3 revision for Executor")
	}
	r.revMinor = minor
	return nil
}

// parseTypeRef reads a type given as a name or a non-empty list of names.
// isVariant reports whether v is a variant, the array form (FTN3 v1.6).
func isVariant(v any) bool {
	_, ok := v.([]any)
	return ok
}

func parseTypeRef(v any) (typeRef, bool) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil, false
		}
		return typeRef{x}, true
	case []any:
		if len(x) == 0 {
			return nil, false
		}
		t := make(typeRef, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, false
			}
			t[i] = s
		}
		return t, true
	}
	return nil, false
}

func parseType(name string, v any) (*rawType, error) {
	if !typeNameRE.MatchString(name) {
		return nil, internalf("Invalid type name: %s", name)
	}
	t := &rawType{name: name}
	if ref, ok := parseTypeRef(v); ok {
		t.base, t.variant = ref, isVariant(v)
		t.short = !t.variant
		return t, nil
	}
	o, ok := v.(*object)
	if !ok {
		return nil, internalf(`Invalid definition of custom type: %s`, name)
	}
	tv, ok := o.get("type")
	if !ok || tv == nil {
		return nil, internalf(`Missing "type" for custom type: %s`, name)
	}
	base, ok := tv.(string)
	if !ok || base == "" {
		return nil, internalf(`Invalid "type" for custom type: %s`, name)
	}
	t.base = typeRef{base}
	t.desc, _ = o.vals["desc"].(string)
	c := &t.cons
	for _, k := range []string{"min", "max"} {
		if v, ok := o.get(k); ok {
			f, ok := number(v)
			if !ok {
				return nil, internalf(`Invalid %q for custom type: %s`, k, name)
			}
			if k == "min" {
				c.min = &f
			} else {
				c.max = &f
			}
		}
	}
	for _, k := range []string{"minlen", "maxlen"} {
		if v, ok := o.get(k); ok {
			f, ok := number(v)
			if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
				return nil, internalf(`Invalid %q for custom type: %s`, k, name)
			}
			n := int(f)
			if k == "minlen" {
				c.minlen = &n
			} else {
				c.maxlen = &n
			}
		}
	}
	if v, ok := o.get("regex"); ok {
		s, ok := v.(string)
		if !ok {
			return nil, internalf(`Invalid "regex" for custom type: %s`, name)
		}
		c.regex = &s
	}
	if v, ok := o.get("fields"); ok {
		fo, ok := v.(*object)
		if !ok {
			return nil, internalf(`Invalid "fields" for custom type: %s`, name)
		}
		c.hasFields = true
		c.fields = []rawField{}
		for _, fn := range fo.keys {
			f, err := parseField(name, fn, fo.vals[fn])
			if err != nil {
				return nil, err
			}
			c.fields = append(c.fields, f)
		}
	}
	if v, ok := o.get("elemtype"); ok {
		ref, ok := parseTypeRef(v)
		if !ok {
			return nil, internalf(`Invalid "elemtype" for custom type: %s`, name)
		}
		c.elemtype = ref
	}
	if v, ok := o.get("items"); ok {
		items, ok := parseItems(v)
		if !ok {
			return nil, internalf(`Invalid "items" for custom type: %s (1 to 1000 unique strings or integers)`, name)
		}
		c.items = items
	}
	if (base == "enum" || base == "set") && c.items == nil {
		return nil, internalf(`Missing "items" for %s`, name)
	}
	return t, nil
}

func parseField(tname, fname string, v any) (rawField, error) {
	f := rawField{name: fname}
	if ref, ok := parseTypeRef(v); ok {
		f.types, f.variant = ref, isVariant(v)
		f.short = !f.variant
		return f, nil
	}
	o, ok := v.(*object)
	if !ok {
		return f, internalf(`Invalid field definition: %s[%s]`, tname, fname)
	}
	tv, ok := o.get("type")
	if !ok || tv == nil {
		return f, internalf(`Missing "type" for custom type field: %s[%s]`, tname, fname)
	}
	s, ok := tv.(string)
	if !ok || s == "" {
		return f, internalf(`Invalid "type" for custom type field: %s[%s]`, tname, fname)
	}
	f.types = typeRef{s}
	if ov, ok := o.get("optional"); ok {
		b, ok := ov.(bool)
		if !ok {
			return f, internalf(`Invalid "optional" for custom type field: %s[%s]`, tname, fname)
		}
		f.optional = b
	}
	f.desc, _ = o.vals["desc"].(string)
	return f, nil
}

// parseItems reads enum/set items: 1 to 1000 unique strings or integers
// (FTN3 §1.2.2). Integers are kept as float64, like decoded JSON.
func parseItems(v any) ([]any, bool) {
	a, ok := v.([]any)
	if !ok || len(a) == 0 || len(a) > 1000 {
		return nil, false
	}
	items := make([]any, 0, len(a))
	seen := map[any]bool{}
	for _, e := range a {
		var item any
		switch x := e.(type) {
		case string:
			item = x
		case json.Number:
			f, ok := number(x)
			if !ok || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
				return nil, false
			}
			item = f
		default:
			return nil, false
		}
		if seen[item] {
			return nil, false
		}
		seen[item] = true
		items = append(items, item)
	}
	return items, true
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func parseFunc(name string, v any) (*rawFunc, error) {
	if !funcNameRE.MatchString(name) {
		return nil, internalf("Invalid function name: %s", name)
	}
	o, ok := v.(*object)
	if !ok {
		return nil, internalf("Invalid function definition: %s", name)
	}
	f := &rawFunc{name: name, maxReq: DefaultMaxSize, maxRsp: DefaultMaxSize}
	f.desc, _ = o.vals["desc"].(string)
	if pv, ok := o.get("params"); ok && pv != nil {
		po, ok := pv.(*object)
		if !ok {
			return nil, internalf("Invalid params object: %s", name)
		}
		for _, pn := range po.keys {
			p, err := parseParam(name, pn, po.vals[pn])
			if err != nil {
				return nil, err
			}
			f.params = append(f.params, p)
		}
	}
	if rv, ok := o.get("result"); ok && rv != nil {
		if err := f.parseResult(rv); err != nil {
			return nil, err
		}
	}
	for _, flag := range []struct {
		key string
		dst *bool
	}{{"rawupload", &f.rawUpload}, {"rawresult", &f.rawResult}, {"heavy", &f.heavy}} {
		if v, ok := o.get(flag.key); ok {
			b, ok := v.(bool)
			if !ok {
				return nil, internalf("Invalid %q flag: %s", flag.key, name)
			}
			*flag.dst = b
		}
	}
	if v, ok := o.get("throws"); ok {
		if !f.expectResult() {
			return nil, internalf(`"throws" without result: %s`, name)
		}
		a, ok := v.([]any)
		if !ok {
			return nil, internalf(`"throws" is not array: %s`, name)
		}
		f.hasThrows = true
		f.throws = []string{}
		for _, e := range a {
			s, _ := e.(string)
			if !throwsRE.MatchString(s) {
				return nil, internalf(`Invalid "throws": %s`, show(e))
			}
			f.throws = append(f.throws, s)
		}
	}
	if v, ok := o.get("seclvl"); ok {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, internalf(`Invalid "seclvl": %s`, name)
		}
		f.seclvl = s
	}
	for _, sz := range []struct {
		key string
		dst *int64
	}{{"maxreqsize", &f.maxReq}, {"maxrspsize", &f.maxRsp}} {
		if v, ok := o.get(sz.key); ok {
			n, err := parseSize(v)
			if err != nil {
				return nil, err
			}
			*sz.dst, f.hasSizes = n, true
		}
	}
	return f, nil
}

func parseParam(fname, pn string, v any) (rawParam, error) {
	p := rawParam{name: pn}
	if !paramNameRE.MatchString(pn) {
		return p, internalf("Invalid parameter name: %s(%s)", fname, pn)
	}
	if ref, ok := parseTypeRef(v); ok {
		p.types, p.variant = ref, isVariant(v)
		p.short = !p.variant
		return p, nil
	}
	o, ok := v.(*object)
	if !ok {
		return p, internalf("Invalid parameter definition: %s(%s)", fname, pn)
	}
	tv, ok := o.get("type")
	if !ok || tv == nil {
		return p, internalf("Missing type for params")
	}
	s, ok := tv.(string)
	if !ok || s == "" {
		return p, internalf("Invalid parameter definition: %s(%s)", fname, pn)
	}
	p.types = typeRef{s}
	if d, ok := o.get("default"); ok {
		p.hasDefault, p.def = true, plain(d)
	}
	p.desc, _ = o.vals["desc"].(string)
	return p, nil
}

func (f *rawFunc) parseResult(v any) error {
	switch x := v.(type) {
	case string, []any:
		// A type name (FTN3 v1.7), or a variant list: the spec allows a
		// variant only for result variables, but the reference loads it
		// as a result type, and so do we.
		ref, ok := parseTypeRef(x)
		if !ok {
			return internalf("Invalid result object: %s", f.name)
		}
		f.resultType = ref
		return nil
	case *object:
		for _, rn := range x.keys {
			if !paramNameRE.MatchString(rn) {
				return internalf("Invalid resultvar name: %s(%s)", f.name, rn)
			}
			rv := rawResultVar{name: rn}
			if ref, ok := parseTypeRef(x.vals[rn]); ok {
				rv.types, rv.variant = ref, isVariant(x.vals[rn])
				rv.short = !rv.variant
			} else if o, ok := x.vals[rn].(*object); ok {
				tv, ok := o.get("type")
				if !ok || tv == nil {
					return internalf("Missing type for resultvar: %s(%s)", f.name, rn)
				}
				s, ok := tv.(string)
				if !ok || s == "" {
					return internalf("Invalid resultvar definition: %s(%s)", f.name, rn)
				}
				rv.types = typeRef{s}
				rv.desc, _ = o.vals["desc"].(string)
			} else {
				return internalf("Invalid resultvar definition: %s(%s)", f.name, rn)
			}
			f.resultVars = append(f.resultVars, rv)
		}
		return nil
	}
	return internalf("Invalid result object: %s", f.name)
}

// parseSize reads a maxreqsize/maxrspsize value: a positive integer with
// the unit B, K (1024) or M (1024 K). The reference throws a plain Error
// for a bad one; ours is an InternalError with the same text.
func parseSize(v any) (int64, error) {
	s, _ := v.(string)
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, internalf("Invalid size specification: %s", show(v))
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"B": 0, "K": 10, "M": 20}[m[2]]
	if err != nil || n > math.MaxInt64>>shift {
		return 0, internalf("Invalid size specification: %s", s)
	}
	return n << shift, nil
}

// show renders a parsed JSON value for an error message.
func show(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprintf("(%s)", jsType(v))
}
