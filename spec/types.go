package spec

import (
	"encoding/json"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// checkFn reports whether v matches a compiled type. fill asks the checker
// to add missing optional map fields as null (FTN3 §1.2.2: the receiver of
// a message does that); it writes only into map[string]any values.
type checkFn func(v any, fill bool) bool

// Type is a compiled custom type of an interface. The exported fields
// describe it for tools such as code generators; they show the effective
// constraints, the type's own merged over those of the types it is based
// on. A Type is immutable and safe for concurrent use.
type Type struct {
	Name string
	Desc string
	// Base is the type it is defined on: one name, or the names of a variant.
	Base []string
	// Kind is the standard type reached through the chain of aliases, or
	// "" for a variant.
	Kind     string
	Min, Max *float64 // integer and number bounds, inclusive
	// MinLen and MaxLen bound a string (in runes), an array (in elements)
	// or data (in bytes), inclusive.
	MinLen, MaxLen *int
	Regex          string   // a string must contain a match (RE2 syntax)
	ElemType       []string // type of every array element or map value
	Fields         []Field  // map fields
	Items          []any    // enum and set items: string or float64 (integral)

	check checkFn
}

// Field is one field of a map type.
type Field struct {
	Name     string
	Type     []string // one name, or the names of a variant
	Optional bool
	Desc     string
}

// Check reports whether v is a value of t. It does not modify v.
// Values are what the codecs decode into (map[string]any, []any, string,
// bool, nil, float64, any Go integer or float kind, json.Number, []byte);
// other Go slices, maps with string keys and named scalar kinds are
// accepted through reflection. Cost: no allocation for decoded values.
func (t *Type) Check(v any) bool { return t.check(v, false) }

// compiler turns the merged type table of one interface into checkers.
// Each named type is compiled once; references from fields and elemtype
// go through the compiled *Type, so recursive structures (a tree whose
// children are trees) work, while a chain of aliases that loops is an
// error.
type compiler struct {
	ifacever string
	types    map[string]*rawType
	done     map[string]*Type
	steps    int // inner calls so far, see maxSteps
}

// maxSteps bounds the work of compiling one interface. Variants of
// variants expand into a tree (each member is compiled under the
// constraints carried from above), so a few dozen crafted types could
// otherwise take exponential time and memory to load.
const maxSteps = 100000

func (c *compiler) unknown(name string) error {
	return internalf("Unknown type %s in %s", name, c.ifacever)
}

// ref compiles a type reference (a name or a variant).
func (c *compiler) ref(t typeRef, where string) (checkFn, error) {
	fns := make([]checkFn, len(t))
	for i, n := range t {
		fn, err := c.named(n, where)
		if err != nil {
			return nil, err
		}
		fns[i] = fn
	}
	if len(fns) == 1 {
		return fns[0], nil
	}
	return func(v any, fill bool) bool {
		for _, fn := range fns {
			if fn(v, fill) {
				return true
			}
		}
		return false
	}, nil
}

func (c *compiler) named(name, where string) (checkFn, error) {
	if standardTypes[name] {
		if name == "enum" || name == "set" {
			// The reference loads a bare enum/set and then fails every
			// value; the spec needs items, so we refuse it at load.
			return nil, internalf(`"enum" and "set" require items (use a custom type): %s`, where)
		}
		fn, err := c.build(name, cons{}, name)
		return fn, err
	}
	t, err := c.compile(name)
	if err != nil {
		return nil, err
	}
	if t.check != nil {
		return t.check, nil
	}
	// Still being compiled: a recursive reference through fields or
	// elemtype. Bind late.
	return func(v any, fill bool) bool { return t.check(v, fill) }, nil
}

func (c *compiler) compile(name string) (*Type, error) {
	if t, ok := c.done[name]; ok {
		return t, nil
	}
	rt := c.types[name]
	if rt == nil {
		return nil, c.unknown(name)
	}
	t := &Type{Name: name, Desc: rt.desc, Base: rt.base}
	c.done[name] = t
	fn, kind, eff, err := c.inner(name, cons{}, name, map[string]bool{})
	if err != nil {
		delete(c.done, name)
		return nil, err
	}
	t.Kind, t.Min, t.Max, t.MinLen, t.MaxLen = kind, eff.min, eff.max, eff.minlen, eff.maxlen
	if eff.regex != nil {
		t.Regex = *eff.regex
	}
	t.ElemType, t.Items = eff.elemtype, eff.items
	for _, f := range eff.fields {
		t.Fields = append(t.Fields, Field{Name: f.name, Type: f.types, Optional: f.optional, Desc: f.desc})
	}
	t.check = fn
	return t, nil
}

// inner follows a chain of custom types down to a standard type, merging
// constraints on the way (the outer type's keys win), and builds the
// checker there. path names the chain for messages ("T:Base:string"), as
// the reference does.
func (c *compiler) inner(name string, carried cons, path string, stack map[string]bool) (checkFn, string, cons, error) {
	if c.steps++; c.steps > maxSteps {
		return nil, "", carried, internalf("Custom types too complex to compile: %s", path)
	}
	if standardTypes[name] {
		if (name == "enum" || name == "set") && carried.items == nil {
			return nil, "", carried, internalf(`"enum" and "set" require items: %s`, path)
		}
		fn, err := c.build(name, carried, path)
		return fn, name, carried, err
	}
	rt := c.types[name]
	if rt == nil {
		return nil, "", carried, c.unknown(name)
	}
	if stack[name] {
		return nil, "", carried, internalf("Custom type recursion: %s", path)
	}
	stack[name] = true
	merged := carried.over(rt.cons)
	if len(rt.base) == 1 {
		return c.inner(rt.base[0], merged, path+":"+rt.base[0], stack)
	}
	fns := make([]checkFn, len(rt.base))
	for i, m := range rt.base {
		st := make(map[string]bool, len(stack))
		for k := range stack {
			st[k] = true
		}
		fn, _, _, err := c.inner(m, merged, path+":"+m, st)
		if err != nil {
			return nil, "", merged, err
		}
		fns[i] = fn
	}
	return func(v any, fill bool) bool {
		for _, fn := range fns {
			if fn(v, fill) {
				return true
			}
		}
		return false
	}, "", merged, nil
}

type field struct {
	name     string
	optional bool
	check    checkFn
}

func bound(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

func lenBound(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// build makes the checker of a standard type under constraints k.
func (c *compiler) build(kind string, k cons, path string) (checkFn, error) {
	lo, hi := bound(k.min, math.Inf(-1)), bound(k.max, math.Inf(1))
	minl, maxl := lenBound(k.minlen, 0), lenBound(k.maxlen, math.MaxInt)
	var elem checkFn
	if k.elemtype != nil && (kind == "array" || kind == "map") {
		var err error
		if elem, err = c.ref(k.elemtype, path); err != nil {
			return nil, err
		}
	}
	switch kind {
	case "any":
		return func(any, bool) bool { return true }, nil
	case "boolean":
		return func(v any, _ bool) bool {
			if _, ok := v.(bool); ok {
				return true
			}
			return reflectKind(v) == reflect.Bool
		}, nil
	case "integer":
		return func(v any, _ bool) bool {
			f, ok := toFloat(v)
			return ok && f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 && f >= lo && f <= hi
		}, nil
	case "number":
		return func(v any, _ bool) bool {
			f, ok := toFloat(v)
			return ok && !math.IsInf(f, 0) && !math.IsNaN(f) && f >= lo && f <= hi
		}, nil
	case "string":
		var re *regexp.Regexp
		if k.regex != nil {
			var err error
			if re, err = regexp.Compile(*k.regex); err != nil {
				return nil, internalf("%s: %v", path, err)
			}
		}
		counted := k.minlen != nil || k.maxlen != nil
		return func(v any, _ bool) bool {
			s, ok := toString(v)
			if !ok {
				return false
			}
			if counted {
				n := utf8.RuneCountInString(s)
				if n < minl || n > maxl {
					return false
				}
			}
			return re == nil || re.MatchString(s)
		}, nil
	case "data":
		return func(v any, _ bool) bool {
			b, ok := v.([]byte)
			return ok && len(b) >= minl && len(b) <= maxl
		}, nil
	case "array":
		return func(v any, fill bool) bool {
			a, ok := v.([]any)
			if !ok {
				return reflectArray(v, minl, maxl, elem, fill)
			}
			if len(a) < minl || len(a) > maxl {
				return false
			}
			if elem != nil {
				for _, e := range a {
					if !elem(e, fill) {
						return false
					}
				}
			}
			return true
		}, nil
	case "map":
		fields := make([]field, 0, len(k.fields))
		for _, f := range k.fields {
			fn, err := c.ref(f.types, path+"["+f.name+"]")
			if err != nil {
				return nil, err
			}
			fields = append(fields, field{f.name, f.optional, fn})
		}
		return func(v any, fill bool) bool {
			m, ok := v.(map[string]any)
			if !ok {
				return reflectMap(v, fields, elem, fill)
			}
			for i := range fields {
				f := &fields[i]
				e, present := m[f.name]
				if !present || e == nil {
					if f.optional {
						if fill && !present && m != nil {
							m[f.name] = nil
						}
						continue
					}
					if !present {
						return false
					}
				}
				if !f.check(e, fill) {
					return false
				}
			}
			if elem != nil {
				for _, e := range m {
					if !elem(e, fill) {
						return false
					}
				}
			}
			return true
		}, nil
	case "enum", "set":
		is := newItemSet(k.items)
		if kind == "enum" {
			return func(v any, _ bool) bool { return is.has(v) }, nil
		}
		return func(v any, _ bool) bool { return is.hasAll(v) }, nil
	}
	return nil, c.unknown(kind)
}

// itemSet holds enum/set items. Strings match strings and integers match
// integers: the reference compares items as object keys, so 10 and "10"
// are the same item there; the spec says "integers or strings" and we keep
// them apart.
type itemSet struct {
	strs map[string]struct{}
	ints map[int64]struct{}
	n    int
}

func newItemSet(items []any) *itemSet {
	is := &itemSet{strs: map[string]struct{}{}, ints: map[int64]struct{}{}, n: len(items)}
	for _, it := range items {
		switch x := it.(type) {
		case string:
			is.strs[x] = struct{}{}
		case float64:
			is.ints[int64(x)] = struct{}{}
		}
	}
	return is
}

func (is *itemSet) has(v any) bool {
	if s, ok := v.(string); ok {
		_, ok = is.strs[s]
		return ok
	}
	if _, isNum := v.(json.Number); !isNum {
		if s, ok := toString(v); ok {
			_, ok = is.strs[s]
			return ok
		}
	}
	f, ok := toFloat(v)
	if !ok || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return false
	}
	_, ok = is.ints[int64(f)]
	return ok
}

// hasAll checks a set value: an array of distinct items. An array longer
// than the item list cannot be distinct, which also bounds the quadratic
// distinctness check by the (at most 1000) items.
func (is *itemSet) hasAll(v any) bool {
	a, ok := v.([]any)
	if !ok {
		a, ok = reflectSlice(v)
		if !ok {
			return false
		}
	}
	if len(a) > is.n {
		return false
	}
	for i, e := range a {
		if !is.has(e) {
			return false
		}
		for _, p := range a[:i] {
			if sameItem(p, e) {
				return false
			}
		}
	}
	return true
}

func sameItem(a, b any) bool {
	as, aStr := toString(a)
	bs, bStr := toString(b)
	if aStr || bStr {
		return aStr && bStr && as == bs
	}
	af, _ := toFloat(a)
	bf, _ := toFloat(b)
	return af == bf
}

// toFloat reads any Go number kind. json.Number is parsed; its text is a
// valid JSON number when it came from a decoder.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint32:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case nil, string, bool, map[string]any, []any, []byte:
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

// toString reads a string, or a value of a named string kind. json.Number
// is a number, never a string.
func toString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case nil, json.Number, float64, bool, map[string]any, []any, []byte:
		return "", false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}

func reflectKind(v any) reflect.Kind {
	if v == nil {
		return reflect.Invalid
	}
	return reflect.ValueOf(v).Kind()
}

// reflectSlice copies a Go slice or array other than []byte into []any.
// A nil slice is null, as encoding/json writes it.
func reflectSlice(v any) ([]any, bool) {
	if v == nil {
		return nil, false
	}
	if _, isData := v.([]byte); isData {
		return nil, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		if rv.IsNil() {
			return nil, false
		}
	case reflect.Array:
	default:
		return nil, false
	}
	a := make([]any, rv.Len())
	for i := range a {
		a[i] = rv.Index(i).Interface()
	}
	return a, true
}

func reflectArray(v any, minl, maxl int, elem checkFn, fill bool) bool {
	a, ok := reflectSlice(v)
	if !ok || len(a) < minl || len(a) > maxl {
		return false
	}
	for _, e := range a {
		if elem != nil && !elem(e, fill) {
			return false
		}
	}
	return true
}

// reflectMap checks a Go map with string keys other than map[string]any.
// Such a map is the caller's own value, so missing optional fields are not
// added to it.
func reflectMap(v any, fields []field, elem checkFn, fill bool) bool {
	if v == nil {
		return false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String || rv.IsNil() {
		return false
	}
	kt := rv.Type().Key()
	for i := range fields {
		f := &fields[i]
		ev := rv.MapIndex(reflect.ValueOf(f.name).Convert(kt))
		var e any
		if ev.IsValid() {
			e = ev.Interface()
		}
		if !ev.IsValid() || e == nil {
			if f.optional {
				continue
			}
			if !ev.IsValid() {
				return false
			}
		}
		if !f.check(e, fill) {
			return false
		}
	}
	if elem != nil {
		it := rv.MapRange()
		for it.Next() {
			if !elem(it.Value().Interface(), fill) {
				return false
			}
		}
	}
	return true
}
