package ccm_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageBoundaries enforces DESIGN.md §3: pipeline imports nothing of
// ours; stage, sink, source, codec, mac, spec import only pipeline (stage may use
// codec and mac);
// nothing below the root imports the executor, so the executor can hold a
// CCM without an import cycle.
func TestPackageBoundaries(t *testing.T) {
	const mod = "github.com/ftnpipe/ccm"
	allowed := map[string][]string{
		"pipeline": {},
		"codec":    {"pipeline"},
		"stage":    {"pipeline", "codec", "mac"},
		"mac":      {"pipeline"},
		"sink":     {"pipeline", "internal/sockio"},
		"spec":     {"pipeline"},
		"source":   {"pipeline"},
	}
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-deps", "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			rest, ours := strings.CutPrefix(dep, mod+"/")
			if !ours || rest == pkg {
				continue
			}
			allowedDep := false
			for _, a := range ok {
				allowedDep = allowedDep || rest == a
			}
			if !allowedDep {
				t.Errorf("%s imports %s, which DESIGN.md §3 does not allow", pkg, dep)
			}
		}
	}
}
