// Package local is a storage.Store over a directory tree, so that users can
// migrate objects to or from a disk and tests need no server.
//
// Layout. A key maps to the file of the same relative path under the root:
// "photos/2024/a.jpg" is <root>/photos/2024/a.jpg. The hidden directory
// <root>/.bucketferry holds everything that is not an object: metadata
// sidecars (meta/), multipart uploads (uploads/) and temporary files (tmp/).
// It is never listed, and keys inside it are refused.
//
// Keys a file system cannot hold, or that could escape the root, are refused
// with a KindInvalid error: empty keys, a leading "/", empty segments ("a//b"),
// "." and ".." segments, NUL bytes, segments longer than 255 bytes. All file
// access goes through an os.Root, so not even a symbolic link planted inside
// the tree can make the store write outside it.
//
// Keys ending in "/" (the zero-byte "folder" objects consoles create) are
// kept as a directory plus a sidecar marking it as an object, so they round
// trip; they must be empty. A file system cannot hold both "a" and "a/b":
// whichever comes second is refused with KindInvalid, naming the conflict.
//
// Durability. Put writes a temporary file, computing the CRC64 on the way,
// syncs it and renames it into place, so readers never see a half-written
// object and an acknowledged Put survives a crash. The sidecar (metadata,
// CRC64, and the size and modification time of the file it describes) is
// written before the rename; a sidecar that no longer matches its file (the
// file was replaced by hand, or a crash intervened) is ignored. Files without
// a valid sidecar are reported with HasCRC64 false and a Content-Type guessed
// from the extension.
//
// ETags are derived from a file's modification time and size, which is
// cheap for listings and changes whenever the file does. Part ETags are the
// part's CRC64 in hex.
//
// Storage classes are not kept: a file on disk has none, and reporting the
// source's class (an archive class, say) would make the file look
// unreadable.
//
// Multipart uploads live on disk under .bucketferry/uploads/<id>, so they
// survive a restart. Within one process every operation is safe for
// concurrent use; two processes may share a root for object operations, but
// should not work on the same multipart upload at the same time.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bucketferry/bucketferry/storage"
)

// Directory names inside the root.
const (
	stateDir   = ".bucketferry"
	metaDir    = stateDir + "/meta"
	uploadsDir = stateDir + "/uploads"
	tmpDir     = stateDir + "/tmp"
)

const (
	// maxSegment is the longest file name common file systems accept.
	maxSegment = 255
	// defaultMaxKeys is the page size when ListOptions.MaxKeys is 0.
	defaultMaxKeys = 1000
	// staleTmp is how old a temporary file must be before it is treated as
	// debris of a crashed process and removed.
	staleTmp = 24 * time.Hour
	// lockStripes bounds the number of mutexes serialising writers of the
	// same key (or upload) within a process.
	lockStripes = 64
	// placeAttempts bounds retries when a concurrent Delete removes an
	// empty parent directory between creating it and renaming into it.
	placeAttempts = 10
	fileMode      = 0o644
	dirMode       = 0o755
)

// Store is a directory tree used as a bucket. It is safe for concurrent use.
type Store struct {
	dir  string // absolute root path
	name string

	mu   sync.Mutex
	root *os.Root // opened on first use, once the directory exists

	keyLocks    [lockStripes]sync.Mutex
	uploadLocks [lockStripes]sync.Mutex
}

var _ storage.Store = (*Store)(nil)

// New returns a store over the directory root. The directory is not
// created: like a bucket, it must exist, and operations on a missing root
// fail with storage.KindNoSuchBucket (so a mistyped path is not silently
// filled).
func New(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("local: empty root directory")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local: resolve root %q: %w", root, err)
	}
	return &Store{dir: abs, name: "file://" + filepath.ToSlash(abs)}, nil
}

// Name returns "file://<root>".
func (s *Store) Name() string { return s.name }

// Limits reports the local rules. A disk has no minimum part size, so any
// non-empty part is accepted; the maximum part and single-Put sizes and the
// part count match the cloud providers, so that a copy plans its parts (and
// its resumable chunks) the same way whichever end is local.
func (s *Store) Limits() storage.Limits {
	return storage.Limits{
		MinPartSize: 1,
		MaxPartSize: 5 << 30,
		MaxParts:    10000,
		MaxPutSize:  5 << 30,
		// Sidecars hold metadata of any size.
		MaxUserMetadata: 0,
	}
}

// Close releases the directory handle. The store must not be used after.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root == nil {
		return nil
	}
	err := s.root.Close()
	s.root = nil
	return err
}

// open returns the root handle, opening it on first use.
func (s *Store) open(op, key string) (*os.Root, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root != nil {
		return s.root, nil
	}
	r, err := os.OpenRoot(s.dir)
	if err != nil {
		// OpenRoot reports a non-directory with an error of its own, so ask
		// the file system directly.
		if st, serr := os.Stat(s.dir); isNotExist(serr) || (serr == nil && !st.IsDir()) {
			return nil, &storage.Error{Kind: storage.KindNoSuchBucket, Store: s.name, Op: op, Key: key,
				Err: fmt.Errorf("root %s is not an existing directory: %w", s.dir, err)}
		}
		return nil, s.fail(op, key, err)
	}
	s.root = r
	removeStaleTemps(r, time.Now())
	return r, nil
}

// fail classifies a file system error; nil stays nil.
func (s *Store) fail(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	return &storage.Error{Kind: kindOf(err), Store: s.name, Op: op, Key: key, Err: err}
}

func (s *Store) invalid(op, key, format string, args ...any) error {
	return storage.Errorf(storage.KindInvalid, s.name, op, key, format, args...)
}

func (s *Store) notFound(op, key string, err error) error {
	if err == nil {
		err = errors.New("no such key")
	}
	return &storage.Error{Kind: storage.KindNotFound, Store: s.name, Op: op, Key: key, Err: err}
}

// kindOf maps an operating-system error to a storage kind.
func kindOf(err error) storage.Kind {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOENT:
			return storage.KindNotFound
		case syscall.EACCES, syscall.EPERM, syscall.EROFS:
			return storage.KindAccessDenied
		case syscall.ENOTDIR, syscall.EISDIR, syscall.ENAMETOOLONG, syscall.EINVAL, syscall.ELOOP,
			syscall.EFBIG, syscall.EEXIST, syscall.ENOTEMPTY:
			return storage.KindInvalid
		case syscall.EMFILE, syscall.ENFILE:
			return storage.KindThrottled
		case syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EAGAIN, syscall.EINTR, syscall.EBUSY:
			return storage.KindTransient
		}
		return storage.KindUnknown
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return storage.KindNotFound
	case errors.Is(err, fs.ErrPermission):
		return storage.KindAccessDenied
	case errors.Is(err, fs.ErrInvalid), errors.Is(err, fs.ErrExist):
		return storage.KindInvalid
	}
	// os.Root refuses names that escape it with a path error that wraps no
	// errno; that can never succeed.
	var pe *fs.PathError
	var le *os.LinkError
	if errors.As(err, &pe) || errors.As(err, &le) {
		return storage.KindInvalid
	}
	return storage.KindUnknown
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// checkKey explains why a key cannot be stored, or returns nil.
func checkKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	if strings.IndexByte(key, 0) >= 0 {
		return errors.New("key contains a NUL byte")
	}
	if key[0] == '/' {
		return errors.New("key starts with '/' (an absolute path)")
	}
	if filepath.Separator != '/' && strings.ContainsRune(key, filepath.Separator) {
		return fmt.Errorf("key contains the path separator %q", filepath.Separator)
	}
	body := strings.TrimSuffix(key, "/")
	for i, seg := range strings.Split(body, "/") {
		switch {
		case seg == "":
			return errors.New("key has an empty path segment (\"//\"), which a file system cannot hold")
		case seg == "." || seg == "..":
			return fmt.Errorf("key has a %q path segment", seg)
		case len(seg) > maxSegment:
			return fmt.Errorf("path segment %d is %d bytes, more than the %d a file name can hold", i+1, len(seg), maxSegment)
		case i == 0 && seg == stateDir:
			return fmt.Errorf("keys under %s/ are reserved for the store's own state", stateDir)
		}
	}
	return nil
}

// isMarker reports whether key is a directory marker ("folder/").
func isMarker(key string) bool { return strings.HasSuffix(key, "/") }

// relPath is the path of key relative to the root; for a marker, its
// directory.
func relPath(key string) string { return filepath.FromSlash(strings.TrimSuffix(key, "/")) }

func (s *Store) checkKey(op, key string) error {
	if err := checkKey(key); err != nil {
		return &storage.Error{Kind: storage.KindInvalid, Store: s.name, Op: op, Key: key, Err: err}
	}
	return nil
}

// prepare validates key and ctx and returns the root.
func (s *Store) prepare(ctx context.Context, op, key string) (*os.Root, error) {
	if err := ctx.Err(); err != nil {
		return nil, &storage.Error{Kind: storage.KindUnknown, Store: s.name, Op: op, Key: key, Err: err}
	}
	if err := s.checkKey(op, key); err != nil {
		return nil, err
	}
	return s.open(op, key)
}

func stripe(s string) int {
	h := fnv.New32a()
	h.Write([]byte(s))
	return int(h.Sum32() % lockStripes)
}

// lockKey serialises writers of one key within the process.
func (s *Store) lockKey(key string) func() {
	m := &s.keyLocks[stripe(key)]
	m.Lock()
	return m.Unlock
}

// etag derives an object's ETag from its file's modification time and
// size.
func etag(size int64, mtime time.Time) string {
	return fmt.Sprintf("%x-%x", mtime.UnixNano(), size)
}

// guessType is the Content-Type of a file without a sidecar.
func guessType(key string) string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// info describes the regular file st holding key, using its sidecar when
// the sidecar still matches the file.
func (s *Store) info(root *os.Root, key string, st fs.FileInfo) storage.ObjectInfo {
	info := storage.ObjectInfo{
		Key:          key,
		Size:         st.Size(),
		ETag:         etag(st.Size(), st.ModTime()),
		LastModified: st.ModTime().UTC(),
	}
	if sc, ok := readSidecar(root, key); ok && !sc.Dir && sc.Size == st.Size() && sc.ModTime == st.ModTime().UnixNano() {
		info.CRC64, info.HasCRC64 = sc.CRC64, true
		info.Meta = sc.Meta.metadata()
	} else {
		info.Meta.ContentType = guessType(key)
	}
	return info
}

// markerInfo describes the directory marker key, or reports that there is
// none.
func (s *Store) markerInfo(root *os.Root, key string) (storage.ObjectInfo, bool) {
	st, err := root.Stat(relPath(key))
	if err != nil || !st.IsDir() {
		return storage.ObjectInfo{}, false
	}
	sc, ok := readSidecar(root, key)
	if !ok || !sc.Dir {
		return storage.ObjectInfo{}, false
	}
	mtime := time.Unix(0, sc.ModTime)
	return storage.ObjectInfo{
		Key:          key,
		ETag:         etag(0, mtime),
		LastModified: mtime.UTC(),
		CRC64:        0,
		HasCRC64:     true,
		Meta:         sc.Meta.metadata(),
	}, true
}

// Head returns an object's size, checksum and metadata.
func (s *Store) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	const op = "head"
	root, err := s.prepare(ctx, op, key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if isMarker(key) {
		info, ok := s.markerInfo(root, key)
		if !ok {
			return storage.ObjectInfo{}, s.notFound(op, key, nil)
		}
		return info, nil
	}
	st, err := root.Stat(relPath(key))
	if err != nil {
		if isNotExist(err) {
			return storage.ObjectInfo{}, s.notFound(op, key, err)
		}
		return storage.ObjectInfo{}, s.fail(op, key, err)
	}
	if !st.Mode().IsRegular() {
		// A directory (or device) of that name is not an object.
		return storage.ObjectInfo{}, s.notFound(op, key, nil)
	}
	return s.info(root, key, st), nil
}

// sectionReadCloser reads a section of a file and closes the file.
type sectionReadCloser struct {
	io.Reader
	f *os.File
}

func (r sectionReadCloser) Close() error { return r.f.Close() }

// Get streams an object or a byte range of it. The info describes the
// whole object as it was when opened, even if it is replaced meanwhile.
func (s *Store) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	const op = "get"
	root, err := s.prepare(ctx, op, key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	if isMarker(key) {
		info, ok := s.markerInfo(root, key)
		if !ok {
			return nil, storage.ObjectInfo{}, s.notFound(op, key, nil)
		}
		if !rng.IsWhole() {
			return nil, storage.ObjectInfo{}, s.invalid(op, key, "range %+v of an empty object", rng)
		}
		return io.NopCloser(strings.NewReader("")), info, nil
	}
	f, err := root.Open(relPath(key))
	if err != nil {
		if isNotExist(err) {
			return nil, storage.ObjectInfo{}, s.notFound(op, key, err)
		}
		return nil, storage.ObjectInfo{}, s.fail(op, key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, storage.ObjectInfo{}, s.fail(op, key, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, storage.ObjectInfo{}, s.notFound(op, key, nil)
	}
	info := s.info(root, key, st)
	size := st.Size()
	if rng.Offset < 0 || (!rng.IsWhole() && rng.Offset >= size) {
		f.Close()
		return nil, storage.ObjectInfo{}, s.invalid(op, key, "range starts at %d, outside the %d-byte object", rng.Offset, size)
	}
	n := size - rng.Offset
	if rng.Length > 0 && rng.Length < n {
		n = rng.Length
	}
	return sectionReadCloser{Reader: io.NewSectionReader(f, rng.Offset, n), f: f}, info, nil
}

// Put stores an object of exactly size bytes read from r.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, meta storage.Metadata) (storage.PutResult, error) {
	const op = "put"
	root, err := s.prepare(ctx, op, key)
	if err != nil {
		return storage.PutResult{}, err
	}
	if size < 0 {
		return storage.PutResult{}, s.invalid(op, key, "negative size %d", size)
	}
	if isMarker(key) {
		return s.putMarker(root, key, size, meta)
	}
	if size > s.Limits().MaxPutSize {
		return storage.PutResult{}, s.invalid(op, key, "%d bytes is more than the %d a single put takes", size, s.Limits().MaxPutSize)
	}
	tmp, crc, err := s.spool(ctx, root, op, key, r, size)
	if err != nil {
		return storage.PutResult{}, err
	}
	defer root.Remove(tmp) // a no-op once renamed into place
	unlock := s.lockKey(key)
	defer unlock()
	st, err := s.commit(root, op, key, tmp, crc, meta)
	if err != nil {
		return storage.PutResult{}, err
	}
	return storage.PutResult{ETag: etag(st.Size(), st.ModTime()), CRC64: crc, HasCRC64: true}, nil
}

// commit makes the temporary file tmp the object key: sidecar first, then
// the rename, so the object never appears without its metadata. If the
// rename fails, the previous sidecar is put back, so the object that stays
// keeps its metadata. The caller holds the key lock.
func (s *Store) commit(root *os.Root, op, key, tmp string, crc uint64, meta storage.Metadata) (fs.FileInfo, error) {
	rel := relPath(key)
	if err := s.mkParent(root, op, key, rel); err != nil {
		return nil, err
	}
	if st, err := root.Lstat(rel); err == nil && st.IsDir() {
		return nil, s.conflict(op, key)
	}
	st, err := root.Stat(tmp)
	if err != nil {
		return nil, s.fail(op, key, err)
	}
	prev, prevErr := root.ReadFile(sidecarPath(key))
	sc := sidecar{Key: key, Size: st.Size(), ModTime: st.ModTime().UnixNano(), CRC64: crc, Meta: newSidecarMeta(meta)}
	if err := writeSidecar(root, sc); err != nil {
		return nil, s.fail(op, key, fmt.Errorf("write metadata: %w", err))
	}
	if err := s.place(root, op, key, tmp, rel); err != nil {
		if prevErr == nil {
			_ = writeFileAtomic(root, sidecarPath(key), prev, true)
		} else {
			_ = removeSidecar(root, key)
		}
		return nil, err
	}
	return st, nil
}

func (s *Store) conflict(op, key string) error {
	return s.invalid(op, key, "a directory of that name holds other keys; a file system cannot hold both %q and keys under %q", key, key+"/")
}

// mkParent creates the directories above rel.
func (s *Store) mkParent(root *os.Root, op, key, rel string) error {
	parent := filepath.Dir(rel)
	if parent == "." {
		return nil
	}
	err := mkdirAll(root, parent)
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EEXIST) {
		return s.invalid(op, key, "a parent of the key is an object; a file system cannot hold both (%v)", err)
	}
	return s.fail(op, key, err)
}

// mkdirAll creates dir and its parents. Delete removes directories it
// empties, possibly one that MkdirAll has just created and is about to
// create a child in; then it tries again.
func mkdirAll(root *os.Root, dir string) error {
	var err error
	for range placeAttempts {
		err = root.MkdirAll(dir, dirMode)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, fs.ErrExist):
			// A concurrent Put may create a component between MkdirAll's
			// check and its mkdir; only a file in the way is a conflict.
			if st, serr := root.Stat(dir); serr == nil && st.IsDir() {
				return nil
			}
		case !errors.Is(err, fs.ErrNotExist):
			return err // a concurrent Delete pruning a parent gives ErrNotExist: retry
		}
	}
	return err
}

// place renames tmp to rel. A concurrent Delete may remove an empty parent
// directory before the rename; then it creates it again and retries.
func (s *Store) place(root *os.Root, op, key, tmp, rel string) error {
	var err error
	for range placeAttempts {
		if err = root.Rename(tmp, rel); err == nil {
			return s.fail(op, key, syncDir(root, filepath.Dir(rel)))
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
		if merr := s.mkParent(root, op, key, rel); merr != nil {
			return merr
		}
	}
	if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
		return s.conflict(op, key)
	}
	return s.fail(op, key, err)
}

// putMarker stores a directory marker: the directory plus a sidecar.
func (s *Store) putMarker(root *os.Root, key string, size int64, meta storage.Metadata) (storage.PutResult, error) {
	const op = "put"
	if size != 0 {
		return storage.PutResult{}, s.invalid(op, key, "a key ending in '/' is a directory and must be empty, not %d bytes", size)
	}
	unlock := s.lockKey(key)
	defer unlock()
	rel := relPath(key)
	if st, err := root.Lstat(rel); err == nil && !st.IsDir() {
		return storage.PutResult{}, s.invalid(op, key, "an object %q exists; a file system cannot hold both it and %q", strings.TrimSuffix(key, "/"), key)
	}
	if err := s.mkParent(root, op, key, rel); err != nil {
		return storage.PutResult{}, err
	}
	now := time.Now()
	sc := sidecar{Key: key, Dir: true, ModTime: now.UnixNano(), Meta: newSidecarMeta(meta)}
	// The sidecar goes first so that pruning of empty directories, which
	// checks for markers, never removes the directory created next.
	if err := writeSidecar(root, sc); err != nil {
		return storage.PutResult{}, s.fail(op, key, fmt.Errorf("write metadata: %w", err))
	}
	if err := mkdirAll(root, rel); err != nil {
		removeSidecar(root, key)
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EEXIST) {
			return storage.PutResult{}, s.invalid(op, key, "a parent of the key is an object; a file system cannot hold both (%v)", err)
		}
		return storage.PutResult{}, s.fail(op, key, err)
	}
	if err := syncDir(root, filepath.Dir(rel)); err != nil {
		return storage.PutResult{}, s.fail(op, key, err)
	}
	return storage.PutResult{ETag: etag(0, now), CRC64: 0, HasCRC64: true}, nil
}

// Delete removes an object; deleting a missing object is not an error.
// Directories left empty are removed, up to the root or the nearest
// directory marker.
func (s *Store) Delete(ctx context.Context, key string) error {
	const op = "delete"
	root, err := s.prepare(ctx, op, key)
	if err != nil {
		return err
	}
	rel := relPath(key)
	unlock := s.lockKey(key)
	if isMarker(key) {
		err = removeSidecar(root, key)
		if err == nil {
			// Only an empty directory goes; keys under it stay.
			if rerr := root.Remove(rel); rerr == nil || isNotExist(rerr) {
				rel = filepath.Dir(rel)
			} else {
				rel = "."
			}
		}
	} else {
		st, lerr := root.Lstat(rel)
		switch {
		case lerr != nil && isNotExist(lerr):
			rel = "."
		case lerr != nil:
			err = lerr
		case st.IsDir():
			rel = "." // not an object
		default:
			err = root.Remove(rel)
			if err == nil || isNotExist(err) {
				err = removeSidecar(root, key)
			}
			rel = filepath.Dir(rel)
		}
	}
	unlock()
	if err != nil && !isNotExist(err) {
		return s.fail(op, key, err)
	}
	s.prune(root, rel)
	return nil
}

// prune removes empty directories from dir up to the root, stopping at a
// directory that is an object (has a marker) or is not empty.
func (s *Store) prune(root *os.Root, dir string) {
	for dir != "." && dir != "" {
		marker := filepath.ToSlash(dir) + "/"
		unlock := s.lockKey(marker)
		_, isObject := s.markerInfo(root, marker)
		var err error
		if !isObject {
			err = root.Remove(dir) // fails unless empty
		}
		unlock()
		if isObject || err != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// spool copies exactly size bytes of r into a new synced temporary file and
// returns its name and CRC64.
func (s *Store) spool(ctx context.Context, root *os.Root, op, key string, r io.Reader, size int64) (string, uint64, error) {
	f, name, err := createTemp(root)
	if err != nil {
		return "", 0, s.fail(op, key, fmt.Errorf("create temporary file: %w", err))
	}
	h := storage.NewCRC64()
	// ExactBody: CopyN stops at size and drops an error that comes with
	// the last bytes; a source failing there must not be committed.
	src := &trackedReader{ctx: ctx, r: storage.ExactBody(r, size)}
	n, err := io.CopyN(io.MultiWriter(f, h), src, size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return name, h.Sum64(), nil
	}
	root.Remove(name)
	switch {
	case src.err == nil:
		return "", 0, s.fail(op, key, fmt.Errorf("write: %w", err))
	case errors.Is(src.err, io.EOF):
		return "", 0, &storage.Error{Kind: storage.KindTransient, Store: s.name, Op: op, Key: key,
			Err: fmt.Errorf("body ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)}
	default:
		// Keep the reader's own classification (a source's typed error, a
		// cancelled context).
		return "", 0, &storage.Error{Kind: storage.KindOf(src.err), Store: s.name, Op: op, Key: key,
			Err: fmt.Errorf("read body: %w", src.err)}
	}
}

// trackedReader remembers the reader's error, so that spool can tell a
// failing source from a failing disk, and stops on cancellation.
type trackedReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	if err := t.ctx.Err(); err != nil {
		t.err = err
		return 0, err
	}
	n, err := t.r.Read(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// createTemp creates a new file in the temporary directory.
func createTemp(root *os.Root) (*os.File, string, error) {
	if err := root.MkdirAll(filepath.FromSlash(tmpDir), dirMode); err != nil {
		return nil, "", err
	}
	for {
		name := filepath.FromSlash(tmpDir + "/" + randomID() + ".tmp")
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
}

// removeStaleTemps deletes temporary files a crashed process left behind.
func removeStaleTemps(root *os.Root, now time.Time) {
	f, err := root.Open(filepath.FromSlash(tmpDir))
	if err != nil {
		return
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > staleTmp {
			root.Remove(filepath.FromSlash(tmpDir + "/" + e.Name()))
		}
	}
}

// syncDir makes renames into dir durable.
func syncDir(root *os.Root, dir string) error {
	f, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// randomID returns 32 random hex digits.
func randomID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}
