package storecheck

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/storage"
)

// listStore answers every listing with err, counting the calls.
type listStore struct {
	storage.Store
	err   error
	calls int
}

func (s *listStore) Name() string { return "fake://b" }

func (s *listStore) List(context.Context, storage.ListOptions) (storage.Page, error) {
	s.calls++
	return storage.Page{}, s.err
}

// TestCheck: what a probe's answer means for a job.
func TestCheck(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := Role{What: "source", Name: "src"}
	for _, c := range []struct {
		name     string
		err      error
		mustList bool
		unusable bool
		ok       bool
		calls    int
		fix      string
	}{
		{name: "fine", ok: true, calls: 1},
		{name: "transient", err: storage.Errorf(storage.KindTransient, "fake", "list", "", "503"), calls: 3},
		{name: "denied", err: storage.Errorf(storage.KindAccessDenied, "fake", "list", "", "bad key"), unusable: true, calls: 1,
			fix: `check the credentials configured for store "src" on the workers`},
		{name: "no bucket", err: storage.Errorf(storage.KindNoSuchBucket, "fake", "list", "", "gone"), unusable: true, calls: 1,
			fix: `check the bucket name, region and endpoint configured for store "src"`},
		{name: "no listing needed", err: storage.Errorf(storage.KindForbidden, "fake", "list", "", "no list"), ok: true, calls: 1},
		{name: "no listing", err: storage.Errorf(storage.KindForbidden, "fake", "list", "", "no list"), mustList: true,
			unusable: true, calls: 1, fix: `grant the credentials of store "src" the permission`},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := &listStore{err: c.err}
			err := Check(context.Background(), log, r, st, "p/", c.mustList, 3, 0)
			var u *UnusableError
			switch {
			case c.ok && err != nil:
				t.Fatalf("err = %v", err)
			case c.unusable && !errors.As(err, &u):
				t.Fatalf("err = %v, want an UnusableError", err)
			case !c.ok && !c.unusable && (err == nil || errors.As(err, &u) || !errors.Is(err, c.err)):
				t.Fatalf("err = %v, want %v wrapped", err, c.err)
			}
			if c.unusable {
				prefix := `source store "src" (fake://b) cannot be used: ` + c.err.Error() + "; " + c.fix
				if !strings.HasPrefix(err.Error(), prefix) || !errors.Is(err, c.err) {
					t.Errorf("err = %q, want it to start %q and wrap the store's error", err, prefix)
				}
			}
			if st.calls != c.calls {
				t.Errorf("%d listings, want %d", st.calls, c.calls)
			}
		})
	}
}
