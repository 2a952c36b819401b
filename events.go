package ccm

// EventKind says what happened to a CCM.
type EventKind int

// The CCM events of the spec (FTN7 §1.2).
const (
	EventRegister   EventKind = iota + 1 // a name or alias was registered
	EventUnregister                      // a name or alias was unregistered
	EventClose                           // the CCM was closed
)

// String returns the spec's event name: "register", "unregister", "close".
func (k EventKind) String() string {
	switch k {
	case EventRegister:
		return "register"
	case EventUnregister:
		return "unregister"
	case EventClose:
		return "close"
	}
	return "unknown"
}

// Event is one registry change.
type Event struct {
	Kind     EventKind
	Name     string // the name or alias concerned; empty for EventClose
	IfaceVer string // "iface:MAJOR.MINOR"; empty for EventClose
}

// Subscribe calls fn for every later event until the returned function is
// called. fn runs in the goroutine that made the change, after the change
// is complete and with no CCM lock held, so it may call the CCM; it should
// not block, since the caller of Register, Alias, Unregister or Close
// waits for it. (FTN15 delivers events asynchronously; a synchronous hook
// is the Go convention, as in net/http's ConnState, and loses nothing.)
func (c *CCM) Subscribe(fn func(Event)) (unsubscribe func()) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if c.subs == nil {
		c.subs = make(map[int]func(Event))
	}
	id := c.nextSub
	c.nextSub++
	c.subs[id] = fn
	return func() {
		c.subMu.Lock()
		delete(c.subs, id)
		c.subMu.Unlock()
	}
}

func (c *CCM) emit(ev Event) {
	c.subMu.Lock()
	fns := make([]func(Event), 0, len(c.subs))
	for _, fn := range c.subs {
		fns = append(fns, fn)
	}
	c.subMu.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
}
