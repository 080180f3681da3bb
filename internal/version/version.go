// Package version says which release a binary is and which commit it was
// built from, for the `version` sub-command of the starter and the worker:
// during an upgrade (docs/versioning.md) an operator must be able to tell
// the old workers from the new.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release this tree is (CHANGELOG.md). A release build may
// set it with -ldflags "-X github.com/bucketferry/bucketferry/internal/version.Version=v0.2.0".
var Version = "v0.2.0"

// Info is what a binary knows of its build.
type Info struct {
	Version  string
	Revision string // the commit (empty when built outside a git checkout or with -buildvcs=false)
	Time     string // the commit's time
	Modified bool   // the checkout had uncommitted changes
	Go       string
}

// Get reads the build information the Go toolchain embedded in the binary.
func Get() Info {
	info := Info{Version: Version, Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String renders the information on one line, as `version` prints it:
// "worker v0.2.0 (commit 0123abcd..., 2026-12-01T21:00:00Z, modified) go1.26.8".
func (i Info) String() string {
	commit := "commit unknown"
	if i.Revision != "" {
		commit = "commit " + i.Revision
		if i.Time != "" {
			commit += ", " + i.Time
		}
		if i.Modified {
			commit += ", modified"
		}
	}
	return fmt.Sprintf("%s (%s) %s", i.Version, commit, i.Go)
}
