package ccm_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// BenchmarkRaw64K moves 64 KiB per call over HTTP to one executor, in one
// run: as a raw download (Download, DownloadTo) and a raw upload, and the
// same bytes as a "data" result and a "data" param in MessagePack (JSON
// cannot carry bytes), with the message limit raised to fit them.
func BenchmarkRaw64K(b *testing.B) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	const limit = 1 << 20
	ex := executor.New(executor.WithMaxMessageSize(limit))
	defer ex.Close()
	err := ex.RegisterRaw("bench.raw:1.0", map[string]executor.RawFunc{
		"down": {Result: true, Handler: func(context.Context, *executor.RawRequest, *executor.RawOutput) (any, error) {
			return payload, nil
		}},
		"up": {Upload: true, Handler: func(_ context.Context, r *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			n, err := io.Copy(io.Discard, r.Body)
			return n, err
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	err = ex.Register("bench.raw:1.0", map[string]executor.Handler{
		"data": func(context.Context, *executor.Request) (any, error) { return payload, nil },
		"take": func(_ context.Context, r *executor.Request) (any, error) {
			d, _ := r.Params["d"].([]byte)
			return len(d), nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := ex.Listen("")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.MaxMessageSize(limit), ccm.Coder("MPCK"))
	defer c.Close()
	if err := c.Register(bg, "b", "bench.raw:1.0", srv.HTTPURL()); err != nil {
		b.Fatal(err)
	}
	it, _ := c.Iface("b")

	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("raw-download", func() error {
		rc, err := it.Download(bg, "down", nil, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		return err
	})
	run("raw-downloadto", func() error {
		_, err := it.DownloadTo(bg, "down", nil, nil, io.Discard)
		return err
	})
	run("data-result", func() error {
		res, err := it.Call(bg, "data", nil)
		if err == nil && len(res.([]byte)) != len(payload) {
			b.Fatal("short result")
		}
		return err
	})
	run("raw-upload", func() error {
		_, err := it.Upload(bg, "up", nil, bytes.NewReader(payload))
		return err
	})
	run("data-param", func() error {
		_, err := it.Call(bg, "take", map[string]any{"d": payload})
		return err
	})
}
