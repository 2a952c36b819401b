package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ftnpipe/ccm/pipeline"
)

// JSON is the JSON codec ("JSON", application/futoin+json).
var JSON pipeline.Codec = jsonCodec{}

// ContentTypeJSON and ContentTypeVndJSON are the two media types of JSON
// FutoIn messages (FTN5 §1.4); receivers accept both.
const (
	ContentTypeJSON    = "application/futoin+json"
	ContentTypeVndJSON = "application/vnd.futoin+json"
)

// ErrUnsupported is wrapped by Detect for codecs this build cannot decode.
// Every FutoIn codec (JSON, MessagePack, CBOR) is built in, so Detect does
// not return it today; it stays for callers that check for it.
var ErrUnsupported = errors.New("codec not supported")

// Detect picks the codec of a message from its first bytes (FTN3 §1.13):
// the markers "MPCK" and "CBOR" are the binary codecs; "{" and anything
// else is tried as JSON.
func Detect(b []byte) (pipeline.Codec, error) {
	if len(b) >= 4 {
		switch string(b[:4]) {
		case "CBOR":
			return CBOR, nil
		case "MPCK":
			return MsgPack, nil
		}
	}
	return JSON, nil
}

// ByName returns the codec with a FutoIn coder name: "JSON", "MPCK" or
// "CBOR" (exact spelling, as the reference's coder option).
func ByName(name string) (pipeline.Codec, bool) {
	switch name {
	case "JSON":
		return JSON, true
	case "MPCK":
		return MsgPack, true
	case "CBOR":
		return CBOR, true
	}
	return nil, false
}

// ByContentType returns the codec of an HTTP Content-Type: the
// application/futoin+X and application/vnd.futoin+X forms of json,
// msgpack and cbor, case-insensitive, parameters ignored. vnd reports
// whether the vnd. form was used (a server mirrors it, HTTP.md §5).
func ByContentType(ct string) (c pipeline.Codec, vnd, ok bool) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, false, false
	}
	sub, ok := strings.CutPrefix(mt, "application/futoin+")
	if !ok {
		if sub, ok = strings.CutPrefix(mt, "application/vnd.futoin+"); !ok {
			return nil, false, false
		}
		vnd = true
	}
	switch sub {
	case "json":
		return JSON, vnd, true
	case "msgpack":
		return MsgPack, vnd, true
	case "cbor":
		return CBOR, vnd, true
	}
	return nil, false, false
}

// VndContentType is the application/vnd.futoin+X form of c's media type.
func VndContentType(c pipeline.Codec) string {
	return strings.Replace(c.ContentType(), "application/futoin+", "application/vnd.futoin+", 1)
}

type jsonCodec struct{}

func (jsonCodec) Name() string        { return "JSON" }
func (jsonCodec) ContentType() string { return ContentTypeJSON }

func (jsonCodec) AppendRequest(dst []byte, r *pipeline.Request) ([]byte, error) {
	dst = append(dst, `{"f":`...)
	dst = appendString(dst, r.F)
	dst = append(dst, `,"p":`...)
	var err error
	if r.P == nil {
		dst = append(dst, "{}"...)
	} else if dst, err = appendValue(dst, r.P); err != nil {
		return dst, err
	}
	if r.Rid != "" {
		dst = append(dst, `,"rid":`...)
		dst = appendString(dst, r.Rid)
	}
	if r.ForceRsp {
		dst = append(dst, `,"forcersp":true`...)
	}
	if r.Sec != "" {
		dst = append(dst, `,"sec":`...)
		dst = appendString(dst, r.Sec)
	}
	if r.Obf != nil {
		dst = append(dst, `,"obf":`...)
		if dst, err = appendValue(dst, r.Obf); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func (jsonCodec) AppendResponse(dst []byte, r *pipeline.Response) ([]byte, error) {
	dst = append(dst, '{')
	var err error
	if r.E != "" {
		dst = append(dst, `"e":`...)
		dst = appendString(dst, string(r.E))
		if r.EDesc != "" {
			dst = append(dst, `,"edesc":`...)
			dst = appendString(dst, r.EDesc)
		}
	} else {
		dst = append(dst, `"r":`...)
		switch {
		case r.RawR != nil:
			dst = append(dst, r.RawR...)
		default:
			if dst, err = appendValue(dst, r.R); err != nil {
				return dst, err
			}
		}
	}
	if r.Rid != "" {
		dst = append(dst, `,"rid":`...)
		dst = appendString(dst, r.Rid)
	}
	if r.Sec != "" {
		dst = append(dst, `,"sec":`...)
		dst = appendString(dst, r.Sec)
	}
	return append(dst, '}'), nil
}

func (jsonCodec) DecodeResponse(b []byte, r *pipeline.Response) error {
	*r = pipeline.Response{}
	p := parser{b: b}
	err := p.members(func(key string) error {
		var err error
		switch key {
		case "r":
			r.RawR, err = p.skip()
			r.HasR = err == nil
		case "e":
			var e string
			e, err = p.optString()
			r.E = pipeline.ErrorName(e)
		case "edesc":
			r.EDesc, err = p.optString()
		case "rid":
			r.Rid, err = p.optString()
		case "sec":
			r.Sec, err = p.anyString()
		default:
			_, err = p.skip()
		}
		return err
	})
	if err != nil {
		*r = pipeline.Response{}
		return err
	}
	switch {
	case r.E == "" && !r.HasR:
		*r = pipeline.Response{}
		return errors.New(`response has neither "r" nor "e"`)
	case r.E != "" && r.HasR:
		*r = pipeline.Response{}
		return errors.New(`response has both "r" and "e"`)
	}
	return nil
}

// DecodeRequest decodes a request and checks its shape: a JSON object with
// a string "f", an object "p" and no keys beyond the FTN3 request schema.
func (jsonCodec) DecodeRequest(b []byte, r *pipeline.Request) error {
	*r = pipeline.Request{}
	p := parser{b: b}
	var hasF bool
	err := p.members(func(key string) error {
		var err error
		var v any
		switch key {
		case "f":
			if p.peek() == 'n' {
				return p.literal("null")
			}
			r.F, err = p.optString()
			hasF = err == nil
		case "p":
			if p.peek() != '{' {
				if p.peek() == 'n' {
					r.P = nil
					return p.literal("null")
				}
				return errors.New(`"p" is not an object`)
			}
			if v, err = p.value(); err == nil {
				r.P = v.(map[string]any)
			}
		case "rid":
			r.Rid, err = p.optString()
		case "forcersp":
			switch p.peek() {
			case 't':
				r.ForceRsp, err = true, p.literal("true")
			case 'f':
				r.ForceRsp, err = false, p.literal("false")
			case 'n':
				err = p.literal("null")
			default:
				err = errors.New(`"forcersp" is not a boolean`)
			}
		case "sec":
			r.Sec, err = p.anyString()
		case "obf":
			switch p.peek() {
			case '{':
				if v, err = p.value(); err == nil {
					r.Obf = v.(map[string]any)
				}
			case 'n':
				err = p.literal("null")
			default:
				err = errors.New(`"obf" is not an object`)
			}
		default:
			return fmt.Errorf("unknown request field %q", key)
		}
		return err
	})
	if err != nil {
		*r = pipeline.Request{}
		return err
	}
	if !hasF {
		*r = pipeline.Request{}
		return errors.New(`missing "f"`)
	}
	if r.P == nil {
		*r = pipeline.Request{}
		return errors.New(`missing or null "p"`)
	}
	return nil
}

// DecodeValue decodes a raw value. A *any target takes the fast parser;
// any other target goes through encoding/json (struct tags apply).
func (jsonCodec) DecodeValue(raw []byte, v any) error {
	if pv, ok := v.(*any); ok {
		val, err := parseValue(raw)
		if err != nil {
			return err
		}
		*pv = val
		return nil
	}
	return json.Unmarshal(raw, v)
}

func (p *parser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// optString reads a string or null ("" for null).
func (p *parser) optString() (string, error) {
	switch p.peek() {
	case '"':
		return p.string()
	case 'n':
		return "", p.literal("null")
	}
	return "", errors.New("expected a string")
}

// anyString reads any value and returns it if it is a string: a "sec" of
// another type counts as no credentials, as in the reference executor.
func (p *parser) anyString() (string, error) {
	if p.peek() == '"' {
		return p.string()
	}
	_, err := p.skip()
	return "", err
}

// appendValue appends the JSON form of v. Common decoded-JSON shapes are
// written directly; anything else goes through encoding/json.
func appendValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		return appendFloat(dst, x)
	case json.Number:
		p := parser{b: []byte(x)}
		if end, err := p.numberEnd(); err != nil || end != len(x) {
			return dst, fmt.Errorf("invalid JSON number %q", string(x))
		}
		return append(dst, x...), nil
	case map[string]any:
		dst = append(dst, '{')
		first := true
		var err error
		for k, e := range x {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, k)
			dst = append(dst, ':')
			if dst, err = appendValue(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		dst = append(dst, '[')
		var err error
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendValue(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []byte:
		return dst, errors.New("binary data needs a binary codec (MessagePack or CBOR); JSON cannot carry it")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Errorf("unsupported number %v", f)
	}
	// Same rules as encoding/json: integers without exponent where exact.
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	dst = strconv.AppendFloat(dst, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does; HTML characters are not escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
