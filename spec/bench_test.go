package spec_test

import (
	"os"
	"testing"
	"testing/fstest"

	"github.com/ftnpipe/ccm/spec"
)

// BenchmarkCheck measures the checks an AdvancedCCM runs per call for the
// reference's testFunc (a string, a number, a map, an integer and an
// optional string; one string result): params before sending, the result
// after decoding.
func BenchmarkCheck(b *testing.B) {
	a := testdata(b, "fileface.a:1.1")
	f, err := a.Func("testFunc")
	if err != nil {
		b.Fatal(err)
	}
	p := map[string]any{"a": "1", "n": 2.8, "o": map[string]any{"m": 3.0}, "i": 4.0, "d": "DefAult"}
	r := map[string]any{"res": "MY_RESULT"}
	b.Run("params", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := f.CheckParams(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("result", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := f.CheckResult(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("params+result", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := f.CheckParams(p); err != nil {
				b.Fatal(err)
			}
			if err := f.CheckResult(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("defaults+params+result", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p = f.ApplyDefaults(p) // "d" is set, so nothing is added
			if err := f.CheckParams(p); err != nil {
				b.Fatal(err)
			}
			if err := f.CheckResult(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoad measures loading fileface.a:1.1 with its base
// fileface.b:3.1 from an in-memory file system into a fresh Set: read,
// parse, resolve the inheritance, compile every checker.
func BenchmarkLoad(b *testing.B) {
	mem := fstest.MapFS{}
	for _, n := range []string{"fileface.a-1.1-iface.json", "fileface.b-3.1-iface.json", "types.face-1.0-iface.json"} {
		data, err := os.ReadFile("testdata/" + n)
		if err != nil {
			b.Fatal(err)
		}
		mem[n] = &fstest.MapFile{Data: data}
	}
	for _, iv := range []string{"fileface.a:1.1", "types.face:1.0"} {
		b.Run(iv, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := spec.Load(mem).Iface(iv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
