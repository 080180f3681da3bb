package chaos

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/internal/childproc"
	"github.com/bucketferry/bucketferry/internal/histories"
	"github.com/bucketferry/bucketferry/internal/version"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/workflows"
)

// release is a tagged release as CHANGELOG.md names it.
type release struct {
	version, commit string
}

// previousRelease reads the newest release of CHANGELOG.md other than this
// tree's own that names its commit (a clone may lack the tags).
func previousRelease(path string) (release, error) {
	f, err := os.Open(path)
	if err != nil {
		return release{}, err
	}
	defer f.Close()
	heading := regexp.MustCompile(`^## (v\d+\.\d+\.\d+)\b`)
	commit := regexp.MustCompile(`^Commit: ([0-9a-f]{40})\s*$`)
	var current string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := heading.FindStringSubmatch(sc.Text()); m != nil {
			current = m[1]
			continue
		}
		if m := commit.FindStringSubmatch(sc.Text()); m != nil && current != "" && current != version.Version {
			return release{version: current, commit: m[1]}, nil
		}
	}
	if err := sc.Err(); err != nil {
		return release{}, err
	}
	return release{}, fmt.Errorf("%s names no release before %s with a Commit: line", path, version.Version)
}

// buildRelease builds the worker of a release from git history into dir:
// the release's tree, taken with git archive, built with this toolchain.
func buildRelease(t *testing.T, rel release, dir string) string {
	t.Helper()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("the upgrade test builds %s from git history, and this is no git checkout: %v", rel.version, err)
	}
	repo := strings.TrimSpace(string(root))
	if err := exec.Command("git", "-C", repo, "cat-file", "-e", rel.commit+"^{commit}").Run(); err != nil {
		shallow, _ := exec.Command("git", "-C", repo, "rev-parse", "--is-shallow-repository").Output()
		t.Fatalf("commit %s of %s (CHANGELOG.md) is not in this clone (shallow: %s): "+
			"clone with full history or run `git fetch --unshallow`", rel.commit, rel.version, strings.TrimSpace(string(shallow)))
	}
	src := filepath.Join(dir, rel.version)
	var archive bytes.Buffer
	cmd := exec.Command("git", "-C", repo, "archive", "--format=tar", rel.commit)
	cmd.Stdout = &archive
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", rel.commit, err, stderr.String())
	}
	if err := untar(&archive, src); err != nil {
		t.Fatalf("unpack %s: %v", rel.version, err)
	}
	bin := filepath.Join(dir, "worker-"+rel.version)
	build := exec.Command("go", "build", "-o", bin, "./worker")
	build.Dir = src
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the worker of %s (%s): %v\n%s", rel.version, rel.commit, err, out)
	}
	return bin
}

// untar writes the regular files and directories of a tar stream under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(name, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("%q leaves the directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// TestUpgradeMidJob: a job started by workers of the previous release
// (built from its commit, named in CHANGELOG.md) is taken over mid-job by
// workers built from this tree, which replay the histories the old ones
// wrote; it ends succeeded with every object verified.
func TestUpgradeMidJob(t *testing.T) {
	rel, err := previousRelease(filepath.Join("..", "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	workerBin, starterBin := build(t, dir)
	oldBin := buildRelease(t, rel, dir)
	t.Logf("upgrading from %s (%s) to %s", rel.version, rel.commit, version.Version)

	out, err := exec.Command(workerBin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "worker "+version.Version) {
		t.Fatalf("worker version: %q, %v", out, err)
	}

	k := newCluster(t, dir, starterBin)
	st, err := emulator.Generate(k.emu.Backend, srcBucket, emulator.DataSet{
		Objects: 2000, MaxSize: 16 << 10, Large: 2, LargeSize: 12<<20 + 5, Seed: 43,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Slow enough that the upgrade lands mid-job.
	k.emu.COSFaults.Set(emulator.FaultConfig{Latency: 5 * time.Millisecond})
	var olds []*childproc.Proc
	for _, name := range []string{"old-worker-1", "old-worker-2"} {
		olds = append(olds, k.startWorker(t, oldBin, name))
	}
	spec := migration.JobSpec{
		Source: migration.Location{Store: "src"}, Destination: migration.Location{Store: "dst"},
		Shards: 8, PageSize: 50, LargeObjectBytes: 8 << 20,
		Concurrency: migration.Concurrency{Shards: 4, Objects: 8, LargeObjects: 2},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const id = "upgrade"
	done := k.startJob(ctx, t, id, spec)
	before := k.awaitCopied(ctx, t, id, int64(st.Objects)/4, 3*time.Minute)

	// The upgrade: the old workers stop (SIGTERM, as a deployment does),
	// the new ones start.
	for _, w := range olds {
		w.Stop(t)
	}
	// What the old workers wrote, counted at the destination: no job
	// answers a query while no worker runs.
	puts := k.puts()
	for _, name := range []string{"new-worker-1", "new-worker-2"} {
		k.startWorker(t, workerBin, name)
	}
	t.Logf("old workers stopped after %d objects reported copied, %d PUTs at the destination, of %d objects",
		before.Counts.Copied, puts, st.Objects)
	if puts >= int64(st.Objects) {
		t.Fatalf("the old workers sent %d PUTs for %d objects: nothing left for the new ones", puts, st.Objects)
	}

	res := k.awaitOutcome(t, done, 8*time.Minute)
	if n := k.verifyAll(t); n != st.Objects {
		t.Fatalf("verified %d of %d objects", n, st.Objects)
	}
	t.Logf("job ended %q on the new workers: %d copied", res.Status, res.Counts.Copied)
	if os.Getenv("BUCKETFERRY_RECORD_HISTORIES") == "1" {
		// The replay corpus: a job begun by the previous release and
		// finished by this one, with a shard of each.
		err := histories.Record(ctx, k.c, filepath.Join("..", "workflows", "testdata"),
			id, workflows.ShardWorkflowID(id, 0), workflows.ShardWorkflowID(id, 7))
		if err != nil {
			t.Fatal(err)
		}
	}
}
