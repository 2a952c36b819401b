package executor_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
)

var (
	aliceKey = []byte("alice's 32-byte secret MAC key!!")
	otherKey = []byte("somebody else's key, not alice's")
)

// signedReq builds a request signed as creds ("-smac:alice") with key.
func signedReq(t *testing.T, kind, user, algo string, key []byte, r *pipeline.Request) string {
	t.Helper()
	k, err := mac.NewKey(algo, key)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := k.SignRequest(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	r.Sec = kind + ":" + user + ":" + algo + ":" + string(mac.AppendBase64(nil, sum))
	b, err := codec.JSON.AppendRequest(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkSigned verifies the response's "sec" with key over its decoded tree.
func checkSigned(t *testing.T, raw string, algo string, key []byte) bool {
	t.Helper()
	var tree any
	if err := codec.JSON.DecodeValue([]byte(raw), &tree); err != nil {
		t.Fatal(err)
	}
	m := tree.(map[string]any)
	sec, _ := m["sec"].(string)
	k, _ := mac.NewKey(algo, key)
	sum, _ := k.SignTree(nil, m)
	return sec != "" && mac.Equal(sum, sec)
}

func credStore() executor.Credentials {
	return executor.Credentials{
		"alice": {Password: "pw:with:colons", MACKey: aliceKey},
		"bob":   {MACKey: otherKey, MACAlgorithms: []string{"HS512"}},
	}
}

func TestMACRequests(t *testing.T) {
	_, srv := start(t, executor.WithCredentials(credStore()), executor.WithRequestTimeout(200*time.Millisecond))
	for _, algo := range []string{"HS256", "HS384", "HS512", "HMD5", "MD5", "SHA224", "SHA256", "SHA384", "SHA512"} {
		for _, kind := range []string{"-smac", "-hmac"} {
			t.Run(kind+"/"+algo, func(t *testing.T) {
				is := is.New(t)
				body := signedReq(t, kind, "alice", algo, aliceKey, &pipeline.Request{
					F: "test.svc:1.0:whoami", P: map[string]any{"n": 1.5, "l": []any{"x", nil}}, ForceRsp: true})
				r := post(t, srv.HTTPURL(), body)
				is.Equal(r.Msg["r"].(map[string]any)["user"], "alice") // the MAC authenticated alice
				is.True(checkSigned(t, r.Raw, algo, aliceKey))         // and the reply is signed with her key
			})
		}
	}
	t.Run("ws, rid signed, errors signed", func(t *testing.T) {
		is := is.New(t)
		c := dial(t, srv.WSURL())
		m, raw := func() (map[string]any, string) {
			send(t, c, signedReq(t, "-smac", "alice", "HS256", aliceKey, &pipeline.Request{F: "test.svc:1.0:nosuch", P: map[string]any{}, Rid: "C7"}))
			return recv(t, c)
		}()
		is.Equal(m["e"], "NotImplemented")
		is.Equal(m["rid"], "C7")
		is.True(checkSigned(t, raw, "HS256", aliceKey)) // errors after authentication are signed
		send(t, c, signedReq(t, "-smac", "alice", "HS256", aliceKey, &pipeline.Request{F: "test.svc:1.0:block", P: map[string]any{}, Rid: "C8"}))
		m, raw = recv(t, c)
		is.Equal(m["e"], "InternalError") // the request timed out
		is.True(checkSigned(t, raw, "HS256", aliceKey))
		send(t, c, signedReq(t, "-smac", "alice", "HS256", aliceKey, &pipeline.Request{F: "test.svc:1.0:nothing", P: map[string]any{}, Rid: "C9"}))
		m, raw = recv(t, c)
		is.Equal(m["r"], map[string]any{})
		is.True(checkSigned(t, raw, "HS256", aliceKey)) // an empty result is signed as {}
	})
}

func TestMACRefusals(t *testing.T) {
	var ran atomic.Int64
	ex := executor.New(executor.WithCredentials(credStore()))
	is.New(t).NoErr(ex.Register("test.svc:1.0", map[string]executor.Handler{
		"f": func(context.Context, *executor.Request) (any, error) { ran.Add(1); return "ran", nil },
	}))
	srv := listen(t, ex)
	req := func() *pipeline.Request { return &pipeline.Request{F: "test.svc:1.0:f", P: map[string]any{"a": 1.0}} }
	tamper := func(body string) string { return strings.Replace(body, `"a":1`, `"a":2`, 1) }
	for name, body := range map[string]string{
		"wrong key":           signedReq(t, "-smac", "alice", "HS256", otherKey, req()),
		"unknown user":        signedReq(t, "-smac", "mallory", "HS256", aliceKey, req()),
		"algorithm forbidden": signedReq(t, "-smac", "bob", "HS256", otherKey, req()),
		"tampered params":     tamper(signedReq(t, "-smac", "alice", "HS256", aliceKey, req())),
		"unknown algorithm":   strings.Replace(signedReq(t, "-smac", "alice", "HS256", aliceKey, req()), ":HS256:", ":KMAC128:", 1),
		"bad form":            `{"f":"test.svc:1.0:f","p":{},"sec":"-smac:alice:HS256"}`,
		"bad signature":       `{"f":"test.svc:1.0:f","p":{},"sec":"-smac:alice:HS256:!!!"}`,
		"password as mac":     `{"f":"test.svc:1.0:f","p":{},"sec":"-hmac:alice:pw"}`,
		"wrong password":      `{"f":"test.svc:1.0:f","p":{},"sec":"alice:pw"}`,
		"no password set":     `{"f":"test.svc:1.0:f","p":{},"sec":"bob:"}`,
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			r := post(t, srv.HTTPURL(), body)
			is.Equal(r.Msg["e"], "SecurityError")
			is.Equal(r.Msg["edesc"], "authentication failed") // the same text whatever failed
			_, signed := r.Msg["sec"]
			is.True(!signed) // a refusal cannot be signed
		})
	}
	is.New(t).Equal(ran.Load(), int64(0)) // no refused request reached the handler

	t.Run("clear text through the store", func(t *testing.T) {
		is := is.New(t)
		r := post(t, srv.HTTPURL(), `{"f":"test.svc:1.0:f","p":{},"sec":"alice:pw:with:colons"}`)
		is.Equal(r.Msg["r"], "ran")
		_, signed := r.Msg["sec"]
		is.True(!signed) // clear-text calls get no signature
	})
}

// A key changed in the store takes effect for the next request.
type rotatingStore struct{ key atomic.Pointer[[]byte] }

func (s *rotatingStore) Lookup(_ context.Context, user string) (*executor.Credential, error) {
	if user != "alice" {
		return nil, nil
	}
	return &executor.Credential{MACKey: *s.key.Load()}, nil
}

func TestMACKeyRotation(t *testing.T) {
	is := is.New(t)
	st := &rotatingStore{}
	st.key.Store(&aliceKey)
	_, srv := start(t, executor.WithCredentials(st))
	req := func() *pipeline.Request { return &pipeline.Request{F: "test.svc:1.0:whoami", P: map[string]any{}} }
	is.Equal(post(t, srv.HTTPURL(), signedReq(t, "-smac", "alice", "HS256", aliceKey, req())).Msg["r"].(map[string]any)["user"], "alice")
	st.key.Store(&otherKey)
	is.Equal(post(t, srv.HTTPURL(), signedReq(t, "-smac", "alice", "HS256", aliceKey, req())).Msg["e"], "SecurityError")
	r := post(t, srv.HTTPURL(), signedReq(t, "-smac", "alice", "HS256", otherKey, req()))
	is.Equal(r.Msg["r"].(map[string]any)["user"], "alice")
	is.True(checkSigned(t, r.Raw, "HS256", otherKey))
}
