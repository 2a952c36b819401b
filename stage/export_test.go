package stage

import "time"

// SetRetryTiming sets r's first backoff interval and the size of its lane,
// so that tests can park calls in the lane for as long as they need.
func SetRetryTiming(r *Retry, initial time.Duration, lane int) {
	r.initial = initial
	r.lane = lane
}
