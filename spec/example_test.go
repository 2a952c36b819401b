package spec_test

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/ftnpipe/ccm/spec"
)

//go:embed testdata/*.json
var specFiles embed.FS

// Definitions embedded in the binary: the files sit in testdata/, so the
// Set reads from that sub-tree.
func Example() {
	sub, err := fs.Sub(specFiles, "testdata")
	if err != nil {
		panic(err)
	}
	iface, err := spec.Load(sub).Iface("fileface.a:1.1")
	if err != nil {
		panic(err)
	}
	f, _ := iface.Func("testFunc")
	p := f.ApplyDefaults(map[string]any{"a": "1", "n": 2.8, "o": map[string]any{}, "i": 4})
	fmt.Println("d =", p["d"])
	fmt.Println("params:", f.CheckParams(p))
	fmt.Println("bad:", f.CheckParams(map[string]any{"a": "1", "n": 2.8, "o": map[string]any{}, "i": 4.5}))
	fmt.Println("result:", f.CheckResult(map[string]any{"res": true}))
	fmt.Println("inherits:", iface.Inherits())
	// Output:
	// d = DefAult
	// params: <nil>
	// bad: InvokerError: Type mismatch for parameter: fileface.a:1.1:testFunc(i) = "4.5"
	// result: InternalError: Type mismatch for result variable: testFunc(res) = "true"
	// inherits: [fileface.b:3.1]
}
