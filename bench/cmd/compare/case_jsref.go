//go:build !noftnpipe

package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The JavaScript reference (futoin-executor and futoin-invoker, pinned in
// interop/package.json, installed by `make interop-deps`), on Node:
//
//   - jsref-executor: the ftnpipe invoker (WS) against the reference
//     executor, interop/server.js (ftnpipe.test:1.0 echo), a node process
//     the parent starts once per run.
//   - jsref-invoker: the reference invoker (SimpleCCM, WS; refclient.js
//     in a node process per measurement) against the ftnpipe executor.
//   - jsref-both: the reference invoker against the reference executor,
//     the reference's own figure.
//
// The node client measures itself (calls, latency, its CPU time) and the
// parent reads the server's CPU and both sides' syscalls around its
// measured part; allocs/op is not measured for it ("-"). The cases are
// skipped, with the reason, when node or interop/node_modules is missing.

//go:embed refclient.js
var refClientJS string

const (
	jsrefPartKey = "jsref"
	jsrefIfaceV  = "ftnpipe.test:1.0"
)

func startJSRefExecutor(env caseEnv) (*extProc, string, error) {
	p, err := startExt("jsref executor", env.interopDir, nil, "node", "server.js")
	if err != nil {
		return nil, "", err
	}
	addr, err := p.expect("LISTEN ", 30*time.Second)
	if err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

// refResult is refclient.js's DONE line.
type refResult struct {
	Calls     int64   `json:"calls"`
	Errors    int64   `json:"errors"`
	FirstErr  string  `json:"first_err"`
	ElapsedUs float64 `json:"elapsed_us"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	CPUus     float64 `json:"cpu_us"`
}

// driveRefClient runs refclient.js against url (ifacever there) and turns
// its report into a measurement.
func driveRefClient(name, ifacever string, url func(addr string) string) func(ctx context.Context, env caseEnv, addr string, conc int, warmup, dur time.Duration, serverPid int) (measurement, error) {
	return func(ctx context.Context, env caseEnv, addr string, conc int, warmup, dur time.Duration, serverPid int) (measurement, error) {
		p, err := startExt("refclient.js", "", nil, "node", "-e", refClientJS, env.interopDir, url(addr), ifacever,
			strconv.Itoa(conc), strconv.FormatInt(warmup.Milliseconds(), 10), strconv.FormatInt(dur.Milliseconds(), 10))
		if err != nil {
			return measurement{}, err
		}
		defer p.stop()
		limit := warmup + 30*time.Second
		if d, ok := ctx.Deadline(); ok {
			limit = time.Until(d)
		}
		if _, err := p.expect("START", limit); err != nil {
			return measurement{}, err // a failed warm-up exits 1 and says why on stderr
		}
		s0, sok0 := procCPU(serverPid)
		ss0, ssok0 := procSyscalls(serverPid)
		cs0, csok0 := procSyscalls(p.pid())
		line, err := p.expect("DONE ", dur+30*time.Second)
		if err != nil {
			return measurement{}, err
		}
		s1, sok1 := procCPU(serverPid)
		ss1, ssok1 := procSyscalls(serverPid)
		cs1, csok1 := procSyscalls(p.pid())

		var r refResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return measurement{}, fmt.Errorf("refclient.js DONE line: %w", err)
		}
		m := measurement{name: name, conc: conc, calls: r.Calls, errors: r.Errors, samples: int(r.Calls),
			elapsed: time.Duration(r.ElapsedUs * float64(time.Microsecond)), allocsPerOp: -1}
		if r.FirstErr != "" {
			m.firstErr = errors.New(r.FirstErr)
		}
		if m.errors >= maxErrors || m.calls == 0 {
			return m, fmt.Errorf("%d calls, %d errors, first: %v", m.calls, m.errors, m.firstErr)
		}
		ops := m.calls + m.errors
		m.callsPerS = float64(m.calls) / m.elapsed.Seconds()
		m.p50 = time.Duration(r.P50us * float64(time.Microsecond))
		m.p99 = time.Duration(r.P99us * float64(time.Microsecond))
		m.clientCPU = time.Duration(r.CPUus * float64(time.Microsecond) / float64(ops))
		m.serverCPU, m.clientSys, m.serverSys = -1, -1, -1
		if sok0 && sok1 {
			m.serverCPU = (s1 - s0) / time.Duration(ops)
		}
		if csok0 && csok1 {
			m.clientSys = float64(cs1-cs0) / float64(ops)
		}
		if ssok0 && ssok1 {
			m.serverSys = float64(ss1-ss0) / float64(ops)
		}
		return m, nil
	}
}

func init() {
	registerExternal(externalPart{name: jsrefPartKey, start: startJSRefExecutor})
	registerCase(benchCase{name: "jsref-executor", order: 70, server: jsrefPartKey, available: nodeAvailable,
		dial: dialFtn(ftnURL("ws"), jsrefIfaceV)}) // server.js serves /ftn, as ours does
	registerCase(benchCase{name: "jsref-invoker", order: 71, server: ftnPartKey, available: nodeAvailable,
		drive: driveRefClient("jsref-invoker", ftnIfaceV, ftnURL("ws"))})
	registerCase(benchCase{name: "jsref-both", order: 72, server: jsrefPartKey, available: nodeAvailable,
		drive: driveRefClient("jsref-both", jsrefIfaceV, ftnURL("ws"))})
}
