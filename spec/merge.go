package spec

import (
	"slices"
	"strconv"
	"strings"

	"github.com/ftnpipe/ccm/pipeline"
)

// merge adds the types and functions of sup (a base or an import) to r
// with the compatibility rules of FTN3 §1.10 and the reference's messages:
// no type defined twice; an overriding function keeps the base's params in
// order and type, adds only params with defaults, and keeps rawresult,
// rawupload and seclvl; r repeats every constraint of sup.
func (r *resolved) merge(sup *resolved) error {
	for _, t := range sup.types {
		if _, dup := r.tmap[t.name]; dup {
			return internalf(`Iface "%s" type redefinition: %s`, r.raw.name, t.name)
		}
		r.types = append(r.types, t)
		r.tmap[t.name] = t
	}
	for _, sf := range sup.funcs {
		df, ok := r.fmap[sf.name]
		if !ok {
			r.funcs = append(r.funcs, sf)
			r.fmap[sf.name] = sf
			continue
		}
		if err := compatible(df, sf); err != nil {
			return err
		}
	}
	var missing []string
	for _, c := range sup.raw.requires {
		if !slices.Contains(r.raw.requires, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return internalf("Missing constraints from inherited: %s", strings.Join(missing, ","))
	}
	return nil
}

// compatible checks that df may override sf. Param types are compared
// after normalisation: the reference compares the written form, so there
// "a": "string" does not match {"type": "string"} although both declare
// the same type; here they match.
func compatible(df, sf *rawFunc) error {
	f := df.name
	if len(df.params) < len(sf.params) {
		return internalf(`Invalid parameter count for: "%s"`, f)
	}
	for _, p := range df.params[len(sf.params):] {
		if !p.hasDefault && !hasParam(sf, p.name) {
			return internalf(`Missing default for "%s/%s"`, f, p.name)
		}
	}
	for i, sp := range sf.params {
		dp := df.params[i]
		if dp.name != sp.name {
			return internalf(`Invalid parameter order for "%s/%s"`, f, sp.name)
		}
		if !dp.types.equal(sp.types) {
			return internalf(`Parameter type mismatch "%s/%s"`, f, sp.name)
		}
	}
	switch {
	case df.rawResult != sf.rawResult:
		return internalf(`'rawresult' flag mismatch for "%s"`, f)
	case df.seclvl != sf.seclvl:
		return internalf(`'seclvl' mismatch for "%s"`, f)
	case df.rawUpload != sf.rawUpload:
		return internalf(`'rawupload' flag mismatch for "%s"`, f)
	}
	return nil
}

func hasParam(f *rawFunc, name string) bool {
	for _, p := range f.params {
		if p.name == name {
			return true
		}
	}
	return false
}

// kindOf follows aliases from a type name to its standard type; "" for a
// variant, an unknown name or a loop.
func (r *resolved) kindOf(name string) string {
	for range len(r.tmap) + 1 {
		if standardTypes[name] {
			return name
		}
		t := r.tmap[name]
		if t == nil || len(t.base) != 1 {
			return ""
		}
		name = t.base[0]
	}
	return ""
}

// known checks that every type name used is defined.
func (r *resolved) known() error {
	ifacever := r.raw.name + ":" + r.raw.version
	check := func(t typeRef) error {
		for _, n := range t {
			if !standardTypes[n] && r.tmap[n] == nil {
				return internalf("Unknown type %s in %s", n, ifacever)
			}
		}
		return nil
	}
	for _, t := range r.types {
		errs := []error{check(t.base), check(t.cons.elemtype)}
		for _, f := range t.cons.fields {
			errs = append(errs, check(f.types))
		}
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	for _, f := range r.funcs {
		for _, p := range f.params {
			if err := check(p.types); err != nil {
				return err
			}
		}
		for _, rv := range f.resultVars {
			if err := check(rv.types); err != nil {
				return err
			}
		}
		if err := check(f.resultType); err != nil {
			return err
		}
	}
	return nil
}

// compile checks names and revision, compiles every type and function and
// builds r.iface.
func (r *resolved) compile(role Role) error {
	if err := r.known(); err != nil {
		return err
	}
	if err := checkRev(r.raw, r.kindOf); err != nil {
		return err
	}
	ifacever := r.raw.name + ":" + r.raw.version
	c := &compiler{ifacever: ifacever, types: r.tmap, done: map[string]*Type{}}
	i := &Iface{
		name: r.raw.name, version: r.raw.version, ftn3rev: "1." + strconv.Itoa(r.raw.revMinor),
		desc: r.raw.desc, role: role,
		inherits: r.inherits, imports: r.imports, constraints: slices.Clone(r.raw.requires),
		fmap: map[string]*Func{}, tmap: map[string]*Type{},
	}
	if i.constraints == nil {
		i.constraints = []string{}
	}
	i.major, i.minor, _ = splitVersion(r.raw.version)
	for _, rt := range r.types {
		t, err := c.compile(rt.name)
		if err != nil {
			return err
		}
		i.types = append(i.types, t)
		i.tmap[t.Name] = t
	}
	for _, rf := range r.funcs {
		f, err := compileFunc(c, rf, ifacever, role)
		if err != nil {
			return err
		}
		i.funcs = append(i.funcs, f)
		i.fmap[f.name] = f
	}
	r.iface = i
	return nil
}

func compileFunc(c *compiler, rf *rawFunc, ifacever string, role Role) (*Func, error) {
	f := &Func{
		name: rf.name, fq: ifacever + ":" + rf.name, role: role,
		pindex:    make(map[string]int, len(rf.params)),
		rawUpload: rf.rawUpload, rawResult: rf.rawResult, heavy: rf.heavy,
		seclvl: rf.seclvl, maxReq: rf.maxReq, maxRsp: rf.maxRsp, desc: rf.desc,
	}
	for k, p := range rf.params {
		fn, err := c.ref(p.types, rf.name+"("+p.name+")")
		if err != nil {
			return nil, err
		}
		f.params = append(f.params, Param{Name: p.name, Type: p.types, HasDefault: p.hasDefault, Default: p.def, Desc: p.desc, check: fn})
		f.pindex[p.name] = k
	}
	for _, rv := range rf.resultVars {
		fn, err := c.ref(rv.types, rf.name+"("+rv.name+")")
		if err != nil {
			return nil, err
		}
		f.resultVars = append(f.resultVars, ResultVar{Name: rv.name, Type: rv.types, Desc: rv.desc, check: fn})
	}
	if rf.resultType != nil {
		fn, err := c.ref(rf.resultType, rf.name+"()")
		if err != nil {
			return nil, err
		}
		f.resultType, f.resultChk = rf.resultType, fn
	}
	for _, t := range rf.throws {
		f.throws = append(f.throws, pipeline.ErrorName(t))
	}
	return f, nil
}
