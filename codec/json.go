package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
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

// ErrUnsupported is wrapped by Detect for binary codecs this build cannot
// decode.
var ErrUnsupported = errors.New("codec not supported")

// Detect picks the codec of a message from its first bytes (FTN3 §1.13):
// "{" is JSON, the markers "CBOR" and "MPCK" are the binary codecs, and
// anything else is tried as JSON.
func Detect(b []byte) (pipeline.Codec, error) {
	if len(b) >= 4 {
		switch string(b[:4]) {
		case "CBOR", "MPCK":
			return nil, fmt.Errorf("%w: %s", ErrUnsupported, b[:4])
		}
	}
	return JSON, nil
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

type jsonResponse struct {
	R     json.RawMessage `json:"r"`
	E     string          `json:"e"`
	EDesc string          `json:"edesc"`
	Rid   string          `json:"rid"`
	Sec   json.RawMessage `json:"sec"`
}

func (jsonCodec) DecodeResponse(b []byte, r *pipeline.Response) error {
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	var m jsonResponse
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*r = pipeline.Response{E: pipeline.ErrorName(m.E), EDesc: m.EDesc, Rid: m.Rid}
	if len(m.R) > 0 {
		r.RawR, r.HasR = m.R, true
	}
	r.Sec = rawString(m.Sec)
	if r.E == "" && !r.HasR {
		return errors.New(`response has neither "r" nor "e"`)
	}
	return nil
}

type jsonRequest struct {
	F        *string         `json:"f"`
	P        map[string]any  `json:"p"`
	Rid      string          `json:"rid"`
	ForceRsp bool            `json:"forcersp"`
	Sec      json.RawMessage `json:"sec"`
	Obf      map[string]any  `json:"obf"`
}

// DecodeRequest decodes a request and checks its shape: a JSON object with
// a string "f", an object "p" and no keys beyond the FTN3 request schema.
func (jsonCodec) DecodeRequest(b []byte, r *pipeline.Request) error {
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var m jsonRequest
	if err := d.Decode(&m); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the message")
	}
	if m.F == nil {
		return errors.New(`missing "f"`)
	}
	if m.P == nil {
		return errors.New(`missing or null "p"`)
	}
	*r = pipeline.Request{F: *m.F, P: m.P, Rid: m.Rid, ForceRsp: m.ForceRsp, Sec: rawString(m.Sec), Obf: m.Obf}
	return nil
}

func (jsonCodec) DecodeValue(raw []byte, v any) error { return json.Unmarshal(raw, v) }

// rawString returns the string a raw JSON value holds, or "" when it is
// absent or of another type (a non-string "sec" counts as no credentials,
// as the reference executor does).
func rawString(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
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
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return dst, fmt.Errorf("invalid number %q", string(x))
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
