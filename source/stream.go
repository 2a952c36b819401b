package source

import (
	"context"

	"github.com/ftnpipe/ccm/pipeline"
)

// Request is one call to make through a [Stream]: the function name, its
// parameters, and Tag, any value of the caller's (an id, a reply channel)
// handed back untouched with the result.
type Request struct {
	Func   string
	Params map[string]any
	Tag    any
}

// Result answers one [Request]: the request itself, and either the
// call's decoded result in Value (which may be nil: a function without
// result) with Err nil, or its error (an *pipeline.Error) in Err with
// Value nil.
type Result struct {
	Request Request
	Value   any
	Err     error
}

// Starter starts a call without waiting for it and returns it; the call
// must complete exactly once, whatever happens (an Iface's Go method,
// adapted). It may block while its pipeline is full.
type Starter func(ctx context.Context, fn string, params map[string]any) *pipeline.Call

// DefaultWindow is the number of calls a stream keeps outstanding unless
// [Window] says otherwise.
const DefaultWindow = 64

type config struct {
	window  int
	ordered bool
}

// Option configures [Stream].
type Option func(*config)

// Window sets how many calls may be outstanding at once: started and not
// yet received from the output (default [DefaultWindow]; values below 1
// mean 1). It bounds the stream's memory and is its only buffer.
func Window(n int) Option { return func(c *config) { c.window = max(n, 1) } }

// Ordered delivers results in the order the requests were read, instead
// of the order the calls complete.
func Ordered() Option { return func(c *config) { c.ordered = true } }

// Stream reads requests from in, starts a call for each with start, and
// sends one [Result] per request on the returned channel. It returns at
// once.
//
// Who closes what: the caller closes in when it has no more requests; the
// stream then finishes the calls outstanding, delivers their results and
// closes the output. When ctx ends, the stream stops reading in and
// starts no further call (a request read just as ctx ends is answered
// with ctx's error, unstarted), the calls outstanding complete with ctx's
// error, and the output closes after their results. The caller must receive from the output until it is
// closed; the stream's two goroutines end only then.
//
// Cost: two goroutines per stream and one small allocation per request
// besides the call itself; see BenchmarkStream in the root package.
func Stream(ctx context.Context, in <-chan Request, start Starter, opts ...Option) <-chan Result {
	cfg := config{window: DefaultWindow}
	for _, o := range opts {
		o(&cfg)
	}
	s := &stream{
		ctx:   ctx,
		in:    in,
		start: start,
		slots: make(chan struct{}, cfg.window),
		out:   make(chan Result),
		done:  make(chan *pending, cfg.window),
		read:  make(chan struct{}),
	}
	if cfg.ordered {
		go s.submit(func(p *pending) { s.done <- p })
		go s.deliver(true)
	} else {
		go s.submit(func(p *pending) { p.c.AddCleanup(p) })
		go s.deliver(false)
	}
	return s.out
}

type stream struct {
	ctx   context.Context
	in    <-chan Request
	start Starter
	slots chan struct{} // one token per outstanding call
	out   chan Result
	done  chan *pending // completed calls (ordered: started calls, in order)
	read  chan struct{} // closed when submit stops; n is then final
	n     int           // requests read
}

// pending is one outstanding call; as its Cleanup it reports completion.
type pending struct {
	req  Request
	c    *pipeline.Call
	done chan<- *pending
}

// Cleanup implements pipeline.Cleanup. It never blocks: done has room for
// every outstanding call.
func (p *pending) Cleanup(*pipeline.Call) { p.done <- p }

func (p *pending) result() Result {
	v, err := p.c.Result()
	return Result{Request: p.req, Value: v, Err: err}
}

// submit reads requests while a slot is free and starts their calls;
// track hands each call to the delivering side.
func (s *stream) submit(track func(p *pending)) {
	defer close(s.read)
	ctxDone := s.ctx.Done()
	for {
		select {
		case s.slots <- struct{}{}:
		case <-ctxDone:
			return
		}
		// select picks at random among ready cases: check ctx first.
		if s.ctx.Err() != nil {
			<-s.slots
			return
		}
		var req Request
		var ok bool
		select {
		case req, ok = <-s.in:
		case <-ctxDone:
		}
		if !ok {
			<-s.slots
			return
		}
		p := &pending{req: req, done: s.done}
		err := s.ctx.Err()
		if err != nil {
			// Read as ctx ended: answered with ctx's error, never started.
			p.c = pipeline.NewCall(s.ctx, req.Func, req.Params)
			p.c.Complete(nil, err)
		} else {
			p.c = s.start(s.ctx, req.Func, req.Params)
		}
		s.n++
		track(p)
		if err != nil {
			return
		}
	}
}

// deliver sends the results and closes the output once every call read
// has been answered. ordered: done carries the started calls in request
// order, and each is awaited in turn; otherwise it carries completed calls.
func (s *stream) deliver(ordered bool) {
	defer close(s.out)
	read := s.read
	sent, total := 0, -1
	for total < 0 || sent < total {
		select {
		case p := <-s.done:
			if ordered {
				<-p.c.Done()
			}
			s.out <- p.result()
			<-s.slots
			sent++
		case <-read:
			read, total = nil, s.n
		}
	}
}
