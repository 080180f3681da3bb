package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/storage"
)

// TestSuiteAgainstReference runs the suite on a small in-memory reference
// store, which proves the suite's expectations are self-consistent without
// any protocol or disk involved.
func TestSuiteAgainstReference(t *testing.T) {
	Run(t, Harness{
		New: func(*testing.T) storage.Store { return newMemStore() },
		WrongCredentials: func(*testing.T) storage.Store {
			s := newMemStore()
			s.failKind = storage.KindAccessDenied
			return s
		},
		MissingBucket: func(*testing.T) storage.Store {
			s := newMemStore()
			s.failKind = storage.KindNoSuchBucket
			return s
		},
	})
}

// TestSuiteCatchesBrokenStores checks that the suite is not vacuous: each
// deliberate bug in the reference store fails the behaviour it breaks.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	cases := []struct {
		test string
		bug  func(s *memStore)
	}{
		{"ListPaging", func(s *memStore) { s.bugSkipAfterCursor = true }},
		{"ListRange", func(s *memStore) { s.bugInclusiveBefore = true }},
		{"ListOrder", func(s *memStore) { s.bugWalkOrder = true }},
		{"Metadata", func(s *memStore) { s.bugDropDisposition = true }},
		{"Metadata", func(s *memStore) { s.bugKeepUserCase = true }},
		{"Checksums", func(s *memStore) { s.bugNoCRC = true }},
		{"RangedGet", func(s *memStore) { s.bugRangeSize = true }},
		{"ShortBody", func(s *memStore) { s.bugAcceptShort = true }},
		{"Multipart", func(s *memStore) { s.bugPartOrder = true }},
		{"MultipartAbort", func(s *memStore) { s.bugKeepAborted = true }},
		{"MultipartMissingPart", func(s *memStore) { s.bugIgnoreETag = true }},
		{"NotFound", func(s *memStore) { s.bugUntypedErrors = true }},
		{"FailedSourceNeverCommits", func(s *memStore) { s.bugTrustSize = true }},
	}
	byName := map[string]storeTest{}
	for _, st := range storeTests() {
		byName[st.name] = st
	}
	for i, c := range cases {
		st, ok := byName[c.test]
		if !ok {
			t.Fatalf("no suite test %q", c.test)
		}
		s := newMemStore()
		c.bug(s)
		if rec := runRecorded(st.fn, s); !rec.failed() {
			t.Errorf("case %d: %s passed against a store with a deliberate bug", i, c.test)
		}
	}
	// And the same tests pass against the store without bugs.
	for _, st := range storeTests() {
		if rec := runRecorded(st.fn, newMemStore()); rec.failed() {
			t.Errorf("%s failed against the reference store: %s", st.name, strings.Join(rec.msgs, "; "))
		}
	}
}

// recorder is a tester that records failures instead of reporting them.
type recorder struct {
	mu       sync.Mutex
	msgs     []string
	cleanups []func()
	ctx      context.Context
}

func (r *recorder) Helper() {}

func (r *recorder) Error(args ...any) { r.add(fmt.Sprint(args...)) }

func (r *recorder) Errorf(format string, args ...any) { r.add(fmt.Sprintf(format, args...)) }

func (r *recorder) Fatal(args ...any) {
	r.add(fmt.Sprint(args...))
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.add(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (r *recorder) Context() context.Context { return r.ctx }

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *recorder) add(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

func (r *recorder) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs) > 0
}

// runRecorded runs fn in its own goroutine, as testing does, so that Fatal
// can end it with runtime.Goexit.
func runRecorded(fn func(tester, storage.Store), s storage.Store) *recorder {
	rec := &recorder{ctx: context.Background()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec, s)
	}()
	<-done
	for _, f := range slices.Backward(rec.cleanups) {
		f()
	}
	return rec
}

// memStore is a minimal, obviously correct in-memory Store with switches
// for deliberate bugs.
type memStore struct {
	mu       sync.Mutex
	objects  map[string]memObject
	uploads  map[string]*memUpload
	seq      int
	failKind storage.Kind // when set, every call fails with this kind

	bugSkipAfterCursor, bugInclusiveBefore, bugWalkOrder, bugDropDisposition, bugKeepUserCase bool
	bugNoCRC, bugRangeSize, bugAcceptShort, bugPartOrder, bugKeepAborted, bugIgnoreETag       bool
	bugUntypedErrors, bugTrustSize                                                            bool
}

type memObject struct {
	data     []byte
	meta     storage.Metadata
	modified time.Time
	etag     string
}

type memUpload struct {
	key       string
	meta      storage.Metadata
	initiated time.Time
	parts     map[int][]byte
}

func newMemStore() *memStore {
	return &memStore{objects: map[string]memObject{}, uploads: map[string]*memUpload{}}
}

func (s *memStore) Name() string { return "mem://test" }

func (s *memStore) Limits() storage.Limits {
	return storage.Limits{MinPartSize: 100 << 10, MaxPartSize: 5 << 30, MaxParts: 10000, MaxPutSize: 5 << 30}
}

func (s *memStore) fail(op, key string) error {
	if s.failKind == storage.KindUnknown {
		return nil
	}
	return storage.Errorf(s.failKind, s.Name(), op, key, "injected")
}

func (s *memStore) notFound(op, key string) error {
	if s.bugUntypedErrors {
		return fmt.Errorf("%s %q: not found", op, key)
	}
	return storage.Errorf(storage.KindNotFound, s.Name(), op, key, "no such key")
}

func etagOf(b []byte) string { return fmt.Sprintf("%016X", storage.CRC64(b)) }

// walkLess orders keys as a naive directory walk would: segment by segment.
func walkLess(a, b string) int {
	return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/"))
}

func (s *memStore) List(_ context.Context, opts storage.ListOptions) (storage.Page, error) {
	if err := s.fail("list", ""); err != nil {
		return storage.Page{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.Collect(maps.Keys(s.objects))
	if s.bugWalkOrder {
		slices.SortFunc(keys, walkLess)
	} else {
		slices.Sort(keys)
	}
	max := opts.MaxKeys
	if max <= 0 {
		max = 1000
	}
	var p storage.Page
	skipped := false
	for _, k := range keys {
		if k <= opts.After || !strings.HasPrefix(k, opts.Prefix) {
			continue
		}
		if opts.Before != "" && (k > opts.Before || (k == opts.Before && !s.bugInclusiveBefore)) {
			continue
		}
		if s.bugSkipAfterCursor && opts.After != "" && !skipped {
			skipped = true
			continue
		}
		if len(p.Objects) == max {
			p.Next = p.Objects[max-1].Key
			return p, nil
		}
		o := s.objects[k]
		p.Objects = append(p.Objects, storage.ObjectInfo{Key: k, Size: int64(len(o.data)), ETag: o.etag, LastModified: o.modified})
	}
	p.Done = true
	return p, nil
}

func (s *memStore) info(key string, o memObject) storage.ObjectInfo {
	m := o.meta
	if s.bugDropDisposition {
		m.ContentDisposition = ""
	}
	return storage.ObjectInfo{Key: key, Size: int64(len(o.data)), ETag: o.etag, LastModified: o.modified,
		CRC64: storage.CRC64(o.data), HasCRC64: !s.bugNoCRC, Meta: m}
}

func (s *memStore) Head(_ context.Context, key string) (storage.ObjectInfo, error) {
	if err := s.fail("head", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return storage.ObjectInfo{}, s.notFound("head", key)
	}
	return s.info(key, o), nil
}

func (s *memStore) Get(_ context.Context, key string, rng storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := s.fail("get", key); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return nil, storage.ObjectInfo{}, s.notFound("get", key)
	}
	data := o.data[rng.Offset:]
	if rng.Length > 0 && rng.Length < int64(len(data)) {
		data = data[:rng.Length]
	}
	info := s.info(key, o)
	if s.bugRangeSize {
		info.Size = int64(len(data))
	}
	return io.NopCloser(bytes.NewReader(data)), info, nil
}

func (s *memStore) cleanMeta(m storage.Metadata) storage.Metadata {
	if m.User != nil {
		u := map[string]string{}
		for k, v := range m.User {
			if !s.bugKeepUserCase {
				k = strings.ToLower(k)
			}
			u[k] = v
		}
		m.User = u
	}
	return m
}

// body reads exactly size bytes of an upload, and only from a source that
// ends well (storage.ExactBody); the bug reads size bytes and stops.
func (s *memStore) body(r io.Reader, size int64) io.Reader {
	if s.bugTrustSize || s.bugAcceptShort {
		return io.LimitReader(r, size)
	}
	return io.LimitReader(storage.ExactBody(r, size), size)
}

func (s *memStore) Put(_ context.Context, key string, r io.Reader, size int64, meta storage.Metadata) (storage.PutResult, error) {
	if err := s.fail("put", key); err != nil {
		return storage.PutResult{}, err
	}
	data, err := io.ReadAll(s.body(r, size))
	if err != nil {
		return storage.PutResult{}, storage.Errorf(storage.KindTransient, s.Name(), "put", key, "read body: %w", err)
	}
	if int64(len(data)) != size && !s.bugAcceptShort {
		return storage.PutResult{}, storage.Errorf(storage.KindTransient, s.Name(), "put", key, "body has %d of %d bytes", len(data), size)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key] = memObject{data: data, meta: s.cleanMeta(meta), modified: time.Now(), etag: etagOf(data)}
	return storage.PutResult{ETag: etagOf(data), CRC64: storage.CRC64(data), HasCRC64: !s.bugNoCRC}, nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	if err := s.fail("delete", key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, key)
	return nil
}

func (s *memStore) InitMultipart(_ context.Context, key string, meta storage.Metadata) (string, error) {
	if err := s.fail("init multipart", key); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("upload-%d", s.seq)
	s.uploads[id] = &memUpload{key: key, meta: s.cleanMeta(meta), initiated: time.Now(), parts: map[int][]byte{}}
	return id, nil
}

func (s *memStore) upload(op, key, id string) (*memUpload, error) {
	u, ok := s.uploads[id]
	if !ok || u.key != key {
		return nil, storage.Errorf(storage.KindNotFound, s.Name(), op, key, "no such upload %q", id)
	}
	return u, nil
}

func (s *memStore) UploadPart(_ context.Context, key, id string, n int, r io.Reader, size int64) (storage.Part, error) {
	data, err := io.ReadAll(s.body(r, size))
	if err != nil {
		return storage.Part{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.upload("upload part", key, id)
	if err != nil {
		return storage.Part{}, err
	}
	u.parts[n] = data
	return storage.Part{Number: n, Size: int64(len(data)), ETag: etagOf(data), CRC64: storage.CRC64(data), HasCRC64: true}, nil
}

func (s *memStore) ListParts(_ context.Context, key, id string) ([]storage.Part, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.upload("list parts", key, id)
	if err != nil {
		return nil, err
	}
	nums := slices.Sorted(maps.Keys(u.parts))
	if s.bugPartOrder {
		slices.Reverse(nums)
	}
	var out []storage.Part
	for _, n := range nums {
		d := u.parts[n]
		out = append(out, storage.Part{Number: n, Size: int64(len(d)), ETag: etagOf(d), CRC64: storage.CRC64(d), HasCRC64: true})
	}
	return out, nil
}

func (s *memStore) CompleteMultipart(_ context.Context, key, id string, parts []storage.Part) (storage.PutResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.upload("complete multipart", key, id)
	if err != nil {
		return storage.PutResult{}, err
	}
	var whole []byte
	for i, p := range parts {
		d, ok := u.parts[p.Number]
		if !ok || (!s.bugIgnoreETag && !sameETag(p.ETag, etagOf(d))) {
			return storage.PutResult{}, storage.Errorf(storage.KindInvalid, s.Name(), "complete multipart", key, "part %d missing or changed", p.Number)
		}
		if i < len(parts)-1 && int64(len(d)) < s.Limits().MinPartSize {
			return storage.PutResult{}, storage.Errorf(storage.KindInvalid, s.Name(), "complete multipart", key, "part %d too small", p.Number)
		}
		whole = append(whole, d...)
	}
	delete(s.uploads, id)
	s.objects[key] = memObject{data: whole, meta: u.meta, modified: time.Now(), etag: etagOf(whole)}
	return storage.PutResult{ETag: etagOf(whole), CRC64: storage.CRC64(whole), HasCRC64: true}, nil
}

func (s *memStore) AbortMultipart(_ context.Context, key, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.upload("abort multipart", key, id); err != nil {
		return err
	}
	if !s.bugKeepAborted {
		delete(s.uploads, id)
	}
	return nil
}

func (s *memStore) ListUploads(_ context.Context, prefix string) ([]storage.Upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Upload
	for id, u := range s.uploads {
		if strings.HasPrefix(u.key, prefix) {
			out = append(out, storage.Upload{Key: u.key, UploadID: id, Initiated: u.initiated})
		}
	}
	slices.SortFunc(out, func(a, b storage.Upload) int {
		return strings.Compare(a.Key+"\x00"+a.UploadID, b.Key+"\x00"+b.UploadID)
	})
	return out, nil
}
