package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
)

// Descriptions sent with executor-made errors. They are fixed texts: no
// credentials, no error strings from handlers, no panic values.
const (
	descInternal   = "internal error"
	descTimeout    = "request timed out"
	descCancelled  = "request cancelled"
	descAuthFailed = "authentication failed"
	descNoAuth     = "authentication is not enabled"
	descSecScheme  = "security scheme not supported"
	descTooBig     = "response too big"
	descEncode     = "result could not be encoded"
)

// responder receives the one encoded response of a request. respond is
// called exactly once per request, possibly from a goroutine other than
// the request's, and takes ownership of b (it returns it with putBuf).
type responder interface {
	respond(b *[]byte)
}

// serveIn runs one decoded request and hands its response, encoded with
// cd (the codec the request came in), to out, exactly once (an empty
// response on HTTP when a void function's call gets none, nothing on
// other channels). With a request timeout, the timeout reply is sent by a
// context.AfterFunc callback so that a handler that ignores its context
// cannot hold the caller; serve still waits for the handler (and for the
// callback) before it returns, so nothing outlives it.
//
// Cost per request: one context.WithTimeout, one context.AfterFunc and the
// call struct; no goroutine unless the timeout fires.
func (e *Executor) serveIn(parent context.Context, cd pipeline.Codec, m *pipeline.Request, in inbound, out responder) {
	timeout := e.timeoutFor(m)
	if timeout <= 0 {
		deliver(out, e.invokeFor(parent, cd, m, in, nil))
		return
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	c := &call{e: e, ctx: ctx, cd: cd, rid: m.Rid, out: out}
	c.cb.Add(1)
	stop := context.AfterFunc(ctx, c.expire)
	b := e.invokeFor(ctx, cd, m, in, c)
	if stop() {
		c.cb.Done()
		if ctx.Err() != nil {
			// Done, but the callback was not started yet: a context's Done
			// channel closes before its AfterFuncs are scheduled. Once the
			// context is done the answer is the expiry reply, whoever
			// sends it.
			if b != nil {
				putBuf(b)
			}
			b = c.expiredReply()
		}
		deliver(out, b)
	} else {
		if b != nil {
			putBuf(b)
		}
		c.cb.Wait() // the expiry reply went (or is going) out instead
	}
	cancel()
}

// deliver hands b to out; a nil b (no response) is an empty body on HTTP,
// where the POST must still be answered (HTTP.md §4.2), and nothing on
// other channels.
func deliver(out responder, b *[]byte) {
	if b == nil {
		if _, ok := out.(*httpOut); !ok {
			return
		}
		b = getBuf()
	}
	out.respond(b)
}

// call carries what the timeout callback needs.
type call struct {
	e   *Executor
	ctx context.Context
	cd  pipeline.Codec
	rid string
	out responder
	cb  sync.WaitGroup // held until the callback is known not to run, or ran
	// key signs the timeout reply of a MAC-signed request. It is set once,
	// after authentication, before the handler runs.
	key atomic.Pointer[mac.Key]
}

func (c *call) expire() {
	defer c.cb.Done()
	c.out.respond(c.expiredReply())
}

func (c *call) expiredReply() *[]byte {
	desc := descCancelled
	if errors.Is(c.ctx.Err(), context.DeadlineExceeded) {
		desc = descTimeout
	}
	return c.e.signedError(c.cd, c.rid, pipeline.InternalError, desc, c.key.Load())
}

// invokeFor authenticates, routes and runs one request and returns its
// response encoded with cd, or nil when none is to be sent (a void
// function called without "forcersp"). A panic anywhere in it (handler,
// auth hook) becomes InternalError. It tells c (when not nil) the response
// key as soon as authentication yields one, so a timeout reply is signed
// too.
func (e *Executor) invokeFor(ctx context.Context, cd pipeline.Codec, m *pipeline.Request, in inbound, c *call) *[]byte {
	o := e.run(ctx, m, in, c)
	if o.name != "" {
		return e.signedError(cd, m.Rid, o.name, o.desc, o.key)
	}
	if o.noReply {
		return nil
	}
	rsp := pipeline.Response{R: o.res, Rid: m.Rid}
	if o.res == nil { // an unchecked function, or a void one with forcersp: answer {}
		if cd == codec.JSON {
			rsp.RawR = emptyResult
		} else {
			rsp.R = emptyMap // RawR is codec specific
		}
	}
	max := e.maxSize
	if o.maxRsp > 0 {
		max = o.maxRsp
	}
	return e.encode(cd, o.req, &rsp, o.key, max)
}

// outcome is what running one request produced: a result, or an error
// name and description; key signs the response of a MAC-signed request.
type outcome struct {
	req     *Request
	fn      string // the function name, once "f" is parsed
	res     any
	name    pipeline.ErrorName // "" for a result
	desc    string
	key     *mac.Key
	maxRsp  int  // the function's maxrspsize; 0: the Executor's limit
	noReply bool // a void function called without forcersp: send nothing
}

func (o *outcome) setErr(name pipeline.ErrorName, desc string) {
	o.name, o.desc, o.res = name, desc, nil
}

// newRequest builds the handler's view of m.
func (o *outcome) newRequest(m *pipeline.Request, p map[string]any, in inbound, who authResult, iface, ver string) *Request {
	return &Request{
		Iface: iface, Version: ver, Func: o.fn, Params: p, User: who.user, Rid: m.Rid,
		Secure: in.ch.secure(), Channel: in.ch.String(), SecLvl: who.secLvl(),
	}
}

// run authenticates, routes and runs one request (EXECUTOR.md §7). in
// tells the channel it arrived on; only an internal (in-process) one
// accepts "-internal" credentials. A panic anywhere in it (handler, auth
// hook) becomes InternalError.
func (e *Executor) run(ctx context.Context, m *pipeline.Request, in inbound, c *call) (o outcome) {
	defer func() {
		if p := recover(); p != nil {
			e.report(o.req, fmt.Errorf("executor: panic: %v\n%s", p, debug.Stack()))
			o.name, o.desc, o.res, o.noReply = pipeline.InternalError, descInternal, nil, false
		}
	}()

	who, ferr := e.authenticate(ctx, m, in.ch == chInternal)
	if ferr != nil {
		return outcome{name: ferr.Name, desc: ferr.Desc} // cannot sign what did not authenticate
	}
	o.key = who.key
	if o.key != nil && c != nil {
		c.key.Store(o.key)
	}
	iface, ver, fn, major, minor, ok := splitF(m.F)
	if !ok {
		o.name, o.desc = pipeline.InvalidRequest, `"f" must be "iface:MAJOR.MINOR:func"`
		return o
	}
	o.fn = fn
	im, ferr := e.route(iface, major, minor)
	if ferr != nil {
		if im != nil && im.spec != nil && who.user == "" && !im.cons.allowAnonymous {
			ferr = errUnknownIface(iface) // hide the interface's details (EXECUTOR.md §7 row 6a)
		}
		o.name, o.desc = ferr.Name, ferr.Desc
		return o
	}
	if im.spec != nil {
		e.runChecked(ctx, m, in, who, im, &o, iface, ver)
		return o
	}
	h, ok := im.funcs[fn]
	if !ok {
		o.name, o.desc = pipeline.NotImplemented, "function "+fn+" is not implemented"
		return o
	}
	p := m.P
	if p == nil {
		p = map[string]any{}
	}
	o.req = o.newRequest(m, p, in, who, iface, ver)
	res, err := h(ctx, o.req)
	if err != nil {
		o.name, o.desc = e.errorOf(o.req, err)
		return o
	}
	o.res = res
	return o
}

var emptyResult = []byte("{}")

// errorOf maps a handler error to what goes on the wire.
func (e *Executor) errorOf(req *Request, err error) (pipeline.ErrorName, string) {
	var fe *pipeline.Error
	if errors.As(err, &fe) {
		switch fe.Name {
		case "", pipeline.ConnectError, pipeline.CommError, pipeline.InvokerError, pipeline.Timeout:
			// Invoker-side and internal names never travel from an
			// Executor (WIRE.md §8.1): a nested call's failure is ours.
		default:
			return fe.Name, fe.Desc
		}
	}
	e.report(req, err)
	return pipeline.InternalError, descInternal
}

func (e *Executor) report(req *Request, err error) {
	if e.errHook != nil {
		e.errHook(req, err)
	}
}

// splitF splits "iface:MAJOR.MINOR:func" (EXECUTOR.md §7 row 3).
func splitF(f string) (iface, ver, fn string, major, minor int, ok bool) {
	iface, rest, ok1 := strings.Cut(f, ":")
	ver, fn, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || iface == "" || fn == "" || strings.IndexByte(fn, ':') >= 0 {
		return "", "", "", 0, 0, false
	}
	major, minor, ok = parseVersion(ver)
	return iface, ver, fn, major, minor, ok
}

// route finds the implementation of a version (EXECUTOR.md §7 rows 4-5).
// For NotSupportedVersion it also returns the implementation of the major,
// when there is one.
func (e *Executor) route(iface string, major, minor int) (*impl, *pipeline.Error) {
	majors, ok := e.reg.Load().ifaces[iface]
	if !ok {
		return nil, errUnknownIface(iface)
	}
	im, ok := majors[major]
	if !ok || minor > im.minor {
		return im, pipeline.NewError(pipeline.NotSupportedVersion,
			"version "+strconv.Itoa(major)+"."+strconv.Itoa(minor)+" of "+iface+" is not supported")
	}
	return im, nil
}

func errUnknownIface(iface string) *pipeline.Error {
	return pipeline.NewError(pipeline.UnknownInterface, "unknown interface "+iface)
}

// encode encodes r with cd into a pooled buffer, signed with
// key when the request was MAC-signed. A result that cannot be encoded or
// signed, or whose response exceeds max bytes, becomes InternalError with
// the same rid.
func (e *Executor) encode(cd pipeline.Codec, req *Request, r *pipeline.Response, key *mac.Key, max int) *[]byte {
	if key != nil {
		if err := sign(key, r); err != nil {
			e.report(req, fmt.Errorf("executor: signing the result: %w", err))
			return e.signedError(cd, r.Rid, pipeline.InternalError, descEncode, key)
		}
	}
	b := getBuf()
	out, err := cd.AppendResponse((*b)[:0], r)
	switch {
	case err != nil:
		e.report(req, fmt.Errorf("executor: encoding the result: %w", err))
		putBuf(b)
		return e.signedError(cd, r.Rid, pipeline.InternalError, descEncode, key)
	case len(out) > max:
		e.report(req, fmt.Errorf("executor: response of %d bytes exceeds the limit of %d", len(out), max))
		*b = out
		putBuf(b)
		return e.signedError(cd, r.Rid, pipeline.InternalError, descTooBig, key)
	}
	*b = out
	return b
}

// encodeError encodes an unsigned JSON error response, for requests that
// could not be authenticated (or carried no MAC). It cannot fail: names
// and descriptions are plain strings.
func (e *Executor) encodeError(rid string, name pipeline.ErrorName, desc string) *[]byte {
	return e.signedError(codec.JSON, rid, name, desc, nil)
}

// signedError encodes an error response with cd, signed with key when not
// nil.
func (e *Executor) signedError(cd pipeline.Codec, rid string, name pipeline.ErrorName, desc string, key *mac.Key) *[]byte {
	r := &pipeline.Response{E: name, EDesc: desc, Rid: rid}
	if key != nil {
		_ = sign(key, r) // an error response has only strings: signing cannot fail
	}
	b := getBuf()
	*b, _ = cd.AppendResponse((*b)[:0], r)
	return b
}

// decodeIn detects the codec from the message's first bytes and decodes a
// request; the reply goes out in that codec, even when the request is
// malformed. On failure it returns the rid it could still read from the
// message (so the caller can match the error reply) and a description for
// InvalidRequest.
func decodeIn(b []byte, m *pipeline.Request) (cd pipeline.Codec, rid, desc string, ok bool) {
	cd, err := codec.Detect(b)
	if err != nil {
		return codec.JSON, "", "message coding not supported; use JSON", false
	}
	if err := cd.DecodeRequest(b, m); err != nil {
		return cd, salvageRid(cd, b), "malformed request: " + err.Error(), false
	}
	return cd, "", "", true
}

// salvageRid reads a string "rid" from a message that is not a valid
// request. It returns "" when there is none.
func salvageRid(cd pipeline.Codec, b []byte) string {
	if cd != codec.JSON {
		return codec.SalvageRid(b)
	}
	var v struct {
		Rid any `json:"rid"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	s, _ := v.Rid.(string)
	return s
}

// Buffers for messages, pooled with a size cap so one huge message does not
// pin memory.
const (
	minBuf    = 512
	maxPooled = 64<<10 + 1
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, minBuf); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooled {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
