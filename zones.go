package ccm

import (
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
)

// Limits configures a limit zone; see [CCM.LimitZone]. The zero value
// limits nothing.
type Limits = stage.Limits

// The zones every CCM has.
const (
	// ZoneDefault is the zone of external endpoints unless they name
	// another: [DefaultLimits] until redefined.
	ZoneDefault = "default"
	// ZoneUnlimited lets every call through at once; endpoints in it have
	// no throttle step at all. It cannot be redefined.
	ZoneUnlimited = "unlimited"
)

// DefaultLimits are the limits of the zone "default" in a new CCM, the
// values the spec recommends (INVOKER.md §6): 8 calls at once, 32 more
// waiting, 10 calls per second.
var DefaultLimits = stage.DefaultLimits

// LimitZone creates the zone name with limits l, or replaces the limits of
// an existing zone (the zone "default" included). All endpoints that name
// a zone share it: its limits bound their calls together. Endpoints pick a
// zone with the [LimitZone] option at Register; a changed zone applies to
// the calls that enter it afterwards, on endpoints registered before too.
//
// A call over a zone's limits waits (no goroutine is held for it) until it
// may go, in order of arrival; it fails at once with DefenseRejected when
// the zone's queue is full, and with Timeout when its deadline would pass
// before its turn. See [Limits] for the fields and [stage.Zone] for the
// exact rules.
//
// The zone "unlimited" cannot be redefined, a name must not be empty, and
// no field of l may be negative: each is an InvokerError, as is a closed
// CCM.
func (c *CCM) LimitZone(name string, l Limits) error {
	switch {
	case name == "":
		return pipeline.NewError(pipeline.InvokerError, "empty limit zone name")
	case name == ZoneUnlimited:
		return pipeline.NewError(pipeline.InvokerError, `the limit zone "unlimited" cannot be redefined`)
	}
	if err := l.Validate(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return pipeline.NewError(pipeline.InvokerError, "CCM is closed")
	}
	if z := c.zones[name]; z != nil {
		return z.SetLimits(l)
	}
	z, err := stage.NewZone(l, nil)
	if err != nil {
		return err
	}
	c.zones[name] = z
	return nil
}
