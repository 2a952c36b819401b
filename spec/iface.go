package spec

import (
	"slices"
	"strconv"

	"github.com/ftnpipe/ccm/pipeline"
)

// Iface is one loaded interface: its own definition with everything
// inherited and imported merged in, and every type and function compiled
// into checkers. It is immutable and safe for concurrent use; obtain it
// from a [Set].
type Iface struct {
	name, version string
	major, minor  int
	ftn3rev       string
	desc          string
	role          Role
	inherits      []string
	imports       []string
	constraints   []string
	funcs         []*Func
	fmap          map[string]*Func
	types         []*Type
	tmap          map[string]*Type
}

// Info is the introspection data of an interface (FTN7 InterfaceInfo).
type Info struct {
	Name    string
	Version string
	// Inherits lists the ancestors, the direct base first ("iface:ver").
	Inherits []string
	// Imports lists the imported interfaces, flattened, one version each.
	Imports []string
	// Funcs lists the function names: the interface's own first, then
	// those inherited, then those imported.
	Funcs []string
	// Constraints is the "requires" list, in definition order.
	Constraints []string
}

// Name returns the interface name, e.g. "fileface.a".
func (i *Iface) Name() string { return i.name }

// Version returns "major.minor".
func (i *Iface) Version() string { return i.version }

// IfaceVer returns "name:major.minor".
func (i *Iface) IfaceVer() string { return i.name + ":" + i.version }

// FTN3Rev returns the revision the definition declares ("1.0" if absent).
func (i *Iface) FTN3Rev() string { return i.ftn3rev }

// Desc returns the definition's description.
func (i *Iface) Desc() string { return i.desc }

// Role returns the side the interface was loaded for.
func (i *Iface) Role() Role { return i.role }

// Inherits returns the ancestors, the direct base first. The slice is a copy.
func (i *Iface) Inherits() []string { return slices.Clone(i.inherits) }

// Imports returns the flattened imports. The slice is a copy.
func (i *Iface) Imports() []string { return slices.Clone(i.imports) }

// Constraints returns the "requires" list. The slice is a copy.
func (i *Iface) Constraints() []string { return slices.Clone(i.constraints) }

// Requires reports whether the interface declares constraint c, e.g.
// "SecureChannel".
func (i *Iface) Requires(c string) bool { return slices.Contains(i.constraints, c) }

// Funcs returns the functions: the interface's own first, then inherited,
// then imported. The slice is a copy; the *Func values are shared.
func (i *Iface) Funcs() []*Func { return slices.Clone(i.funcs) }

// Func returns the function called name. An unknown name is an
// InvokerError (Invoker role) or InvalidRequest (Executor role):
// "Unknown interface function: iface:ver:name()".
func (i *Iface) Func(name string) (*Func, error) {
	if f, ok := i.fmap[name]; ok {
		return f, nil
	}
	return nil, pipeline.NewError(i.role.requestError(), "Unknown interface function: "+i.IfaceVer()+":"+name+"()")
}

// Types returns the custom types, own first. The slice is a copy.
func (i *Iface) Types() []*Type { return slices.Clone(i.types) }

// Type returns the custom type called name, or nil.
func (i *Iface) Type(name string) *Type { return i.tmap[name] }

// Info returns the introspection data. It allocates fresh slices.
func (i *Iface) Info() Info {
	names := make([]string, len(i.funcs))
	for k, f := range i.funcs {
		names[k] = f.name
	}
	return Info{
		Name: i.name, Version: i.version,
		Inherits: i.Inherits(), Imports: i.Imports(),
		Funcs: names, Constraints: i.Constraints(),
	}
}

// Implements reports whether the interface can serve a caller that needs
// ifacever ("name:major.minor"): the same name and major and a minor at
// least as high, checked on the interface itself and on every ancestor
// (FTN7 assertIface). Imports do not count. Minors compare as numbers:
// the reference compares them as strings, so there 1.10 does not satisfy
// 1.9.
func (i *Iface) Implements(ifacever string) bool {
	name, ver, ok := ifaceVer(ifacever)
	if !ok {
		return false
	}
	maj, mnr, _ := splitVersion(ver)
	if satisfies(i.name, i.major, i.minor, name, maj, mnr) {
		return true
	}
	for _, iv := range i.inherits {
		n, v, _ := ifaceVer(iv)
		a, b, _ := splitVersion(v)
		if satisfies(n, a, b, name, maj, mnr) {
			return true
		}
	}
	return false
}

func satisfies(have string, hmaj, hmin int, want string, wmaj, wmin int) bool {
	return have == want && hmaj == wmaj && hmin >= wmin
}

func splitVersion(v string) (major, minor int, ok bool) {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(m[1])
	b, err2 := strconv.Atoi(m[2])
	return a, b, err1 == nil && err2 == nil
}
