// Package stage holds the steps an endpoint's pipeline is built from, one
// file each, in the order a call meets them:
//
//	await    arms the call's deadline and watches its context (no goroutine)
//	throttle a limit Zone: concurrency, queue and rate (a pipeline.Gate)
//	mux      assigns the rid ("C1", "C2", …) and keeps the pending table
//	sign     puts credentials into "sec"
//	encode   turns the request into a frame
//	decode   turns a response frame into the call's result or error
//	retry    re-injects calls that failed with ConnectError or CommError
//
// The transports themselves live in package sink. MAC signing and response
// verification slot in beside sign and decode.
//
// Limit zones: the spec leaves the Limiter's algorithm open. A [Zone] keeps
// FTN12's shape (a concurrency limit with a queue, then a rate limit with
// its own queue, "burst"), times the rate with a token bucket rather than
// the reference's fixed window, makes calls over the rate wait rather than
// fail (burst 0 means "queue up to MaxQueue", the spec's reading of null,
// not the reference's "reject at once"), and counts the time a call waits
// in the zone against its deadline.
//
// Dependencies: this package imports pipeline, codec and mac only. It never
// imports sink or source; the root package wires them together through
// plain function values.
//
// Every value here is safe for concurrent use unless its doc says
// otherwise. Costs measured on the project's 2-core machine are in each
// constructor's doc and in docs/PERFORMANCE.md.
package stage
