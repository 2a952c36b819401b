package ccm

// PendingCalls reports how many calls wait for a response in the
// endpoint's multiplexer (ws only; 0 before the first call), for tests.
func PendingCalls(i *Iface) int {
	if i.ep.mux == nil {
		return 0
	}
	return i.ep.mux.Pending()
}
