package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// nethttp-json: the plain net/http way, a JSON POST of {"msg": s} to a
// handler that decodes it and encodes it back, with encoding/json and a
// keep-alive pool sized to the number of callers.

type echoMsg struct {
	Msg string `json:"msg"`
}

func nethttpHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var m echoMsg
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(m)
}

type nethttpClient struct {
	hc  *http.Client
	url string
}

func (c *nethttpClient) call(ctx context.Context) error {
	body, err := json.Marshal(echoMsg{Msg: payload})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	var m echoMsg
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body) // drain for keep-alive
	if m.Msg != payload {
		return errMismatch(m.Msg)
	}
	return nil
}

func (c *nethttpClient) close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// newPoolClient is an HTTP/1.1 client whose keep-alive pool holds a
// connection per caller.
func newPoolClient(conc int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conc,
		MaxIdleConnsPerHost: conc, // the default of 2 would churn connections at 64 callers
		IdleConnTimeout:     time.Minute,
	}}
}

func init() {
	registerServer(serverPart{
		name: "nethttp",
		serve: func(ln net.Listener) (func(), error) {
			mux := http.NewServeMux()
			mux.HandleFunc("/echo", nethttpHandler)
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			return func() { _ = srv.Close() }, nil
		},
	})
	registerCase(benchCase{
		name:   "nethttp-json",
		order:  40,
		server: "nethttp",
		dial: func(_ context.Context, addr string, conc int) (client, error) {
			return &nethttpClient{hc: newPoolClient(conc), url: "http://" + addr + "/echo"}, nil
		},
	})
}
