package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/internal/version"
)

func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "worker "+version.Version+" (") {
		t.Errorf("worker version printed %q", got)
	}
	if err := run(context.Background(), []string{"version", "extra"}, io.Discard, io.Discard); err == nil {
		t.Error("worker version extra: no error")
	}
}
