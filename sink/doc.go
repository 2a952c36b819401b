// Package sink holds the transports: where encoded frames leave an
// endpoint's pipeline and where responses come back.
//
//	HTTP       one POST per call over a keep-alive pool (FTN5 use case 1)
//	WebSocket  one persistent connection per endpoint, many calls in flight
//
// A sink is the last stage of a pipeline ([pipeline.Stage]). It never
// forwards a call: it completes it, or hands it to whoever will (the
// pending table through callbacks, or the pipeline's Fail, which applies
// the retry policy). Which error a failed call gets follows one rule
// (DESIGN.md §2): nothing was sent → ConnectError; sent and no answer →
// CommError; deadline → Timeout (armed by stage.Await).
//
// This package imports pipeline and internal/sockio (the non-blocking
// socket write it shares with the executor) only; the root package wires sinks to the
// mux and decoder of package stage through the function fields of
// [WSConfig] and [HTTPConfig].
package sink
