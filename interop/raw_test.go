//go:build interop

package interop_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
)

const rawIface = "ftnpipe.raw:1.0"

// alphabet returns n bytes of a..z over and over (download() in server.js).
func alphabet(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// Our raw calls against the reference executor, over http and over ws
// (which sends them over http, as the reference invoker does).
func TestRawAgainstReference(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		is := is.New(t)
		svc := register(t, scheme, rawIface)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()

		// Typed params in the query: the reference converts them back by
		// the declared types (integer, map).
		res, err := svc.Upload(ctx, "upload", map[string]any{"name": "go", "count": 41, "meta": map[string]any{"x": "y"}},
			strings.NewReader("hello, reference"))
		is.NoErr(err)
		is.Equal(res, map[string]any{"len": 16.0, "body": "hello, reference", "name": "go", "count": 42.0, "x": "y", "seclvl": "Anonymous"})

		// A chunked upload (no Content-Length).
		res, err = svc.Upload(ctx, "upload", map[string]any{"name": "", "count": 0, "meta": map[string]any{"x": 1}},
			io.MultiReader(strings.NewReader("ab"), strings.NewReader("cd")))
		is.NoErr(err)
		is.Equal(res.(map[string]any)["body"], "abcd")

		rc, err := svc.Download(ctx, "download", map[string]any{"n": 200000}, nil)
		is.NoErr(err)
		got, err := io.ReadAll(rc)
		is.NoErr(err)
		is.NoErr(rc.Close())
		is.True(bytes.Equal(got, alphabet(200000)))

		var buf bytes.Buffer
		n, err := svc.DownloadTo(ctx, "upper", nil, strings.NewReader("both ways"), &buf)
		is.NoErr(err)
		is.Equal(n, int64(9))
		is.Equal(buf.String(), "BOTH WAYS")

		_, err = svc.Download(ctx, "failRaw", nil, nil)
		is.Equal(ccm.NameOf(err), ccm.ErrorName("MyError")) // an error is a FutoIn message
		is.True(ccm.IsRemote(err))
		is.Equal(futoinError(t, err).Desc, "no raw data today")

		// A result message where raw data was expected.
		test := register(t, scheme, testIface)
		_, err = test.Download(ctx, "echo", map[string]any{"msg": "m"}, nil)
		is.True(errors.Is(err, ccm.ErrInternalError))
	})
}

// Clear-text credentials in the Authorization header: the reference reads
// them from there (HTTP.md §2) and authenticates the upload.
func TestRawCredentialsAgainstReference(t *testing.T) {
	forEachTransport(t, func(t *testing.T, scheme string) {
		is := is.New(t)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		params := map[string]any{"name": "n", "count": 1, "meta": map[string]any{"x": "y"}}

		svc := register(t, scheme, rawIface, ccm.Credentials(goodCreds))
		res, err := svc.Upload(ctx, "upload", params, strings.NewReader("x"))
		is.NoErr(err)
		is.Equal(res.(map[string]any)["seclvl"], "SafeOps")

		bad := register(t, scheme, rawIface, ccm.Credentials("tester:wrong"))
		_, err = bad.Upload(ctx, "upload", params, strings.NewReader("x"))
		is.True(errors.Is(err, ccm.ErrSecurityError))
		is.Equal(futoinError(t, err).Desc, badPasswordDesc)
	})
}
