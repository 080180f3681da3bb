package activities

import (
	"context"
	"testing"

	"github.com/bucketferry/bucketferry/storage"
)

// failingLister fails its first listings with err, then answers one key.
type failingLister struct {
	storage.Store // nil: other calls are not expected
	fails         int
	err           error
	calls         int
}

func (f *failingLister) List(context.Context, storage.ListOptions) (storage.Page, error) {
	f.calls++
	if f.calls <= f.fails {
		return storage.Page{}, f.err
	}
	return storage.Page{Objects: []storage.ObjectInfo{{Key: "k"}}, Done: true}, nil
}

// TestListRetriesTransientAnswers: a listing inside an activity is tried
// again after a retryable failure, up to listTries in all; a failure that
// retrying cannot mend is returned at once.
func TestListRetriesTransientAnswers(t *testing.T) {
	slowDown := storage.Errorf(storage.KindThrottled, "fake://", "list", "", "SlowDown")
	cases := []struct {
		name      string
		fails     int
		err       error
		wantErr   bool
		wantCalls int
	}{
		{"throttled twice", listTries - 1, slowDown, false, listTries},
		{"throttled every time", listTries + 5, slowDown, true, listTries},
		{"access denied", 1, storage.Errorf(storage.KindAccessDenied, "fake://", "list", "", "bad key"), true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &failingLister{fails: c.fails, err: c.err}
			page, err := list(context.Background(), st, storage.ListOptions{})
			if (err != nil) != c.wantErr || st.calls != c.wantCalls {
				t.Fatalf("error %v after %d calls, want error %v after %d", err, st.calls, c.wantErr, c.wantCalls)
			}
			if err == nil && (len(page.Objects) != 1 || page.Objects[0].Key != "k") {
				t.Errorf("page %+v", page)
			}
			if err != nil && storage.KindOf(err) != storage.KindOf(c.err) {
				t.Errorf("error %v lost its kind %v", err, storage.KindOf(c.err))
			}
		})
	}
}
