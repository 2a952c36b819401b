package executor

import (
	"bytes"
	"context"
	"crypto/subtle"
	"strings"
	"sync"

	"github.com/ftnpipe/ccm/mac"
	"github.com/ftnpipe/ccm/pipeline"
)

// Credential is what the Executor knows of one user, from a
// [CredentialStore].
type Credential struct {
	// Password checks clear-text "user:password" credentials, compared in
	// constant time. "" refuses clear text for this user.
	Password string
	// MACKey checks "-smac:user:…" and "-hmac:user:…" signatures and signs
	// the responses to them. nil refuses MACs for this user.
	MACKey []byte
	// MACAlgorithms lists the algorithms the user may sign with (e.g.
	// "HS256", or legacy "SHA256"); nil allows every supported one.
	MACAlgorithms []string
}

// CredentialStore looks users up for [WithCredentials]. Lookup is called
// on the request's goroutine, concurrently, with the request's context; it
// returns (nil, nil) or an error for an unknown user. Its errors are never
// sent or logged.
type CredentialStore interface {
	Lookup(ctx context.Context, user string) (*Credential, error)
}

// Credentials is a static, in-memory CredentialStore: user name to
// credential. Do not modify it while the Executor serves.
type Credentials map[string]Credential

// Lookup implements CredentialStore.
func (c Credentials) Lookup(_ context.Context, user string) (*Credential, error) {
	if cr, ok := c[user]; ok {
		return &cr, nil
	}
	return nil, nil
}

// WithCredentials makes the Executor verify credentials against store:
// clear-text "user:password" (unless [WithAuth] also given, which then
// decides clear text), and MAC-signed requests, "-smac:user:ALGO:SIG"
// (FTN8.1) and legacy "-hmac:user:ALGO:SIG" (FTN6). Either form may use
// any supported algorithm, FTN8 names (HMD5, HS256, HS384, HS512) or
// legacy ones (MD5, SHA224, SHA256, SHA384, SHA512), as the reference
// executor allows; [Credential.MACAlgorithms] narrows that per user. A MAC is verified over the
// request's message tree in constant time before the request is routed;
// every response to a MAC-signed request, errors included, is signed with
// the same key and algorithm. Any failure (unknown user, wrong password,
// algorithm not allowed, bad or wrong signature) is answered with an
// unsigned SecurityError "authentication failed", whichever part failed,
// and the request never reaches its handler.
//
// MACs are computed over the decoded request: a request that spells out
// "forcersp": false or an empty "rid", which the decoded form cannot tell
// from their absence, does not verify. No known invoker sends either.
func WithCredentials(store CredentialStore) Option {
	return func(e *Executor) { e.creds = store }
}

// authResult is who a request authenticated as, and the key to sign its
// response with (MAC requests only).
type authResult struct {
	user string
	key  *mac.Key
	lvl  string // the security level, when not the credentials' own ("obf")
}

// InternalUser is the credentials of calls on an internal channel (FTN7
// §1.3.1), and the [Request.User] they run as (level System, SECURITY.md
// §7); in-process endpoints send it when registered without credentials.
const InternalUser = "-internal"

// errNotInternal answers "-internal" credentials that arrived on a socket.
var errNotInternal = pipeline.NewError(pipeline.SecurityError, "internal credentials are not supported on this channel: only in-process calls may use them")

// errAuthFailed is the one answer to every failed check. It is never
// modified.
var errAuthFailed = pipeline.NewError(pipeline.SecurityError, descAuthFailed)

// dummyKey equalises the work of a MAC check for unknown users.
var dummyKey, _ = mac.NewKey("HS256", []byte("ftnpipe: no such user"))

// keyCache keeps one *mac.Key per user and algorithm, rebuilt when the
// store returns another key.
type keyCache struct {
	mu sync.Mutex
	m  map[keyID]cachedKey
}

type keyID struct{ user, algo string }

type cachedKey struct {
	secret []byte
	key    *mac.Key
}

func (kc *keyCache) get(user, algo string, secret []byte) (*mac.Key, error) {
	id := keyID{user, algo}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if ck, ok := kc.m[id]; ok && bytes.Equal(ck.secret, secret) {
		return ck.key, nil
	}
	k, err := mac.NewKey(algo, secret)
	if err != nil {
		return nil, err
	}
	if kc.m == nil {
		kc.m = map[keyID]cachedKey{}
	}
	kc.m[id] = cachedKey{secret: append([]byte(nil), secret...), key: k}
	return k, nil
}

// authenticate checks the "sec" field (EXECUTOR.md §7 row 2).
// "-internal" is accepted only when internal is set (an in-process call,
// see [Executor.ServeInternal]); from a socket it is a SecurityError.
func (e *Executor) authenticate(ctx context.Context, m *pipeline.Request, internal bool) (authResult, *pipeline.Error) {
	sec := m.Sec
	if sec == "" {
		return authResult{}, nil
	}
	if sec == InternalUser {
		if !internal {
			return authResult{}, errNotInternal
		}
		if m.Obf != nil {
			return onBehalfOf(m.Obf), nil
		}
		return authResult{user: InternalUser}, nil
	}
	failed := errAuthFailed
	if strings.HasPrefix(sec, "-smac:") || strings.HasPrefix(sec, "-hmac:") {
		if e.creds == nil {
			return authResult{}, pipeline.NewError(pipeline.SecurityError, descNoAuth)
		}
		return e.checkMAC(ctx, m, sec, failed)
	}
	if sec[0] == '-' { // -mmac:, -internal
		return authResult{}, pipeline.NewError(pipeline.SecurityError, descSecScheme)
	}
	user, pass, ok := strings.Cut(sec, ":")
	if !ok || user == "" {
		return authResult{}, failed
	}
	switch {
	case e.auth != nil:
		if e.auth(ctx, user, pass) != nil {
			return authResult{}, failed
		}
	case e.creds != nil:
		cr, err := e.creds.Lookup(ctx, user)
		if err != nil || cr == nil || cr.Password == "" ||
			subtle.ConstantTimeCompare([]byte(cr.Password), []byte(pass)) != 1 {
			return authResult{}, failed
		}
	default:
		return authResult{}, pipeline.NewError(pipeline.SecurityError, descNoAuth)
	}
	return authResult{user: user}, nil
}

// checkMAC verifies "-smac:user:algo:sig" or "-hmac:user:algo:sig".
func (e *Executor) checkMAC(ctx context.Context, m *pipeline.Request, sec string, failed *pipeline.Error) (authResult, *pipeline.Error) {
	_, rest, _ := strings.Cut(sec, ":") // after "-smac" or "-hmac"
	user, rest, ok1 := strings.Cut(rest, ":")
	algo, sig, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || user == "" || strings.IndexByte(sig, ':') >= 0 {
		return authResult{}, failed
	}
	if !mac.IsFTN8(algo) && !mac.IsLegacy(algo) {
		return authResult{}, failed
	}
	cr, err := e.creds.Lookup(ctx, user)
	ok := err == nil && cr != nil && len(cr.MACKey) > 0 && algoAllowed(cr.MACAlgorithms, algo)
	key := dummyKey
	if ok {
		if key, err = e.keys.get(user, algo, cr.MACKey); err != nil {
			return authResult{}, failed
		}
	}
	good, err := key.CheckRequest(m, sig)
	if err != nil || !good || !ok {
		return authResult{}, failed
	}
	return authResult{user: user, key: key}, nil
}

func algoAllowed(allowed []string, algo string) bool {
	if allowed == nil {
		return true
	}
	for _, a := range allowed {
		if a == algo {
			return true
		}
	}
	return false
}

// emptyMap stands for the {} sent for a nil result when signing it.
var emptyMap = map[string]any{}

// sign sets r.Sec to the MAC of r under key; r.R is the value sent.
func sign(key *mac.Key, r *pipeline.Response) error {
	if r.E == "" && r.R == nil && string(r.RawR) == "{}" {
		saved := r.R
		r.R = emptyMap
		defer func() { r.R = saved }()
	}
	sec, err := key.SignResponseBase64(r)
	if err != nil {
		return err
	}
	r.Sec = sec
	return nil
}

// onBehalfOf is the caller an "-internal" request names in "obf" (FTN3
// §1.3, SECURITY.md §7): the user is obf.lid ("" when absent: anonymous)
// at level obf.slvl. An unknown or absent level is Anonymous (fail closed;
// the RI would let it pass every seclvl check). Only "-internal" callers,
// level System, are trusted with obf; everyone else's is ignored.
func onBehalfOf(obf map[string]any) authResult {
	lid, _ := obf["lid"].(string)
	lvl, _ := obf["slvl"].(string)
	if _, ok := levels[lvl]; !ok {
		lvl = SecLvlAnonymous
	}
	return authResult{user: lid, lvl: lvl}
}
