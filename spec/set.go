package spec

import (
	"errors"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ftnpipe/ccm/pipeline"
)

// Role is the side an interface is loaded for. It decides which ftn3rev
// minors load, which error name a bad request gets, and which side fills
// in missing optional map fields and drops unknown result variables.
type Role int

const (
	// Invoker checks outgoing requests (InvokerError) and incoming
	// results. It loads definitions of any FTN3 1.x revision.
	Invoker Role = iota
	// Executor checks incoming requests (InvalidRequest) and outgoing
	// results. It refuses definitions newer than FTN3 1.[MaxFTN3Minor].
	Executor
)

// String returns "Invoker" or "Executor".
func (r Role) String() string {
	if r == Executor {
		return "Executor"
	}
	return "Invoker"
}

func (r Role) requestError() pipeline.ErrorName {
	if r == Executor {
		return pipeline.InvalidRequest
	}
	return pipeline.InvokerError
}

// An Option configures a [Set].
type Option interface{ apply(*Set) }

type optionFunc func(*Set)

func (f optionFunc) apply(s *Set) { f(s) }

// FS adds a source: definition files named "{iface}-{major.minor}-iface.json"
// at the root of fsys (an embed.FS, os.DirFS, fstest.MapFS...). Sources
// are searched in the order given.
func FS(fsys fs.FS) Option {
	return optionFunc(func(s *Set) { s.srcs = append(s.srcs, source{fsys: fsys}) })
}

// Dir adds a directory of definition files as a source.
func Dir(path string) Option { return FS(os.DirFS(path)) }

// JSON adds one definition given as JSON text, matched by its "iface" and
// "version" fields (the reference's spec objects).
func JSON(doc []byte) Option {
	return optionFunc(func(s *Set) { s.srcs = append(s.srcs, source{doc: doc}) })
}

// WithRole sets the side the interfaces are loaded for; the default is
// [Invoker].
func WithRole(r Role) Option { return optionFunc(func(s *Set) { s.role = r }) }

type source struct {
	fsys fs.FS
	doc  []byte
}

// Set loads interface definitions from its sources on demand and keeps
// each loaded interface, so each definition is read, resolved and
// compiled once. A Set is safe for concurrent use; its zero value has no
// sources and finds nothing. Loading holds the Set's lock, so concurrent
// first loads wait for each other; loaded interfaces are served from a
// map under the same lock. A failed load is not remembered.
type Set struct {
	role Role
	srcs []source

	mu     sync.Mutex
	docs   map[int]*object // parsed JSON sources
	raws   map[string]*rawIface
	res    map[string]*resolved // key: ifacever, plus "|import" for import use
	ifaces map[string]*Iface
}

// New returns a Set with the given sources and role.
func New(opts ...Option) *Set {
	s := &Set{}
	for _, o := range opts {
		o.apply(s)
	}
	return s
}

// Load returns a Set that reads definition files from fsys.
func Load(fsys fs.FS, opts ...Option) *Set {
	return New(append([]Option{FS(fsys)}, opts...)...)
}

// LoadDir returns a Set that reads definition files from the directory dir.
func LoadDir(dir string, opts ...Option) *Set {
	return New(append([]Option{Dir(dir)}, opts...)...)
}

// Role returns the side the Set loads for.
func (s *Set) Role() Role { return s.role }

// Iface returns the interface "name:major.minor", loading it (with its
// bases and imports) on first use. Errors: InvokerError for a malformed
// ifacever; InternalError "Failed to load valid spec for name:ver" when
// no source has it; otherwise the precise error of the bad definition.
func (s *Set) Iface(ifacever string) (*Iface, error) {
	if _, _, ok := ifaceVer(ifacever); !ok {
		return nil, pipeline.NewError(pipeline.InvokerError, "Invalid ifacever: "+ifacever)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.ifaces[ifacever]; ok {
		return i, nil
	}
	r, err := s.resolve(ifacever, false, nil)
	if err != nil {
		return nil, err
	}
	return r.iface, nil
}

// Lookup is Iface(name + ":" + version).
func (s *Set) Lookup(name, version string) (*Iface, error) {
	return s.Iface(name + ":" + version)
}

var fileRE = regexp.MustCompile(`^(.+)-([0-9]+\.[0-9]+)-iface\.json$`)

// All loads every definition its sources hold (files matching
// "*-{major.minor}-iface.json" at the root of each file system, and every
// JSON source) and returns them sorted by ifacever. It stops at the first
// bad definition. Tools such as code generators use it.
func (s *Set) All() ([]*Iface, error) {
	seen := map[string]bool{}
	var list []string
	for i, src := range s.srcs {
		if src.fsys != nil {
			names, err := fs.Glob(src.fsys, "*-iface.json")
			if err != nil {
				return nil, pipeline.Errorf(pipeline.InternalError, "listing specs: %w", err)
			}
			for _, n := range names {
				if m := fileRE.FindStringSubmatch(n); m != nil && !seen[m[1]+":"+m[2]] {
					seen[m[1]+":"+m[2]] = true
					list = append(list, m[1]+":"+m[2])
				}
			}
			continue
		}
		s.mu.Lock()
		doc, err := s.doc(i)
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		n, _ := doc.vals["iface"].(string)
		v, _ := doc.vals["version"].(string)
		if iv := n + ":" + v; !seen[iv] {
			seen[iv] = true
			list = append(list, iv)
		}
	}
	sort.Strings(list)
	out := make([]*Iface, 0, len(list))
	for _, iv := range list {
		i, err := s.Iface(iv)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, nil
}

// doc parses JSON source i once. Called with s.mu held.
func (s *Set) doc(i int) (*object, error) {
	if d, ok := s.docs[i]; ok {
		return d, nil
	}
	v, err := parseJSON(s.srcs[i].doc)
	if err != nil {
		return nil, pipeline.Errorf(pipeline.InternalError, "Invalid JSON spec (source %d): %w", i+1, err)
	}
	o, ok := v.(*object)
	if !ok {
		return nil, internalf("Invalid JSON spec (source %d): not an object", i+1)
	}
	if s.docs == nil {
		s.docs = map[int]*object{}
	}
	s.docs[i] = o
	return o, nil
}

// raw finds and parses the definition of name:ver. The first source that
// has a file of that name with matching "iface" and "version" wins; a file
// whose fields do not match is skipped, as in the reference. A file that
// is not valid JSON stops the search with an error rather than silently
// falling through to another source. Called with s.mu held.
func (s *Set) raw(name, ver string) (*rawIface, error) {
	key := name + ":" + ver
	if r, ok := s.raws[key]; ok {
		return r, nil
	}
	file := name + "-" + ver + "-iface.json"
	for i, src := range s.srcs {
		var doc *object
		if src.fsys != nil {
			b, err := fs.ReadFile(src.fsys, file)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, pipeline.Errorf(pipeline.InternalError, "Failed to read spec %s: %w", file, err)
			}
			v, err := parseJSON(b)
			if err != nil {
				return nil, pipeline.Errorf(pipeline.InternalError, "Invalid JSON in spec %s: %w", file, err)
			}
			if doc, _ = v.(*object); doc == nil {
				return nil, internalf("Invalid spec %s: not an object", file)
			}
		} else {
			var err error
			if doc, err = s.doc(i); err != nil {
				return nil, err
			}
		}
		if n, _ := doc.vals["iface"].(string); n != name {
			continue
		}
		if v, _ := doc.vals["version"].(string); v != ver {
			continue
		}
		r, err := parseRaw(doc, s.role)
		if err != nil {
			return nil, err
		}
		if s.raws == nil {
			s.raws = map[string]*rawIface{}
		}
		s.raws[key] = r
		return r, nil
	}
	return nil, internalf("Failed to load valid spec for %s", key)
}

// resolved is one interface with its bases and imports merged, before
// (import use) or after (full use) its checkers are compiled.
type resolved struct {
	raw      *rawIface
	types    []*rawType
	tmap     map[string]*rawType
	funcs    []*rawFunc
	fmap     map[string]*rawFunc
	inherits []string
	imports  []string
	iface    *Iface // full use only
}

// resolve merges an interface with its base and imports. Import use (the
// interface is imported by another) merges its base but not its own
// imports, which the importer flattens, and does not compile. stack holds
// the chain being resolved, to refuse loops. Called with s.mu held.
func (s *Set) resolve(ifacever string, importUse bool, stack []string) (*resolved, error) {
	key := ifacever
	if importUse {
		key += "|import"
	}
	if r, ok := s.res[key]; ok {
		return r, nil
	}
	if slices.Contains(stack, ifacever) {
		return nil, internalf("Interface inheritance or import loop: %s", strings.Join(append(stack, ifacever), " -> "))
	}
	stack = append(stack, ifacever)
	name, ver, _ := ifaceVer(ifacever)
	raw, err := s.raw(name, ver)
	if err != nil {
		return nil, err
	}
	r := &resolved{raw: raw, tmap: map[string]*rawType{}, fmap: map[string]*rawFunc{}, inherits: []string{}, imports: []string{}}
	for _, t := range raw.types {
		r.types = append(r.types, t)
		r.tmap[t.name] = t
	}
	for _, f := range raw.funcs {
		r.funcs = append(r.funcs, f)
		r.fmap[f.name] = f
	}
	if raw.inherit != "" {
		base, err := s.resolve(raw.inherit, false, stack)
		if err != nil {
			return nil, err
		}
		if err := r.merge(base); err != nil {
			return nil, err
		}
		r.inherits = append(append(r.inherits, raw.inherit), base.inherits...)
	}
	if raw.hasImports {
		if err := s.resolveImports(r, importUse, stack); err != nil {
			return nil, err
		}
	}
	if !importUse {
		if err := r.compile(s.role); err != nil {
			return nil, err
		}
		if s.ifaces == nil {
			s.ifaces = map[string]*Iface{}
		}
		s.ifaces[ifacever] = r.iface
	} else if err := checkRev(raw, r.kindOf); err != nil {
		return nil, err
	}
	if s.res == nil {
		s.res = map[string]*resolved{}
	}
	s.res[key] = r
	return r, nil
}

// resolveImports flattens the imports (imports of imports count as listed
// directly), keeps one version per interface (the highest minor; two
// majors are an InvokerError), and merges each one unless r is itself
// being imported. The order of the resulting list follows the reference:
// the flattened list walked from its end.
func (s *Set) resolveImports(r *resolved, importUse bool, stack []string) error {
	all := append([]string(nil), r.raw.imports...)
	for _, iv := range r.raw.imports {
		imp, err := s.resolve(iv, true, stack)
		if err != nil {
			return err
		}
		all = append(all, imp.imports...)
	}
	var order []string
	chosen := map[string]string{}
	for i := len(all) - 1; i >= 0; i-- {
		name, ver, _ := ifaceVer(all[i])
		cur, ok := chosen[name]
		if !ok {
			chosen[name] = ver
			order = append(order, name)
			continue
		}
		cmaj, cmin, _ := splitVersion(cur)
		nmaj, nmin, _ := splitVersion(ver)
		if cmaj != nmaj {
			return pipeline.NewError(pipeline.InvokerError, "Incompatible iface versions: "+name+" "+ver+"/"+cur)
		}
		if nmin > cmin {
			chosen[name] = ver
		}
	}
	for _, name := range order {
		iv := name + ":" + chosen[name]
		r.imports = append(r.imports, iv)
		if importUse {
			continue
		}
		imp, err := s.resolve(iv, true, stack)
		if err != nil {
			return err
		}
		if err := r.merge(imp); err != nil {
			return err
		}
	}
	return nil
}
