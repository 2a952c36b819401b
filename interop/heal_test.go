//go:build interop

package interop_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
)

// The reference executor answers the WebSocket heartbeat: an idle
// connection pinged many times stays up (one connect event, no
// disconnect) and keeps serving.
func TestHeartbeatWithReference(t *testing.T) {
	is := is.New(t)
	c := ccm.New(ccm.Heartbeat(25 * time.Millisecond))
	defer c.Close()
	events := make(chan ccm.Event, 16)
	c.Subscribe(func(ev ccm.Event) {
		if ev.Kind == ccm.EventConnect || ev.Kind == ccm.EventDisconnect {
			events <- ev
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	is.NoErr(c.Register(ctx, "svc", testIface, endpoint("ws")))
	svc, err := c.Iface("svc")
	is.NoErr(err)
	_, err = call(t, svc, "echo", map[string]any{"msg": "a"})
	is.NoErr(err)
	time.Sleep(400 * time.Millisecond) // 16 heartbeat intervals, idle
	r, err := call(t, svc, "echo", map[string]any{"msg": "b"})
	is.NoErr(err)
	is.Equal(r["msg"], "b")
	is.Equal(len(events), 1)
	is.Equal((<-events).Kind, ccm.EventConnect) // never dropped
}
