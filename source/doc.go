// Package source holds the ways calls enter a pipeline besides a blocking
// call: [Stream], the channel API.
//
// Choices where the spec is silent (FutoIn has no channel API):
//
//   - A stream is two goroutines whatever the number of requests: one
//     reads requests and starts calls, one delivers results. A call waits
//     for nothing but its own completion, which its pipeline signals
//     through a [pipeline.Cleanup]; there is no goroutine per request.
//   - At most the window's number of calls are outstanding (started and
//     not yet received by the consumer). Beyond that the stream stops
//     reading requests, so a slow consumer, a full endpoint queue or a
//     throttle pushes back on the producer instead of filling buffers.
//   - Results come in completion order, or in request order with
//     [Ordered] (a slow call then holds back the ones behind it).
//   - The stream's ctx is every call's context: when it ends, the calls
//     outstanding complete with its error (a Timeout whose cause is the
//     ctx error), their results are delivered, and the output closes.
//     Requests not yet read stay unread; ctx is checked before each
//     read and after it, so no call starts once ctx has ended.
//
// source imports pipeline only.
package source
