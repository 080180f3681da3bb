package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/internal/version"
)

func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"version"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "starter "+version.Version+" (") {
		t.Errorf("starter version printed %q", got)
	}
	if err := run([]string{"version", "extra"}, io.Discard, io.Discard); err == nil {
		t.Error("starter version extra: no error")
	}
}
