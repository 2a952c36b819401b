// Package executor is a minimal FutoIn Executor (FTN6): it hosts Go
// functions under "iface:MAJOR.MINOR:func" and answers FutoIn requests over
// HTTP POST and WebSocket on the same endpoint ([Executor.Listen], with
// TLS [Executor.ListenTLS]), over TCP and UNIX stream sockets
// ([Executor.ListenTCP], [Executor.ListenUnix]; length-prefixed frames as
// defined in package sink) and in process ([Executor.ServeInternal], for
// ccm.RegisterLocal).
//
//	ex := executor.New(executor.WithAuth(check))
//	err := ex.Register("com.example.calc:1.2", map[string]executor.Handler{
//		"add": func(ctx context.Context, req *executor.Request) (any, error) {
//			a, _ := req.Params["a"].(float64)
//			b, _ := req.Params["b"].(float64)
//			return map[string]any{"sum": a + b}, nil
//		},
//	})
//	srv, err := ex.Listen("")   // 127.0.0.1, free port
//	defer srv.Close()
//	// POST to srv.HTTPURL() or dial srv.WSURL()
//
// An interface registered with its FTN3 definition ([WithSpecs],
// [Executor.RegisterSpec]) is checked: unknown functions and bad params
// are refused with InvalidRequest before the handler runs, defaults are
// applied, results are checked before they are sent (a bad one is
// InternalError), errors not in "throws" become InternalError, the
// constraints (SecureChannel, MessageSignature, AllowAnonymous,
// BiDirectChannel) and each function's seclvl are enforced, a function
// without a result answers only with "forcersp", and the function's
// maxreqsize/maxrspsize apply. An interface registered without a
// definition is served unchecked, as described below.
//
// # Channels and security levels
//
// Handlers see the channel in [Request.Channel] and [Request.Secure]:
// HTTPS, WSS, UNIX sockets and in-process calls are secure; plain HTTP,
// WS and TCP are not (there is no TLS over raw TCP). [Request.SecLvl] is
// the level of the credentials (spec INVOKER.md §3.2): none Anonymous,
// "user:password" SafeOps, a MAC (-smac, -hmac) PrivilegedOps,
// "-internal" System. The level does not drop on an insecure channel
// (SECURITY.md §6 leaves that open; the reference does not either): use
// SecureChannel where it matters. "obf" (on-behalf-of) is trusted only
// from "-internal" callers (SECURITY.md §7): the request then runs as
// obf.lid at level obf.slvl (an unknown level is Anonymous); anyone
// else's obf is ignored. A function's unknown seclvl name counts as the
// highest level (FTN3).
//
// Raw data (FTN5): functions registered with [Executor.RegisterRaw] take a
// raw upload and/or answer with raw bytes, over HTTP: URL-mapped requests
// ({endpoint}/{iface}/{ver}/{func}[/{sec}]?{params}; POST carries the
// upload, GET none) and message POSTs. A path is URL-mapped when it ends
// in a valid interface name, MAJOR.MINOR and function name (plus an
// optional sec segment); the Executor does not need to know where it is
// mounted. See RegisterRaw for the choices (params stay strings, limits,
// timeouts, cut connections). With a definition ([WithSpecs]) raw
// functions are checked as messages are: constraints, seclvl, rawupload,
// params (query strings converted to the declared types), throws and
// the result of a function without rawresult (rawspec.go).
//
// # Wire behaviour
//
// Requests go through the checks of spec EXECUTOR.md §7 in this order:
// size, decoding, "sec", "f", interface, version, function. Decisions where
// the spec leaves room or the reference implementation (RI) differs:
//
//   - Sizes: requests and responses are limited to 64 KiB
//     ([WithMaxMessageSize]). At most limit+1 bytes of a body are read; a
//     bigger HTTP body is answered InvalidRequest (never a dropped socket,
//     unlike the RI). On WebSocket a message up to 4× the limit is read,
//     discarded and answered InvalidRequest without rid (its rid is not
//     known); a bigger one makes coder/websocket close the connection with
//     status 1009 "message too big". A response over the limit becomes
//     InternalError "response too big" with the request's rid.
//   - Coding: the codec (JSON, MessagePack or CBOR) is detected from the
//     message's first bytes ([codec.Detect]): the "MPCK" and "CBOR"
//     markers, JSON otherwise, on HTTP and on WebSocket whatever the frame
//     type. The response, errors included, goes out in the request's
//     codec, so a handler's []byte result reaches a MessagePack or CBOR
//     caller as bytes, while for a JSON caller it becomes InternalError
//     "result could not be encoded". The HTTP Content-Type of a request is
//     not checked (the RI does not either: the bytes decide); the reply is
//     HTTP 200 with the codec's application/futoin+X type, or the
//     application/vnd.futoin+X form when the request's Content-Type or
//     Accept used the vnd form. WebSocket replies are binary frames. Any
//     method other than POST (and a WebSocket GET, or a GET of a
//     URL-mapped path) gets 405.
//   - Malformed messages: InvalidRequest, with the rid when one could
//     still be read from the message, else without.
//   - TCP and UNIX streams behave as WebSocket connections (rid rules,
//     concurrency, errors), except that a frame declaring a length of 0 or
//     over the limit closes the connection without its body being read
//     (counted in [Stats].BadFrames), since it cannot be skipped safely.
//   - WebSocket rid: a request without rid is answered InvalidRequest
//     without rid (the RI ignores it); a rid not starting with "C" is
//     answered InvalidRequest with that rid; a message whose rid starts
//     with "S" is a response to a server-initiated call (none are made
//     yet): it is dropped and counted in [Stats].DroppedResponses.
//     Responses are binary frames; text and binary frames are accepted.
//   - Routing: an unknown interface gives UnknownInterface; a known one
//     without the major, or with a smaller minor than asked, gives
//     NotSupportedVersion (minors compare as numbers: 1.10 serves 1.9, the
//     RI compares strings); a bad "f" (not three parts, version not
//     MAJOR.MINOR) gives InvalidRequest.
//   - Unknown function: NotImplemented for an interface without a
//     definition. FTN3 defines NotImplemented as "the Executor does not
//     implement the function", which is all that is known then. With a
//     definition, a function it does not declare is InvalidRequest
//     "Unknown interface function: iface:ver:f()" as in the RI (bad data
//     from the caller), and a declared function without a handler is
//     NotImplemented, so a caller can tell the two apart.
//   - Anonymous callers see the same errors as authenticated ones, except
//     on an interface with a definition that lacks AllowAnonymous: there,
//     as in the RI, an unknown function or a too-high minor of a
//     registered major is answered UnknownInterface to anonymous callers
//     (a major that is not registered stays NotSupportedVersion: no
//     definition tells whether to hide it).
//   - Credentials: "sec" = "user:password", split at the first ':', goes to
//     the [WithAuth] check; any failure is SecurityError "authentication
//     failed", the same text whichever part was wrong, and the request
//     never reaches its handler. Without WithAuth, credentials get
//     SecurityError "authentication is not enabled" (the RI says
//     NotImplemented). "-internal" is accepted only from in-process calls
//     ([Executor.ServeInternal]), which then run as user [InternalUser]
//     (or the user their "obf" names); from a socket it is a
//     SecurityError, whatever the transport. -mmac: gets SecurityError
//     (not supported). "obf" from any other caller is ignored. Secrets
//     never appear in responses or in [WithErrorHook] reports.
//   - Results: a handler's result is sent as "r". Without a definition
//     there is no way to know that a function is void, so every request is
//     answered, with or without "forcersp", and a nil result is sent as
//     "r":{} (what the RI sends for a void function called with forcersp).
//     With one, see [Executor.RegisterSpec].
//   - Errors: a *pipeline.Error returned by a handler is sent as its Name
//     and Desc: the standard Executor-side names and, without a
//     definition, custom names alike; with one, a custom name must be in
//     the function's "throws" (else InternalError "Not expected error").
//     The Invoker-side names (ConnectError, CommError, InvokerError) and
//     Timeout, which must not travel from an Executor, become
//     InternalError, as does any other error and any panic (recovered; the
//     server keeps serving). InternalError made here carries a fixed
//     description ("internal error"), never the error text or panic value;
//     use [WithErrorHook] to see those.
//   - Timeout: 5 s per request by default ([WithRequestTimeout]); on expiry
//     the handler's context is cancelled and the caller gets InternalError
//     "request timed out" with its rid right away, in the request's codec,
//     on both transports (the RI sends a bare InternalError over HTTP).
//
// # Concurrency and cost
//
// Everything exported is safe for concurrent use. Each WebSocket
// connection has one reader goroutine at a time, and it serves what it
// reads itself: a quick request costs no goroutine handoff (read, decode,
// handler, encode and write on one goroutine). A request whose handler
// runs for more than 1 ms is detached: a timer's goroutine takes over
// reading, and the old one ends once its request is answered. So calls of
// one connection still run concurrently and are answered as they
// complete, each with its rid; a blocking handler delays the
// connection's other calls by at most twice that grace period (plus
// scheduling), and a connection's quick, CPU-bound calls share one core.
// The timer stays armed across quick requests instead of being set per
// request: adding a timer wakes the runtime's network poller, which cost
// more than a whole quick request (sequential p50 in bench/compare: 1.63×
// → 1.35× the bare WebSocket echo).
// Responses are written by the goroutine that made them, into a wrapped
// socket that never makes a writer wait: what the reader writes while it
// works through input already received goes out with one write system
// call just before its next socket read (a burst of requests gets one
// write); otherwise the first writer to find the socket idle writes what
// is collected with a non-blocking system call, and only when the peer
// does not read fast enough does a writer goroutine wait on the socket
// (up to 30 s per write before the connection is closed). Handlers never
// wait on the socket. The registry is read without locks. Per request
// the Executor adds one context.WithTimeout, one context.AfterFunc,
// pooled, size-capped encode buffers and, on WebSocket, a timer reset.
// A call of an interface with a definition adds its checks (function
// lookup, constraints, params and defaults, result): about 0.2-0.3 µs and
// no allocation for a two-number add (BenchmarkSpecChecks in process:
// median 1.26 µs unchecked, 1.60 µs checked, 808 B and 6 allocs both;
// over WebSocket and HTTP the difference is within the noise).
// HTTP runs the handler on the request's goroutine; an expired request is
// answered (and flushed, with "Connection: close") by the timeout
// callback while its handler still runs.
//
// WebSocket upgrades go through coder/websocket's Accept with its default
// origin check: browsers on another origin are refused (403).
//
// # Who closes what
//
// [Server.Close] closes what its [Executor.Listen] started; [Executor.Close]
// closes every Server of the Executor and the WebSocket connections
// accepted through [Executor.ServeHTTP]. Both cancel the contexts of
// running handlers and wait for them and for every goroutine they own, so
// a handler must honour its context. WebSocket connections are closed with
// status 1001 "executor closing" and a close handshake, which waits up to
// 5 s (coder/websocket's bound) for a peer that does not read; connections
// are closed in parallel. The Executor closes connections; a
// handler never closes anything it did not open. An http.Server that
// mounts ServeHTTP is the caller's to close; call Executor.Close as well to
// end the hijacked WebSocket connections, which http.Server does not track.
package executor
