// Package stage holds the steps an endpoint's pipeline is built from, one
// file each, in the order a call meets them:
//
//	await   arms the call's deadline and watches its context (no goroutine)
//	mux     assigns the rid ("C1", "C2", …) and keeps the pending table
//	sign    puts credentials into "sec"
//	encode  turns the request into a frame
//	decode  turns a response frame into the call's result or error
//	retry   re-injects calls that failed with ConnectError or CommError
//
// The transports themselves live in package sink. A throttle stage (limit
// zones) joins between await and mux in a later release; MAC signing and
// response verification slot in beside sign and decode.
//
// Dependencies: this package imports pipeline, codec and mac only. It never
// imports sink or source; the root package wires them together through
// plain function values.
//
// Every value here is safe for concurrent use unless its doc says
// otherwise. Costs measured on the project's 2-core machine are in each
// constructor's doc and in docs/PERFORMANCE.md.
package stage
