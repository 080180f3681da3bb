package emulator

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// echo serves 1 MiB on GET and reads the body on PUT, behind f.
func echo(f *Faults) http.Handler {
	payload := bytes.Repeat([]byte("x"), 1<<20)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				return
			}
			w.WriteHeader(200)
			return
		}
		w.Header().Set("Content-Length", "1048576")
		w.Write(payload)
	})
	return f.Wrap(h, func(w http.ResponseWriter, r *http.Request, e *APIError) {
		w.WriteHeader(e.Status)
		io.WriteString(w, e.Code)
	})
}

// faultServer serves echo behind faults of cfg.
func faultServer(t *testing.T, cfg FaultConfig) (*httptest.Server, *Faults) {
	t.Helper()
	f := NewFaults(cfg)
	srv := httptest.NewServer(echo(f))
	t.Cleanup(srv.Close)
	return srv, f
}

func TestFaultErrorRate(t *testing.T) {
	srv, f := faultServer(t, FaultConfig{ErrorRate: 0.3})
	failed := 0
	for range 200 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 500 || resp.StatusCode == 503 {
			failed++
		}
	}
	if failed < 30 || failed > 90 || f.Stats().InjectedErrors != int64(failed) {
		t.Fatalf("%d of 200 failed (stats %d), want about 60", failed, f.Stats().InjectedErrors)
	}
}

func TestFaultResetMidBody(t *testing.T) {
	srv, f := faultServer(t, FaultConfig{ResetRate: 1})
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n >= 1<<20 || n == 0 {
		t.Fatalf("download: read %d bytes, err %v; want a cut in the middle", n, err)
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL, bytes.NewReader(make([]byte, 1<<20)))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("upload: got %s, want a reset connection", resp.Status)
	}
	if f.Stats().Resets != 2 {
		t.Fatalf("resets = %d", f.Stats().Resets)
	}
}

// TestFaultBandwidthAndLatency runs on a fake clock (testing/synctest),
// the handler called in memory: the durations are exact, however busy the
// machine.
func TestFaultBandwidthAndLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFaults(FaultConfig{Bandwidth: 4 << 20, Latency: 50 * time.Millisecond})
		h := echo(f)
		get := func() {
			t.Helper()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Body.Len() != 1<<20 {
				t.Fatalf("GET served %d bytes", rec.Body.Len())
			}
		}
		start := time.Now()
		for range 4 {
			get()
		}
		// 4 MiB at 4 MiB/s: a second (each 50 ms of latency refills
		// the bucket by about its burst, a twentieth of a second's bytes).
		if el := time.Since(start); el < 950*time.Millisecond || el > 1250*time.Millisecond {
			t.Fatalf("4 MiB at 4 MiB/s took %v, want about 1s", el)
		}
		// A raised cap takes effect at once.
		f.Set(FaultConfig{})
		start = time.Now()
		get()
		if el := time.Since(start); el != 0 {
			t.Fatalf("unlimited download took %v", el)
		}
		if s := f.Stats(); s.BytesOut < 4<<20 || s.ByMethod["GET"] != 5 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestFaultFailRule(t *testing.T) {
	srv, _ := faultServer(t, FaultConfig{Fail: func(r *http.Request) *APIError {
		if strings.HasSuffix(r.URL.Path, "/bad") {
			return &APIError{Status: 403, Code: "AccessDenied", Message: "no"}
		}
		return nil
	}})
	for path, want := range map[string]int{"/bad": 403, "/good": 200} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
