package stage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
	"github.com/ftnpipe/ccm/stage"
	"github.com/matryer/is"
)

var macKey = []byte("s3cr3t-mac-key-bytes")

func TestParseMAC(t *testing.T) {
	for _, tc := range []struct{ creds, algo, want string }{
		{"-smac:svc", "", "HS256"}, // the reference defaults
		{"-hmac:svc", "", "MD5"},
		{"-smac:svc", "HS512", "HS512"},
		{"-smac:svc", "HMD5", "HMD5"},
		{"-hmac:svc", "SHA256", "SHA256"},
		{"-smac:svc", "MD5", "MD5"},     // either form takes any supported algorithm,
		{"-hmac:svc", "HS256", "HS256"}, // as the reference does
	} {
		is := is.New(t)
		m, err := stage.ParseMAC(tc.creds, macKey, tc.algo)
		is.NoErr(err)
		is.Equal(m.User(), "svc")
		is.Equal(m.Algorithm(), tc.want)
	}
}

func TestParseMACRejects(t *testing.T) {
	for _, tc := range []struct {
		creds, algo string
		key         []byte
	}{
		{"svc:pass", "", macKey},  // not a MAC credential
		{"-smac", "", macKey},     // no user
		{"-smac:", "", macKey},    // empty user
		{"-smac:a:b", "", macKey}, // ':' in the user
		{"-xmac:svc", "", macKey}, // unknown kind
		{"-smac:svc", "HS999", macKey},
		{"-smac:svc", "hs256", macKey}, // names are case-sensitive
		{"-smac:svc", "", nil},         // empty key
	} {
		t.Run(tc.creds+"/"+tc.algo, func(t *testing.T) {
			is := is.New(t)
			m, err := stage.ParseMAC(tc.creds, tc.key, tc.algo)
			is.True(m == nil)
			is.True(errors.Is(err, pipeline.ErrInvokerError))
			is.True(!strings.Contains(err.Error(), string(macKey))) // never the key
		})
	}
}

func TestMACSign(t *testing.T) {
	is := is.New(t)
	m, err := stage.ParseMAC("-smac:svc", macKey, "HS256")
	is.NoErr(err)
	key, err := mac.NewKey("HS256", macKey)
	is.NoErr(err)

	c := pipeline.NewCall(context.Background(), fn, map[string]any{"a": 1.0, "b": "x"})
	c.Req.Rid = "C1"
	is.NoErr(stage.Sign(m)(c))
	is.True(strings.HasPrefix(c.Req.Sec, "-smac:svc:HS256:"))
	sum, err := key.SignRequest(nil, &c.Req)
	is.NoErr(err)
	is.Equal(strings.TrimPrefix(c.Req.Sec, "-smac:svc:HS256:"), string(mac.AppendBase64(nil, sum))) // the MAC of the request

	first := c.Req.Sec
	is.NoErr(m.Sign(c))
	is.Equal(c.Req.Sec, first) // "sec" itself is not covered: re-signing is stable
	c.Req.Rid = "C2"           // a retry
	is.NoErr(m.Sign(c))
	is.True(c.Req.Sec != first) // the rid is covered
}

// signedResponse returns a response frame for rsp signed with key (or not
// signed when key is nil).
func signedResponse(t *testing.T, key *mac.Key, rsp pipeline.Response) []byte {
	t.Helper()
	if key != nil {
		sum, err := key.SignResponse(nil, &rsp)
		if err != nil {
			t.Fatal(err)
		}
		rsp.Sec = string(mac.AppendBase64(nil, sum))
	}
	b, err := codec.JSON.AppendResponse(nil, &rsp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMACVerify(t *testing.T) {
	key, err := mac.NewKey("HS256", macKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := mac.NewKey("HS256", []byte("another key"))
	if err != nil {
		t.Fatal(err)
	}
	finish := func(t *testing.T, m *stage.MAC, frame []byte) (any, error) {
		t.Helper()
		d := stage.NewVerifyingDecoder(codec.JSON, m)
		c := pipeline.NewCall(context.Background(), fn, nil)
		if err := d.Envelope(frame, &c.Rsp); err != nil {
			t.Fatal(err)
		}
		d.Finish(c)
		return c.Result()
	}
	m, err := stage.ParseMAC("-smac:svc", macKey, "HS256")
	if err != nil {
		t.Fatal(err)
	}
	lenient, err := stage.ParseMAC("-smac:svc", macKey, "HS256")
	if err != nil {
		t.Fatal(err)
	}
	lenient.AcceptUnsignedErrors = true
	result := pipeline.Response{R: map[string]any{"sum": 3.0, "list": []any{"a", 1.0}}, Rid: "C1"}

	t.Run("signed result", func(t *testing.T) {
		is := is.New(t)
		res, err := finish(t, m, signedResponse(t, key, result))
		is.NoErr(err)
		is.Equal(res, any(map[string]any{"sum": 3.0, "list": []any{"a", 1.0}}))
	})
	t.Run("signed error", func(t *testing.T) {
		is := is.New(t)
		_, err := finish(t, m, signedResponse(t, key, pipeline.Response{E: "NotEnoughMoney", EDesc: "x", Rid: "C1"}))
		is.Equal(pipeline.NameOf(err), pipeline.ErrorName("NotEnoughMoney")) // the peer's error, verified
		is.True(pipeline.IsRemote(err))
	})
	for name, frame := range map[string][]byte{
		"unsigned":  signedResponse(t, nil, result),
		"wrong key": signedResponse(t, other, result),
		"tampered":  bytes.Replace(signedResponse(t, key, result), []byte(`"sum":3`), []byte(`"sum":4`), 1),
		"garbage":   []byte(`{"r":{"sum":3},"rid":"C1","sec":"not base64!"}`),
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			res, err := finish(t, m, frame)
			is.Equal(res, nil)
			is.True(errors.Is(err, pipeline.ErrSecurityError)) // never the unverified content
			is.True(!pipeline.IsRemote(err))
		})
	}
	t.Run("unsigned standard error", func(t *testing.T) {
		is := is.New(t)
		frame := signedResponse(t, nil, pipeline.Response{E: pipeline.Unauthorized, Rid: "C1"})
		_, err := finish(t, m, frame)
		is.True(errors.Is(err, pipeline.ErrSecurityError)) // strict by default
		is.True(strings.Contains(err.Error(), "Unauthorized"))

		_, err = finish(t, lenient, frame)
		is.True(errors.Is(err, pipeline.ErrUnauthorized)) // accepted when asked for
		is.True(pipeline.IsRemote(err))

		_, err = finish(t, lenient, signedResponse(t, nil, pipeline.Response{E: "NotEnoughMoney"}))
		is.True(errors.Is(err, pipeline.ErrSecurityError)) // only standard errors

		_, err = finish(t, lenient, signedResponse(t, nil, result))
		is.True(errors.Is(err, pipeline.ErrSecurityError)) // and never results
	})
}

func TestMACRedacted(t *testing.T) {
	m, err := stage.ParseMAC("-hmac:svc", macKey, "SHA256")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out = append(out, fmt.Sprintf(verb, m), fmt.Sprintf(verb, *m), fmt.Sprintf(verb, struct{ M *stage.MAC }{m}))
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("creds", "mac", m)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("creds", "mac", m)
	out = append(out, buf.String())
	for _, s := range out {
		if strings.Contains(s, string(macKey)) {
			t.Errorf("key leaked: %s", s)
		}
	}
	if !strings.Contains(out[0], "svc") {
		t.Errorf("user name missing: %s", out[0])
	}
}
