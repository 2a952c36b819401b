package mac

import (
	"encoding/json"
	"errors"
	"hash"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/ftnpipe/ccm/pipeline"
)

// writer streams a MAC base into a hash through a fixed buffer.
type writer struct {
	h   hash.Hash
	buf []byte
	err error // a value that cannot be rendered
}

const flushAt = 1024

func (w *writer) str(s string) {
	if !utf8.ValidString(s) {
		// The codec sends each invalid byte as U+FFFD; sign what is sent.
		s = string([]rune(s))
	}
	if len(w.buf)+len(s) > flushAt {
		w.flush()
		if len(s) > flushAt {
			w.h.Write([]byte(s))
			return
		}
	}
	w.buf = append(w.buf, s...)
}

func (w *writer) bytes(b []byte) {
	if len(w.buf)+len(b) > flushAt {
		w.flush()
		if len(b) > flushAt {
			w.h.Write(b)
			return
		}
	}
	w.buf = append(w.buf, b...)
}

func (w *writer) byte1(c byte) {
	if len(w.buf) >= flushAt {
		w.flush()
	}
	w.buf = append(w.buf, c)
}

// room flushes when fewer than n bytes are left before the flush mark, so
// that small renderings append straight into the buffer.
func (w *writer) room(n int) {
	if len(w.buf)+n > flushAt {
		w.flush()
	}
}

func (w *writer) flush() {
	if len(w.buf) > 0 {
		w.h.Write(w.buf)
		w.buf = w.buf[:0]
	}
}

// pair writes key:value; for a non-null value.
func (w *writer) pair(key string, v any) {
	if v == nil {
		return
	}
	if !basic(v) {
		// A Go value (struct, typed slice, pointer): take the shape the peer
		// decodes; a nil pointer or map is null and omitted.
		if v = generic(v, &w.err); v == nil {
			return
		}
	}
	w.str(key)
	w.byte1(':')
	w.value(v)
	w.byte1(';')
}

func (w *writer) value(v any) {
	switch x := v.(type) {
	case string:
		w.str(x)
	case map[string]any:
		w.tree(x, false)
	case []any:
		w.array(len(x), func(i int) any { return x[i] })
	case []byte:
		w.bytes(x)
	case bool:
		if x {
			w.str("true")
		} else {
			w.str("false")
		}
	case float64:
		w.num(x)
	case float32:
		// As the codec (encoding/json) writes it: the shortest form that
		// reads back as this float32, which the peer decodes as a float64.
		var b [32]byte
		f, _ := strconv.ParseFloat(string(strconv.AppendFloat(b[:0], float64(x), 'g', -1, 32)), 64)
		w.num(f)
	case int:
		w.int(int64(x))
	case int8:
		w.int(int64(x))
	case int16:
		w.int(int64(x))
	case int32:
		w.int(int64(x))
	case int64:
		w.int(x)
	case uint:
		w.uint(uint64(x))
	case uint8:
		w.uint(uint64(x))
	case uint16:
		w.uint(uint64(x))
	case uint32:
		w.uint(uint64(x))
	case uint64:
		w.uint(x)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			w.err = err
			return
		}
		w.num(f)
	default:
		w.err = errors.New("unsupported value") // pair converts these first
	}
}

// basic reports whether value renders v without a JSON round trip.
func basic(v any) bool {
	switch v.(type) {
	case string, map[string]any, []any, []byte, bool, float64, float32,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		return true
	}
	return false
}

func (w *writer) int(i int64) {
	if i > 1<<53 || i < -(1<<53) {
		w.num(float64(i)) // what a JavaScript peer sees
		return
	}
	w.room(24)
	w.buf = strconv.AppendInt(w.buf, i, 10)
}

func (w *writer) uint(u uint64) {
	if u > 1<<53 {
		w.num(float64(u))
		return
	}
	w.room(24)
	w.buf = strconv.AppendUint(w.buf, u, 10)
}

func (w *writer) num(f float64) {
	w.room(32)
	var err error
	if w.buf, err = AppendNumber(w.buf, f); err != nil {
		w.err = err
	}
}

// tree writes the pairs of m in UTF-16 key order, skipping "sec" at the top
// level.
func (w *writer) tree(m map[string]any, top bool) {
	var stack [16]string
	keys := stack[:0]
	for k := range m {
		if top && k == "sec" {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) <= 12 {
		// Insertion sort: no function-value calls for the usual small maps.
		for i := 1; i < len(keys); i++ {
			for j := i; j > 0 && compareUTF16(keys[j], keys[j-1]) < 0; j-- {
				keys[j], keys[j-1] = keys[j-1], keys[j]
			}
		}
	} else {
		slices.SortFunc(keys, compareUTF16)
	}
	for _, k := range keys {
		w.pair(k, m[k])
	}
}

// array writes an array as a map keyed by its indexes sorted as strings.
func (w *writer) array(n int, at func(int) any) {
	if n <= 10 {
		for i := 0; i < n; i++ {
			w.pair(smallIndex[i], at(i))
		}
		return
	}
	idx := make([]string, n)
	for i := range idx {
		idx[i] = strconv.Itoa(i)
	}
	slices.Sort(idx) // decimal ASCII: byte order is UTF-16 order
	for _, k := range idx {
		i, _ := strconv.Atoi(k)
		w.pair(k, at(i))
	}
}

var smallIndex = [10]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// generic turns any other Go value into its decoded-JSON shape by a JSON
// round trip, so the base matches what the peer decodes.
func generic(v any, errp *error) any {
	rv := reflect.ValueOf(v)
	if (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice || rv.Kind() == reflect.Interface) && rv.IsNil() {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		*errp = err
		return nil
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		*errp = err
		return nil
	}
	return out
}

// compareUTF16 orders strings by UTF-16 code units, as JavaScript's
// default sort does. For ASCII and most text it is byte order; it differs
// for characters above U+FFFF against U+E000–U+FFFF.
func compareUTF16(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return len(a) - len(b)
	}
	if a[i] < utf8.RuneSelf && b[i] < utf8.RuneSelf {
		return int(a[i]) - int(b[i])
	}
	// Back up to the start of the rune that differs.
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	a1, a2 := utf16Units(ra)
	b1, b2 := utf16Units(rb)
	if a1 != b1 {
		return int(a1) - int(b1)
	}
	return int(a2) - int(b2)
}

// utf16Units returns the UTF-16 code units of r (the second is 0 for a
// character of the Basic Multilingual Plane).
func utf16Units(r rune) (rune, rune) {
	if r < 0x10000 {
		return r, 0
	}
	r -= 0x10000
	return 0xD800 + r>>10, 0xDC00 + r&0x3FF
}

// AppendNumber appends f as JavaScript's Number.prototype.toString renders
// it: shortest round-trip digits, no exponent from 1e-6 up to below 1e21,
// otherwise exponent form like 1e+21 and 1.5e-7; -0 is "0". NaN and the
// infinities are refused (JSON cannot carry them).
func AppendNumber(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, pipeline.Errorf(pipeline.InvokerError, "number %v cannot be signed", f)
	}
	if f == 0 {
		return append(dst, '0'), nil
	}
	if f == math.Trunc(f) && f > -(1<<53) && f < 1<<53 {
		// Integers that a float64 holds exactly print the same in every
		// language; skip the shortest-digits search.
		return strconv.AppendInt(dst, int64(f), 10), nil
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64), nil
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	// Go writes e+21 / e-07; JavaScript writes e+21 / e-7.
	for i := start; i < len(dst); i++ {
		if dst[i] == 'e' {
			j := i + 2 // after the sign
			k := j
			for k < len(dst)-1 && dst[k] == '0' {
				k++
			}
			dst = append(dst[:j], dst[k:]...)
			break
		}
	}
	return dst, nil
}
