package ccm

import (
	"time"

	"github.com/ftnpipe/ccm/sink"
)

// DefaultHeartbeat is the idle time after which a WebSocket, TCP or UNIX
// connection is pinged (see [Heartbeat]). With it a dead peer is noticed
// within 30 to 45 s, about when the default call timeout would fail the
// calls waiting on it anyway, for one small frame each way per 15 s of
// silence.
const DefaultHeartbeat = 15 * time.Second

// Conns sets how many connections a WebSocket, TCP or UNIX endpoint keeps
// (default 1; n < 1 means 1). Each connection has its own writer and
// reader goroutines, so several sockets are written and read in parallel;
// a call goes to the connection with the fewest calls in flight (the
// first on a tie), skipping connections that wait to redial after a
// failure. Connections open as load needs them: sequential calls use
// only the first. BenchmarkConns (64 callers, 2 cores) measured about
// half the cost per call with 2 WebSocket connections instead of 1, and
// no gain for TCP; more connections cost goroutines and smaller write
// batches, so measure before raising it. Request ids stay unique per endpoint, a response comes
// back on the connection that carried its request, and losing one
// connection fails only the calls written on it (CommError). HTTP
// endpoints ignore it (see [MaxConns]).
func Conns(n int) Option {
	if n < 1 {
		n = 1
	}
	return option(func(c *config) { c.conns = n })
}

// Heartbeat sets the idle time after which a WebSocket, TCP or UNIX
// connection that has received nothing is pinged (default
// [DefaultHeartbeat]); a ping left unanswered for d again closes the
// connection as lost, so a dead or hung peer is noticed 2 to 3 times d
// after the last thing it sent, and the calls in flight on it fail with
// CommError (and are retried per [RetryCount]) instead of waiting for
// their timeouts. WebSocket uses the protocol's ping; TCP and UNIX use
// the Ping control frame of the stream framing, which the executor
// answers (TCP keepalive would not notice a peer whose process hangs,
// and UNIX sockets have none). Anything received counts as an answer, so
// busy connections are not pinged. d <= 0 turns the heartbeat off.
func Heartbeat(d time.Duration) Option {
	return option(func(c *config) { c.heartbeat = d })
}

// Reconnect bounds the wait between attempts to connect after a failure
// (defaults 100 ms and 5 s; zero keeps a default). The wait starts at min
// and doubles after each failed attempt, with ±20 % jitter, up to max.
//
// Connections are redialled lazily: a connection that is lost or cannot be
// made is dialled again only when a call needs it, so an idle endpoint
// costs no timer and no dial. The first dial after a lost connection is
// made at once; after a failed dial, a call that arrives while the endpoint waits
// for its next attempt waits for that attempt (unless its deadline comes
// first: then it fails at once with ConnectError), and every call waiting
// for an attempt that fails gets ConnectError, which the retry policy
// ([RetryCount]) may try again. So a restarting peer costs callers a
// short wait, not errors, and a peer that is down is dialled at most once
// per interval however many calls arrive.
func Reconnect(min, max time.Duration) Option {
	return option(func(c *config) { c.reconnMin, c.reconnMax = min, max })
}

// healing is the sink's view of the options above.
func (cfg *config) healing() sink.Healing {
	return sink.Healing{
		Conns:        cfg.conns,
		Heartbeat:    cfg.heartbeat,
		ReconnectMin: cfg.reconnMin,
		ReconnectMax: cfg.reconnMax,
	}
}

// connState turns a transport's connection change into a connect or
// disconnect event for this endpoint.
func (ep *endpoint) connState(st sink.ConnState) {
	if ep.emit == nil {
		return
	}
	ev := Event{Kind: EventDisconnect, Name: ep.name, IfaceVer: ep.ifaceVer, Conn: st.Conn, Err: st.Err}
	if st.Up {
		ev.Kind = EventConnect
	}
	ep.emit(ev)
}
