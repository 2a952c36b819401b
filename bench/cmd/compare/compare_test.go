//go:build !noftnpipe

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smokeConfig is a run of the given cases short enough for a test: a few
// hundred calls per case and concurrency.
func smokeConfig(t *testing.T, names string) config {
	t.Helper()
	cases, err := parseCases(names)
	if err != nil {
		t.Fatal(err)
	}
	return config{
		duration:   50 * time.Millisecond,
		warmup:     20 * time.Millisecond,
		runs:       1,
		cases:      cases,
		concs:      []int{1, 4},
		out:        filepath.Join(t.TempDir(), "out.json"),
		interopDir: findInterop(),
	}
}

// rowLine finds the table row of case name at concurrency conc.
func rowLine(out, name string, conc int) (string, bool) {
	for l := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && f[0] == name && f[1] == strconv.Itoa(conc) {
			return l, true
		}
	}
	return "", false
}

// Every Go case (the new ones included) makes calls through the whole
// tool: server child process, measurement, table, JSON.
func TestRunGoCases(t *testing.T) {
	names := "ftnpipe-ws,ftnpipe-ws-mpck,ftnpipe-ws-cbor,ftnpipe-tcp,ftnpipe-unix,ftnpipe-local,connect-go,connect-go-h2c,grpc-go"
	cfg := smokeConfig(t, names)
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for name := range strings.SplitSeq(names, ",") {
		for _, conc := range cfg.concs {
			if _, ok := rowLine(out.String(), name, conc); !ok {
				t.Errorf("no row for %s c=%d in\n%s", name, conc, out.String())
			}
		}
	}
	if !strings.Contains(out.String(), "in-process cases (no server process") || !strings.Contains(out.String(), "ftnpipe-local") {
		t.Errorf("the output does not say that ftnpipe-local has no server process:\n%s", out.String())
	}
	// ftnpipe-local has no server process: its server columns are "-".
	if l, _ := rowLine(out.String(), "ftnpipe-local", 1); !strings.Contains(l, "+-") {
		t.Errorf("ftnpipe-local row has server figures: %q", l)
	}
	b, err := os.ReadFile(cfg.out)
	if err != nil {
		t.Fatal(err)
	}
	var res jsonResults
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Cases), 9*len(cfg.concs); got != want {
		t.Errorf("JSON has %d entries, want %d", got, want)
	}
	for _, c := range res.Cases {
		if c.CallsPerS <= 0 || c.AllocsPerOp == nil {
			t.Errorf("JSON entry %+v: want calls and allocs", c)
		}
	}
}

// The node cases make calls when node and interop/node_modules are there
// (after `make interop-deps`), and are skipped otherwise.
func TestRunJSRefCases(t *testing.T) {
	names := "jsref-executor,jsref-invoker,jsref-both"
	cfg := smokeConfig(t, names)
	if err := nodeAvailable(caseEnv{interopDir: cfg.interopDir}); err != nil {
		t.Skipf("node cases cannot run here: %v", err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for name := range strings.SplitSeq(names, ",") {
		for _, conc := range cfg.concs {
			l, ok := rowLine(out.String(), name, conc)
			if !ok {
				t.Errorf("no row for %s c=%d in\n%s", name, conc, out.String())
			}
			// The node client's allocations are not measured.
			if strings.HasPrefix(name, "jsref-executor") == strings.Contains(l, " - ") {
				t.Errorf("%s c=%d: allocs column wrong in %q", name, conc, l)
			}
		}
	}
}

// A node case that cannot run is skipped with the reason, and the rest of
// the run goes on.
func TestRunSkipsNodeCasesWithoutNodeModules(t *testing.T) {
	cfg := smokeConfig(t, "jsref-invoker,ftnpipe-local")
	cfg.concs = []int{1}
	cfg.interopDir = t.TempDir() // no node_modules
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	// "interop/node_modules is missing", or "node is not on PATH".
	if !strings.Contains(out.String(), "skipped jsref-invoker: ") {
		t.Errorf("no skip message in\n%s", out.String())
	}
	if _, ok := rowLine(out.String(), "jsref-invoker", 1); ok {
		t.Errorf("skipped case has a row:\n%s", out.String())
	}
	if _, ok := rowLine(out.String(), "ftnpipe-local", 1); !ok {
		t.Errorf("the other case did not run:\n%s", out.String())
	}

	// Nothing that can run: an error, not an empty table.
	cfg = smokeConfig(t, "jsref-both")
	cfg.interopDir = ""
	if err := run(context.Background(), cfg, &out); err == nil || !strings.Contains(err.Error(), "no case can run here: skipped jsref-both") {
		t.Errorf("run with only a skipped case: %v, want the reason", err)
	}
}

func TestParseCasesUnknown(t *testing.T) {
	if _, err := parseCases("ftnpipe-ws,nope"); err == nil || !strings.Contains(err.Error(), `unknown case "nope"`) {
		t.Errorf("parseCases: %v", err)
	}
	// The default list holds the new cases but not the diagnostic one.
	cases, err := parseCases("")
	if err != nil {
		t.Fatal(err)
	}
	have := make(map[string]bool)
	for _, c := range cases {
		have[c.name] = true
	}
	for _, n := range []string{"ftnpipe-tcp", "ftnpipe-unix", "ftnpipe-local", "ftnpipe-ws-mpck", "ftnpipe-ws-cbor", "connect-go", "connect-go-h2c", "jsref-executor", "jsref-invoker", "jsref-both"} {
		if !have[n] {
			t.Errorf("default cases lack %s", n)
		}
	}
	if have["ws-raw-ftnexec"] {
		t.Error("default cases hold the diagnostic ws-raw-ftnexec")
	}
}

// A case whose calls fail is reported as failed, with the error, and
// makes the run fail: for a Go client and for the node client.
func TestRunReportsFailingCases(t *testing.T) {
	cfg := smokeConfig(t, "ftnpipe-local")
	cfg.concs = []int{1}
	cfg.cases = []benchCase{
		{name: "bad-ftn", server: ftnPartKey, dial: dialFtn(ftnURL("ws"), "bench.nope:1.0")},
		{name: "bad-jsref", server: ftnPartKey, available: nodeAvailable,
			drive: driveRefClient("bad-jsref", "bench.nope:1.0", ftnURL("ws"))},
	}
	want := 2
	if nodeAvailable(caseEnv{interopDir: cfg.interopDir}) != nil {
		want = 1
	}
	var out bytes.Buffer
	err := run(context.Background(), cfg, &out)
	if err == nil || err.Error() != strconv.Itoa(want)+" measurement(s) failed" {
		t.Fatalf("run: %v, want %d measurement(s) failed\n%s", err, want, out.String())
	}
	if !strings.Contains(out.String(), "bad-ftn c=1: no successful run (warm-up: ") || !strings.Contains(out.String(), "UnknownInterface") {
		t.Errorf("the failure and its FutoIn error are not reported:\n%s", out.String())
	}
	if want == 2 && !strings.Contains(out.String(), "bad-jsref c=1: no successful run (refclient.js ended") {
		t.Errorf("the node client's failure is not reported:\n%s", out.String())
	}
}
