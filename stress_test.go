package ccm_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ccm "github.com/ftnpipe/ccm"
)

// TestExactlyOnceStress submits thousands of calls over WebSocket, HTTP,
// TCP and in process while connections are cut at random, contexts are cancelled and time out,
// and the CCM is closed in the middle. Every call must complete exactly
// once, with its own result (a unique payload echoed back, so a mix-up of
// rids would show) or with one of the errors these events explain; nothing
// may hang or leak (goleak in TestMain).
func TestExactlyOnceStress(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test: skipped with -short")
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { stress(t, seed) })
	}
}

func stress(t *testing.T, seed uint64) {
	s := newService(t)
	px := newProxy(t, s.srv.Addr().String())
	tcpSrv, err := s.ex.ListenTCP("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcpSrv.Close() })
	pxTCP := newProxy(t, tcpSrv.Addr().String())
	c := ccm.New(ccm.LimitZone(ccm.ZoneUnlimited), ccm.CallTimeout(200*time.Millisecond), ccm.RetryCount(1), ccm.MaxConns(8))
	for _, scheme := range []string{"ws", "http"} {
		if err := c.Register(bg, scheme, "test.svc:1.0", scheme+"://"+px.addr()+"/"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Register(bg, "tcp", "test.svc:1.0", "tcp://"+pxTCP.addr()); err != nil {
		t.Fatal(err)
	}
	if err := c.RegisterLocal(bg, "local", "test.svc:1.0", s.ex); err != nil {
		t.Fatal(err)
	}
	ws, _ := c.Iface("ws")
	ht, _ := c.Iface("http")
	tcp, _ := c.Iface("tcp")
	local, _ := c.Iface("local")
	ifaces := []*ccm.Iface{ws, ws, ws, ht, tcp, tcp, local}

	const workers, perWorker = 16, 150
	var submitted, completed atomic.Int64
	var outcomes sync.Map // name -> *atomic.Int64
	var badMu sync.Mutex
	var bad []string
	report := func(f string, a ...any) {
		badMu.Lock()
		bad = append(bad, fmt.Sprintf(f, a...))
		badMu.Unlock()
	}

	stopChaos := make(chan struct{})
	var chaos sync.WaitGroup
	chaos.Add(1)
	go func() { // cut connections at random moments, a bounded number of times
		defer chaos.Done()
		r := rand.New(rand.NewPCG(seed, 99))
		for i := 0; i < 40; i++ {
			select {
			case <-stopChaos:
				return
			case <-time.After(time.Duration(r.IntN(15)) * time.Millisecond):
				px.cut()
				pxTCP.cut()
			}
		}
	}()

	closeAt := int64(workers * perWorker * 3 / 4)
	var closeOnce sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := 0; i < perWorker; i++ {
				it := ifaces[r.IntN(len(ifaces))]
				msg := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				switch r.IntN(4) {
				case 0:
					ctx, cancel = context.WithTimeout(ctx, time.Duration(r.IntN(5))*time.Millisecond)
				case 1:
					ctx, cancel = context.WithCancel(ctx)
					if r.IntN(2) == 0 {
						cancel() // cancelled before it starts
					}
				}
				fn := "echo"
				p := map[string]any{"msg": msg}
				if r.IntN(3) == 0 {
					fn = "sleep"
					p["ms"] = r.IntN(10)
				}
				if n := submitted.Add(1); n == closeAt {
					closeOnce.Do(func() { go c.Close() })
				}
				call := it.Go(ctx, fn, p, nil)
				if r.IntN(4) == 0 {
					cancel() // cancelled while in flight
				}
				select {
				case <-call.Done():
				case <-time.After(30 * time.Second): // a hang detector, not a timing assertion
					report("call %s hung", msg)
					cancel()
					continue
				}
				cancel()
				completed.Add(1)
				res, err := call.Result()
				res2, err2 := call.Result()
				n, _ := outcomes.LoadOrStore(string(ccm.NameOf(err)), new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
				if fmt.Sprint(res, err) != fmt.Sprint(res2, err2) {
					report("call %s: result changed after completion", msg)
				}
				if err == nil {
					if m, _ := res.(map[string]any); m["msg"] != msg {
						report("call %s got someone else's result %v", msg, res)
					}
					continue
				}
				switch ccm.NameOf(err) {
				case ccm.ConnectError, ccm.CommError, ccm.Timeout, ccm.InvokerError:
					if ccm.IsRemote(err) {
						report("call %s: unexpected remote error %v", msg, err)
					}
				default:
					report("call %s: unexpected error %v", msg, err)
				}
			}
		}()
	}
	wg.Wait()
	close(stopChaos)
	chaos.Wait()
	closeOnce.Do(func() {})
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if got, want := completed.Load(), submitted.Load(); got != want {
		t.Errorf("completions %d != submissions %d", got, want)
	}
	outcomes.Range(func(k, v any) bool {
		t.Logf("outcome %q: %d", k, v.(*atomic.Int64).Load())
		return true
	})
	for _, b := range bad {
		t.Error(b)
	}
}
