package ccm_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
)

// holdStep waits inside a critical section until release is closed,
// announcing itself on entered first.
func holdStep(entered chan<- string, name string, release <-chan struct{}) ccm.Step {
	return func(as *ccm.AsyncSteps, _ ...any) {
		ext := as.WaitExternal()
		go func() {
			entered <- name
			<-release
			ext.Success(name)
		}()
	}
}

func TestStepsMutexLimits(t *testing.T) {
	is := is.New(t)
	m := ccm.NewMutex(1, 1)
	entered := make(chan string, 3)
	release := make(chan struct{})
	var tr trace
	as := ccm.NewSteps()
	as.Parallel(nil).
		Add(func(as *ccm.AsyncSteps, _ ...any) { as.Sync(m, holdStep(entered, "a", release), nil) }, nil).
		Add(func(as *ccm.AsyncSteps, _ ...any) { // queued: the one waiting place
			as.Sync(m, func(as *ccm.AsyncSteps, _ ...any) { tr.add("b-inside") }, nil)
		}, nil).
		Add(func(as *ccm.AsyncSteps, _ ...any) { // the queue is full
			as.Sync(m, func(as *ccm.AsyncSteps, _ ...any) { tr.add("c-inside") },
				func(as *ccm.AsyncSteps, err *ccm.Error) { tr.add("sync-handler") })
		}, func(as *ccm.AsyncSteps, err *ccm.Error) {
			tr.add("c:" + string(err.Name))
			as.Success()
		})
	as.Execute(context.Background())
	is.Equal(<-entered, "a")
	close(release)
	_, err := as.Await()
	is.NoErr(err)
	// DefenseRejected reaches the handler around Sync, not Sync's own.
	is.Equal(tr.String(), "c:DefenseRejected b-inside")
}

func TestStepsMutexExclusive(t *testing.T) {
	is := is.New(t)
	for _, limit := range []int{1, 2} {
		m := ccm.NewMutex(limit, ccm.Unlimited)
		var inside, most atomic.Int32
		progs := make([]*ccm.AsyncSteps, 8)
		for i := range progs {
			progs[i] = ccm.NewSteps().Sync(m, func(as *ccm.AsyncSteps, _ ...any) {
				n := inside.Add(1)
				for {
					old := most.Load()
					if n <= old || most.CompareAndSwap(old, n) {
						break
					}
				}
				ext := as.WaitExternal()
				go func() { inside.Add(-1); ext.Success() }()
			}, nil).Execute(context.Background())
		}
		for _, p := range progs {
			_, err := p.Await()
			is.NoErr(err)
		}
		is.True(most.Load() <= int32(limit)) // never more than the limit inside
	}
}

func TestStepsMutexReleases(t *testing.T) {
	is := is.New(t)
	m := ccm.NewMutex(1, 0)
	enter := func() error {
		_, err := runSteps(ccm.NewSteps().Sync(m, func(*ccm.AsyncSteps, ...any) {}, nil))
		return err
	}
	// On error inside the section.
	_, err := runSteps(ccm.NewSteps().Sync(m, func(as *ccm.AsyncSteps, _ ...any) { as.Error("Inside", "") }, nil))
	is.Equal(errName(err), ccm.ErrorName("Inside"))
	is.NoErr(enter()) // released: no DefenseRejected
	// On cancel while inside.
	entered := make(chan string, 1)
	never := make(chan struct{})
	defer close(never)
	as := ccm.NewSteps().Sync(m, holdStep(entered, "x", never), nil).Execute(context.Background())
	<-entered
	is.Equal(errName(enter()), ccm.DefenseRejected) // held, no queue
	as.Cancel()
	_, err = as.Await()
	is.Equal(errName(err), ccm.Timeout)
	is.NoErr(enter()) // released by the cancel
	// Re-entrant for the same flow; args and results pass through.
	res, err := runSteps(ccm.NewSteps().
		Add(func(as *ccm.AsyncSteps, _ ...any) { as.Success(20) }, nil).
		Sync(m, func(as *ccm.AsyncSteps, args ...any) {
			as.Sync(m, func(as *ccm.AsyncSteps, _ ...any) { as.Success(args[0].(int) + 22) }, nil)
		}, nil))
	is.NoErr(err)
	is.Equal(res, []any{42})
	is.NoErr(enter())
}

func TestStepsThrottle(t *testing.T) {
	is := is.New(t)
	th := ccm.NewThrottle(2, time.Hour, 0)
	var n int
	as := ccm.NewSteps().Repeat(3, func(as *ccm.AsyncSteps, _ int) {
		as.Sync(th, func(*ccm.AsyncSteps, ...any) { n++ }, nil)
	})
	_, err := runSteps(as)
	is.Equal(errName(err), ccm.DefenseRejected) // the third entry in the window, with no queue
	is.Equal(n, 2)

	// With a queue, waiters enter in later windows, in order.
	th = ccm.NewThrottle(1, 5*time.Millisecond, ccm.Unlimited)
	var tr trace
	as = ccm.NewSteps()
	p := as.Parallel(nil)
	for i := range 3 {
		p.Add(func(as *ccm.AsyncSteps, _ ...any) {
			as.Sync(th, func(*ccm.AsyncSteps, ...any) { tr.add(fmt.Sprint(i)) }, nil)
		}, nil)
	}
	_, err = runSteps(as)
	is.NoErr(err)
	is.Equal(tr.String(), "0 1 2")
}

func TestStepsLimiter(t *testing.T) {
	is := is.New(t)
	// Concurrency: one inside, nobody may wait.
	l := ccm.NewLimiter(ccm.LimiterOptions{Concurrent: 1, Rate: 100})
	entered := make(chan string, 2)
	release := make(chan struct{})
	as := ccm.NewSteps()
	as.Parallel(nil).
		Add(func(as *ccm.AsyncSteps, _ ...any) { as.Sync(l, holdStep(entered, "a", release), nil) }, nil).
		Add(func(as *ccm.AsyncSteps, _ ...any) { as.Sync(l, holdStep(entered, "b", release), nil) }, nil)
	as.Execute(context.Background())
	_, err := as.Await()
	close(release)
	is.Equal(errName(err), ccm.DefenseRejected)
	// Rate: one per hour.
	l = ccm.NewLimiter(ccm.LimiterOptions{Concurrent: 4, MaxQueue: ccm.Unlimited, Rate: 1, Period: time.Hour})
	res, err := runSteps(ccm.NewSteps().Sync(l, func(as *ccm.AsyncSteps, _ ...any) { as.Success("first") }, nil))
	is.NoErr(err)
	is.Equal(res, []any{"first"})
	_, err = runSteps(ccm.NewSteps().Sync(l, func(*ccm.AsyncSteps, ...any) {}, nil))
	is.Equal(errName(err), ccm.DefenseRejected)
}

// TestStepsStress runs thousands of programs with random nesting, errors,
// external completions from other goroutines, timeouts, parallel branches,
// a shared mutex and random cancels, and checks that every program
// finishes exactly once with a success or a named error, and that the
// mutex is free at the end. goleak (TestMain) checks nothing is left.
func TestStepsStress(t *testing.T) {
	is := is.New(t)
	const programs = 3000
	rng := rand.New(rand.NewPCG(6, 12))
	m := ccm.NewMutex(3, ccm.Unlimited)
	var finished atomic.Int64
	names := map[ccm.ErrorName]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range programs {
		seed := rng.Uint64()
		as := buildRandom(rand.New(rand.NewPCG(seed, 1)), m, 3)
		ctx, cancel := context.WithCancel(context.Background())
		as.Execute(ctx)
		switch seed % 7 {
		case 0:
			as.Cancel()
		case 1:
			cancel()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			_, err := as.Await()
			finished.Add(1)
			mu.Lock()
			names[ccm.NameOf(err)]++
			mu.Unlock()
		}()
		if i%200 == 0 {
			wg.Wait() // bound the programs in flight
		}
	}
	wg.Wait()
	is.Equal(finished.Load(), int64(programs))
	for name := range names {
		switch name {
		case "", ccm.Timeout, "Random", ccm.DefenseRejected:
		default:
			t.Errorf("unexpected error name %q", name)
		}
	}
	t.Logf("outcomes: %v", names)
	// Every entry was released: three flows fit in at once again.
	var inside atomic.Int32
	as := ccm.NewSteps()
	release := make(chan struct{})
	p := as.Parallel(nil)
	for range 3 {
		p.Add(func(as *ccm.AsyncSteps, _ ...any) {
			as.Sync(m, func(as *ccm.AsyncSteps, _ ...any) {
				if inside.Add(1) == 3 {
					close(release)
				}
				ext := as.WaitExternal()
				go func() { <-release; ext.Success() }()
			}, nil)
		}, nil)
	}
	_, err := runSteps(as)
	is.NoErr(err)
}

// buildRandom makes a random program of the given depth.
func buildRandom(rng *rand.Rand, m *ccm.Mutex, depth int) *ccm.AsyncSteps {
	as := ccm.NewSteps()
	var add func(as *ccm.AsyncSteps, depth int)
	add = func(as *ccm.AsyncSteps, depth int) {
		for range 1 + rng.IntN(3) {
			kind := rng.IntN(8)
			if depth == 0 {
				kind = rng.IntN(3)
			}
			var onErr ccm.ErrorHandler
			if rng.IntN(2) == 0 {
				onErr = func(as *ccm.AsyncSteps, err *ccm.Error) {
					if err.Name == "Random" {
						as.Success()
					}
				}
			}
			sub := rng.Uint64()
			switch kind {
			case 0:
				as.Add(func(as *ccm.AsyncSteps, _ ...any) {}, onErr)
			case 1:
				as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Error("Random", "") }, onErr)
			case 2:
				as.Add(func(as *ccm.AsyncSteps, _ ...any) {
					ext := as.WaitExternal()
					go func() {
						if sub%2 == 0 {
							ext.Success()
						} else {
							ext.Error("Random", "external")
						}
					}()
				}, onErr)
			case 3:
				as.Add(func(as *ccm.AsyncSteps, _ ...any) {
					as.SetTimeout(time.Duration(sub%3) * time.Millisecond)
					as.SetCancel(func(*ccm.AsyncSteps) {})
				}, onErr)
			case 4:
				p := as.Parallel(onErr)
				for range 1 + sub%3 {
					p.Add(func(as *ccm.AsyncSteps, _ ...any) { add(as, depth-1) }, nil)
				}
			case 5:
				as.Repeat(int(sub%4), func(as *ccm.AsyncSteps, i int) {
					if i == 2 {
						as.Break()
					}
					add(as, depth-1)
				})
			case 6:
				as.Sync(m, func(as *ccm.AsyncSteps, _ ...any) { add(as, depth-1) }, onErr)
			default:
				as.Add(func(as *ccm.AsyncSteps, _ ...any) { add(as, depth-1) }, onErr)
			}
		}
	}
	add(as, depth)
	return as
}

func TestStepsExecuteTwicePanics(t *testing.T) {
	is := is.New(t)
	as := ccm.NewSteps().Execute(context.Background())
	_, err := as.Await()
	is.NoErr(err)
	defer func() { is.True(recover() != nil) }() // a programming error
	as.Execute(context.Background())
	t.Fatal("not reached")
}
