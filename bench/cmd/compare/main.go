// Command compare runs ftnpipe side by side with grpc-go, connect-go,
// net/http, a bare WebSocket echo and the JavaScript reference (executor
// and invoker, on Node), on loopback, with the server in a separate
// process (ftnpipe-local alone runs client and executor in one process),
// and prints calls/s, p50, p99 and client allocs/op per case and
// concurrency, plus the ratios we track. It writes the medians of -runs
// runs to results/latest.json.
//
//	cd bench && go run ./cmd/compare
//	go run ./cmd/compare -duration 1s -runs 1                 # quick look
//	go run ./cmd/compare -cases ftnpipe-ws -conc 64 -cpuprofile ws.prof
//
// See README.md for what each case is and how to read the table.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type config struct {
	duration      time.Duration
	warmup        time.Duration
	runs          int
	cases         []benchCase
	concs         []int
	out           string
	cpuProfile    string
	memProfile    string
	serverProfile string
	trace         string
	serverTrace   string
	interopDir    string // "" when not found: the node cases are skipped
}

func main() {
	var (
		serveMode     = flag.Bool("serve", false, "internal: run as the server process (reads nothing, exits when stdin closes)")
		duration      = flag.Duration("duration", 3*time.Second, "measured time per case, concurrency and run")
		warmup        = flag.Duration("warmup", 500*time.Millisecond, "warm-up before each measurement (not measured)")
		runs          = flag.Int("runs", 3, "repeat everything this many times and report medians")
		casesFlag     = flag.String("cases", "", "comma-separated cases to run (default: all)")
		concFlag      = flag.String("conc", "1,64", "comma-separated numbers of concurrent callers")
		out           = flag.String("out", filepath.Join("results", "latest.json"), "where to write the JSON results (empty: don't)")
		cpuProfile    = flag.String("cpuprofile", "", "write a CPU profile of the client process (of the server with -serve) to this file")
		memProfile    = flag.String("memprofile", "", "write an allocation profile of the client process to this file")
		serverProfile = flag.String("server-cpuprofile", "", "write a CPU profile of the server process to this file")
		traceFile     = flag.String("trace", "", "write a runtime execution trace of the client process (of the server with -serve) to this file; keep the run short")
		serverTrace   = flag.String("server-trace", "", "write a runtime execution trace of the server process to this file")
		interopDir    = flag.String("interop", "", "the repository's interop/ folder, for the node cases (default: found above the working directory)")
	)
	flag.Parse()

	if *serveMode {
		if err := runServe(*cpuProfile, *traceFile); err != nil {
			fmt.Fprintln(os.Stderr, "compare -serve:", err)
			os.Exit(1)
		}
		return
	}

	cfg := config{
		duration: *duration, warmup: *warmup, runs: *runs, out: *out,
		cpuProfile: *cpuProfile, memProfile: *memProfile, serverProfile: *serverProfile,
		trace: *traceFile, serverTrace: *serverTrace, interopDir: *interopDir,
	}
	if cfg.interopDir == "" {
		cfg.interopDir = findInterop()
	}
	var err error
	if cfg.cases, err = parseCases(*casesFlag); err == nil {
		cfg.concs, err = parseConcs(*concFlag)
	}
	if err == nil && (cfg.duration <= 0 || cfg.warmup < 0 || cfg.runs < 1) {
		err = errors.New("need -duration > 0, -warmup >= 0, -runs >= 1")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func runServe(cpuProfile, traceFile string) error {
	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if traceFile != "" {
		stop, err := startTrace(traceFile)
		if err != nil {
			return err
		}
		defer stop()
	}
	return serve(os.Stdin, os.Stdout)
}

func startTrace(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { trace.Stop(); f.Close() }, nil
}

func parseCases(s string) ([]benchCase, error) {
	if s == "" {
		return slices.DeleteFunc(slices.Clone(registeredCases), func(c benchCase) bool { return c.extra }), nil
	}
	var out []benchCase
	for name := range strings.SplitSeq(s, ",") {
		c, err := findCase(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func parseConcs(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("-conc: %q is not a number of callers in 1..4096", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

type key struct {
	name string
	conc int
}

func run(ctx context.Context, cfg config, w io.Writer) error {
	var serverArgs []string
	if cfg.serverProfile != "" {
		serverArgs = append(serverArgs, "-cpuprofile", cfg.serverProfile)
	}
	if cfg.serverTrace != "" {
		serverArgs = append(serverArgs, "-trace", cfg.serverTrace)
	}
	env := caseEnv{interopDir: cfg.interopDir}
	var skipped []string
	cfg.cases = slices.DeleteFunc(slices.Clone(cfg.cases), func(bc benchCase) bool {
		if bc.available == nil {
			return false
		}
		if err := bc.available(env); err != nil {
			skipped = append(skipped, fmt.Sprintf("skipped %s: %v", bc.name, err))
			return true
		}
		return false
	})
	if len(cfg.cases) == 0 {
		return fmt.Errorf("no case can run here: %s", strings.Join(skipped, "; "))
	}
	srv, err := startServer(serverArgs...)
	if err != nil {
		return err
	}
	defer srv.stop()
	exts := &externals{env: env, procs: make(map[string]*extProc), addrs: make(map[string]string)}
	defer exts.stop()

	// Room for every latency of one measurement at up to ~400k calls/s,
	// allocated once, before anything is measured.
	s := newSampler(max(1<<20, int(400_000*cfg.duration.Seconds())))

	if cfg.cpuProfile != "" {
		stop, err := startCPUProfile(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}

	if cfg.trace != "" {
		stop, err := startTrace(cfg.trace)
		if err != nil {
			return err
		}
		defer stop()
	}

	fmt.Fprintf(w, "ftnpipe bench/compare: %s %s/%s, %d CPUs, GOMAXPROCS %d (client and server each), loopback, load average %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())
	fmt.Fprintf(w, "payload %dB echo; %d run(s) x %d case(s) x conc %v; warm-up %v + %v each; medians of runs\n\n",
		len(payload), cfg.runs, len(cfg.cases), cfg.concs, cfg.warmup, cfg.duration)
	for _, l := range skipped {
		fmt.Fprintln(w, l)
	}
	if slices.ContainsFunc(cfg.cases, func(bc benchCase) bool { return bc.server == "" }) {
		fmt.Fprintln(w, "in-process cases (no server process; client columns hold both sides, server columns \"-\"):",
			strings.Join(inProcessNames(cfg.cases), ", "))
	}
	if len(skipped) > 0 || slices.ContainsFunc(cfg.cases, func(bc benchCase) bool { return bc.server == "" }) {
		fmt.Fprintln(w)
	}

	results := make(map[key][]measurement)
	failed := make(map[key]error)
	began := time.Now()
	for r := range cfg.runs {
		// Rotate the case order each run so that no case always runs
		// right after the same neighbour.
		for i := range cfg.cases {
			bc := cfg.cases[(i+r)%len(cfg.cases)]
			for _, conc := range cfg.concs {
				if err := ctx.Err(); err != nil {
					return err
				}
				k := key{bc.name, conc}
				m, err := runOne(ctx, srv, exts, env, bc, conc, cfg, s)
				if ctx.Err() != nil {
					return errors.New("interrupted")
				}
				if err != nil {
					fmt.Fprintf(os.Stderr, "run %d/%d %-16s c=%-3d FAILED: %v\n", r+1, cfg.runs, bc.name, conc, err)
					failed[k] = err
					continue
				}
				results[k] = append(results[k], m)
				note := ""
				if m.errors > 0 {
					note = fmt.Sprintf(" (%d errors, first: %v)", m.errors, m.firstErr)
				}
				if m.samples < int(m.calls) {
					note += fmt.Sprintf(" (latency of first %d calls only)", m.samples)
				}
				fmt.Fprintf(os.Stderr, "run %d/%d %-16s c=%-3d %9.0f calls/s  p50 %7.1fµs  p99 %8.1fµs  %6s allocs/op  CPU µs/op %s+%s  syscalls/op %s+%s%s\n",
					r+1, cfg.runs, bc.name, conc, m.callsPerS, us(m.p50), us(m.p99), orDash(m.allocsPerOp),
					orDash(us(m.clientCPU)), orDash(us(m.serverCPU)), orDash(m.clientSys), orDash(m.serverSys), note)
			}
		}
	}
	fmt.Fprintf(w, "measured in %v; load average now %s (above ~2 means other work shared the cores)\n\n",
		time.Since(began).Round(time.Second), loadAvg())

	rows := summarize(cfg, results)
	printTable(w, rows, failed)
	printRatios(w, cfg, rows)

	if cfg.memProfile != "" {
		if err := writeMemProfile(cfg.memProfile); err != nil {
			return err
		}
	}
	if cfg.out != "" {
		if err := writeJSON(cfg.out, rows); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nwrote %s\n", cfg.out)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d measurement(s) failed", len(failed))
	}
	return nil
}

func inProcessNames(cases []benchCase) []string {
	var out []string
	for _, bc := range cases {
		if bc.server == "" {
			out = append(out, bc.name)
		}
	}
	return out
}

// externals are the external servers of one run, started on first use.
type externals struct {
	env   caseEnv
	procs map[string]*extProc
	addrs map[string]string
}

func (x *externals) get(p externalPart) (*extProc, string, error) {
	if pr, ok := x.procs[p.name]; ok {
		return pr, x.addrs[p.name], nil
	}
	pr, addr, err := p.start(x.env)
	if err != nil {
		return nil, "", fmt.Errorf("start %s: %w", p.name, err)
	}
	x.procs[p.name], x.addrs[p.name] = pr, addr
	return pr, addr, nil
}

func (x *externals) stop() {
	for name, p := range x.procs {
		if err := p.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop %s: %v\n", name, err)
		}
	}
}

func runOne(ctx context.Context, srv *serverProc, exts *externals, env caseEnv, bc benchCase, conc int, cfg config, s *sampler) (measurement, error) {
	addr, pid := "", -1 // in process: no server, no server columns
	if bc.server != "" {
		if p, ok := findExternal(bc.server); ok {
			pr, a, err := exts.get(p)
			if err != nil {
				return measurement{}, err
			}
			addr, pid = a, pr.pid()
		} else if addr, ok = srv.addrs[bc.server]; ok {
			pid = srv.pid()
		} else {
			return measurement{}, fmt.Errorf("server has no %q part", bc.server)
		}
	}
	// Bounded: a case that hangs fails instead of stalling the run.
	ctx, cancel := context.WithTimeout(ctx, cfg.warmup+cfg.duration+30*time.Second)
	defer cancel()
	if bc.drive != nil {
		return bc.drive(ctx, env, addr, conc, cfg.warmup, cfg.duration, pid)
	}
	cl, err := bc.dial(ctx, addr, conc)
	if err != nil {
		return measurement{}, fmt.Errorf("dial: %w", err)
	}
	m, err := measure(ctx, bc.name, cl, conc, cfg.warmup, cfg.duration, s, pid)
	if cerr := cl.close(); cerr != nil && err == nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	return m, err
}

func writeMemProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// A row is the medians across runs of one case at one concurrency.
type row struct {
	name        string
	conc        int
	runs        int
	callsPerS   float64
	minCPS      float64
	maxCPS      float64
	p50, p99    float64 // µs
	allocsPerOp float64
	clientCPU   float64 // µs per call, < 0 when unknown
	serverCPU   float64
	clientSys   float64 // read+write syscalls per call, < 0 when unknown
	serverSys   float64
	inProc      bool // no server process: the client columns hold both sides
}

// orDash formats a figure that is negative when unknown (not Linux, no
// server process, measured by another runtime).
func orDash(x float64) string {
	if x < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", x)
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func summarize(cfg config, results map[key][]measurement) []row {
	var rows []row
	for _, bc := range cfg.cases {
		for _, conc := range cfg.concs {
			ms := results[key{bc.name, conc}]
			if len(ms) == 0 {
				continue
			}
			pick := func(f func(measurement) float64) []float64 {
				out := make([]float64, len(ms))
				for i, m := range ms {
					out[i] = f(m)
				}
				return out
			}
			cps := pick(func(m measurement) float64 { return m.callsPerS })
			rows = append(rows, row{
				name:        bc.name,
				conc:        conc,
				runs:        len(ms),
				callsPerS:   median(cps),
				minCPS:      slices.Min(cps),
				maxCPS:      slices.Max(cps),
				p50:         median(pick(func(m measurement) float64 { return us(m.p50) })),
				p99:         median(pick(func(m measurement) float64 { return us(m.p99) })),
				allocsPerOp: median(pick(func(m measurement) float64 { return m.allocsPerOp })),
				clientCPU:   median(pick(func(m measurement) float64 { return us(m.clientCPU) })),
				serverCPU:   median(pick(func(m measurement) float64 { return us(m.serverCPU) })),
				clientSys:   median(pick(func(m measurement) float64 { return m.clientSys })),
				serverSys:   median(pick(func(m measurement) float64 { return m.serverSys })),
				inProc:      bc.server == "",
			})
		}
	}
	return rows
}

func findRow(rows []row, name string, conc int) (row, bool) {
	for _, r := range rows {
		if r.name == name && r.conc == conc {
			return r, true
		}
	}
	return row{}, false
}

func printTable(w io.Writer, rows []row, failed map[key]error) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tconc\tcalls/s\t(min..max of runs)\tp50 µs\tp99 µs\tallocs/op\tCPU µs/op client+server\tsyscalls/op c+s\truns\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f..%.0f\t%.1f\t%.1f\t%s\t%s+%s\t%s+%s\t%d\t\n",
			r.name, r.conc, r.callsPerS, r.minCPS, r.maxCPS, r.p50, r.p99, orDash(r.allocsPerOp),
			orDash(r.clientCPU), orDash(r.serverCPU), orDash(r.clientSys), orDash(r.serverSys), r.runs)
	}
	tw.Flush()
	for k, err := range failed {
		if _, ok := findRow(rows, k.name, k.conc); !ok {
			fmt.Fprintf(w, "%s c=%d: no successful run (%v)\n", k.name, k.conc, err)
		}
	}
}

func printRatios(w io.Writer, cfg config, rows []row) {
	seq := slices.Min(cfg.concs)
	par := slices.Max(cfg.concs)
	fmt.Fprintln(w)
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT MET"
	}
	if a, ok := findRow(rows, "ftnpipe-ws", par); ok {
		if b, ok := findRow(rows, "grpc-go", par); ok && b.callsPerS > 0 {
			x := a.callsPerS / b.callsPerS
			fmt.Fprintf(w, "target  ftnpipe-ws / grpc-go calls/s at conc %d: %.3fx (want >= 1.5x: %s)\n", par, x, verdict(x >= 1.5))
		}
	}
	for _, conc := range []int{seq, par} {
		if a, ok := findRow(rows, "ftnpipe-ws-hmac", conc); ok {
			if b, ok := findRow(rows, "ftnpipe-ws", conc); ok && b.callsPerS > 0 {
				x := a.callsPerS / b.callsPerS
				fmt.Fprintf(w, "target  ftnpipe-ws-hmac / ftnpipe-ws calls/s at conc %d: %.3fx (want >= 0.9x: %s)\n", conc, x, verdict(x >= 0.9))
			}
		}
	}
	if a, ok := findRow(rows, "ftnpipe-ws", seq); ok {
		if b, ok := findRow(rows, "ws-echo", seq); ok && b.p50 > 0 {
			x := a.p50 / b.p50
			fmt.Fprintf(w, "target  ftnpipe-ws / ws-echo p50 at conc %d:      %.3fx (want <= 1.5x: %s)\n", seq, x, verdict(x <= 1.5))
		}
	}

	if !slices.ContainsFunc(rows, func(r row) bool { return r.name == "grpc-go" }) {
		return
	}
	fmt.Fprintln(w, "\nvs grpc-go at the same concurrency (calls/s: higher is better; the rest: lower is better)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tconc\tcalls/s\tp50\tp99\tallocs/op\tCPU/op client+server\t")
	ratio := func(a, b float64) string {
		if a < 0 || b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	for _, r := range rows {
		g, ok := findRow(rows, "grpc-go", r.conc)
		if !ok || r.name == "grpc-go" {
			continue
		}
		cpu := "-"
		srvCPU := r.serverCPU
		if r.inProc {
			srvCPU = 0 // both sides are in the client's figure
		}
		if r.clientCPU >= 0 && srvCPU >= 0 && g.clientCPU >= 0 && g.serverCPU >= 0 {
			cpu = ratio(r.clientCPU+srvCPU, g.clientCPU+g.serverCPU)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.name, r.conc,
			ratio(r.callsPerS, g.callsPerS), ratio(r.p50, g.p50), ratio(r.p99, g.p99), ratio(r.allocsPerOp, g.allocsPerOp), cpu)
	}
	tw.Flush()
}

// The JSON schema is fixed: later tooling and docs/PERFORMANCE.md read it.
type jsonCase struct {
	Name        string   `json:"name"`
	Concurrency int      `json:"concurrency"`
	CallsPerS   float64  `json:"calls_per_s"`
	P50us       float64  `json:"p50_us"`
	P99us       float64  `json:"p99_us"`
	AllocsPerOp *float64 `json:"allocs_per_op"` // null when not measured (node clients)
}

type jsonResults struct {
	Cases []jsonCase `json:"cases"`
}

func round(x float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(x*p) / p
}

func writeJSON(path string, rows []row) error {
	res := jsonResults{Cases: make([]jsonCase, 0, len(rows))}
	for _, r := range rows {
		res.Cases = append(res.Cases, jsonCase{
			Name:        r.name,
			Concurrency: r.conc,
			CallsPerS:   round(r.callsPerS, 1),
			P50us:       round(r.p50, 1),
			P99us:       round(r.p99, 1),
		})
		if r.allocsPerOp >= 0 {
			a := round(r.allocsPerOp, 2)
			res.Cases[len(res.Cases)-1].AllocsPerOp = &a
		}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
