package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A measurement is one case at one concurrency in one run.
type measurement struct {
	name        string
	conc        int
	calls       int64
	elapsed     time.Duration
	callsPerS   float64
	p50, p99    time.Duration
	allocsPerOp float64
	errors      int64
	firstErr    error
	samples     int // latencies kept (== calls unless the buffer was full)
	// CPU time per call of the client and the server process; -1 when
	// unknown (not Linux).
	clientCPU, serverCPU time.Duration
	// Read and write system calls per call of each process; -1 when
	// unknown. Fewer than 2 on a side means writes or reads are batched.
	clientSys, serverSys float64
}

// maxErrors stops a measurement early: a case that fails this often is
// broken, and its numbers would mean nothing.
const maxErrors = 100

// A sampler keeps per-call latencies in one buffer allocated up front, so
// recording a call costs an atomic add and a store and allocates nothing in
// the client process, whose allocations we count.
type sampler struct {
	buf []int64 // nanoseconds
	n   atomic.Int64
}

func newSampler(size int) *sampler { return &sampler{buf: make([]int64, size)} }

func (s *sampler) reset() { s.n.Store(0) }

func (s *sampler) record(d time.Duration) {
	if i := s.n.Add(1) - 1; i < int64(len(s.buf)) {
		s.buf[i] = int64(d)
	}
}

// sorted returns the recorded latencies, sorted in place.
func (s *sampler) sorted() []int64 {
	n := min(s.n.Load(), int64(len(s.buf)))
	out := s.buf[:n]
	slices.Sort(out)
	return out
}

// percentile is the nearest-rank percentile p (0..100] of sorted.
func percentile(sorted []int64, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return time.Duration(sorted[max(rank, 0)])
}

type workerStats struct {
	calls    atomic.Int64
	errors   atomic.Int64
	errOnce  sync.Once
	firstErr error
}

// drive runs conc callers against cl until dur has passed (each caller
// finishes the call it is in) and records latencies into s when s is not nil.
func drive(ctx context.Context, cl client, conc int, dur time.Duration, s *sampler, st *workerStats) {
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			var calls int64
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				err := cl.call(ctx)
				d := time.Since(t0)
				if err != nil {
					st.errOnce.Do(func() { st.firstErr = err })
					if st.errors.Add(1) >= maxErrors {
						break
					}
					continue
				}
				calls++
				if s != nil {
					s.record(d)
				}
			}
			st.calls.Add(calls)
		})
	}
	wg.Wait()
}

// measure warms cl up, then measures it for dur with conc callers.
// serverPid is the server process, whose CPU time is counted too.
func measure(ctx context.Context, name string, cl client, conc int, warmup, dur time.Duration, s *sampler, serverPid int) (measurement, error) {
	var wst workerStats
	drive(ctx, cl, conc, warmup, nil, &wst)
	if wst.errors.Load() > 0 {
		return measurement{}, fmt.Errorf("warm-up: %d errors, first: %w", wst.errors.Load(), wst.firstErr)
	}
	if err := ctx.Err(); err != nil {
		return measurement{}, err
	}

	s.reset()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0, cok0 := selfCPU()
	s0, sok0 := procCPU(serverPid)
	cs0, csok0 := procSyscalls(0)
	ss0, ssok0 := procSyscalls(serverPid)
	var st workerStats
	start := time.Now()
	drive(ctx, cl, conc, dur, s, &st)
	elapsed := time.Since(start)
	c1, cok1 := selfCPU()
	s1, sok1 := procCPU(serverPid)
	cs1, csok1 := procSyscalls(0)
	ss1, ssok1 := procSyscalls(serverPid)
	runtime.ReadMemStats(&m1)

	m := measurement{
		name:     name,
		conc:     conc,
		calls:    st.calls.Load(),
		elapsed:  elapsed,
		errors:   st.errors.Load(),
		firstErr: st.firstErr,
	}
	if m.errors >= maxErrors {
		return m, fmt.Errorf("%d errors, first: %w", m.errors, m.firstErr)
	}
	if m.calls == 0 {
		return m, fmt.Errorf("no call completed (errors %d, first: %v)", m.errors, m.firstErr)
	}
	lat := s.sorted()
	m.samples = len(lat)
	m.callsPerS = float64(m.calls) / elapsed.Seconds()
	m.p50 = percentile(lat, 50)
	m.p99 = percentile(lat, 99)
	ops := m.calls + m.errors
	m.allocsPerOp = float64(m1.Mallocs-m0.Mallocs) / float64(ops)
	m.clientCPU, m.serverCPU = -1, -1
	if cok0 && cok1 {
		m.clientCPU = (c1 - c0) / time.Duration(ops)
	}
	if sok0 && sok1 {
		m.serverCPU = (s1 - s0) / time.Duration(ops)
	}
	m.clientSys, m.serverSys = -1, -1
	if csok0 && csok1 {
		m.clientSys = float64(cs1-cs0) / float64(ops)
	}
	if ssok0 && ssok1 {
		m.serverSys = float64(ss1-ss0) / float64(ops)
	}
	return m, nil
}
