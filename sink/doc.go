// Package sink holds the transports: where encoded frames leave an
// endpoint's pipeline and where responses come back.
//
//	HTTP       one POST per call over a keep-alive pool (FTN5 use case 1)
//	WebSocket  persistent connections (1 by default), many calls in flight on each
//	Stream     the same over TCP or UNIX stream sockets, length-prefixed frames
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
// A length word with the top bit set is a control word, not a length, and
// no message follows it (messages never come near 2 GiB). Two are
// defined (package internal/sockio holds their values for both sides):
//
//	0x80000001  Ping  the receiver answers Pong as soon as it reads it
//	0x80000002  Pong  the answer; never answered
//
// The invoker sends Ping as its heartbeat ([Healing].Heartbeat) on a
// connection that has been silent; the executor answers. Any other
// control word is a bad frame.
//
// A frame that declares a length of 0 or over the limit is refused before
// any of its body is read: the connection is closed (its pending calls
// fail with CommError on the invoker side; the executor counts it in
// Stats.BadFrames). EOF or an error in the middle of a frame ends the
// connection the same way. A frame whose message does not decode is
// handled like a WebSocket message that does not: an executor answers
// InvalidRequest, an invoker drops and counts it (stage.Mux.Unknown).
//
// # Connections that heal
//
// The persistent transports ([WebSocket], [Stream]) share one core, which
// keeps [Healing].Conns connections per endpoint (default 1), each with
// its own worker goroutine (the only writer, apart from the direct lane)
// and reader goroutine; with several, the stage's own goroutine hands
// each queued call to the connection with the fewest calls in flight. The
// choices where the spec is silent:
//
//   - Connections are dialled lazily, on the first call that needs one,
//     and again after a loss only when a call needs it: an idle endpoint
//     whose connection died holds no timer, no reader and no reconnect
//     loop (its worker waits for calls, as it did before the loss). Eager
//     redialling would make many idle endpoints reconnect to a peer that
//     restarts, all at once, for nothing.
//   - After a failed dial the connection waits before the next attempt
//     (exponential backoff with jitter, [Healing].ReconnectMin to
//     ReconnectMax). Calls that arrive meanwhile wait for that attempt
//     unless their deadline comes first (they then fail at once with
//     ConnectError); calls waiting for an attempt that fails all fail
//     with ConnectError. Each call thus sees at least one attempt, a down
//     peer is dialled at most once per interval however many calls
//     arrive, and nothing dials while no call waits. A successful dial
//     resets the backoff, so the first redial after a loss is at once.
//     Retrying the calls themselves stays with the retry stage.
//   - A lost connection fails only the calls written on it, through
//     Lost with its [pipeline.Carrier] (the mux's FailVia); the rid
//     counter and the pending table stay per endpoint.
//   - The heartbeat ([Healing].Heartbeat) pings a connection after a
//     silent interval and drops it after a second one: a WebSocket ping,
//     or the Ping control frame on streams. It is an application-level
//     ping on purpose: TCP keepalive is answered by the peer's kernel, so
//     it would not notice a peer process that hangs, and UNIX sockets
//     have no keepalive at all. The heartbeat is a runtime timer; only a
//     WebSocket ping in progress holds a goroutine, for at most one
//     interval.
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
// socket write and the control words it shares with the executor) only; the root package wires
// sinks to the mux and decoder of package stage through the function
// fields of [WSConfig], [StreamConfig] and [HTTPConfig].
package sink
