package sink_test

import (
	"testing"

	"github.com/matryer/is"

	"github.com/ftnpipe/ccm/sink"
)

func TestHTTPFallbackURL(t *testing.T) {
	is := is.New(t)
	for in, want := range map[string]string{
		"ws://127.0.0.1:1/ftn?x=1": "http://127.0.0.1:1/ftn?x=1",
		"wss://h/p":                "https://h/p",
		"WSS://h/p":                "https://h/p",
		"http://h/p":               "http://h/p",
		"https://h/p":              "https://h/p",
		"tcp://h:1":                "",
		"no scheme":                "",
	} {
		is.Equal(sink.HTTPFallbackURL(in), want) // in
	}
}

func TestQueryValue(t *testing.T) {
	is := is.New(t)
	for _, c := range []struct {
		v    any
		want string
	}{
		{"1", "1"}, // strings as they are, even when they look like JSON
		{"a b", "a b"},
		{1.0, "1"},
		{2.5, "2.5"},
		{true, "true"},
		{nil, "null"},
		{map[string]any{"b": false}, `{"b":false}`},
		{[]any{1.0, "x"}, `[1,"x"]`},
	} {
		got, err := sink.QueryValue(c.v)
		is.NoErr(err)
		is.Equal(got, c.want)
	}
	_, err := sink.QueryValue([]byte{1})
	is.True(err != nil) // bytes have no URL form
	_, err = sink.QueryValue(make(chan int))
	is.True(err != nil)
}

func TestNewRawHTTPNeedsHTTP(t *testing.T) {
	is := is.New(t)
	_, err := sink.NewRawHTTP(sink.RawHTTPConfig{URL: "ws://h/p"})
	is.True(err != nil)
	h, err := sink.NewRawHTTP(sink.RawHTTPConfig{URL: "http://h/p"})
	is.NoErr(err)
	is.Equal(h.Workers(), 16)
}
