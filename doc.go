// Package ccm is ftnpipe: a FutoIn Invoker for Go, the Connection and
// Credentials Manager (CCM) of the FutoIn specs (FTN7), built as a channel
// pipeline.
//
// A program registers named endpoints once (interface, version, URL,
// credentials, limits) and then calls their functions like local ones; the
// CCM does the coding, the credentials, the multiplexing, the timeouts and
// the retries:
//
//	c := ccm.New()
//	defer c.Close()
//	err := c.Register(ctx, "calc", "example.calc:1.0", "wss://calc.example.com/ftn",
//		ccm.Credentials("svc:secret"))
//	calc, err := c.Iface("calc")
//	res, err := calc.Call(ctx, "add", map[string]any{"a": 1, "b": 2})
//
// # Limit zones: external endpoints are throttled by default
//
// Every external endpoint (http, https, ws, wss) is in the limit zone
// "default" unless it names another: at most 8 calls at once, 32 more
// waiting, 10 calls per second, shared by every endpoint in the zone (the
// values the spec recommends). A call over those limits waits, holding no
// goroutine, and goes on in order of arrival; it fails at once with
// DefenseRejected when the queue is full, and with Timeout when its
// deadline would pass before its turn. Code that needs throughput
// raises the limits or opts out:
//
//	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))             // no throttle at all
//	err := c.LimitZone(ccm.ZoneDefault, ccm.Limits{Concurrent: 64, MaxQueue: 1024, Rate: 5000})
//	err = c.LimitZone("batch", ccm.Limits{Concurrent: 2, MaxQueue: 100})
//	err = c.Register(ctx, "report", "example.report:1.0", url, ccm.LimitZone("batch"))
//
// Unlike the reference implementation, which rejects the 11th call within
// a second, calls over the rate wait ([Limits] Burst 0 means "queue up to
// MaxQueue"). Time waiting in a zone counts against the call's deadline.
// A retry keeps its place in the zone but takes a rate token again.
//
// # How a call flows
//
// Each endpoint has its own pipeline, started on its first call:
//
//	Call ─► await ─► throttle ─► mux (rid) ─► sign ─► encode ─► transmit (ws │ tcp │ unix │ http)
//	                                                                 │
//	caller ◄─ complete ◄─ retry? ◄─ decode ◄─ mux: match rid ◄───────┘
//
// await, throttle (when a call may go at once), mux, sign and encode run
// in the caller's own goroutine; a call the throttle makes wait is resumed
// later by one worker per endpoint. The transmit stage is the one
// goroutine boundary on the way out (it batches what queues up behind a
// busy socket). On WebSocket, TCP and UNIX sockets a lone call skips even
// that hop: while the connection is open and idle,
// the caller writes its own frame (the pipeline's direct lane). A response is
// decoded on the connection's reader and completes the call, which wakes
// the caller. Nothing starts a goroutine per call: deadlines are runtime
// timers and context.AfterFunc registrations.
//
// An Executor in the same process is registered with [CCM.RegisterLocal]:
//
//	Call ─► await ─► -internal (or sign) ─► transmit: in process, on the endpoint's workers
//
// No socket, no encoding, no rid; the handler runs on one of the
// endpoint's goroutines, never on the caller's (INVOKER.md §9).
//
// Raw data calls (FTN5: [Iface.Upload], [Iface.Download],
// [Iface.DownloadTo]) have a pipeline of their own per endpoint, always
// over HTTP, also for ws:// and wss:// endpoints:
//
//	Upload/Download ─► await ─► [sign] ─► encode (no upload only) ─► transmit: one HTTP exchange
//
// See raw.go's doc for the wire form and the choices (no retry, no MAC,
// credentials in an Authorization header, size bounds).
//
// # Guarantees
//
// Every call completes exactly once, with a result or an [*Error], whatever
// happens: a response, a deadline, a cancelled context, a lost connection,
// Unregister or Close. Which error a call gets:
//
//   - a name the peer sent (Remote set): the peer's answer;
//   - ConnectError: the connection could not be made, nothing was sent;
//   - CommError: sent, but the connection was lost or the reply was not a
//     FutoIn message (HTTP status, content type, size and syntax are
//     checked: an HTML error page is never a result);
//   - Timeout: the call's deadline (its context's, or the call timeout of 30
//     s by default) passed, or its context was cancelled (then
//     errors.Is(err, context.Canceled) holds too);
//   - InvokerError: a bad call or registration, or a closed CCM.
//
// ConnectError and CommError are retried once by default ([RetryCount]),
// after an exponential backoff with jitter, never past the deadline.
//
// # Choices where the spec leaves room
//
//   - This is the SimpleCCM: no interface specs, "forcersp" on every request,
//     results as decoded values. Results are float64 for numbers, as in
//     JavaScript; [Iface.CallInto] decodes into a struct instead.
//   - Request ids are "C1", "C2", … from a counter per endpoint that does not
//     restart when a WebSocket reconnects, so a rid is never reused on any of
//     the endpoint's connections (WIRE.md §4 only asks that they increase).
//   - Credentials "user:password" are split at the first ':' and travel in the
//     "sec" field of the message, never in a URL; a URL with user info is
//     refused at Register. (The reference executor refuses passwords that
//     contain ':'.)
//   - MAC credentials ("-smac:user", legacy "-hmac:user") sign every request
//     after its rid is assigned, again on every retry, and demand a valid
//     signature on every response: a missing or wrong one is a
//     SecurityError, stricter than the reference, which accepts unsigned
//     standard errors ([AcceptUnsignedErrors] restores that). Either form
//     takes any supported algorithm, as the reference does.
//   - Minor versions compare as numbers in AssertIface: 1.10 satisfies 1.9.
//   - Unregistering an alias removes just that alias, for good.
//   - Events are delivered synchronously to [CCM.Subscribe] callbacks, after
//     the change and outside any lock.
//   - A WebSocket, TCP or UNIX connection that fails to open fails the calls
//     waiting for it with ConnectError at once; the next call dials again.
//     A TLS handshake that fails (an untrusted certificate) is a
//     ConnectError too: nothing was sent.
//   - tcp:// and unix:// carry length-prefixed frames (a 4-byte big-endian
//     length, then the coded message; see package sink), a local
//     extension: FutoIn defines no stream framing. unix:// is secure (a
//     local socket, INVOKER.md §4), tcp:// is not unless "secure+tcp://";
//     there is no TLS over tcp://.
//   - In-process endpoints ([CCM.RegisterLocal]) are secure, send
//     "-internal" when registered without credentials (also for interfaces
//     that allow anonymous calls: without specs the CCM cannot tell, and
//     the reference does the same; an [AdvancedCCM] knows and calls
//     anonymously for them), have no retry, and have no call
//     timeout unless [CallTimeout] is given, as in the reference. Their
//     handlers' context ends when the call completes.
//
// # Not yet
//
// Master-secret MACs (-mmac) and on-behalf-of are later releases; see the
// README for the status. The [AdvancedCCM] checks calls against interface
// specs (package spec).
package ccm
