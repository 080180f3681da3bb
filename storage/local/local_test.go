package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/storagetest"
)

func newStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := New(dir)
	if err != nil {
		t.Fatalf("New(%q): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) storage.Store { return newStore(t, t.TempDir()) },
		MissingBucket: func(t *testing.T) storage.Store {
			return newStore(t, filepath.Join(t.TempDir(), "does-not-exist"))
		},
	})
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func put(t *testing.T, s *Store, key, body string) storage.PutResult {
	t.Helper()
	res, err := s.Put(ctxFor(t), key, strings.NewReader(body), int64(len(body)), storage.Metadata{})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return res
}

func listKeys(t *testing.T, s *Store, opts storage.ListOptions) []string {
	t.Helper()
	var keys []string
	for {
		page, err := s.List(ctxFor(t), opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		if page.Done {
			return keys
		}
		opts.After = page.Next
	}
}

func wantKind(t *testing.T, what string, err error, kind storage.Kind) {
	t.Helper()
	var se *storage.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: %v is not a *storage.Error", what, err)
	}
	if se.Kind != kind {
		t.Fatalf("%s: kind %v (%v), want %v", what, se.Kind, err, kind)
	}
}

// treeFiles lists every file under dir, relative and slash-separated.
func treeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRefusesUnsafeKeys(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// A symbolic link inside the tree pointing out of it.
	outside := filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, root)
	ctx := ctxFor(t)
	cases := []struct{ key, why string }{
		{"", "empty"},
		{"../evil", `".."`},
		{"a/../../evil", `".."`},
		{"a/..", `".."`},
		{"./a", `"."`},
		{"a/./b", `"."`},
		{"/etc/passwd", "absolute"},
		{"/", "absolute"},
		{"a//b", "empty path segment"},
		{"a///", "empty path segment"},
		{"nul\x00byte", "NUL"},
		{".bucketferry/meta/x", "reserved"},
		{".bucketferry", "reserved"},
		{".bucketferry/", "reserved"},
		{strings.Repeat("n", 256), "255"},
		{"ok/" + strings.Repeat("n", 300) + "/x", "255"},
	}
	for _, c := range cases {
		_, err := s.Put(ctx, c.key, strings.NewReader("x"), 1, storage.Metadata{})
		wantKind(t, fmt.Sprintf("Put(%q)", c.key), err, storage.KindInvalid)
		if !strings.Contains(err.Error(), c.why) {
			t.Errorf("Put(%q) error %q does not say why (%s)", c.key, err, c.why)
		}
		_, err = s.Head(ctx, c.key)
		wantKind(t, fmt.Sprintf("Head(%q)", c.key), err, storage.KindInvalid)
		err = s.Delete(ctx, c.key)
		wantKind(t, fmt.Sprintf("Delete(%q)", c.key), err, storage.KindInvalid)
		_, err = s.InitMultipart(ctx, c.key, storage.Metadata{})
		wantKind(t, fmt.Sprintf("InitMultipart(%q)", c.key), err, storage.KindInvalid)
	}
	// The symlink escape is refused by the os.Root, not merely by key rules.
	_, err := s.Put(ctx, "escape/planted", strings.NewReader("x"), 1, storage.Metadata{})
	wantKind(t, "Put through an escaping symlink", err, storage.KindInvalid)
	t.Logf("escape refused with: %v", err)
	if _, err := s.Head(ctx, "escape/planted"); err == nil {
		t.Error("Head through an escaping symlink succeeded")
	}
	// Upload ids are never used as paths unless they are the store's own.
	for _, id := range []string{"../../etc", "..", "", "ABCDEF0123456789ABCDEF0123456789"} {
		_, err := s.ListParts(ctx, "k", id)
		wantKind(t, fmt.Sprintf("ListParts(%q)", id), err, storage.KindNotFound)
		err = s.AbortMultipart(ctx, "k", id)
		wantKind(t, fmt.Sprintf("AbortMultipart(%q)", id), err, storage.KindNotFound)
	}
	if _, err := os.Stat(filepath.Join(root, metaDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused keys left metadata behind: %v", treeFiles(t, filepath.Join(root, metaDir)))
	}
	if files := treeFiles(t, outside); len(files) != 0 {
		t.Errorf("files written outside the root: %q", files)
	}
	if des, err := os.ReadDir(parent); err != nil || len(des) != 2 {
		t.Errorf("entries next to the root: %v, %v; want only root and outside", des, err)
	}
	// Listing never shows the state directory, and a prefix into it is empty.
	put(t, s, "visible", "v")
	if keys := listKeys(t, s, storage.ListOptions{}); !slices.Equal(keys, []string{"visible"}) {
		t.Errorf("List = %q, want only visible", keys)
	}
	for _, p := range []string{".bucketferry/", ".bucketferry/meta/", "../", "a//"} {
		if keys := listKeys(t, s, storage.ListOptions{Prefix: p}); len(keys) != 0 {
			t.Errorf("List prefix %q = %q", p, keys)
		}
	}
}

// TestOrderVersusDirectoryWalk builds a tree where a plain sorted walk and
// S3 order disagree, and checks the listing against a sort of the keys.
func TestOrderVersusDirectoryWalk(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	keys := []string{
		"a/b", "a-b", "a.b/c", "a0", "a/c/d", "a/c-d", "a/c.d", "a/c0",
		"x/y/z/1", "x/y-z", "x/y/z-1", "x/y/z/2/3", "x/y0", "x!",
	}
	for _, k := range keys {
		put(t, s, k, k)
	}
	// What filepath.WalkDir (sorted by name within each directory) sees.
	walk := treeFiles(t, dir)
	walk = slices.DeleteFunc(walk, func(p string) bool { return strings.HasPrefix(p, stateDir+"/") })
	want := slices.Sorted(slices.Values(keys))
	if slices.Equal(walk, want) {
		t.Fatal("test tree does not distinguish walk order from key order")
	}
	for _, n := range []int{0, 1, 2, 3, 5} {
		if got := listKeys(t, s, storage.ListOptions{MaxKeys: n}); !slices.Equal(got, want) {
			t.Errorf("MaxKeys %d:\n got %q\nwant %q\nwalk %q", n, got, want, walk)
		}
	}
	// Every possible cursor resumes at the right place.
	for i, after := range want {
		if got := listKeys(t, s, storage.ListOptions{After: after, MaxKeys: 2}); !slices.Equal(got, want[i+1:]) {
			t.Errorf("After %q = %q, want %q", after, got, want[i+1:])
		}
	}
}

// TestListingPrunes checks that a page does not read subtrees outside the
// requested range: unreadable directories there must not matter.
func TestListingPrunes(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	for _, k := range []string{"a/1", "b/1", "b/2", "c/1"} {
		put(t, s, k, k)
	}
	if got := listKeys(t, s, storage.ListOptions{Prefix: "b/"}); !slices.Equal(got, []string{"b/1", "b/2"}) {
		t.Errorf("Prefix b/ = %q", got)
	}
	// Record which directories a bounded page reads.
	l := &lister{s: s, root: mustRoot(t, s), ctx: ctxFor(t), opts: storage.ListOptions{After: "b/1", Before: "b/3"}, max: 10}
	var visited []string
	l.trace = func(dir string) { visited = append(visited, filepath.ToSlash(dir)) }
	if _, err := l.walk(""); err != nil {
		t.Fatal(err)
	}
	if got := keysOfInfos(l.objects); !slices.Equal(got, []string{"b/2"}) {
		t.Errorf("After b/1 Before b/3 = %q", got)
	}
	if !slices.Equal(visited, []string{".", "b"}) {
		t.Errorf("directories read = %q, want only the root and b", visited)
	}
}

func mustRoot(t *testing.T, s *Store) *os.Root {
	t.Helper()
	r, err := s.open("test", "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func keysOfInfos(objs []storage.ObjectInfo) []string {
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func TestSidecarStaleness(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := ctxFor(t)
	meta := storage.Metadata{ContentType: "text/x-custom", User: map[string]string{"k": "v"}}
	body := "original body"
	if _, err := s.Put(ctx, "doc.json", strings.NewReader(body), int64(len(body)), meta); err != nil {
		t.Fatal(err)
	}
	info, err := s.Head(ctx, "doc.json")
	if err != nil {
		t.Fatal(err)
	}
	if !info.HasCRC64 || info.Meta.ContentType != "text/x-custom" {
		t.Fatalf("fresh object: %+v", info)
	}
	// Rewrite the file by hand with the same size: only the modification
	// time tells the sidecar is stale.
	p := filepath.Join(dir, "doc.json")
	if err := os.WriteFile(p, []byte("replaced body"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, future, future); err != nil {
		t.Fatal(err)
	}
	info, err = s.Head(ctx, "doc.json")
	if err != nil {
		t.Fatal(err)
	}
	if info.HasCRC64 || info.Meta.User != nil {
		t.Errorf("Head after a hand edit still trusts the sidecar: %+v", info)
	}
	if info.Meta.ContentType != "application/json" {
		t.Errorf("guessed ContentType = %q, want application/json", info.Meta.ContentType)
	}
	_, ginfo, err := s.Get(ctx, "doc.json", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	if ginfo.HasCRC64 {
		t.Error("Get after a hand edit still reports the old CRC64")
	}
	// Files placed by hand: no sidecar, no CRC, type from the extension.
	if err := os.MkdirAll(filepath.Join(dir, "user"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "user", "pic.png"), []byte("png"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "user", "noext"), []byte("?"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err = s.Head(ctx, "user/pic.png")
	if err != nil {
		t.Fatal(err)
	}
	if info.HasCRC64 || info.Meta.ContentType != "image/png" || info.Size != 3 {
		t.Errorf("user file: %+v", info)
	}
	info, err = s.Head(ctx, "user/noext")
	if err != nil {
		t.Fatal(err)
	}
	if info.Meta.ContentType != "application/octet-stream" {
		t.Errorf("user file without extension: ContentType %q", info.Meta.ContentType)
	}
	if keys := listKeys(t, s, storage.ListOptions{}); !slices.Equal(keys, []string{"doc.json", "user/noext", "user/pic.png"}) {
		t.Errorf("List = %q", keys)
	}
	// A corrupt sidecar is ignored, not an error.
	put(t, s, "corrupt", "data")
	if err := os.WriteFile(filepath.Join(dir, sidecarPath("corrupt")), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Head(ctx, "corrupt"); err != nil || info.HasCRC64 {
		t.Errorf("Head with a corrupt sidecar = %+v, %v", info, err)
	}
	// Putting again makes the object fully described again.
	res := put(t, s, "doc.json", "new")
	if info, err := s.Head(ctx, "doc.json"); err != nil || !info.HasCRC64 || info.CRC64 != res.CRC64 {
		t.Errorf("Head after a new Put = %+v, %v", info, err)
	}
}

func TestUploadsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxFor(t)
	s1 := newStore(t, dir)
	p1 := bytes.Repeat([]byte("1"), 1000)
	p2 := bytes.Repeat([]byte("2"), 500)
	id, err := s1.InitMultipart(ctx, "big/file", storage.Metadata{ContentType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	part1, err := s1.UploadPart(ctx, "big/file", id, 1, bytes.NewReader(p1), int64(len(p1)))
	if err != nil {
		t.Fatal(err)
	}
	s1.Close()

	s2 := newStore(t, dir)
	ups, err := s2.ListUploads(ctx, "big/")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].UploadID != id || ups[0].Key != "big/file" {
		t.Fatalf("ListUploads after restart = %+v", ups)
	}
	parts, err := s2.ListParts(ctx, "big/file", id)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || !reflect.DeepEqual(parts[0], part1) {
		t.Fatalf("ListParts after restart = %+v, want [%+v]", parts, part1)
	}
	// A part record lost in a crash is rebuilt from the data.
	if err := os.Remove(filepath.Join(dir, uploadPath(id, partName(1))+".json")); err != nil {
		t.Fatal(err)
	}
	parts, err = s2.ListParts(ctx, "big/file", id)
	if err != nil || len(parts) != 1 || !reflect.DeepEqual(parts[0], part1) {
		t.Fatalf("ListParts without the part record = %+v, %v", parts, err)
	}
	part2, err := s2.UploadPart(ctx, "big/file", id, 2, bytes.NewReader(p2), int64(len(p2)))
	if err != nil {
		t.Fatal(err)
	}
	// Another key's id does not open this upload.
	if _, err := s2.ListParts(ctx, "other", id); storage.KindOf(err) != storage.KindNotFound {
		t.Errorf("ListParts with the wrong key: %v", err)
	}
	res, err := s2.CompleteMultipart(ctx, "big/file", id, []storage.Part{part1, part2})
	if err != nil {
		t.Fatal(err)
	}
	whole := append(slices.Clone(p1), p2...)
	if res.CRC64 != storage.CRC64(whole) {
		t.Errorf("CRC64 = %d, want %d", res.CRC64, storage.CRC64(whole))
	}
	got, err := os.ReadFile(filepath.Join(dir, "big", "file"))
	if err != nil || !bytes.Equal(got, whole) {
		t.Errorf("file on disk = %d bytes, %v; want the concatenation", len(got), err)
	}
	info, err := s2.Head(ctx, "big/file")
	if err != nil || info.Meta.ContentType != "video/mp4" {
		t.Errorf("Head = %+v, %v", info, err)
	}
	// Nothing is left in the upload area or the temporary directory.
	left := slices.DeleteFunc(treeFiles(t, filepath.Join(dir, stateDir)), func(p string) bool { return strings.HasPrefix(p, "meta/") })
	if len(left) != 0 {
		t.Errorf("state left behind: %q", left)
	}
}

func TestCompleteDetectsDamagedPart(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := ctxFor(t)
	id, err := s.InitMultipart(ctx, "k", storage.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("0123456789")
	p, err := s.UploadPart(ctx, "k", id, 1, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte but keep size and time, as bit rot would.
	name := filepath.Join(dir, uploadPath(id, partName(1)))
	st, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte("0123456780"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	_, err = s.CompleteMultipart(ctx, "k", id, []storage.Part{p})
	wantKind(t, "CompleteMultipart of a damaged part", err, storage.KindCorrupt)
	if _, err := s.Head(ctx, "k"); !storage.IsNotFound(err) {
		t.Errorf("Head after a failed complete: %v", err)
	}
}

func TestFileDirectoryConflicts(t *testing.T) {
	s := newStore(t, t.TempDir())
	ctx := ctxFor(t)
	put(t, s, "a", "file")
	_, err := s.Put(ctx, "a/b", strings.NewReader("x"), 1, storage.Metadata{})
	wantKind(t, "Put under an object", err, storage.KindInvalid)
	_, err = s.Put(ctx, "a/", strings.NewReader(""), 0, storage.Metadata{})
	wantKind(t, "marker over an object", err, storage.KindInvalid)
	put(t, s, "d/e", "x")
	_, err = s.Put(ctx, "d", strings.NewReader("x"), 1, storage.Metadata{})
	wantKind(t, "Put over a directory", err, storage.KindInvalid)
	if !strings.Contains(err.Error(), "cannot hold both") {
		t.Errorf("conflict error does not explain: %v", err)
	}
	// A directory is not an object.
	if _, err := s.Head(ctx, "d"); !storage.IsNotFound(err) {
		t.Errorf("Head of a directory: %v", err)
	}
	if err := s.Delete(ctx, "d"); err != nil {
		t.Errorf("Delete of a directory name: %v", err)
	}
	if got := listKeys(t, s, storage.ListOptions{}); !slices.Equal(got, []string{"a", "d/e"}) {
		t.Errorf("List = %q", got)
	}
	_, err = s.Put(ctx, "m/", strings.NewReader("data"), 4, storage.Metadata{})
	wantKind(t, "non-empty marker", err, storage.KindInvalid)
}

func TestDirectoryMarkersOnDisk(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := ctxFor(t)
	if _, err := s.Put(ctx, "folder/", strings.NewReader(""), 0, storage.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "folder")); err != nil || !st.IsDir() {
		t.Fatalf("marker is not a directory on disk: %v", err)
	}
	put(t, s, "folder/x", "x")
	// Deleting the only key under a marker keeps the marker's directory.
	if err := s.Delete(ctx, "folder/x"); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, s, storage.ListOptions{}); !slices.Equal(got, []string{"folder/"}) {
		t.Errorf("List = %q, want the marker to remain", got)
	}
	// Without a marker, emptied directories are cleaned up.
	put(t, s, "p/q/r/s", "x")
	if err := s.Delete(ctx, "p/q/r/s"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "p")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directories left after delete: %v", err)
	}
	// A plain directory made by hand is not a marker object.
	if err := os.Mkdir(filepath.Join(dir, "handmade"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, "handmade/"); !storage.IsNotFound(err) {
		t.Errorf("Head of a hand-made directory: %v", err)
	}
	if got := listKeys(t, s, storage.ListOptions{}); !slices.Equal(got, []string{"folder/"}) {
		t.Errorf("List = %q", got)
	}
}

func TestPutIsAtomic(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := ctxFor(t)
	put(t, s, "obj", "old content")
	// A reader that fails midway, as a dropped source connection would.
	boom := errors.New("source reset")
	r := io.MultiReader(strings.NewReader("new cont"), errReader{boom})
	_, err := s.Put(ctx, "obj", r, 100, storage.Metadata{})
	if !errors.Is(err, boom) {
		t.Fatalf("Put with a failing reader: %v, want it to wrap the reader's error", err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "obj"))
	if err != nil || string(got) != "old content" {
		t.Errorf("object after a failed Put = %q, %v", got, err)
	}
	// The reader's own classification survives.
	typed := &storage.Error{Kind: storage.KindChanged, Op: "get"}
	_, err = s.Put(ctx, "obj", errReader{typed}, 5, storage.Metadata{})
	wantKind(t, "Put with a typed source error", err, storage.KindChanged)
	// A cancelled context stops the copy.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, "obj2", strings.NewReader("abc"), 3, storage.Metadata{}); err == nil {
		t.Error("Put with a cancelled context succeeded")
	}
	if tmp := treeFiles(t, filepath.Join(dir, tmpDir)); len(tmp) != 0 {
		t.Errorf("temporary files left: %q", tmp)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestKindOf(t *testing.T) {
	pathErr := func(e error) error { return &fs.PathError{Op: "open", Path: "x", Err: e} }
	cases := []struct {
		err  error
		want storage.Kind
	}{
		{pathErr(syscall.ENOENT), storage.KindNotFound},
		{pathErr(syscall.EACCES), storage.KindAccessDenied},
		{pathErr(syscall.EPERM), storage.KindAccessDenied},
		{pathErr(syscall.EROFS), storage.KindAccessDenied},
		{fs.ErrPermission, storage.KindAccessDenied},
		{pathErr(syscall.ENOTDIR), storage.KindInvalid},
		{pathErr(syscall.EISDIR), storage.KindInvalid},
		{pathErr(syscall.ENAMETOOLONG), storage.KindInvalid},
		{pathErr(syscall.ENOSPC), storage.KindTransient},
		{pathErr(syscall.EIO), storage.KindTransient},
		{pathErr(syscall.EMFILE), storage.KindThrottled},
		{&os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.EXDEV}, storage.KindUnknown},
		{pathErr(errors.New("path escapes from parent")), storage.KindInvalid},
		{fmt.Errorf("wrapped: %w", pathErr(syscall.EACCES)), storage.KindAccessDenied},
	}
	for _, c := range cases {
		if got := kindOf(c.err); got != c.want {
			t.Errorf("kindOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	// Mapped through fail, with the store's name, as every operation does.
	s := newStore(t, t.TempDir())
	wantKind(t, "fail", s.fail("get", "k", pathErr(syscall.EACCES)), storage.KindAccessDenied)
	if !storage.IsFatal(s.fail("put", "k", pathErr(syscall.EACCES))) {
		t.Error("permission errors are not fatal")
	}
}

func TestMissingRootIsFatalThenUsable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	s := newStore(t, dir)
	ctx := ctxFor(t)
	_, err := s.Head(ctx, "k")
	wantKind(t, "Head in a missing root", err, storage.KindNoSuchBucket)
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error does not name the directory: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the store created the missing root")
	}
	// Once the directory exists the same store works.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	put(t, s, "k", "v")
	if s.Name() != "file://"+filepath.ToSlash(dir) {
		t.Errorf("Name = %q", s.Name())
	}
	if _, err := New(""); err == nil {
		t.Error("New(\"\") succeeded")
	}
	// A root that is a file is not a bucket either.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = newStore(t, file).List(ctx, storage.ListOptions{})
	wantKind(t, "List of a root that is a file", err, storage.KindNoSuchBucket)
}

func TestStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, filepath.FromSlash(tmpDir))
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(tmp, "old.tmp")
	fresh := filepath.Join(tmp, "fresh.tmp")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, dir)
	if _, err := s.List(ctxFor(t), storage.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a day-old temporary file was kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a fresh temporary file (another process's write) was removed")
	}
}

// TestConcurrentWritersOfOneKey checks that racing Puts of one key leave an
// object whose sidecar matches it, and that Deletes pruning directories do
// not break Puts into the same directories.
func TestConcurrentWritersOfOneKey(t *testing.T) {
	s := newStore(t, t.TempDir())
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				body := strings.Repeat(fmt.Sprint(w), 100+w*10+i)
				meta := storage.Metadata{User: map[string]string{"writer": fmt.Sprint(w)}}
				if _, err := s.Put(ctx, "same/key", strings.NewReader(body), int64(len(body)), meta); err != nil {
					errs <- err
				}
				// Churn a sibling directory that Delete prunes when empty.
				k := fmt.Sprintf("churn/d/%d", w)
				if _, err := s.Put(ctx, k, strings.NewReader("x"), 1, storage.Metadata{}); err != nil {
					errs <- err
				}
				if err := s.Delete(ctx, k); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rc, info, err := s.Get(ctx, "same/key", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !info.HasCRC64 || info.CRC64 != storage.CRC64(data) {
		t.Errorf("after racing Puts the sidecar does not describe the file: %+v", info)
	}
	if w := info.Meta.User["writer"]; w == "" || strings.Trim(string(data), w) != "" {
		t.Errorf("metadata of writer %q on data of another writer (%.10q)", w, data)
	}
	if got := listKeys(t, s, storage.ListOptions{}); !slices.Equal(got, []string{"same/key"}) {
		t.Errorf("List = %q", got)
	}
}
