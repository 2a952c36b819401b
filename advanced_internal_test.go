package ccm

import (
	"context"
	"testing"

	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// BenchmarkAdvancedCheck is what the AdvancedCCM adds to a call of the
// reference's testFunc: the validate transform (function lookup, params
// check, no default to add) and the check of the decoded result.
func BenchmarkAdvancedCheck(b *testing.B) {
	si, err := spec.LoadDir("testdata/advspecs").Iface("test.adv:1.1")
	if err != nil {
		b.Fatal(err)
	}
	v := newValidator(si)
	p := map[string]any{"a": "1", "n": 2.8, "o": map[string]any{"m": 3.0}, "i": 4.0, "d": "x"}
	c := pipeline.NewCall(context.Background(), "test.adv:1.1:testFunc", p)
	r := map[string]any{"res": "MY_RESULT"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := v.validate(c); err != nil {
			b.Fatal(err)
		}
		if _, err := pipeline.CheckAnswer(c, "", "", r, 100); err != nil {
			b.Fatal(err)
		}
	}
}

// The check itself allocates nothing for a valid call.
func TestAdvancedCheckAllocs(t *testing.T) {
	si, err := spec.LoadDir("testdata/advspecs").Iface("test.adv:1.1")
	if err != nil {
		t.Fatal(err)
	}
	v := newValidator(si)
	p := map[string]any{"a": "1", "n": 2.8, "o": map[string]any{"m": 3.0}, "i": 4.0, "d": "x"}
	c := pipeline.NewCall(context.Background(), "test.adv:1.1:testFunc", p)
	r := map[string]any{"res": "MY_RESULT"}
	n := testing.AllocsPerRun(100, func() {
		if v.validate(c) != nil {
			t.Fatal("validate failed")
		}
		if _, err := pipeline.CheckAnswer(c, "", "", r, 100); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per check, want 0", n)
	}
}
