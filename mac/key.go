package mac

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"log/slog"
	"strings"
	"sync"

	"github.com/ftnpipe/ccm/pipeline"
)

type algorithm struct {
	newHash func() hash.Hash
	legacy  bool
}

var algorithms = map[string]algorithm{
	// FTN6 legacy HMAC names, for "-hmac:" credentials.
	"MD5":    {md5.New, true},
	"SHA224": {sha256.New224, true},
	"SHA256": {sha256.New, true},
	"SHA384": {sha512.New384, true},
	"SHA512": {sha512.New, true},
	// FTN8 names, for "-smac:" (and, later, "-mmac:") credentials.
	"HMD5":  {md5.New, false},
	"HS256": {sha256.New, false},
	"HS384": {sha512.New384, false},
	"HS512": {sha512.New, false},
}

// IsLegacy reports whether name is one of the FTN6 HMAC names (MD5, SHA224,
// SHA256, SHA384, SHA512); IsFTN8 whether it is an FTN8 name (HMD5, HS256,
// HS384, HS512). Names are case-sensitive, as on the wire.
func IsLegacy(name string) bool { a, ok := algorithms[name]; return ok && a.legacy }

// IsFTN8 reports whether name is an FTN8 MAC algorithm name this package
// implements.
func IsFTN8(name string) bool { a, ok := algorithms[name]; return ok && !a.legacy }

// DecodeKey decodes a Base64 key strictly: standard alphabet, with or
// without padding, no line breaks or other characters. The error never
// contains the key.
func DecodeKey(b64 string) ([]byte, error) {
	if strings.ContainsAny(b64, "\r\n") { // the decoder would skip them
		return nil, pipeline.NewError(pipeline.InvokerError, "MAC key is not valid Base64 (standard alphabet, strict)")
	}
	enc := base64.StdEncoding.Strict()
	if !strings.HasSuffix(b64, "=") && len(b64)%4 != 0 {
		enc = base64.RawStdEncoding.Strict()
	}
	key, err := enc.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, pipeline.NewError(pipeline.InvokerError, "MAC key is not valid Base64 (standard alphabet, strict)")
	}
	return key, nil
}

// Key is a MAC secret with its algorithm. It is safe for concurrent use.
// The zero value is not usable; use [NewKey].
type Key struct {
	algo string
	pool sync.Pool // *state
}

type state struct {
	h   hash.Hash
	w   writer
	buf [flushAt]byte
	sum [64]byte // the MAC, computed in place: no escaping stack buffer
	enc [88]byte // its Base64 form
}

// NewKey returns a key for algo (see the package doc for names). An
// unknown algorithm or an empty secret is an InvokerError. The secret is
// copied.
func NewKey(algo string, secret []byte) (*Key, error) {
	a, ok := algorithms[algo]
	if !ok {
		return nil, pipeline.Errorf(pipeline.InvokerError, "unknown MAC algorithm %q: want one of HMD5, HS256, HS384, HS512 or legacy MD5, SHA224, SHA256, SHA384, SHA512", algo)
	}
	if len(secret) == 0 {
		return nil, pipeline.NewError(pipeline.InvokerError, "empty MAC key")
	}
	s := append([]byte(nil), secret...)
	k := &Key{algo: algo}
	k.pool.New = func() any {
		st := &state{h: hmac.New(a.newHash, s)}
		st.w.h = st.h
		st.w.buf = st.buf[:0]
		return st
	}
	return k, nil
}

// Algorithm returns the algorithm name.
func (k *Key) Algorithm() string { return k.algo }

// String describes the key without its secret.
func (k *Key) String() string { return "mac.Key{" + k.algo + ", secret redacted}" }

// GoString is String, for %#v.
func (k *Key) GoString() string { return k.String() }

// LogValue keeps the secret out of log/slog output.
func (k *Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

func (k *Key) get() *state {
	st := k.pool.Get().(*state)
	st.h.Reset()
	st.w.buf = st.buf[:0]
	st.w.err = nil
	return st
}

func (k *Key) sum(st *state, dst []byte) ([]byte, error) {
	st.w.flush()
	err := st.w.err
	if err == nil {
		dst = st.h.Sum(dst)
	}
	k.pool.Put(st)
	if err != nil {
		return dst, pipeline.Errorf(pipeline.InvokerError, "cannot compute the MAC: %v", err)
	}
	return dst, nil
}

// finish computes the MAC of what st was fed, into st.sum.
func (k *Key) finish(st *state) ([]byte, error) {
	st.w.flush()
	if err := st.w.err; err != nil {
		return nil, pipeline.Errorf(pipeline.InvokerError, "cannot compute the MAC: %v", err)
	}
	return st.h.Sum(st.sum[:0]), nil
}

// SignRequestBase64 returns prefix followed by the padded Base64 MAC of r
// (its "sec" excluded): the "sec" value to send, e.g. with prefix
// "-smac:user:HS256:". One allocation: the string.
func (k *Key) SignRequestBase64(prefix string, r *pipeline.Request) (string, error) {
	st := k.get()
	defer k.pool.Put(st)
	writeRequest(&st.w, r)
	return k.base64(st, prefix)
}

// SignResponseBase64 returns the padded Base64 MAC of r, the value of a
// signed response's "sec".
func (k *Key) SignResponseBase64(r *pipeline.Response) (string, error) {
	st := k.get()
	defer k.pool.Put(st)
	writeResponse(&st.w, r)
	return k.base64(st, "")
}

func (k *Key) base64(st *state, prefix string) (string, error) {
	sum, err := k.finish(st)
	if err != nil {
		return "", err
	}
	enc := base64.StdEncoding.AppendEncode(st.enc[:0], sum)
	var sb strings.Builder
	sb.Grow(len(prefix) + len(enc))
	sb.WriteString(prefix)
	sb.Write(enc)
	return sb.String(), nil
}

// CheckRequest reports, in constant time, whether sig is the MAC of r.
func (k *Key) CheckRequest(r *pipeline.Request, sig string) (bool, error) {
	st := k.get()
	defer k.pool.Put(st)
	writeRequest(&st.w, r)
	sum, err := k.finish(st)
	return err == nil && Equal(sum, sig), err
}

// CheckResponse reports, in constant time, whether sig is the MAC of r,
// whose R is the decoded result.
func (k *Key) CheckResponse(r *pipeline.Response, sig string) (bool, error) {
	st := k.get()
	defer k.pool.Put(st)
	writeResponse(&st.w, r)
	sum, err := k.finish(st)
	return err == nil && Equal(sum, sig), err
}

// SignRequest appends the MAC of r (its "sec" excluded) to dst.
func (k *Key) SignRequest(dst []byte, r *pipeline.Request) ([]byte, error) {
	st := k.get()
	writeRequest(&st.w, r)
	return k.sum(st, dst)
}

// SignResponse appends the MAC of r (its "sec" excluded) to dst. The result
// is r.R, which must be the decoded value (not RawR) on the receiving side.
func (k *Key) SignResponse(dst []byte, r *pipeline.Response) ([]byte, error) {
	st := k.get()
	writeResponse(&st.w, r)
	return k.sum(st, dst)
}

// SignTree appends the MAC of a generic top-level message tree, e.g. a
// request decoded into map[string]any; its top-level "sec" is skipped.
func (k *Key) SignTree(dst []byte, tree map[string]any) ([]byte, error) {
	st := k.get()
	st.w.tree(tree, true)
	return k.sum(st, dst)
}

// Equal reports, in constant time, whether sig (Base64, with or without
// padding, as FTN8.1 allows) encodes sum. It compares encodings: sum is
// encoded (cheaper than decoding sig) and a signature whose unused
// trailing bits are not zero, which no encoder writes, does not match.
func Equal(sum []byte, sig string) bool {
	sig = strings.TrimRight(sig, "=")
	var buf [88]byte
	n := base64.RawStdEncoding.EncodedLen(len(sum))
	if n > len(buf) || len(sig) != n {
		return false
	}
	base64.RawStdEncoding.Encode(buf[:n], sum)
	return subtle.ConstantTimeCompare(buf[:n], []byte(sig)) == 1
}

// AppendBase64 appends the padded standard Base64 form of sum, the form
// peers send.
func AppendBase64(dst, sum []byte) []byte {
	return base64.StdEncoding.AppendEncode(dst, sum)
}

func writeRequest(w *writer, r *pipeline.Request) {
	// Top-level keys in order: f, forcersp, obf, p, rid (sec skipped).
	w.str("f:")
	w.str(r.F)
	w.byte1(';')
	if r.ForceRsp {
		w.str("forcersp:true;")
	}
	if r.Obf != nil {
		w.str("obf:")
		w.tree(r.Obf, false)
		w.byte1(';')
	}
	w.str("p:")
	w.tree(r.P, false)
	w.byte1(';')
	if r.Rid != "" {
		w.str("rid:")
		w.str(r.Rid)
		w.byte1(';')
	}
}

func writeResponse(w *writer, r *pipeline.Response) {
	// Top-level keys in order: e, edesc, r, rid (sec skipped).
	if r.E != "" {
		w.str("e:")
		w.str(string(r.E))
		w.byte1(';')
		if r.EDesc != "" {
			w.str("edesc:")
			w.str(r.EDesc)
			w.byte1(';')
		}
	} else {
		w.pair("r", r.R)
	}
	if r.Rid != "" {
		w.str("rid:")
		w.str(r.Rid)
		w.byte1(';')
	}
}

// AppendBase appends the MAC base text of a generic message tree (top-level
// "sec" skipped) to dst: the bytes a key would hash. It is for tests and
// debugging; signing never builds it.
func AppendBase(dst []byte, tree map[string]any) ([]byte, error) {
	b := &bufHash{b: dst}
	w := writer{h: b}
	w.tree(tree, true)
	w.flush()
	return b.b, w.err
}

// bufHash is a hash.Hash that only collects what is written.
type bufHash struct{ b []byte }

func (h *bufHash) Write(p []byte) (int, error) { h.b = append(h.b, p...); return len(p), nil }
func (h *bufHash) Sum(b []byte) []byte         { return append(b, h.b...) }
func (h *bufHash) Reset()                      { h.b = h.b[:0] }
func (h *bufHash) Size() int                   { return len(h.b) }
func (h *bufHash) BlockSize() int              { return 1 }
