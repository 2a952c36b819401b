package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/ftnpipe/ccm/pipeline"
)

// MsgPack is the MessagePack codec ("MPCK", application/futoin+msgpack):
// the ASCII marker "MPCK" followed by one MessagePack map (FTN3 §1.13).
var MsgPack pipeline.Codec = &binCodec{name: "MPCK", ctype: ContentTypeMsgPack, format: mpFormat{}}

// ContentTypeMsgPack and ContentTypeVndMsgPack are the media types of
// MessagePack FutoIn messages; receivers accept both.
const (
	ContentTypeMsgPack    = "application/futoin+msgpack"
	ContentTypeVndMsgPack = "application/vnd.futoin+msgpack"
)

// mpFormat reads MessagePack with its own walker: every declared length is
// checked against the bytes that remain before anything is allocated
// (DESIGN.md §6: vmihailenco/msgpack trusts them when decoding into any).
// The library decodes only into typed targets, and only bytes the walker
// has accepted.
type mpFormat struct{}

func (mpFormat) members(b []byte, f func(key string, val []byte) error) error {
	n, i, err := mpHeader(b, 0, 0x80, 0xde)
	if err != nil {
		return fmt.Errorf("MessagePack message is not a map: %w", err)
	}
	for ; n > 0; n-- {
		var raw []byte
		var ok bool
		if raw, i, ok, err = mpStr(b, i); err != nil || !ok {
			if err == nil {
				err = errMapKey
			}
			return err
		}
		key := envelopeKey(raw)
		start := i
		if _, i, err = mpWalk(b, i, 1, false); err != nil {
			return err
		}
		if err := f(key, b[start:i]); err != nil {
			return err
		}
	}
	if i != len(b) {
		return errTrailing
	}
	return nil
}

func (mpFormat) decodeAny(val []byte) (any, error) { return walkWhole(mpWalk, val, true) }

func (mpFormat) unmarshal(raw []byte, v any) error {
	if _, err := walkWhole(mpWalk, raw, false); err != nil {
		return err
	}
	d := mpDecoders.Get().(*msgpack.Decoder)
	defer mpDecoders.Put(d)
	d.Reset(bytes.NewReader(raw))
	d.SetCustomStructTag("json")
	return d.Decode(v)
}

// mpDecoders are our own: the library's pool would hand decoders with our
// settings (json struct tags) to other users of the library.
var mpDecoders = sync.Pool{New: func() any { return msgpack.NewDecoder(nil) }}

// mpHeader reads the header of a map (fix 0x80, 16/32-bit at 0xde/0xdf)
// or an array (0x90, 0xdc/0xdd) at b[i] and returns its element count
// and the offset after the header. The count is bounded by the bytes
// that remain: each element takes at least one byte.
func mpHeader(b []byte, i int, fix, wide byte) (int, int, error) {
	if i >= len(b) {
		return 0, i, errTruncated
	}
	c := b[i]
	var n int
	var err error
	switch {
	case c >= fix && c <= fix|0x0f:
		n, i = int(c&0x0f), i+1
	case c == wide:
		n, i, err = mpLen(b, i+1, 2)
	case c == wide+1:
		n, i, err = mpLen(b, i+1, 4)
	default:
		return 0, i, fmt.Errorf("unexpected byte 0x%02x", c)
	}
	per := 1
	if fix == 0x80 {
		per = 2 // a key and a value
	}
	if err == nil && n > (len(b)-i)/per {
		err = errTruncated
	}
	return n, i, err
}

// mpLen reads a big-endian length of size bytes at b[i].
func mpLen(b []byte, i, size int) (int, int, error) {
	if len(b)-i < size {
		return 0, i, errTruncated
	}
	var n uint64
	for _, c := range b[i : i+size] {
		n = n<<8 | uint64(c)
	}
	return int(n), i + size, nil
}

// mpBytes returns the n bytes at b[i] and the offset after them.
func mpBytes(b []byte, i, n int) ([]byte, int, error) {
	if n > len(b)-i {
		return nil, i, errTruncated
	}
	return b[i : i+n], i + n, nil
}

// mpStr reads the string at b[i] and returns its bytes (aliasing b) and
// the offset after it; ok is false when b[i] is not a string.
func mpStr(b []byte, i int) (raw []byte, end int, ok bool, err error) {
	if i >= len(b) {
		return nil, i, false, errTruncated
	}
	c := b[i]
	var n int
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n, i = int(c&0x1f), i+1
	case c >= 0xd9 && c <= 0xdb:
		if n, i, err = mpLen(b, i+1, 1<<(c-0xd9)); err != nil {
			return nil, i, true, err
		}
	default:
		return nil, i, false, nil
	}
	raw, end, err = mpBytes(b, i, n)
	return raw, end, true, err
}

// mpKey reads a map key, which must be a string.
func mpKey(b []byte, i int) (string, int, error) {
	raw, end, ok, err := mpStr(b, i)
	if !ok && err == nil {
		err = errMapKey
	}
	return string(raw), end, err
}

func (mpFormat) decodeString(val []byte) (string, bool, error) {
	if len(val) == 1 && val[0] == 0xc0 {
		return "", true, nil
	}
	raw, end, ok, err := mpStr(val, 0)
	switch {
	case err != nil:
		return "", false, err
	case !ok:
		return "", false, errNotString
	case end != len(val):
		return "", false, errTrailing
	}
	return string(raw), false, nil
}

// mpWalk reads the value at b[i] and returns the offset after it; with
// build it also returns the value (package doc: generic values). Every
// length is checked before use and nesting is bounded by maxDepth.
func mpWalk(b []byte, i, depth int, build bool) (any, int, error) {
	if i >= len(b) {
		return nil, i, errTruncated
	}
	c := b[i]
	switch {
	case c <= 0x7f:
		return float64(c), i + 1, nil
	case c >= 0xe0:
		return float64(int8(c)), i + 1, nil
	case c <= 0x8f, c == 0xde, c == 0xdf:
		return mpMap(b, i, depth, build)
	case c <= 0x9f, c == 0xdc, c == 0xdd:
		return mpArray(b, i, depth, build)
	case c <= 0xbf:
		return mpString(b, i+1, int(c&0x1f), build)
	}
	i++
	switch c {
	case 0xc0:
		return nil, i, nil
	case 0xc2:
		return false, i, nil
	case 0xc3:
		return true, i, nil
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		n, i, err := mpLen(b, i, 1<<(c-0xc4))
		if err != nil {
			return nil, i, err
		}
		raw, end, err := mpBytes(b, i, n)
		if err != nil || !build {
			return nil, end, err
		}
		return append(make([]byte, 0, n), raw...), end, nil
	case 0xca: // float32
		raw, end, err := mpBytes(b, i, 4)
		if err != nil {
			return nil, end, err
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), end, nil
	case 0xcb: // float64
		raw, end, err := mpBytes(b, i, 8)
		if err != nil {
			return nil, end, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(raw)), end, nil
	case 0xcc, 0xcd, 0xce, 0xcf: // uint 8/16/32/64
		raw, end, err := mpBytes(b, i, 1<<(c-0xcc))
		if err != nil {
			return nil, end, err
		}
		var u uint64
		for _, x := range raw {
			u = u<<8 | uint64(x)
		}
		return uintValue(u), end, nil
	case 0xd0, 0xd1, 0xd2, 0xd3: // int 8/16/32/64
		size := 1 << (c - 0xd0)
		raw, end, err := mpBytes(b, i, size)
		if err != nil {
			return nil, end, err
		}
		var u uint64
		for _, x := range raw {
			u = u<<8 | uint64(x)
		}
		shift := 64 - 8*size
		return intValue(int64(u<<shift) >> shift), end, nil
	case 0xd9, 0xda, 0xdb: // str 8/16/32
		n, i, err := mpLen(b, i, 1<<(c-0xd9))
		if err != nil {
			return nil, i, err
		}
		return mpString(b, i, n, build)
	case 0xc1:
		return nil, i - 1, fmt.Errorf("invalid MessagePack byte 0x%02x", c)
	}
	return nil, i - 1, fmt.Errorf("MessagePack extension types are not supported (byte 0x%02x)", c)
}

func mpString(b []byte, i, n int, build bool) (any, int, error) {
	raw, end, err := mpBytes(b, i, n)
	if err != nil || !build {
		return nil, end, err
	}
	return string(raw), end, nil
}

func mpMap(b []byte, i, depth int, build bool) (any, int, error) {
	if err := checkDepth(depth + 1); err != nil {
		return nil, i, err
	}
	n, i, err := mpHeader(b, i, 0x80, 0xde)
	if err != nil {
		return nil, i, err
	}
	var m map[string]any
	if build {
		m = make(map[string]any, min(n, maxPreallocMap))
	}
	for ; n > 0; n-- {
		var k string
		var v any
		if k, i, err = mpKey(b, i); err != nil {
			return nil, i, err
		}
		if v, i, err = mpWalk(b, i, depth+1, build); err != nil {
			return nil, i, err
		}
		if build {
			m[k] = v
		}
	}
	return m, i, nil
}

func mpArray(b []byte, i, depth int, build bool) (any, int, error) {
	if err := checkDepth(depth + 1); err != nil {
		return nil, i, err
	}
	n, i, err := mpHeader(b, i, 0x90, 0xdc)
	if err != nil {
		return nil, i, err
	}
	var a []any
	if build {
		a = make([]any, 0, min(n, maxPrealloc))
	}
	for k := 0; k < n; k++ {
		var v any
		if v, i, err = mpWalk(b, i, depth+1, build); err != nil {
			return nil, i, err
		}
		if build {
			a = append(a, v)
		}
	}
	if !build {
		return nil, i, nil
	}
	return a, i, nil
}

func (mpFormat) appendNil(dst []byte) []byte { return append(dst, 0xc0) }

func (mpFormat) appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 0xc3)
	}
	return append(dst, 0xc2)
}

func (f mpFormat) appendInt(dst []byte, i int64) []byte {
	switch {
	case i >= 0:
		return f.appendUint(dst, uint64(i))
	case i >= -32:
		return append(dst, byte(i))
	case i >= math.MinInt8:
		return append(dst, 0xd0, byte(i))
	case i >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(i))
	case i >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(i))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(i))
}

func (mpFormat) appendUint(dst []byte, u uint64) []byte {
	switch {
	case u <= 0x7f:
		return append(dst, byte(u))
	case u <= math.MaxUint8:
		return append(dst, 0xcc, byte(u))
	case u <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(u))
	case u <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(u))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcf), u)
}

func (mpFormat) appendFloat(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(f))
}

// mpAppendHead appends a header with a length: fix when n < fixMax, else
// the 8- (when w8 is not 0), 16- or 32-bit form.
func mpAppendHead(dst []byte, n int, fix byte, fixMax int, w8, w16 byte) []byte {
	switch {
	case n < fixMax:
		return append(dst, fix|byte(n))
	case w8 != 0 && n <= math.MaxUint8:
		return append(dst, w8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, w16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, w16+1), uint32(n))
}

func (mpFormat) appendString(dst []byte, s string) []byte {
	return append(mpAppendHead(dst, len(s), 0xa0, 32, 0xd9, 0xda), s...)
}

func (mpFormat) appendBytes(dst []byte, b []byte) []byte {
	// bin has no fix form: 0xc4 (8-bit length), 0xc5, 0xc6.
	return append(mpAppendHead(dst, len(b), 0, 0, 0xc4, 0xc5), b...)
}

func (mpFormat) appendMap(dst []byte, n int) []byte {
	return mpAppendHead(dst, n, 0x80, 16, 0, 0xde)
}

func (mpFormat) appendArray(dst []byte, n int) []byte {
	return mpAppendHead(dst, n, 0x90, 16, 0, 0xdc)
}
