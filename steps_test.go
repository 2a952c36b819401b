package ccm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
)

// runSteps runs as, half of the time with Run and half with Execute and
// Await, so both paths are covered.
func runSteps(as *ccm.AsyncSteps) ([]any, error) {
	if runCount.Add(1)%2 == 0 {
		return as.Run(context.Background())
	}
	return as.Execute(context.Background()).Await()
}

var runCount atomic.Int64

// trace records what steps did, in order; steps of one program run on one
// goroutine at a time, so it needs no lock.
type trace []string

func (tr *trace) add(s string)   { *tr = append(*tr, s) }
func (tr *trace) String() string { return strings.Join(*tr, " ") }
func (tr *trace) step(s string) ccm.Step {
	return func(*ccm.AsyncSteps, ...any) { tr.add(s) }
}

func errName(err error) ccm.ErrorName { return ccm.NameOf(err) }

func TestStepsOrderAndArgs(t *testing.T) {
	is := is.New(t)
	var tr trace
	as := ccm.NewSteps()
	as.Add(func(as *ccm.AsyncSteps, _ ...any) {
		tr.add("A")
		as.Add(func(as *ccm.AsyncSteps, _ ...any) {
			tr.add("A1")
			as.Add(func(as *ccm.AsyncSteps, _ ...any) { tr.add("A1a"); as.Success("from-A1a") }, nil)
		}, nil)
		as.Add(func(as *ccm.AsyncSteps, args ...any) {
			tr.add(fmt.Sprint("A2", args))
			as.Success(1, "two")
		}, nil)
	}, nil)
	as.Add(func(as *ccm.AsyncSteps, args ...any) {
		tr.add(fmt.Sprint("B", args)) // the last sub-step's result flows on
		as.Success("done")
	}, nil)
	res, err := runSteps(as)
	is.NoErr(err)
	is.Equal(tr.String(), "A A1 A1a A2[from-A1a] B[1 two]") // sub-steps before the next sibling
	is.Equal(res, []any{"done"})                            // the last step's args are the result
}

func TestStepsSuccessStep(t *testing.T) {
	is := is.New(t)
	lib := func(as *ccm.AsyncSteps) { as.SuccessStep("from", "lib") } // a library adds a sub-step
	res, err := runSteps(ccm.NewSteps().
		Add(func(as *ccm.AsyncSteps, _ ...any) { lib(as) }, nil).
		Add(func(as *ccm.AsyncSteps, args ...any) { as.Success(len(args), args[1]) }, nil))
	is.NoErr(err)
	is.Equal(res, []any{2, "lib"})
}

func TestStepsImplicitSuccessAndEmpty(t *testing.T) {
	is := is.New(t)
	res, err := runSteps(ccm.NewSteps())
	is.NoErr(err)
	is.Equal(len(res), 0) // an empty program succeeds with nothing
	res, err = runSteps(ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {}, nil))
	is.NoErr(err)
	is.Equal(len(res), 0) // returning without completing is success()
}

func TestStepsErrorUnwindsToNearestHandler(t *testing.T) {
	is := is.New(t)
	var tr trace
	as := ccm.NewSteps()
	as.Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.Add(func(as *ccm.AsyncSteps, _ ...any) {
			as.Add(func(as *ccm.AsyncSteps, _ ...any) {
				as.Error("MyError", "deep")
				tr.add("not reached")
			}, nil)
			as.Add(tr.step("skipped sibling"), nil)
		}, func(as *ccm.AsyncSteps, err *ccm.Error) {
			tr.add("inner:" + string(err.Name) + ":" + err.Desc)
			// returns without completing: passes the error on
		})
		as.Add(tr.step("skipped"), nil)
	}, func(as *ccm.AsyncSteps, err *ccm.Error) {
		tr.add("outer:" + string(err.Name))
		is.Equal(as.State()[ccm.StateErrorInfo], "deep") // error_info holds the description
		as.Success("recovered")
	})
	as.Add(func(as *ccm.AsyncSteps, args ...any) { tr.add(fmt.Sprint("next", args)) }, nil)
	_, err := runSteps(as)
	is.NoErr(err)
	is.Equal(tr.String(), "inner:MyError:deep outer:MyError next[recovered]")
}

func TestStepsHandlerReplacesError(t *testing.T) {
	is := is.New(t)
	as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Error("First", "one") }, func(as *ccm.AsyncSteps, err *ccm.Error) {
			as.Error("Second", "from "+string(err.Name))
		})
	}, nil)
	_, err := runSteps(as)
	var fe *ccm.Error
	is.True(errors.As(err, &fe))
	is.Equal(fe.Name, ccm.ErrorName("Second"))
	is.Equal(fe.Desc, "from First")
}

func TestStepsHandlerAddsSteps(t *testing.T) {
	is := is.New(t)
	var tr trace
	as := ccm.NewSteps()
	as.Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Error("E1", "") }, func(as *ccm.AsyncSteps, err *ccm.Error) {
			tr.add("h1")
			as.Add(func(as *ccm.AsyncSteps, _ ...any) { tr.add("fix"); as.Success("fixed") }, nil)
		})
		as.Add(func(as *ccm.AsyncSteps, args ...any) { tr.add(fmt.Sprint("after", args)) }, nil)
	}, nil)
	_, err := runSteps(as)
	is.NoErr(err)
	is.Equal(tr.String(), "h1 fix after[fixed]") // the added steps take the failed step's place

	// If the added steps fail, the same handler is not called again.
	tr = nil
	as = ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Error("E1", "") }, func(as *ccm.AsyncSteps, err *ccm.Error) {
			tr.add("h1:" + string(err.Name))
			as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Error("E2", "") }, nil)
		})
	}, func(as *ccm.AsyncSteps, err *ccm.Error) { tr.add("outer:" + string(err.Name)) })
	_, err = runSteps(as)
	is.Equal(errName(err), ccm.ErrorName("E2"))
	is.Equal(tr.String(), "h1:E1 outer:E2")
}

func TestStepsMisuse(t *testing.T) {
	for name, step := range map[string]ccm.Step{
		"success twice":     func(as *ccm.AsyncSteps, _ ...any) { as.Success(); as.Success() },
		"success after add": func(as *ccm.AsyncSteps, _ ...any) { as.Add(func(*ccm.AsyncSteps, ...any) {}, nil); as.Success() },
		"add after success": func(as *ccm.AsyncSteps, _ ...any) { as.Success(); as.Add(func(*ccm.AsyncSteps, ...any) {}, nil) },
		"panic":             func(as *ccm.AsyncSteps, _ ...any) { panic("boom") },
		"break outside":     func(as *ccm.AsyncSteps, _ ...any) { as.Break() },
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			_, err := runSteps(ccm.NewSteps().Add(step, nil))
			is.Equal(errName(err), ccm.InternalError) // misuse is an InternalError
		})
	}
	is := is.New(t)
	_, err := ccm.NewSteps().Await()
	is.Equal(errName(err), ccm.InvokerError) // Await before Execute
}

func TestStepsExternal(t *testing.T) {
	is := is.New(t)
	as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		ext := as.WaitExternal()
		go func() {
			ext.Success("late")
			ext.Error("Ignored", "") // only the first completion counts
		}()
	}, nil)
	res, err := runSteps(as)
	is.NoErr(err)
	is.Equal(res, []any{"late"})

	as = ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		ext := as.WaitExternal()
		go ext.Error("Remote", "from outside")
	}, nil)
	_, err = runSteps(as)
	is.Equal(err.Error(), "Remote: from outside")
}

func TestStepsTimeout(t *testing.T) {
	is := is.New(t)
	var tr trace
	as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.SetTimeout(20 * time.Millisecond)
		as.Add(func(as *ccm.AsyncSteps, _ ...any) {
			as.SetCancel(func(*ccm.AsyncSteps) { tr.add("inner-cancel") })
		}, func(as *ccm.AsyncSteps, err *ccm.Error) { tr.add("inner-handler:" + string(err.Name)) })
	}, func(as *ccm.AsyncSteps, err *ccm.Error) {
		tr.add("outer-handler:" + string(err.Name))
	})
	_, err := runSteps(as)
	is.True(errors.Is(err, ccm.ErrTimeout)) // never completed: Timeout
	// Raised at the innermost step: its cancel handler, then its error
	// handler, then the timed step's handler.
	is.Equal(tr.String(), "inner-cancel inner-handler:Timeout outer-handler:Timeout")

	// A second SetTimeout replaces the first.
	_, err = runSteps(ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.SetTimeout(time.Hour)
		as.SetTimeout(5 * time.Millisecond)
	}, nil))
	is.Equal(errName(err), ccm.Timeout)

	// A timeout inside a parallel branch is that branch's: its handler
	// recovers and the program goes on.
	as = ccm.NewSteps()
	as.Parallel(nil).
		Add(func(as *ccm.AsyncSteps, _ ...any) {
			as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.SetTimeout(5 * time.Millisecond) }, nil)
		}, func(as *ccm.AsyncSteps, err *ccm.Error) {
			as.State()["branch"] = string(err.Name)
			as.Success()
		}).
		Add(func(as *ccm.AsyncSteps, _ ...any) {}, nil)
	_, err = runSteps(as)
	is.NoErr(err)
	is.Equal(as.State()["branch"], "Timeout")

	// A step completing in time is not failed later.
	as = ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
		as.SetTimeout(time.Hour)
		ext := as.WaitExternal()
		go ext.Success(1)
	}, nil)
	res, err := runSteps(as)
	is.NoErr(err)
	is.Equal(res, []any{1})
}

func TestStepsCancelOrder(t *testing.T) {
	for _, how := range []string{"Cancel", "ctx"} {
		t.Run(how, func(t *testing.T) {
			is := is.New(t)
			var tr trace
			waiting := make(chan struct{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
				as.SetCancel(func(*ccm.AsyncSteps) { tr.add("c1") })
				as.Add(func(as *ccm.AsyncSteps, _ ...any) {
					as.SetCancel(func(*ccm.AsyncSteps) { tr.add("c2") })
					as.Add(func(as *ccm.AsyncSteps, _ ...any) {
						as.SetCancel(func(*ccm.AsyncSteps) { tr.add("c3") })
						close(waiting)
					}, func(*ccm.AsyncSteps, *ccm.Error) { tr.add("handler") })
				}, nil)
			}, func(*ccm.AsyncSteps, *ccm.Error) { tr.add("handler") })
			as.Add(tr.step("never"), nil)
			as.Execute(ctx)
			<-waiting
			if how == "Cancel" {
				as.Cancel()
			} else {
				cancel()
			}
			_, err := as.Await()
			is.True(errors.Is(err, context.Canceled)) // the cause is kept
			is.Equal(errName(err), ccm.Timeout)
			is.Equal(tr.String(), "c3 c2 c1") // innermost first, no error handler
		})
	}
}

func TestStepsLoops(t *testing.T) {
	t.Run("Loop and Break", func(t *testing.T) {
		is := is.New(t)
		n := 0
		as := ccm.NewSteps().Loop(func(as *ccm.AsyncSteps) {
			n++
			as.Add(func(as *ccm.AsyncSteps, _ ...any) { // the body's sub-steps run each iteration
				if n == 5 {
					as.Break()
				}
			}, nil)
		})
		_, err := runSteps(as)
		is.NoErr(err)
		is.Equal(n, 5)
	})
	t.Run("Repeat", func(t *testing.T) {
		is := is.New(t)
		var tr trace
		_, err := runSteps(ccm.NewSteps().Repeat(3, func(as *ccm.AsyncSteps, i int) { tr.add(fmt.Sprint(i)) }).
			Add(tr.step("end"), nil))
		is.NoErr(err)
		is.Equal(tr.String(), "0 1 2 end")
		_, err = runSteps(ccm.NewSteps().Repeat(0, func(as *ccm.AsyncSteps, i int) { tr.add("never") }))
		is.NoErr(err)
	})
	t.Run("ForEach", func(t *testing.T) {
		is := is.New(t)
		var tr trace
		body := func(as *ccm.AsyncSteps, k, v any) { tr.add(fmt.Sprint(k, "=", v)) }
		_, err := runSteps(ccm.NewSteps().
			ForEach([]string{"a", "b"}, body).
			ForEach(map[string]int{"z": 1, "a": 2, "m": 3}, body).
			ForEach(map[int]bool{10: true, 2: false}, body))
		is.NoErr(err)
		is.Equal(tr.String(), "0=a 1=b a=2 m=3 z=1 2=false 10=true") // maps in sorted key order
		_, err = runSteps(ccm.NewSteps().ForEach(42, body))
		is.Equal(errName(err), ccm.InvokerError) // not a collection
	})
	t.Run("labels", func(t *testing.T) {
		is := is.New(t)
		var tr trace
		as := ccm.NewSteps().Repeat(3, func(as *ccm.AsyncSteps, i int) {
			as.Repeat(3, func(as *ccm.AsyncSteps, j int) {
				if j == 1 && i == 0 {
					as.Continue("outer")
				}
				if i == 2 {
					as.Break("outer")
				}
				tr.add(fmt.Sprintf("%d%d", i, j))
			}, "inner")
		}, "outer")
		as.Add(tr.step("after"), nil)
		_, err := runSteps(as)
		is.NoErr(err)
		is.Equal(tr.String(), "00 10 11 12 after")
		is.Equal(as.State()[ccm.StateErrorInfo], "outer") // the label is recorded
	})
	t.Run("handlers do not see loop control; cancel handlers run", func(t *testing.T) {
		is := is.New(t)
		var tr trace
		as := ccm.NewSteps().Loop(func(as *ccm.AsyncSteps) {
			as.Add(func(as *ccm.AsyncSteps, _ ...any) {
				as.SetCancel(func(*ccm.AsyncSteps) { tr.add("cancel") })
				as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Break() }, nil)
			}, func(*ccm.AsyncSteps, *ccm.Error) { tr.add("handler") })
		})
		_, err := runSteps(as)
		is.NoErr(err)
		is.Equal(tr.String(), "cancel")
	})
	t.Run("Break from an error handler", func(t *testing.T) {
		is := is.New(t)
		n := 0
		as := ccm.NewSteps().Loop(func(as *ccm.AsyncSteps) {
			as.Add(func(as *ccm.AsyncSteps, _ ...any) {
				n++
				if n == 3 {
					as.Error("Stop", "")
				}
			}, func(as *ccm.AsyncSteps, err *ccm.Error) { as.Break() })
		})
		_, err := runSteps(as)
		is.NoErr(err)
		is.Equal(n, 3)
	})
	t.Run("labels do not leak", func(t *testing.T) {
		is := is.New(t)
		// An unknown label, and a label of a loop outside a parallel
		// branch, are InternalErrors instead of silently leaving a loop.
		_, err := runSteps(ccm.NewSteps().Loop(func(as *ccm.AsyncSteps) { as.Break("nope") }, "outer"))
		is.Equal(errName(err), ccm.InternalError)
		is.True(strings.Contains(err.Error(), `"nope"`))
		_, err = runSteps(ccm.NewSteps().Loop(func(as *ccm.AsyncSteps) {
			as.Parallel(nil).Add(func(as *ccm.AsyncSteps, _ ...any) { as.Break("outer") }, nil)
		}, "outer"))
		is.Equal(errName(err), ccm.InternalError)
		// After a loop ended its label is gone.
		_, err = runSteps(ccm.NewSteps().Repeat(1, func(as *ccm.AsyncSteps, _ int) {}, "done").
			Add(func(as *ccm.AsyncSteps, _ ...any) { as.Break("done") }, nil))
		is.Equal(errName(err), ccm.InternalError)
	})
}

func TestStepsState(t *testing.T) {
	is := is.New(t)
	as := ccm.NewSteps()
	as.State()["n"] = 1
	as.Add(func(as *ccm.AsyncSteps, _ ...any) { as.State()["n"] = as.State()["n"].(int) + 1 }, nil)
	p := as.Parallel(nil)
	for range 3 {
		p.Add(func(as *ccm.AsyncSteps, _ ...any) { as.State()["n"] = as.State()["n"].(int) + 10 }, nil)
	}
	_, err := runSteps(as)
	is.NoErr(err)
	is.Equal(as.State()["n"], 32) // one state for the program and its branches
}

func TestStepsParallel(t *testing.T) {
	t.Run("all succeed, interleaved", func(t *testing.T) {
		is := is.New(t)
		var tr trace
		as := ccm.NewSteps()
		p := as.Parallel(nil)
		for _, name := range []string{"a", "b"} {
			p.Add(func(as *ccm.AsyncSteps, _ ...any) {
				tr.add(name + "1")
				ext := as.WaitExternal() // waits: the other branch runs meanwhile
				go ext.Success("dropped")
			}, nil)
		}
		as.Add(func(as *ccm.AsyncSteps, args ...any) { tr.add(fmt.Sprint("next", len(args))) }, nil)
		_, err := runSteps(as)
		is.NoErr(err)
		is.Equal(tr.String(), "a1 b1 next0") // both started before either finished; args dropped
	})
	t.Run("first error cancels the rest", func(t *testing.T) {
		is := is.New(t)
		var tr trace
		as := ccm.NewSteps()
		p := as.Parallel(func(as *ccm.AsyncSteps, err *ccm.Error) { tr.add("parallel-handler:" + string(err.Name)) })
		p.Add(func(as *ccm.AsyncSteps, _ ...any) {
			as.SetCancel(func(*ccm.AsyncSteps) { tr.add("a-cancelled") })
		}, nil)
		p.Add(func(as *ccm.AsyncSteps, _ ...any) { as.Error("Bad", "b failed") }, nil)
		p.Add(func(as *ccm.AsyncSteps, _ ...any) {
			as.SetCancel(func(*ccm.AsyncSteps) { tr.add("c-cancelled") })
		}, nil)
		_, err := runSteps(as)
		is.Equal(errName(err), ccm.ErrorName("Bad"))
		is.Equal(tr.String(), "a-cancelled parallel-handler:Bad") // c never started: b failed first
	})
	t.Run("a branch handler recovers", func(t *testing.T) {
		is := is.New(t)
		as := ccm.NewSteps()
		as.Parallel(nil).
			Add(func(as *ccm.AsyncSteps, _ ...any) { as.Error("Bad", "") }, func(as *ccm.AsyncSteps, _ *ccm.Error) {
				as.State()["default"] = true
				as.Success()
			}).
			Add(func(as *ccm.AsyncSteps, _ ...any) {}, nil)
		_, err := runSteps(as)
		is.NoErr(err)
		is.Equal(as.State()["default"], true)
	})
	t.Run("a busy branch yields to the others", func(t *testing.T) {
		is := is.New(t)
		as := ccm.NewSteps()
		as.Parallel(nil).
			Add(func(as *ccm.AsyncSteps, _ ...any) {
				as.Loop(func(as *ccm.AsyncSteps) { // never waits
					if as.State()["stop"] == true {
						as.Break()
					}
				})
			}, nil).
			Add(func(as *ccm.AsyncSteps, _ ...any) { as.State()["stop"] = true }, nil)
		_, err := runSteps(as) // without bursts the first branch would spin forever
		is.NoErr(err)
	})
	t.Run("an outer timeout cancels branches", func(t *testing.T) {
		is := is.New(t)
		var tr trace
		as := ccm.NewSteps().Add(func(as *ccm.AsyncSteps, _ ...any) {
			as.SetTimeout(10 * time.Millisecond)
			as.Parallel(nil).Add(func(as *ccm.AsyncSteps, _ ...any) {
				as.SetCancel(func(*ccm.AsyncSteps) { tr.add("branch-cancelled") })
			}, nil)
		}, nil)
		_, err := runSteps(as)
		is.Equal(errName(err), ccm.Timeout)
		is.Equal(tr.String(), "branch-cancelled")
	})
}
