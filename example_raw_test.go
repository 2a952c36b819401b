package ccm_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/executor"
)

// Raw data (FTN5): an upload and a download, here on a ws:// endpoint,
// whose raw calls go over HTTP to the same address.
func ExampleIface_Upload() {
	ctx := context.Background()

	ex := executor.New()
	defer ex.Close()
	_ = ex.RegisterRaw("example.files:1.0", map[string]executor.RawFunc{
		"put": {Upload: true, Handler: func(_ context.Context, req *executor.RawRequest, _ *executor.RawOutput) (any, error) {
			b, err := io.ReadAll(req.Body)
			// URL-mapped params arrive as the query's strings.
			return map[string]any{"name": req.Params["name"], "size": len(b)}, err
		}},
		"get": {Result: true, Handler: func(_ context.Context, req *executor.RawRequest, out *executor.RawOutput) (any, error) {
			out.SetContentType("text/plain")
			_, err := fmt.Fprintf(out, "contents of %v\n", req.Params["name"])
			return nil, err
		}},
	})
	srv, err := ex.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	c := ccm.New()
	defer c.Close()
	_ = c.Register(ctx, "files", "example.files:1.0", srv.WSURL())
	files, _ := c.Iface("files")

	res, err := files.Upload(ctx, "put", map[string]any{"name": "a.txt"}, strings.NewReader("hello"))
	fmt.Println(res, err)

	_, err = files.DownloadTo(ctx, "get", map[string]any{"name": "a.txt"}, nil, os.Stdout)
	fmt.Println(err)
	// Output:
	// map[name:a.txt size:5] <nil>
	// contents of a.txt
	// <nil>
}
