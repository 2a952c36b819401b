// Package sink holds the transports: where encoded frames leave an
// endpoint's pipeline and where responses come back.
//
//	HTTP       one POST per call over a keep-alive pool (FTN5 use case 1)
//	WebSocket  one persistent connection per endpoint, many calls in flight
//	Stream     the same over a TCP or UNIX stream socket, length-prefixed frames
//	InProc     an Executor in the same process, no socket, no encoding
//
// A sink is the last stage of a pipeline ([pipeline.Stage]). It never
// forwards a call: it completes it, or hands it to whoever will (the
// pending table through callbacks, or the pipeline's Fail, which applies
// the retry policy). Which error a failed call gets follows one rule
// (DESIGN.md §2): nothing was sent → ConnectError; sent and no answer →
// CommError; deadline → Timeout (armed by stage.Await).
//
// # Stream frames (tcp:// and unix://)
//
// FutoIn defines no framing for stream sockets (spec HTTP.md §8: the
// unix:// framing type is "TBD"), so this is a local extension, used by
// [Stream] and by the executor's StreamServer alike. Each message travels
// as one frame:
//
//	+----------------------------+-----------------------------+
//	| length: uint32, big-endian | message: length bytes       |
//	+----------------------------+-----------------------------+
//
// The length counts the message bytes only (not the 4-byte prefix) and
// must be between 1 and the receiver's message limit (64 KiB by default).
// The message is one coded FutoIn message exactly as a WebSocket message
// or an HTTP body carries it; its first bytes name its coder the same way
// (JSON starts with '{'; MessagePack and CBOR messages start with the
// ASCII markers "MPCK" and "CBOR", spec REFERENCE-JS.md §3.3), so the
// frame needs no coder field of its own and a receiver detects the codec
// per message. Both directions use the same frame; requests and responses
// are matched by "rid" (C… from the connection's client, S… from its
// server), and many may be in flight at once, answered in any order.
//
// A frame that declares a length of 0 or over the limit is refused before
// any of its body is read: the connection is closed (its pending calls
// fail with CommError on the invoker side; the executor counts it in
// Stats.BadFrames). EOF or an error in the middle of a frame ends the
// connection the same way. A frame whose message does not decode is
// handled like a WebSocket message that does not: an executor answers
// InvalidRequest, an invoker drops and counts it (stage.Mux.Unknown).
//
// # In-process calls
//
// [InProc] gives each request to a [pipeline.Handler] on one of its own
// workers (never on the caller's goroutine, spec INVOKER.md §9). "Same
// checks" without a socket means: the executor runs the request through
// the very checks and error mapping a socket request gets (credentials,
// "f", interface, version, function, forbidden error names, panics);
// params are deep-copied into the shapes a decoder would produce (maps,
// []any, string, float64, bool, nil; other numbers become float64, other
// types go through encoding/json), so the handler never shares memory
// with the caller and parameters that could not be encoded fail with
// InvokerError, as encoding would; the result is deep-copied the same way,
// so a handler returning state it keeps (a cached map) never shares it with
// callers, as no remote call could. []byte values are carried (copied)
// natively: internal channels carry binary data. No message size limit applies: nothing is
// serialised.
//
// This package imports pipeline and internal/sockio (the non-blocking
// socket write it shares with the executor) only; the root package wires
// sinks to the mux and decoder of package stage through the function
// fields of [WSConfig], [StreamConfig] and [HTTPConfig].
package sink
