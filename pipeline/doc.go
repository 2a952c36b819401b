// Package pipeline is the vocabulary and the runner of ftnpipe: the [Call]
// that travels, the messages and errors it carries, and the [Pipeline] that
// moves it through a fixed chain of steps.
//
// # Steps
//
// A pipeline is built from three kinds of step:
//
//   - a [Transform] ([T]): a cheap synchronous step (rid, sign, encode);
//     neighbouring transforms are fused into one loop, no channel hop;
//   - a [Stage] ([S]): a step that waits for something (a socket), run by
//     its own workers between channels the pipeline owns;
//   - a [Gate] ([G]): a step that may make a call wait without a goroutine
//     (a limit zone shared by many pipelines).
//
// The steps before the first stage, the leading run, execute in the
// goroutine that calls [Pipeline.Submit]: a call that no gate holds back
// reaches the first stage (or the direct lane) without any hand-off.
//
// # Gates: waiting without a goroutine
//
// A gate sits in the leading run. Its Enter either admits the call (the
// fast path: the next step runs at once, inline), completes it (a
// rejection), or parks it and returns. Submit then returns too: the caller
// waits on the call's Done channel as always, and no goroutine exists for
// the parked call. When the gate lets the call go, it calls
// [Resume.Continue], which appends the call to the pipeline's resume lane
// and returns at once, so a gate may resume calls from any goroutine (a
// connection's reader that just completed another call, a timer) without
// ever blocking it. One resume worker per pipeline with gates (started
// with the pipeline, joined by Close) runs the steps after the gate and
// forwards the call, waiting on back-pressure exactly as Submit does.
//
// A parked call still completes exactly once: when its deadline passes or
// its context ends, whoever completes it (stage.Await's timer and context
// watch) runs the gate's [Cleanup], which takes it out of the gate; when
// the pipeline closes, [Pipeline.Close] asks each gate to [Gate.Drop] the
// calls parked on its behalf and completes them with ConnectError. A gate
// outlives the pipelines that use it; Drop leaves other pipelines' calls
// alone. Submit and Resubmit hold the pipeline's read lock while they run
// the leading steps, so no call parks after Close has dropped the parked
// ones.
//
// A retry ([Pipeline.Resubmit]) re-enters the leading run from the start,
// so it passes every gate again; what a gate does with a call it has seen
// before (Call.Attempt > 0) is the gate's choice.
//
// # Ownership and completion
//
// Whoever last received a *Call owns it and either forwards it or
// completes it; nobody drops one. Completion is a one-shot future
// ([Call.Complete] wins once and closes [Call.Done]); each stage that
// holds something for a call registers a [Cleanup] (at most four per
// call: await, throttle, mux, retry) that runs once, right after the
// completion.
package pipeline
