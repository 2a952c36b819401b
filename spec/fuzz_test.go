package spec_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// FuzzLoad feeds arbitrary definitions to the loader. Invariants: no
// panic; a failure is a *pipeline.Error named InternalError or
// InvokerError; a loaded interface checks arbitrary params and results
// without panicking.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, n := range files {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"iface":"fuzz.face","version":"1.0","ftn3rev":"1.9","types":{"A":["B","A"],"B":{"type":"A","min":1}}}`))
	f.Add([]byte(`{"iface":"fuzz.face","version":"1.0","inherit":"fuzz.face:1.0"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		set := spec.New(spec.JSON(doc), spec.Dir("testdata"))
		all, err := set.All()
		if err != nil {
			var fe *pipeline.Error
			if !errors.As(err, &fe) || (fe.Name != pipeline.InternalError && fe.Name != pipeline.InvokerError) {
				t.Fatalf("unnamed or unexpected error: %v", err)
			}
			return
		}
		values := []any{nil, "x", 1.0, -1.5, true, []any{"x", 1.0}, map[string]any{"a": "x", "b": 2.0}, []byte("d")}
		for _, i := range all {
			for _, fn := range i.Funcs() {
				p := map[string]any{}
				for k, prm := range fn.Params() {
					p[prm.Name] = values[k%len(values)]
				}
				_ = fn.CheckParams(fn.ApplyDefaults(p))
				for _, v := range values {
					_ = fn.CheckResult(v)
				}
			}
			for _, ty := range i.Types() {
				for _, v := range values {
					ty.Check(v)
				}
			}
		}
	})
}
