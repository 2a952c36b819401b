package executor

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
)

// ServeHTTP serves the Executor on whatever path it is mounted at: a POST
// carries one whole FutoIn message and gets the response in the body
// (always HTTP 200 with a FutoIn content type); a GET with a WebSocket
// upgrade becomes a multiplexed FutoIn channel that lives until the peer
// closes it or [Executor.Close] runs; a POST or GET to a URL-mapped path
// ({iface}/{ver}/{func} at the end) is an FTN5 call (see
// [Executor.RegisterRaw]); any other request gets 405.
// ServeHTTP is safe for concurrent use.
func (e *Executor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.base.ServeHTTP(w, r)
}

// scope owns the connections and goroutines of one way of serving: the
// Executor's own ServeHTTP, or one Server. close cancels its context,
// closes its WebSocket connections and waits for everything it started.
type scope struct {
	e      *Executor
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.RWMutex
	closed bool
	conns  map[any]func() // open connections and how to close each
	wg     sync.WaitGroup // ServeHTTP calls, stream connections and the handler goroutines they start
}

func newScope(e *Executor) *scope {
	ctx, cancel := context.WithCancel(context.Background())
	return &scope{e: e, ctx: ctx, cancel: cancel, conns: map[any]func(){}}
}

// enter registers one running ServeHTTP; false once the scope is closed.
func (s *scope) enter() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// addConn records an open connection c and how close ends it; false once
// the scope is closed (the caller then closes c itself).
func (s *scope) addConn(c any, close func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = close
	return true
}

func (s *scope) removeConn(c any) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *scope) close() {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	conns := make([]func(), 0, len(s.conns))
	for _, f := range s.conns {
		conns = append(conns, f)
	}
	s.mu.Unlock()
	if first {
		s.cancel()
		var wg sync.WaitGroup
		for _, f := range conns {
			wg.Go(f)
		}
		wg.Wait()
	}
	s.wg.Wait()
}

func (s *scope) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		http.Error(w, "FutoIn executor is closed", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	switch {
	case isWebSocketUpgrade(r):
		s.serveWS(w, r)
	case s.serveMapped(w, r): // {iface}/{ver}/{func} below the endpoint (raw.go)
	case r.Method == http.MethodPost:
		s.servePost(w, r)
	default:
		w.Header().Set("Allow", "POST, GET")
		http.Error(w, "FutoIn executor: POST a FutoIn message, or open a WebSocket (GET with Upgrade: websocket)",
			http.StatusMethodNotAllowed)
	}
}

// servePost answers one message POST (HTTP.md §2 case 1, §4, §5).
func (s *scope) servePost(w http.ResponseWriter, r *http.Request) {
	e := s.e
	vnd := wantsVnd(r.Header)
	ctype := contentTypeJSON
	if vnd {
		ctype = contentTypeVndJSON
	}

	b := getBuf()
	buf, tooBig, err := readMessage(r.Body, (*b)[:0], e.maxSize)
	*b = buf
	if err != nil || tooBig {
		putBuf(b)
		desc := "could not read the request body"
		if tooBig {
			desc = tooBigDesc(e.maxSize)
		}
		writeHTTP(w, ctype, e.encodeError("", pipeline.InvalidRequest, desc))
		return
	}
	// The codec is the one the body's first bytes name (as the reference
	// executor does, whatever the Content-Type says), and the reply uses
	// it too.
	var m pipeline.Request
	cd, rid, desc, ok := decodeIn(*b, &m)
	in := inbound{ch: chHTTP, size: len(*b)}
	if r.TLS != nil {
		in.ch = chHTTPS
	}
	putBuf(b)
	if cd != codec.JSON {
		ctype = contentTypes[cd][0]
		if vnd {
			ctype = contentTypes[cd][1]
		}
	}
	if !ok {
		writeHTTP(w, ctype, e.signedError(cd, rid, pipeline.InvalidRequest, desc, nil))
		return
	}
	if rf := e.rawFunc(m.F); rf != nil { // raw.go
		s.serveRaw(w, r, cd, ctype, &m, rf, nil, false)
		return
	}

	// The handler's context ends when the client goes away, when the
	// scope closes, or when the handler returns.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	// The handler runs on this goroutine. An expired request is answered
	// by serve's timeout callback while the handler still runs: it writes
	// the reply and flushes it (see httpOut.respond).
	out := &httpOut{w: w, ctype: ctype, ctx: ctx}
	if e.timeout > 0 {
		out.deadline = time.Now().Add(e.timeout)
	}
	e.serveIn(ctx, cd, &m, in, out)
}

// httpOut writes the one response of a POST. respond is called once,
// either on the ServeHTTP goroutine or, for an expired request, on the
// timeout callback's goroutine while ServeHTTP waits for the handler (and,
// in serve, for that callback): never both, never after ServeHTTP returns.
type httpOut struct {
	w        http.ResponseWriter
	ctype    []string
	ctx      context.Context // the handler's parent context
	deadline time.Time       // no earlier than serve's timeout; zero without one
}

func (o *httpOut) respond(b *[]byte) {
	// The timeout callback runs once serve's context is done: after the
	// deadline, or once ctx is done. (A handler returning just then is
	// taken for one; that only costs the connection.)
	if o.ctx.Err() != nil || !o.deadline.IsZero() && !time.Now().Before(o.deadline) {
		// Answered before the handler returned: send it now, and close
		// the connection afterwards, as it stays busy until the handler
		// returns and a next request on it would wait for that.
		o.w.Header().Set("Connection", "close")
		writeHTTP(o.w, o.ctype, b)
		_ = http.NewResponseController(o.w).Flush()
		return
	}
	writeHTTP(o.w, o.ctype, b)
}

var (
	contentTypeJSON    = []string{codec.ContentTypeJSON}
	contentTypeVndJSON = []string{codec.ContentTypeVndJSON}
	// contentTypes of the binary codecs: [codec][vnd form].
	contentTypes = map[pipeline.Codec][2][]string{
		codec.MsgPack: {{codec.ContentTypeMsgPack}, {codec.ContentTypeVndMsgPack}},
		codec.CBOR:    {{codec.ContentTypeCBOR}, {codec.ContentTypeVndCBOR}},
	}
)

// writeHTTP writes the response b; an empty b (no response message, spec
// HTTP.md §4.2) goes out without a content type, as the RI sends it.
func writeHTTP(w http.ResponseWriter, ctype []string, b *[]byte) {
	h := w.Header()
	if len(*b) > 0 {
		h["Content-Type"] = ctype // shared, read-only
	}
	h.Set("Content-Length", strconv.Itoa(len(*b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(*b)
	putBuf(b)
}

// wantsVnd reports whether Content-Type or Accept uses the IANA "vnd."
// form, which the response then mirrors (HTTP.md §5).
func wantsVnd(h http.Header) bool {
	for _, k := range [...]string{"Content-Type", "Accept"} {
		for _, v := range h[k] {
			if strings.Contains(strings.ToLower(v), "application/vnd.futoin+") {
				return true
			}
		}
	}
	return false
}

func isWebSocketUpgrade(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for _, v := range r.Header.Values("Upgrade") {
		if strings.Contains(strings.ToLower(v), "websocket") {
			return true
		}
	}
	return false
}

func tooBigDesc(max int) string {
	return "message too big: the limit is " + strconv.Itoa(max) + " bytes"
}

// readMessage appends what r yields to buf until EOF, or until it has read
// more than max bytes (then tooBig, with max+1 bytes read). The buffer
// grows with the bytes that actually arrive, never from a declared size.
func readMessage(r io.Reader, buf []byte, max int) (_ []byte, tooBig bool, _ error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := min(cap(buf), max+1)
		n, err := r.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		switch {
		case len(buf) > max:
			return buf, true, nil
		case err == io.EOF:
			return buf, false, nil
		case err != nil:
			return buf, false, err
		}
	}
}
