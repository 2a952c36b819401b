package ccm

// EventKind says what happened to a CCM.
type EventKind int

// The CCM events of the spec (FTN7 §1.2).
const (
	EventRegister   EventKind = iota + 1 // a name or alias was registered
	EventUnregister                      // a name or alias was unregistered
	EventClose                           // the CCM was closed
	EventConnect                         // a connection of an endpoint opened
	EventDisconnect                      // a connection of an endpoint went away
)

// String returns the event's name: the spec's "register", "unregister",
// "close", and "connect", "disconnect".
func (k EventKind) String() string {
	switch k {
	case EventRegister:
		return "register"
	case EventUnregister:
		return "unregister"
	case EventClose:
		return "close"
	case EventConnect:
		return "connect"
	case EventDisconnect:
		return "disconnect"
	}
	return "unknown"
}

// Event is one registry change, or one connection of an endpoint opening
// or going away.
//
// Connect and disconnect events come from WebSocket, TCP and UNIX
// endpoints (HTTP connections are pooled per call and in-process
// endpoints have none). For each connection they alternate, connect
// first: a connect when it opened, a disconnect when it was lost (the
// peer closed it, a read or write failed, a heartbeat went unanswered) or
// closed (Unregister, Close; then before the unregister or close event).
// They run in the goroutine that writes to that connection, so a
// subscriber that blocks holds up that connection's calls.
type Event struct {
	Kind     EventKind
	Name     string // the name or alias concerned (the main name for connection events); empty for EventClose
	IfaceVer string // "iface:MAJOR.MINOR"; empty for EventClose
	Conn     int    // connection events: which of the endpoint's connections ([Conns]), from 0
	Err      error  // EventDisconnect: why (a CommError); nil otherwise
}

// Subscribe calls fn for every later event until the returned function is
// called. fn runs in the goroutine that made the change, after the change
// is complete and with no CCM lock held, so it may call the CCM; it should
// not block, since the caller of Register, Alias, Unregister or Close
// waits for it (and for connection events, the connection's calls; see
// [Event]). (FTN15 delivers events asynchronously; a synchronous hook
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
