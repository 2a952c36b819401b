package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/matryer/is"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenCases are the generator runs whose output is checked in under
// testdata/NAME.go.golden.
var goldenCases = []struct {
	name string
	args []string
}{
	// Every definition of the directory, client and server.
	{"all", []string{"-dir", "testdata/specs", "-pkg", "golden",
		"-name", "binaryface.a:1.0=Bin,fileface.a:1.1=FileA", "-name", "fileface.b:3.1=FileB"}},
	// One interface with its base, each side alone.
	{"client", []string{"-dir", "testdata/specs", "-iface", "fileface.a:1.1", "-pkg", "golden",
		"-name", "fileface.a:1.1=FileA", "-server=false"}},
	{"server", []string{"-dir", "testdata/specs", "-iface", "fileface.a:1.1", "-pkg", "golden",
		"-name", "fileface.a:1.1=FileA", "-client=false"}},
}

func generateCase(t *testing.T, args []string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(args, &out, &errOut); err != nil {
		t.Fatalf("ftngen %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.Bytes()
}

// TestGolden compares the generated code with the checked-in files;
// go test -run TestGolden -update rewrites them.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			got := generateCase(t, tc.args)
			path := filepath.Join("testdata", tc.name+".go.golden")
			if *update {
				is.NoErr(os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			is.NoErr(err) // golden file (go test -update writes it)
			if !bytes.Equal(got, want) {
				t.Errorf("generated code differs from %s; run go test -run TestGolden -update and review the diff", path)
			}
		})
	}
}

// TestGeneratedCompiles builds and vets every golden case as a package of a
// scratch module that uses this module through a replace directive.
func TestGeneratedCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet on a scratch module")
	}
	is := is.New(t)
	root, err := filepath.Abs("../..")
	is.NoErr(err)
	dir := t.TempDir()
	mod := "module ftngentest\n\ngo " + strings.TrimPrefix(runtime.Version(), "go") +
		"\n\nrequire github.com/ftnpipe/ccm v0.0.0\n\nreplace github.com/ftnpipe/ccm => " + root + "\n"
	if v := goVersion(t, root); v != "" {
		mod = strings.Replace(mod, "go "+strings.TrimPrefix(runtime.Version(), "go"), "go "+v, 1)
	}
	is.NoErr(os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	is.NoErr(err)
	is.NoErr(os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	for _, tc := range goldenCases {
		pkg := filepath.Join(dir, tc.name)
		is.NoErr(os.Mkdir(pkg, 0o755))
		is.NoErr(os.WriteFile(filepath.Join(pkg, "gen.go"), generateCase(t, tc.args), 0o644))
	}
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go vet on the generated code: %v\n%s", err, out)
	}
}

// goVersion returns the go directive of the module at root.
func goVersion(t *testing.T, root string) string {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestExampleUpToDate reruns the //go:generate line of the example package
// and checks that it writes exactly the checked-in file.
func TestExampleUpToDate(t *testing.T) {
	is := is.New(t)
	const pkgDir = "../../examples/typedcalc/calcapi"
	doc, err := os.ReadFile(filepath.Join(pkgDir, "doc.go"))
	is.NoErr(err)
	var args []string
	for _, line := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(line, "//go:generate go run github.com/ftnpipe/ccm/cmd/ftngen "); ok {
			args = strings.Fields(rest)
		}
	}
	is.True(len(args) > 0) // the example has a go:generate line for ftngen
	out := ""
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			out = args[i+1]
		}
	}
	is.True(out != "") // the go:generate line names its output file
	want, err := os.ReadFile(filepath.Join(pkgDir, out))
	is.NoErr(err)

	tmp := filepath.Join(t.TempDir(), "out.go")
	abs, err := filepath.Abs(pkgDir)
	is.NoErr(err)
	t.Chdir(abs)
	t.Setenv("GOPACKAGE", "calcapi")
	var stderr bytes.Buffer
	is.NoErr(run(append(args, "-o", tmp), &bytes.Buffer{}, &stderr)) // rerun go:generate
	got, err := os.ReadFile(tmp)
	is.NoErr(err)
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go generate ./examples/typedcalc/...", out)
	}
}
