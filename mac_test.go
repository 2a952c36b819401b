package ccm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/codec"
	"github.com/ftnpipe/ccm/executor"
	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
)

const testKeyB64 = "c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5MTIzNDU=" // "secretkeysecretkeysecretkey12345"

// macPeer is a FutoIn peer that checks the MAC of every request with its
// own code (package mac over a generic decode) and answers according to
// mode: "ok" signs the reply, "nosig" leaves it unsigned, "badsig" signs
// with another key, "unsignederror" answers an unsigned SecurityError.
type macPeer struct {
	mode    string
	algo    string
	checked atomic.Int64
	rids    chan string
	dropped atomic.Bool // "dropfirst": the first WS request's connection was cut
}

func (p *macPeer) answer(body []byte) []byte {
	var tree any
	if err := codec.JSON.DecodeValue(body, &tree); err != nil {
		return []byte(`{"e":"InvalidRequest"}`)
	}
	m := tree.(map[string]any)
	sec, _ := m["sec"].(string)
	rid, _ := m["rid"].(string)
	if p.rids != nil {
		p.rids <- rid
	}
	parts := strings.Split(sec, ":")
	key, _ := mac.DecodeKey(testKeyB64)
	k, err := mac.NewKey(p.algo, key)
	if err != nil || len(parts) != 4 || parts[2] != p.algo {
		return []byte(`{"e":"SecurityError","edesc":"bad sec"}`)
	}
	sum, _ := k.SignTree(nil, m)
	if !mac.Equal(sum, parts[3]) {
		rsp, _ := codec.JSON.AppendResponse(nil, &pipeline.Response{E: "SecurityError", EDesc: "MAC mismatch", Rid: rid})
		return rsp
	}
	p.checked.Add(1)
	rsp := &pipeline.Response{R: map[string]any{"user": parts[1], "n": 1.5}, Rid: rid}
	switch p.mode {
	case "unsignederror":
		rsp = &pipeline.Response{E: "SecurityError", EDesc: "refused", Rid: rid}
	case "ok", "badsig", "dropfirst":
		kk := k
		if p.mode == "badsig" {
			kk, _ = mac.NewKey(p.algo, []byte("another key entirely"))
		}
		s, _ := kk.SignResponse(nil, rsp)
		rsp.Sec = string(mac.AppendBase64(nil, s))
	}
	out, _ := codec.JSON.AppendResponse(nil, rsp)
	return out
}

func (p *macPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "" {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if p.mode == "dropfirst" && p.dropped.CompareAndSwap(false, true) {
				p.answer(b) // checked, then the connection dies unanswered
				return
			}
			if err := c.Write(r.Context(), websocket.MessageBinary, p.answer(b)); err != nil {
				return
			}
		}
	}
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/futoin+json")
	_, _ = w.Write(p.answer(b))
}

func macPeerURLs(srv *httptest.Server) map[string]string {
	return map[string]string{"http": srv.URL + "/", "ws": "ws" + strings.TrimPrefix(srv.URL, "http") + "/"}
}

// Every algorithm of both forms: requests are signed (the peer checks them
// over the rid too) and signed responses are accepted.
func TestMACSignedCalls(t *testing.T) {
	for _, tc := range []struct{ creds, algo string }{
		{"-smac:alice", "HS256"}, {"-smac:alice", "HS384"}, {"-smac:alice", "HS512"}, {"-smac:alice", "HMD5"},
		{"-hmac:alice", "MD5"}, {"-hmac:alice", "SHA224"}, {"-hmac:alice", "SHA256"}, {"-hmac:alice", "SHA384"}, {"-hmac:alice", "SHA512"},
	} {
		peer := &macPeer{mode: "ok", algo: tc.algo}
		srv := httptest.NewServer(peer)
		for scheme, url := range macPeerURLs(srv) {
			t.Run(tc.creds+"/"+tc.algo+"/"+scheme, func(t *testing.T) {
				is := is.New(t)
				c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
				defer c.Close()
				it := register(t, c, url, ccm.Credentials(tc.creds), ccm.MACKeyBase64(testKeyB64, tc.algo))
				for i := 0; i < 3; i++ {
					res, err := it.Call(bg, "f", map[string]any{"a": i, "s": "é", "l": []any{1, nil, "x"}, "m": map[string]any{"z": true}})
					is.NoErr(err)
					is.Equal(res, map[string]any{"user": "alice", "n": 1.5})
				}
			})
		}
		srv.Close()
		if peer.checked.Load() != 6 {
			t.Fatalf("%s/%s: peer verified %d requests, want 6", tc.creds, tc.algo, peer.checked.Load())
		}
	}
}

// A response with a wrong or missing signature is a SecurityError, never a
// result; AcceptUnsignedErrors lets an unsigned standard error through.
func TestMACRejectsBadResponses(t *testing.T) {
	for _, mode := range []string{"nosig", "badsig", "unsignederror"} {
		peer := &macPeer{mode: mode, algo: "HS256"}
		srv := httptest.NewServer(peer)
		for scheme, url := range macPeerURLs(srv) {
			t.Run(mode+"/"+scheme, func(t *testing.T) {
				is := is.New(t)
				c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
				defer c.Close()
				it := register(t, c, url, ccm.Credentials("-smac:alice"), ccm.MACKeyBase64(testKeyB64, ""))
				res, err := it.Call(bg, "f", nil)
				is.Equal(res, nil)
				is.True(errors.Is(err, ccm.ErrSecurityError))
				is.True(!ccm.IsRemote(err)) // our verdict, not the peer's

				is.NoErr(c.Register(bg, "lenient", "test.svc:1.0", url, ccm.Credentials("-smac:alice"),
					ccm.MACKeyBase64(testKeyB64, ""), ccm.AcceptUnsignedErrors()))
				lenient, _ := c.Iface("lenient")
				_, err = lenient.Call(bg, "f", nil)
				is.True(errors.Is(err, ccm.ErrSecurityError))
				is.Equal(ccm.IsRemote(err), mode == "unsignederror") // only an unsigned standard error passes
			})
		}
		srv.Close()
	}
}

// A retry gets a new rid and a new signature: the first attempt's
// connection dies unanswered, the retry goes out as C2 on a new connection,
// and the peer verifies the MAC over the new rid.
func TestMACRetryResigns(t *testing.T) {
	is := is.New(t)
	peer := &macPeer{mode: "dropfirst", algo: "HS256", rids: make(chan string, 10)}
	srv := httptest.NewServer(peer)
	defer srv.Close()
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := register(t, c, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", ccm.Credentials("-smac:alice"),
		ccm.MACKeyBase64(testKeyB64, "HS256"), ccm.RetryCount(1))
	res, err := it.Call(bg, "f", nil)
	is.NoErr(err)
	is.Equal(res, map[string]any{"user": "alice", "n": 1.5})
	is.Equal(<-peer.rids, "C1")
	is.Equal(<-peer.rids, "C2")
	is.Equal(peer.checked.Load(), int64(2)) // both attempts carried a valid MAC over their own rid
}

// Register checks MAC options at once.
func TestMACRegisterErrors(t *testing.T) {
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	for name, opts := range map[string][]ccm.RegisterOption{
		"no key":          {ccm.Credentials("-smac:u")},
		"key, no mac":     {ccm.Credentials("u:p"), ccm.MACKeyBase64(testKeyB64, "HS256")},
		"key, no creds":   {ccm.MACKeyBase64(testKeyB64, "HS256")},
		"unknown algo":    {ccm.Credentials("-smac:u"), ccm.MACKeyBase64(testKeyB64, "KMAC128")},
		"lower case algo": {ccm.Credentials("-smac:u"), ccm.MACKeyBase64(testKeyB64, "hs256")},
		"bad base64":      {ccm.Credentials("-smac:u"), ccm.MACKeyBase64("111222333444555666777888999", "HS256")},
		"empty key":       {ccm.Credentials("-smac:u"), ccm.MACKey(nil, "HS256")},
		"no user":         {ccm.Credentials("-smac:"), ccm.MACKeyBase64(testKeyB64, "HS256")},
		"other dash form": {ccm.Credentials("-mmac:u"), ccm.MACKeyBase64(testKeyB64, "HS256")},
	} {
		err := c.Register(bg, "x", "test.svc:1.0", "ws://127.0.0.1:1/", opts...)
		if !errors.Is(err, ccm.ErrInvokerError) {
			t.Errorf("%s: want InvokerError, got %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "111222333444555666777888999") {
			t.Errorf("%s: the key leaked into %q", name, err)
		}
	}
}

// Secrets never show in errors, fmt output of our values or slog output.
func TestSecretsNeverLeak(t *testing.T) {
	is := is.New(t)
	const password = "pa55-w0rd-SECRET"
	s := newService(t)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	var texts []string
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for _, url := range schemes(s) {
		is.NoErr(c.Register(bg, "bad"+url, "test.svc:1.0", url, ccm.Credentials("alice:"+password)))
		it, _ := c.Iface("bad" + url)
		_, err := it.Call(bg, "echo", nil)
		is.True(err != nil)
		texts = append(texts, err.Error(), fmt.Sprintf("%v %+v %#v", err, err, it))
		logger.Info("call failed", "err", err, "iface", it)
	}
	// A wrong key for a MAC endpoint, and a bad registration.
	err := c.Register(bg, "m", "test.svc:1.0", s.srv.WSURL(), ccm.Credentials("-smac:"+password), ccm.MACKeyBase64(testKeyB64, "HS256"))
	is.NoErr(err)
	m, _ := c.Iface("m")
	_, err = m.Call(bg, "echo", nil)
	texts = append(texts, err.Error())
	logger.Info("mac call failed", "err", err)
	for _, txt := range append(texts, logs.String()) {
		is.True(!strings.Contains(txt, password)) // no secret in any text
		is.True(!strings.Contains(txt, "secretkey"))
	}
}

// Go to Go: the CCM signs, the executor verifies and signs back, over both
// transports and every algorithm; a wrong key is refused by the executor.
func TestMACWithExecutor(t *testing.T) {
	key, _ := mac.DecodeKey(testKeyB64)
	ex := executor.New(executor.WithCredentials(executor.Credentials{"svc": {MACKey: key}}))
	if err := ex.Register("test.svc:1.0", map[string]executor.Handler{
		"whoami": func(_ context.Context, r *executor.Request) (any, error) {
			return map[string]any{"user": r.User, "echo": r.Params}, nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := ex.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	for _, algo := range []string{"HS256", "HS384", "HS512", "HMD5", "MD5", "SHA224", "SHA256", "SHA384", "SHA512"} {
		for scheme, url := range map[string]string{"ws": srv.WSURL(), "http": srv.HTTPURL()} {
			t.Run(algo+"/"+scheme, func(t *testing.T) {
				is := is.New(t)
				c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
				defer c.Close()
				form := "-smac:svc"
				if mac.IsLegacy(algo) {
					form = "-hmac:svc"
				}
				it := register(t, c, url, ccm.Credentials(form), ccm.MACKeyBase64(testKeyB64, algo))
				p := map[string]any{"n": 0.1, "big": 1e21, "s": "ü", "l": []any{1, nil, true}}
				res, err := it.Call(bg, "whoami", p)
				is.NoErr(err)
				is.Equal(res.(map[string]any)["user"], "svc")

				is.NoErr(c.Register(bg, "wrong", "test.svc:1.0", url, ccm.Credentials(form), ccm.MACKey([]byte("not the key"), algo)))
				wrong, _ := c.Iface("wrong")
				_, err = wrong.Call(bg, "whoami", nil)
				is.True(errors.Is(err, ccm.ErrSecurityError))
			})
		}
	}
}
