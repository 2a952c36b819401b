package spec_test

import (
	"errors"
	"testing"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// loadJSON loads ifacever from in-memory definitions.
func loadJSON(ifacever string, role spec.Role, docs ...string) (*spec.Iface, error) {
	opts := []spec.Option{spec.WithRole(role)}
	for _, d := range docs {
		opts = append(opts, spec.JSON([]byte(d)))
	}
	return spec.New(opts...).Iface(ifacever)
}

// wantErr asserts that err is a *pipeline.Error with the given name and
// description.
func wantErr(t *testing.T, err error, name pipeline.ErrorName, desc string) {
	t.Helper()
	var fe *pipeline.Error
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want %s: %s", err, name, desc)
	}
	if fe.Name != name || fe.Desc != desc {
		t.Fatalf("got %s: %q, want %s: %q", fe.Name, fe.Desc, name, desc)
	}
}

func testdata(t testing.TB, ifacever string, opts ...spec.Option) *spec.Iface {
	t.Helper()
	i, err := spec.LoadDir("testdata", opts...).Iface(ifacever)
	if err != nil {
		t.Fatal(err)
	}
	return i
}
