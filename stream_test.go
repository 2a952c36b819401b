package ccm_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/matryer/is"

	ccm "github.com/ftnpipe/ccm"
	"github.com/ftnpipe/ccm/source"
)

func TestIfaceStream(t *testing.T) {
	s := newService(t)
	for scheme, url := range schemes(s) {
		t.Run(scheme, func(t *testing.T) {
			c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
			defer c.Close()
			it := register(t, c, url)
			for _, ordered := range []bool{false, true} {
				is := is.New(t)
				var opts []ccm.StreamOption
				if ordered {
					opts = append(opts, source.Ordered())
				}
				in := make(chan ccm.StreamRequest)
				go func() {
					defer close(in)
					for i := range 200 {
						fn := "echo"
						if i%10 == 9 {
							fn = "fail"
						}
						in <- ccm.StreamRequest{Func: fn, Params: map[string]any{"msg": fmt.Sprint(i)}, Tag: i}
					}
				}()
				n, fails, next := 0, 0, 0
				for r := range it.Stream(bg, in, opts...) {
					i := r.Request.Tag.(int)
					if ordered {
						is.Equal(i, next) // request order
						next++
					}
					if r.Request.Func == "fail" {
						is.Equal(ccm.NameOf(r.Err), ccm.ErrorName("MyError"))
						is.True(ccm.IsRemote(r.Err))
						fails++
					} else {
						is.NoErr(r.Err)
						is.Equal(r.Value.(map[string]any)["msg"], fmt.Sprint(i)) // the answer to this request
					}
					n++
				}
				is.Equal(n, 200)
				is.Equal(fails, 20)
			}
		})
	}
}

func TestIfaceStreamCancel(t *testing.T) {
	is := is.New(t)
	s := newService(t)
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := register(t, c, s.srv.WSURL())
	ctx, cancel := context.WithCancel(bg)
	in := make(chan ccm.StreamRequest)
	defer close(in)
	out := it.Stream(ctx, in)
	for i := range 4 {
		in <- ccm.StreamRequest{Func: "wait", Tag: i}
	}
	for range 4 {
		<-s.arrived
	}
	cancel()
	n := 0
	for r := range out {
		is.True(errors.Is(r.Err, context.Canceled)) // outstanding calls end with ctx's error
		n++
	}
	is.Equal(n, 4)
}

// A streamed call retried after its connection drops still gets its one
// result.
func TestIfaceStreamRetryAfterLoss(t *testing.T) {
	is := is.New(t)
	s := newService(t)
	px := newProxy(t, s.srv.Addr().String())
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited))
	defer c.Close()
	it := register(t, c, "ws://"+px.addr()+"/", ccm.RetryCount(1))
	in := make(chan ccm.StreamRequest, 1)
	in <- ccm.StreamRequest{Func: "wait", Tag: "w"}
	close(in)
	out := it.Stream(bg, in)
	<-s.arrived
	px.cut()
	<-s.arrived // the retry reached the service again
	s.releaseAll()
	r := <-out
	is.NoErr(r.Err)
	is.Equal(r.Request.Tag, "w")
	_, open := <-out
	is.True(!open)
}
