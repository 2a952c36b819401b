//go:build !race

package ccm_test

import (
	"context"
	"testing"

	ccm "github.com/ftnpipe/ccm"
)

// TestStepsAllocs holds the engine to its budget: a trivial step costs
// two allocations (the queued step and its frame), a loop iteration one
// (its frame), plus a fixed cost per program. Measured without the race
// detector, which changes allocation counts.
func TestStepsAllocs(t *testing.T) {
	const n = 100
	trivial := func(*ccm.AsyncSteps, ...any) {}
	chain := testing.AllocsPerRun(50, func() {
		as := ccm.NewSteps()
		for range n {
			as.Add(trivial, nil)
		}
		if _, err := as.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	loop := testing.AllocsPerRun(50, func() {
		if _, err := ccm.NewSteps().Repeat(n, func(*ccm.AsyncSteps, int) {}).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("chain of %d: %.0f allocs, loop of %d: %.0f allocs", n, chain, n, loop)
	if chain > 2*n+30 {
		t.Errorf("a chain of %d trivial steps allocates %.0f times, budget %d", n, chain, 2*n+30)
	}
	if loop > n+30 {
		t.Errorf("a loop of %d iterations allocates %.0f times, budget %d", n, loop, n+30)
	}
}
