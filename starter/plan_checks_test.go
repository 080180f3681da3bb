package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/internal/storecheck"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/storage"
)

// TestDryRunRefusesWhatTheJobWould: a dry run checks the stores as the
// Plan activity does (package storecheck), so a URL-list destination and a
// source with bad credentials fail it with the job's messages and fixes,
// before anything is listed.
func TestDryRunRefusesWhatTheJobWould(t *testing.T) {
	e := newStoresEnv(t, 10)
	dir := t.TempDir()
	urls := filepath.Join(dir, "urls.txt")
	if err := os.WriteFile(urls, []byte("https://example.invalid/a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "bucketferry.yaml")
	extra := fmt.Sprintf(`  urls:
    type: urllist
    manifest: %q
  badsrc:
    type: oss
    endpoint: %q
    bucket: %s
    accessKeyId: oss-ak
    accessKeySecret: wrong-secret
`, urls, e.emu.OSSURL(), verifySrcBucket)
	if err := os.WriteFile(cfgPath, append(base, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	run := func(t *testing.T, js string) error {
		t.Helper()
		spec, err := decodeSpec([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		_, plans, err := jobclient.DryRun(ctx, spec, cfg, true, 2)
		if err == nil {
			t.Fatalf("dry run planned %d shards; want an error", len(plans))
		}
		return err
	}
	name := func(store string) string {
		st, err := cfg.Store(store)
		if err != nil {
			t.Fatal(err)
		}
		return st.Name()
	}

	t.Run("url-list destination", func(t *testing.T) {
		err := run(t, `{"source":{"store":"src","prefix":"data/"},"destination":{"store":"urls"}}`)
		want := fmt.Sprintf(`plan: destination store "urls" (%s) cannot be used: it is read-only (a URL list can only be a source); `+
			`name an oss, cos, s3 or local store as the destination`, name("urls"))
		if err.Error() != want {
			t.Errorf("error:\n got %s\nwant %s", err, want)
		}
	})

	t.Run("bad source credentials", func(t *testing.T) {
		err := run(t, `{"source":{"store":"badsrc","prefix":"data/"},"destination":{"store":"dst","prefix":"moved/"}}`)
		// The middle is the store's own error (the emulator's wording).
		prefix := fmt.Sprintf(`plan: source store "badsrc" (%s) cannot be used: `, name("badsrc"))
		suffix := `; check the credentials configured for store "badsrc" on the workers and that they may use the bucket`
		if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, suffix) {
			t.Errorf("error:\n got %s\nwant %s...%s", msg, prefix, suffix)
		}
		var u *storecheck.UnusableError
		if !errors.As(err, &u) || storage.KindOf(err) != storage.KindAccessDenied {
			t.Errorf("error %v is not an unusable store denied access (kind %v)", err, storage.KindOf(err))
		}
	})
}
