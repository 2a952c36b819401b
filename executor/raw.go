package executor

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/spec"
)

// RawFunc is a FutoIn function with raw data (FTN5, spec HTTP.md §1 cases
// 3 and 4), registered with [Executor.RegisterRaw].
type RawFunc struct {
	// Upload is the spec's "rawupload": the function accepts a raw request
	// body. A raw upload to a function without it is InvalidRequest
	// (EXECUTOR.md §7 row 12).
	Upload bool
	// Result is the spec's "rawresult": on success the function answers
	// with raw bytes written to its [RawOutput] instead of a result
	// message. Errors are FutoIn messages all the same (HTTP.md §4).
	Result bool
	// Handler implements the function.
	Handler RawHandler
	// MaxUpload bounds the upload in bytes; 0 means no bound (FTN5 §3.5:
	// an upload service must not cap chunks; the timeout bounds the
	// transfer). A larger upload fails the body's Read, and the request
	// is answered InvalidRequest "upload exceeds N bytes".
	MaxUpload int64
	// Timeout bounds the request, the transfers included; 0 means the
	// Executor's request timeout ([WithRequestTimeout]), below 0 none.
	Timeout time.Duration
}

// RawRequest is a request to a [RawFunc].
type RawRequest struct {
	Request
	// Body is the raw upload. It is nil when the request carries none: a
	// message POST, a URL-mapped GET, or a call over WebSocket, TCP, UNIX
	// or in process. Reads fail once the request's context ends or the
	// upload passes MaxUpload. The Executor closes it.
	Body io.Reader
	// Header holds the HTTP request's headers (read only); nil off HTTP.
	Header http.Header
}

// RawHandler implements a [RawFunc]. out is nil unless the function has
// Result. For a function with Result, a successful handler writes its
// result to out, or returns it as an io.Reader (closed afterwards when it
// is an io.Closer), []byte or string, with nothing written; any other
// non-nil result is InternalError "raw result is expected". Without
// Result, the returned value is sent as "r", as for a [Handler].
//
// An error returned before anything was written to out is answered as a
// FutoIn error message, as for a Handler; once output has started the
// connection is cut instead (the caller sees a truncated body: chunked
// encoding ends without its last chunk, or fewer bytes than
// Content-Length).
type RawHandler func(ctx context.Context, req *RawRequest, out *RawOutput) (any, error)

// RawOutput is where a rawresult function writes its result: the HTTP
// response body, sent with status 200. Set the type and length before the
// first Write. It is safe for concurrent use, but writes must be ordered
// by the handler.
type RawOutput struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	mu      sync.Mutex  // serialises writes and the settings
	started atomic.Bool // headers sent
	expired atomic.Bool // the request ended: writes fail
	ctype   string
	length  int64
	n       int64
}

// SetContentType sets the result's media type (default
// application/octet-stream). FutoIn message types are refused (a peer
// would read the data as a message); they are replaced by the default.
// It has no effect after the first Write.
func (o *RawOutput) SetContentType(ct string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	lc := strings.ToLower(ct)
	if strings.Contains(lc, "futoin+") {
		ct = ""
	}
	o.ctype = ct
}

// SetContentLength announces the result's length in bytes (sent as
// Content-Length; otherwise the body is chunked). A handler that then
// writes fewer bytes leaves a truncated body, which the peer detects. It
// has no effect after the first Write.
func (o *RawOutput) SetContentLength(n int64) {
	o.mu.Lock()
	o.length = n
	o.mu.Unlock()
}

// Write writes to the result. It fails once the request's context ended.
func (o *RawOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.expired.Load() {
		return 0, errRequestEnded
	}
	if !o.started.Load() {
		o.start()
	}
	n, err := o.w.Write(p)
	o.n += int64(n)
	return n, err
}

// start sends the headers; o.mu is held.
func (o *RawOutput) start() {
	o.started.Store(true)
	if o.expired.Load() { // expire ran before started was set: cut writes now
		_ = o.rc.SetWriteDeadline(time.Now())
	}
	h := o.w.Header()
	ct := o.ctype
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	if o.length >= 0 {
		h.Set("Content-Length", strconv.FormatInt(o.length, 10))
	}
	o.w.WriteHeader(http.StatusOK)
}

// Flush sends what was written so far to the peer (starting the output
// if nothing was written yet).
func (o *RawOutput) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.expired.Load() {
		return errRequestEnded
	}
	if !o.started.Load() {
		o.start()
	}
	return o.rc.Flush()
}

// Started reports whether output has begun (headers sent).
func (o *RawOutput) Started() bool { return o.started.Load() }

var errRequestEnded = errors.New("executor: request ended")

// expire ends output: later writes fail, a write in progress is cut (it
// may hold mu while it waits for a slow peer, so expire does not take it).
func (o *RawOutput) expire() {
	o.expired.Store(true)
	if o.started.Load() {
		_ = o.rc.SetWriteDeadline(time.Now())
	}
}

// RegisterRaw adds functions with raw data to the interface version
// ifacever, with the same rules as [Executor.Register]. An interface may
// have both kinds of function: call Register and RegisterRaw once each
// for it, in either order, with the same version; a function name in
// both is an error. funcs is copied.
//
// Raw functions are served over HTTP only: URL-mapped POSTs
// ({endpoint}/{iface}/{ver}/{func}[/{sec}]?{params}, the upload in the
// body) and GETs (no upload), and message POSTs to the endpoint (no
// upload; the reply to a Result function is then raw data too). Over
// WebSocket, TCP, UNIX and in process a Result function is answered
// InvalidRequest; a function with Upload only runs with a nil Body.
//
// A URL-mapped POST with an empty body (Content-Length: 0) to a function
// without Upload is taken as a GET.
//
// Without a definition, params of URL-mapped requests are the query's
// strings as they are: the Executor has no spec to convert "1" to a
// number (HTTP.md §3 converts by declared type), so a handler converts
// what it needs; a key given twice is InvalidRequest. With one
// ([WithSpecs]), Upload and Result must match the function's rawupload
// and rawresult (else RegisterRaw fails), and requests are checked as
// [Executor.RegisterSpec] describes for messages, over HTTP: constraints
// and seclvl, then a raw upload to a function without rawupload
// (InvalidRequest "Raw upload is not allowed: f()"), then the params,
// query strings first converted to the declared types (an integer, a
// number, a boolean, a JSON object or array, else the string: the first
// reading the type accepts), defaults applied; errors not in "throws"
// become InternalError and a result without rawresult is checked. Off
// HTTP a raw function of a checked interface goes through the message
// checks. "sec" comes from the 4th path segment or an
// Authorization: Basic header ("user:password"), and is checked as for a
// message. A MAC-signed URL-mapped request verifies only when its params
// are strings (the MAC covers the typed values, which the Executor cannot
// rebuild without a spec).
func (e *Executor) RegisterRaw(ifacever string, funcs map[string]RawFunc) error {
	name, major, minor, err := parseIfaceVer(ifacever)
	if err != nil {
		return err
	}
	var sp *spec.Iface
	if e.specs != nil {
		if sp, err = e.specs.Iface(ifacever); err != nil {
			return fmt.Errorf("executor: register %q: %w", ifacever, err)
		}
	}
	im := &impl{minor: minor, funcs: make(map[string]Handler, len(funcs)), raw: make(map[string]*RawFunc, len(funcs)), hasRaw: true, spec: sp, of: ifacever}
	if sp != nil {
		im.cons = constraintsOf(sp)
	}
	for fn, rf := range funcs {
		if !validFuncName(fn) {
			return fmt.Errorf("executor: register %q: bad function name %q", ifacever, fn)
		}
		if rf.Handler == nil {
			return fmt.Errorf("executor: register %q: nil handler for %q", ifacever, fn)
		}
		if !rf.Upload && !rf.Result {
			return fmt.Errorf("executor: register %q: raw function %q has neither Upload nor Result", ifacever, fn)
		}
		if sp != nil {
			if err := checkRawFlags(sp, fn, &rf); err != nil {
				return fmt.Errorf("executor: register %q: %w", ifacever, err)
			}
		}
		rf := rf
		im.raw[fn] = &rf
		im.funcs[fn] = rf.offHTTP(fn)
	}
	return e.install(ifacever, servedAs(name, major, minor, sp), im)
}

// parseIfaceVer checks "iface:MAJOR.MINOR" as Register does.
func parseIfaceVer(ifacever string) (name string, major, minor int, err error) {
	name, ver, ok := strings.Cut(ifacever, ":")
	if !ok || !validIfaceName(name) {
		return "", 0, 0, fmt.Errorf("executor: register %q: want \"iface:MAJOR.MINOR\" with a dotted lowercase interface name", ifacever)
	}
	major, minor, ok = parseVersion(ver)
	if !ok {
		return "", 0, 0, fmt.Errorf("executor: register %q: bad version, want MAJOR.MINOR", ifacever)
	}
	return name, major, minor, nil
}

// offHTTP is the Handler of a raw function on the transports without raw
// data.
func (rf *RawFunc) offHTTP(fn string) Handler {
	return func(ctx context.Context, req *Request) (any, error) {
		if rf.Result {
			return nil, pipeline.NewError(pipeline.InvalidRequest, "function "+fn+" returns raw data: call it over HTTP")
		}
		return rf.Handler(ctx, &RawRequest{Request: *req}, nil)
	}
}

// rawFunc returns the raw function f names, or nil.
func (e *Executor) rawFunc(f string) *RawFunc {
	iface, _, fn, major, minor, ok := splitF(f)
	if !ok {
		return nil
	}
	im := e.reg.Load().ifaces[iface][major]
	if im == nil || minor > im.minor {
		return nil
	}
	return im.raw[fn]
}

// mappedPath splits a URL-mapped path, {prefix}/{iface}/{ver}/{func}[/{sec}]
// with an optional trailing slash (HTTP.md §2), read from its end. ok is
// false when the path does not end that way (a message POST).
func mappedPath(escaped string) (f, sec string, hasSec, ok bool) {
	segs := strings.Split(strings.TrimSuffix(escaped, "/"), "/")
	n := len(segs)
	try := func(i int) bool {
		if i < 0 {
			return false
		}
		_, _, okv := parseVersion(segs[i+1])
		return validIfaceName(segs[i]) && okv && validFuncName(segs[i+2])
	}
	switch {
	case n >= 4 && try(n-4):
		s, err := url.PathUnescape(segs[n-1])
		if err != nil {
			return "", "", false, false
		}
		return segs[n-4] + ":" + segs[n-3] + ":" + segs[n-2], s, true, true
	case n >= 3 && try(n-3):
		return segs[n-3] + ":" + segs[n-2] + ":" + segs[n-1], "", false, true
	}
	return "", "", false, false
}

// serveMapped serves a URL-mapped request (HTTP.md §2 cases 2 and 3) and
// reports whether the path was one.
func (s *scope) serveMapped(w http.ResponseWriter, r *http.Request) bool {
	f, sec, hasSec, ok := mappedPath(r.URL.EscapedPath())
	if !ok {
		return false
	}
	ctype := contentTypeJSON // URL-mapped requests are answered in JSON
	if wantsVnd(r.Header) {
		ctype = contentTypeVndJSON
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, GET")
		http.Error(w, "FutoIn executor: URL-mapped calls are GET or POST", http.StatusMethodNotAllowed)
		return true
	}
	m := pipeline.Request{F: f}
	if hasSec {
		m.Sec = sec
	} else if user, pass, ok := r.BasicAuth(); ok {
		m.Sec = user + ":" + pass
	} else if a := r.Header.Get("Authorization"); a != "" && strings.HasPrefix(a, "Basic ") {
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "Basic "))
		if err == nil {
			m.Sec = string(b)
		}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeHTTP(w, ctype, s.e.encodeError("", pipeline.InvalidRequest, "malformed query string"))
		return true
	}
	m.P = make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) != 1 {
			writeHTTP(w, ctype, s.e.encodeError("", pipeline.InvalidRequest, "param "+strconv.Quote(k)+" is given more than once"))
			return true
		}
		m.P[k] = vs[0]
	}
	var upload io.Reader
	if r.Method == http.MethodPost {
		upload = r.Body
	}
	rf := s.e.rawFunc(f)
	if r.ContentLength == 0 && (rf == nil || !rf.Upload) {
		upload = nil // an empty POST to a function without uploads: as a GET
	}
	if rf != nil {
		s.serveRaw(w, r, codec.JSON, ctype, &m, rf, upload, true)
		return true
	}
	if upload != nil {
		// Not a raw function (or unknown: the checks name why).
		s.serveRawRefused(w, r, ctype, &m)
		return true
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	out := &httpOut{w: w, ctype: ctype, ctx: ctx}
	if s.e.timeout > 0 {
		out.deadline = time.Now().Add(s.e.timeout)
	}
	in := inbound{ch: chHTTP}
	if r.TLS != nil {
		in.ch = chHTTPS
	}
	s.e.serveIn(ctx, codec.JSON, &m, in, out)
	return true
}

// serveRawRefused answers a raw upload to a function that takes none: the
// routing and credential errors first, as for any request, then
// InvalidRequest (EXECUTOR.md §7 row 12).
func (s *scope) serveRawRefused(w http.ResponseWriter, r *http.Request, ctype []string, m *pipeline.Request) {
	e := s.e
	who, ferr := e.authenticate(r.Context(), m, false)
	if ferr != nil {
		writeHTTP(w, ctype, e.encodeError("", ferr.Name, ferr.Desc))
		return
	}
	name, desc := pipeline.InvalidRequest, "raw upload is not allowed: "+m.F
	if iface, _, fn, major, minor, ok := splitF(m.F); ok {
		if im, rerr := e.route(iface, major, minor); rerr != nil {
			name, desc = rerr.Name, rerr.Desc
		} else if _, ok := im.funcs[fn]; !ok {
			name, desc = pipeline.NotImplemented, "function "+fn+" is not implemented"
		} else if im.spec != nil {
			if f, err := im.spec.Func(fn); err == nil {
				if err := f.CheckUpload(true); err != nil {
					desc = descOf(err)
				}
			}
		}
	}
	writeHTTP(w, ctype, e.signedError(codec.JSON, "", name, desc, who.key))
}

// rawBody is the upload as a handler reads it: bounded, and failing once
// the request ended.
type rawBody struct {
	r        io.Reader
	max      int64
	n        int64
	exceeded bool
	ctx      context.Context
}

func (b *rawBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if b.exceeded {
		return 0, errUploadTooBig
	}
	if b.max > 0 && int64(len(p)) > b.max-b.n+1 {
		p = p[:b.max-b.n+1]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.max > 0 && b.n > b.max {
		b.exceeded = true
		return n - int(b.n-b.max), errUploadTooBig
	}
	return n, err
}

var errUploadTooBig = errors.New("executor: upload too big")

// serveRaw runs a request to a raw function over HTTP and answers it: raw
// data, or a FutoIn message coded with cd. upload is the body of a
// URL-mapped POST, or nil; query marks m.P as a URL-mapped request's
// query strings. A function with a definition is checked (rawspec.go).
func (s *scope) serveRaw(w http.ResponseWriter, r *http.Request, cd pipeline.Codec, ctype []string, m *pipeline.Request, rf *RawFunc, upload io.Reader, query bool) {
	e := s.e
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	timeout := rf.Timeout
	if timeout == 0 {
		timeout = e.timeout
	}
	if timeout > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, timeout)
		defer c2()
	}
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	who, ferr := e.authenticate(ctx, m, false)
	if ferr != nil {
		writeHTTP(w, ctype, e.signedError(cd, m.Rid, ferr.Name, ferr.Desc, nil))
		return
	}
	params := m.P
	ch := chHTTP
	if r.TLS != nil {
		ch = chHTTPS
	}
	chk := e.rawSpecOf(m.F)
	if chk != nil {
		p, ferr := chk.before(m, ch, who, upload != nil, query)
		if ferr != nil {
			writeHTTP(w, ctype, e.signedError(cd, m.Rid, ferr.Name, ferr.Desc, who.key))
			return
		}
		params = p
	} else if upload != nil && !rf.Upload {
		writeHTTP(w, ctype, e.signedError(cd, m.Rid, pipeline.InvalidRequest, "raw upload is not allowed: "+m.F, who.key))
		return
	}
	iface, ver, fn, _, _, _ := splitF(m.F)
	req := &RawRequest{
		Request: Request{
			Iface: iface, Version: ver, Func: fn, Params: params, User: who.user, Rid: m.Rid,
			Secure: ch.secure(), Channel: ch.String(), SecLvl: who.secLvl(),
		},
		Header: r.Header,
	}
	var body *rawBody
	if upload != nil {
		body = &rawBody{r: upload, max: rf.MaxUpload, ctx: ctx}
		req.Body = body
	}
	var out *RawOutput
	rc := http.NewResponseController(w)
	if rf.Result {
		out = &RawOutput{w: w, rc: rc, length: -1}
	}
	// When the request ends (timeout, caller gone, Close), unblock the
	// handler's socket reads and writes.
	stopExp := context.AfterFunc(ctx, func() {
		_ = rc.SetReadDeadline(time.Now())
		if out != nil {
			out.expire()
		}
	})
	defer stopExp()

	res, err := runRaw(ctx, rf, req, out)
	if err == nil && rf.Result {
		err = finishRaw(res, out)
	}
	if err == nil && ctx.Err() == nil && chk != nil && !rf.Result {
		if name, desc := e.rawAfter(chk, &req.Request, res, nil, "", ""); name != "" {
			writeHTTP(w, ctype, e.signedError(cd, m.Rid, name, desc, who.key))
			return
		}
	}
	if err == nil && ctx.Err() == nil {
		if rf.Result {
			if !out.Started() {
				out.SetContentLength(0)
				_, _ = out.Write(nil)
			}
			return
		}
		rsp := pipeline.Response{R: res, Rid: m.Rid}
		if res == nil {
			rsp.R = emptyMap
		}
		writeHTTP(w, ctype, e.encode(cd, &req.Request, &rsp, who.key, e.maxSize))
		return
	}
	if out != nil && out.Started() {
		if err != nil {
			e.report(&req.Request, err)
		}
		_ = rc.Flush()              // what was written reaches the peer,
		panic(http.ErrAbortHandler) // then the body is cut: the peer sees it truncated
	}
	name, desc := e.rawError(&req.Request, ctx, body, err)
	if chk != nil && err != nil && ctx.Err() == nil && (body == nil || !body.exceeded) {
		name, desc = e.rawAfter(chk, &req.Request, nil, err, name, desc)
	}
	writeHTTP(w, ctype, e.signedError(cd, m.Rid, name, desc, who.key))
}

// rawError names the failure of a raw request.
func (e *Executor) rawError(req *Request, ctx context.Context, body *rawBody, err error) (pipeline.ErrorName, string) {
	switch {
	case body != nil && body.exceeded:
		return pipeline.InvalidRequest, "upload exceeds " + strconv.FormatInt(body.max, 10) + " bytes"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return pipeline.InternalError, descTimeout
	case ctx.Err() != nil:
		return pipeline.InternalError, descCancelled
	case errors.Is(err, errRawExpected):
		e.report(req, err)
		return pipeline.InternalError, "raw result is expected: " + req.Func + "()"
	}
	return e.errorOf(req, err)
}

var errRawExpected = errors.New("executor: a rawresult function returned a result value")

// runRaw calls the handler; a panic becomes an error.
func runRaw(ctx context.Context, rf *RawFunc, req *RawRequest, out *RawOutput) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("executor: panic: %v\n%s", p, debug.Stack())
		}
	}()
	return rf.Handler(ctx, req, out)
}

// finishRaw sends a raw result the handler returned instead of writing.
func finishRaw(res any, out *RawOutput) error {
	switch v := res.(type) {
	case nil:
		return nil
	case []byte:
		if !out.Started() {
			out.SetContentLength(int64(len(v)))
		}
		_, err := out.Write(v)
		return err
	case string:
		return finishRaw([]byte(v), out)
	case io.Reader:
		if c, ok := v.(io.Closer); ok {
			defer c.Close()
		}
		_, err := io.Copy(out, v)
		return err
	}
	return errRawExpected
}
