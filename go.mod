module github.com/ftnpipe/ccm

go 1.26.8

require (
	github.com/cenkalti/backoff/v4 v4.3.0
	github.com/coder/websocket v1.8.15
	github.com/matryer/is v1.4.1
	github.com/sourcegraph/conc v0.3.0
	go.uber.org/goleak v1.3.0
)
