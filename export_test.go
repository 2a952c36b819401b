package ccm

// ZoneWaiting returns how many calls wait in the CCM's zone name (-1: no
// such zone or "unlimited").
func ZoneWaiting(c *CCM, name string) int {
	c.mu.RLock()
	z := c.zones[name]
	c.mu.RUnlock()
	if z == nil {
		return -1
	}
	return z.Waiting()
}
