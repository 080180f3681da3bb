package version

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	i := Info{Version: "v1.2.3", Revision: "abc", Time: "2026-12-01T00:00:00Z", Modified: true, Go: "go1.26.8"}
	if got, want := i.String(), "v1.2.3 (commit abc, 2026-12-01T00:00:00Z, modified) go1.26.8"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (Info{Version: "v1.2.3", Go: "go1.26.8"}).String(); !strings.Contains(got, "commit unknown") {
		t.Errorf("String() without a revision = %q", got)
	}
	if got := Get(); got.Version != Version || got.Go == "" {
		t.Errorf("Get() = %+v", got)
	}
}
