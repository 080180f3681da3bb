package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
)

// TestDemo runs the README's demo on a smaller data set: every object must
// arrive verified despite the injected faults.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	err := runDemo(context.Background(), []string{"-generate", "300", "-max-size", "1048576", "-large", "1", "-large-size", "70000000",
		"-error-rate", "0.05", "-reset-rate", "0.02"}, &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`verified: (\d+) of (\d+) source objects`).FindStringSubmatch(out.String())
	if m == nil || m[1] != m[2] || m[2] != "301" {
		t.Fatalf("report does not show 301 of 301 verified:\n%s", out.String())
	}
	if !regexp.MustCompile(`job demo-\S+: succeeded`).MatchString(out.String()) {
		t.Errorf("the job did not succeed:\n%s", out.String())
	}
	if !regexp.MustCompile(`web console http://127\.0\.0\.1:\d+\n(\s+\(console\.address \S+ is in use[^\n]*\n)?\s+sign in as admin with the token \S+`).MatchString(out.String()) {
		t.Errorf("the demo does not print the console's address and token:\n%s", out.String())
	}
	if !regexp.MustCompile(`faults injected: [1-9]`).MatchString(out.String()) {
		t.Errorf("no faults were injected:\n%s", out.String())
	}
}

func TestUnknownSubcommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"nope"}, &out, &errOut); err == nil {
		t.Fatal("unknown sub-command accepted")
	}
	if !bytes.Contains(errOut.Bytes(), []byte("demo")) {
		t.Errorf("usage does not list the sub-commands: %s", errOut.String())
	}
}
