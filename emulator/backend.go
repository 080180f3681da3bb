// Package emulator is a local object store that speaks the OSS and COS
// protocols well enough for the official SDKs to work unmodified: one shared
// in-process backend (in memory, optionally spooled to disk) with a protocol
// front end per provider, signature checks, CRC64 headers and fault injection.
package emulator

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"

	"github.com/bucketferry/bucketferry/storage"
)

// APIError is an error with the S3-style code and HTTP status both providers
// use; each front end renders it in its provider's XML.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func apiErr(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errors the backend returns; front ends pass them through.
var (
	ErrNoSuchBucket = &APIError{404, "NoSuchBucket", "The specified bucket does not exist."}
	ErrNoSuchKey    = &APIError{404, "NoSuchKey", "The specified key does not exist."}
	ErrNoSuchUpload = &APIError{404, "NoSuchUpload", "The specified upload does not exist."}
)

// Meta is the metadata the backend keeps for an object.
type Meta struct {
	ContentType        string            `json:"contentType,omitempty"`
	ContentEncoding    string            `json:"contentEncoding,omitempty"`
	ContentDisposition string            `json:"contentDisposition,omitempty"`
	ContentLanguage    string            `json:"contentLanguage,omitempty"`
	CacheControl       string            `json:"cacheControl,omitempty"`
	Expires            string            `json:"expires,omitempty"`
	User               map[string]string `json:"user,omitempty"` // lower-case names, no provider prefix
	// StorageClass is a neutral class name (storage.Class*).
	StorageClass string `json:"storageClass,omitempty"`
}

func (m Meta) clone() Meta {
	m.User = maps.Clone(m.User)
	return m
}

// Object is one stored object.
type Object struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"` // without quotes
	CRC64        uint64    `json:"crc64"`
	LastModified time.Time `json:"lastModified"`
	Meta         Meta      `json:"meta"`
	// Restored marks an archived object whose restore has completed.
	Restored bool `json:"restored,omitempty"`
	// NoCRC marks an object that, like old objects at the providers, carries
	// no CRC64 header.
	NoCRC bool   `json:"noCRC,omitempty"`
	Body  Blob   `json:"-"`
	File  string `json:"file,omitempty"` // on-disk body, relative to the data dir
}

// Open reads n bytes of the object's body from off.
func (o *Object) Open(off, n int64) (io.ReadCloser, error) { return o.Body.Open(off, n) }

// Part is one uploaded part.
type Part struct {
	Number       int
	Size         int64
	ETag         string
	CRC64        uint64
	LastModified time.Time
	body         Blob
}

// Upload is a multipart upload in progress.
type Upload struct {
	ID        string
	Key       string
	Meta      Meta
	Initiated time.Time
	parts     map[int]*Part
}

type bucket struct {
	name    string
	created time.Time
	objects *btree.BTreeG[*Object]
	uploads map[string]*Upload
}

// Backend holds buckets, objects and uploads shared by every front end.
type Backend struct {
	mu      sync.RWMutex
	buckets map[string]*bucket
	dir     string          // spool directory; empty keeps bodies in memory
	discard map[string]bool // buckets whose bodies are dropped (DiscardBodies)
	seq     atomic.Uint64
	Now     func() time.Time
	bufs    sync.Pool // *[]byte of copyBuffer bytes, for spooling bodies
}

// NewBackend returns a backend. With dir empty, bodies live in memory;
// otherwise they are written under dir, and objects found there from an
// earlier run are loaded again.
func NewBackend(dir string) (*Backend, error) {
	b := &Backend{buckets: map[string]*bucket{}, dir: dir, Now: time.Now}
	if dir != "" {
		if err := b.load(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// copyBuffer is the size of the buffers bodies are spooled through.
const copyBuffer = 32 << 10

// copy is io.Copy through a pooled buffer: a multi-writer offers no
// ReadFrom, so io.Copy would allocate 32 KiB for every upload.
func (b *Backend) copy(w io.Writer, r io.Reader) (int64, error) {
	buf, _ := b.bufs.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
		*buf = make([]byte, copyBuffer)
	}
	defer b.bufs.Put(buf)
	return io.CopyBuffer(w, r, *buf)
}

func lessObject(a, b *Object) bool { return a.Key < b.Key }

// CreateBucket creates a bucket; creating an existing one is a no-op.
func (b *Backend) CreateBucket(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.buckets[name]; ok {
		return nil
	}
	b.buckets[name] = &bucket{name: name, created: b.Now(), objects: btree.NewG(32, lessObject), uploads: map[string]*Upload{}}
	if b.dir != "" {
		return os.MkdirAll(filepath.Join(b.dir, "buckets", name), 0o755)
	}
	return nil
}

// BucketExists reports whether a bucket exists.
func (b *Backend) BucketExists(name string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.buckets[name]
	return ok
}

// BucketCreated returns a bucket's creation time.
func (b *Backend) BucketCreated(name string) (time.Time, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	bk, ok := b.buckets[name]
	if !ok {
		return time.Time{}, ErrNoSuchBucket
	}
	return bk.created, nil
}

func (b *Backend) bucket(name string) (*bucket, error) {
	bk, ok := b.buckets[name]
	if !ok {
		return nil, ErrNoSuchBucket
	}
	return bk, nil
}

// spool reads a request body completely and returns it as a blob with its MD5
// and CRC64. A body shorter than size is an error, so a reset connection never
// stores a truncated object.
func (b *Backend) spool(r io.Reader, size int64) (Blob, []byte, uint64, string, error) {
	h := md5.New()
	c := storage.NewCRC64()
	w := io.MultiWriter(h, c)
	if b.dir == "" {
		var buf bytes.Buffer
		if size > 0 {
			buf.Grow(int(size))
		}
		n, err := b.copy(io.MultiWriter(&buf, w), r)
		if err != nil {
			return nil, nil, 0, "", err
		}
		if size >= 0 && n != size {
			return nil, nil, 0, "", apiErr(400, "IncompleteBody", "got %d of %d bytes", n, size)
		}
		return memBlob(buf.Bytes()), h.Sum(nil), c.Sum64(), "", nil
	}
	tmpDir := filepath.Join(b.dir, "blobs")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, nil, 0, "", err
	}
	f, err := os.CreateTemp(tmpDir, "blob-")
	if err != nil {
		return nil, nil, 0, "", err
	}
	n, err := b.copy(io.MultiWriter(f, w), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && size >= 0 && n != size {
		err = apiErr(400, "IncompleteBody", "got %d of %d bytes", n, size)
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, nil, 0, "", err
	}
	rel, _ := filepath.Rel(b.dir, f.Name())
	return fileBlob{path: f.Name(), size: n}, h.Sum(nil), c.Sum64(), rel, nil
}

// PutObject stores an object read from r (size bytes, or until EOF when size
// is negative). contentMD5, when not empty, is checked (base64 decoded by the
// caller into raw bytes).
func (b *Backend) PutObject(bucketName, key string, r io.Reader, size int64, meta Meta, contentMD5 []byte) (*Object, error) {
	if !b.BucketExists(bucketName) {
		return nil, ErrNoSuchBucket
	}
	body, sum, crc, file, err := b.spoolBody(bucketName, r, size)
	if err != nil {
		return nil, err
	}
	if len(contentMD5) > 0 && !bytes.Equal(contentMD5, sum) {
		b.dropBlob(file)
		return nil, apiErr(400, "InvalidDigest", "Content-MD5 does not match the body")
	}
	obj := &Object{Key: key, Size: body.Size(), ETag: strings.ToUpper(hex.EncodeToString(sum)), CRC64: crc,
		LastModified: b.Now().UTC(), Meta: meta.clone(), Body: body, File: file}
	return obj, b.store(bucketName, obj)
}

// AddObject stores a prepared body (seeding: generated or imported data).
func (b *Backend) AddObject(bucketName, key string, body Blob, meta Meta) (*Object, error) {
	rc, err := body.Open(0, body.Size())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	h := md5.New()
	c := storage.NewCRC64()
	if _, err := io.Copy(io.MultiWriter(h, c), rc); err != nil {
		return nil, err
	}
	obj := &Object{Key: key, Size: body.Size(), ETag: strings.ToUpper(hex.EncodeToString(h.Sum(nil))), CRC64: c.Sum64(),
		LastModified: b.Now().UTC(), Meta: meta.clone(), Body: body}
	if b.dir != "" {
		// Persist generated bodies too, so a reloaded backend still has them.
		blob, _, _, file, err := b.spoolBlob(body)
		if err != nil {
			return nil, err
		}
		obj.Body, obj.File = blob, file
	}
	return obj, b.store(bucketName, obj)
}

func (b *Backend) spoolBlob(body Blob) (Blob, []byte, uint64, string, error) {
	rc, err := body.Open(0, body.Size())
	if err != nil {
		return nil, nil, 0, "", err
	}
	defer rc.Close()
	return b.spool(rc, body.Size())
}

func (b *Backend) store(bucketName string, obj *Object) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, err := b.bucket(bucketName)
	if err != nil {
		b.dropBlob(obj.File)
		return err
	}
	if err := b.persist(bucketName, obj); err != nil {
		b.dropBlob(obj.File)
		return err
	}
	if old, ok := bk.objects.ReplaceOrInsert(obj); ok && old.File != obj.File {
		b.dropBlob(old.File)
	}
	return nil
}

// Object returns an object.
func (b *Backend) Object(bucketName, key string) (*Object, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	bk, err := b.bucket(bucketName)
	if err != nil {
		return nil, err
	}
	obj, ok := bk.objects.Get(&Object{Key: key})
	if !ok {
		return nil, ErrNoSuchKey
	}
	return obj, nil
}

// UpdateObject applies fn to a copy of an object and stores the result: tests
// use it to corrupt, archive, restore or strip the CRC of an object.
func (b *Backend) UpdateObject(bucketName, key string, fn func(*Object)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, err := b.bucket(bucketName)
	if err != nil {
		return err
	}
	obj, ok := bk.objects.Get(&Object{Key: key})
	if !ok {
		return ErrNoSuchKey
	}
	cp := *obj
	cp.Meta = obj.Meta.clone()
	fn(&cp)
	if err := b.persist(bucketName, &cp); err != nil {
		return err
	}
	bk.objects.ReplaceOrInsert(&cp)
	return nil
}

// DeleteObject removes an object; a missing object is not an error.
func (b *Backend) DeleteObject(bucketName, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, err := b.bucket(bucketName)
	if err != nil {
		return err
	}
	if old, ok := bk.objects.Delete(&Object{Key: key}); ok {
		b.dropBlob(old.File)
		b.unpersist(bucketName, key)
	}
	return nil
}

// ListResult is one page of a listing.
type ListResult struct {
	Objects        []*Object
	CommonPrefixes []string
	IsTruncated    bool
	NextMarker     string
}

// prefixEnd returns the smallest string greater than every string with
// prefix p, or "" when there is none.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// List lists keys after marker with prefix, grouping by delimiter when set,
// at most maxKeys entries (objects plus common prefixes).
func (b *Backend) List(bucketName, prefix, marker, delimiter string, maxKeys int) (ListResult, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	bk, err := b.bucket(bucketName)
	if err != nil {
		return ListResult{}, err
	}
	if maxKeys <= 0 {
		maxKeys = 1000
	}
	var res ListResult
	start := prefix
	if marker > start {
		start = marker
	}
	// A marker that is itself a common prefix resumes after its whole group.
	if delimiter != "" && strings.HasPrefix(marker, prefix) && strings.HasSuffix(marker, delimiter) &&
		strings.Contains(marker[len(prefix):], delimiter) {
		if end := prefixEnd(marker); end != "" {
			start = end
		}
	}
	count := 0
	for {
		var next string // where to seek after a common prefix
		stop := false
		bk.objects.AscendGreaterOrEqual(&Object{Key: start}, func(o *Object) bool {
			if o.Key == marker {
				return true
			}
			if !strings.HasPrefix(o.Key, prefix) {
				stop = true
				return false
			}
			if count == maxKeys {
				res.IsTruncated = true
				stop = true
				return false
			}
			if delimiter != "" {
				if i := strings.Index(o.Key[len(prefix):], delimiter); i >= 0 {
					cp := o.Key[:len(prefix)+i+len(delimiter)]
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					res.NextMarker = cp
					count++
					next = prefixEnd(cp)
					if next == "" {
						stop = true
					}
					return false
				}
			}
			res.Objects = append(res.Objects, o)
			res.NextMarker = o.Key
			count++
			return true
		})
		if stop || next == "" {
			break
		}
		start, next = next, ""
	}
	if !res.IsTruncated {
		res.NextMarker = ""
	}
	return res, nil
}

// CreateUpload starts a multipart upload.
func (b *Backend) CreateUpload(bucketName, key string, meta Meta) (*Upload, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, err := b.bucket(bucketName)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("%016X%08X", b.Now().UnixNano(), b.seq.Add(1))
	u := &Upload{ID: id, Key: key, Meta: meta.clone(), Initiated: b.Now().UTC(), parts: map[int]*Part{}}
	bk.uploads[id] = u
	return u, nil
}

func (b *Backend) upload(bk *bucket, key, id string) (*Upload, error) {
	u, ok := bk.uploads[id]
	if !ok || u.Key != key {
		return nil, ErrNoSuchUpload
	}
	return u, nil
}

// UploadPart stores (or replaces) part n of an upload.
func (b *Backend) UploadPart(bucketName, key, id string, n int, r io.Reader, size int64, contentMD5 []byte) (*Part, error) {
	b.mu.RLock()
	bk, err := b.bucket(bucketName)
	if err == nil {
		_, err = b.upload(bk, key, id)
	}
	b.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	body, sum, crc, file, err := b.spoolBody(bucketName, r, size)
	if err != nil {
		return nil, err
	}
	if len(contentMD5) > 0 && !bytes.Equal(contentMD5, sum) {
		b.dropBlob(file)
		return nil, apiErr(400, "InvalidDigest", "Content-MD5 does not match the body")
	}
	p := &Part{Number: n, Size: body.Size(), ETag: strings.ToUpper(hex.EncodeToString(sum)), CRC64: crc, LastModified: b.Now().UTC(), body: body}
	b.mu.Lock()
	defer b.mu.Unlock()
	u, err := b.upload(bk, key, id) // aborted meanwhile?
	if err != nil {
		b.dropBlob(file)
		return nil, err
	}
	u.parts[n] = p
	return p, nil
}

// Parts returns an upload's parts in number order.
func (b *Backend) Parts(bucketName, key, id string) ([]*Part, *Upload, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	bk, err := b.bucket(bucketName)
	if err != nil {
		return nil, nil, err
	}
	u, err := b.upload(bk, key, id)
	if err != nil {
		return nil, nil, err
	}
	parts := slices.Collect(maps.Values(u.parts))
	slices.SortFunc(parts, func(a, b *Part) int { return a.Number - b.Number })
	return parts, u, nil
}

// CompleteRules are a provider's rules for assembling parts.
type CompleteRules struct {
	MinPartSize int64 // every part but the last
	Consecutive bool  // part numbers must be 1, 2, 3, ...
}

// CompletePart names a part in a complete request.
type CompletePart struct {
	Number int
	ETag   string
}

// CompleteUpload assembles parts into the object.
func (b *Backend) CompleteUpload(bucketName, key, id string, want []CompletePart, rules CompleteRules) (*Object, error) {
	b.mu.Lock()
	bk, err := b.bucket(bucketName)
	var u *Upload
	if err == nil {
		u, err = b.upload(bk, key, id)
	}
	if err != nil {
		b.mu.Unlock()
		return nil, err
	}
	if len(want) == 0 {
		b.mu.Unlock()
		return nil, apiErr(400, "MalformedXML", "the part list is empty")
	}
	var blobs []Blob
	md5s := md5.New()
	var crc uint64
	var size int64
	for i, cp := range want {
		if i > 0 && cp.Number <= want[i-1].Number {
			b.mu.Unlock()
			return nil, apiErr(400, "InvalidPartOrder", "part numbers must ascend")
		}
		if rules.Consecutive && cp.Number != i+1 {
			b.mu.Unlock()
			return nil, apiErr(400, "InvalidPart", "part numbers must be consecutive, got %d at position %d", cp.Number, i+1)
		}
		p, ok := u.parts[cp.Number]
		if !ok || !strings.EqualFold(strings.Trim(cp.ETag, `"`), p.ETag) {
			b.mu.Unlock()
			return nil, apiErr(400, "InvalidPart", "part %d was not uploaded or its ETag differs", cp.Number)
		}
		if i < len(want)-1 && p.Size < rules.MinPartSize {
			b.mu.Unlock()
			return nil, apiErr(400, "EntityTooSmall", "part %d is %d bytes, smaller than the minimum %d", cp.Number, p.Size, rules.MinPartSize)
		}
		raw, _ := hex.DecodeString(p.ETag)
		md5s.Write(raw)
		crc = storage.CombineCRC64(crc, p.CRC64, p.Size)
		size += p.Size
		blobs = append(blobs, p.body)
	}
	delete(bk.uploads, id)
	b.mu.Unlock()

	obj := &Object{Key: key, Size: size, ETag: fmt.Sprintf("%s-%d", strings.ToUpper(hex.EncodeToString(md5s.Sum(nil))), len(want)),
		CRC64: crc, LastModified: b.Now().UTC(), Meta: u.Meta, Body: newMultiBlob(blobs)}
	if b.dir != "" {
		blob, _, _, file, err := b.spoolBlob(obj.Body)
		if err != nil {
			return nil, err
		}
		obj.Body, obj.File = blob, file
		for _, p := range u.parts {
			if fb, ok := p.body.(fileBlob); ok {
				os.Remove(fb.path)
			}
		}
	}
	return obj, b.store(bucketName, obj)
}

// AbortUpload discards an upload.
func (b *Backend) AbortUpload(bucketName, key, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, err := b.bucket(bucketName)
	if err != nil {
		return err
	}
	u, err := b.upload(bk, key, id)
	if err != nil {
		return err
	}
	for _, p := range u.parts {
		if fb, ok := p.body.(fileBlob); ok {
			os.Remove(fb.path)
		}
	}
	delete(bk.uploads, id)
	return nil
}

// Uploads lists uploads whose key has prefix, ordered by key then id, after
// (keyMarker, idMarker).
func (b *Backend) Uploads(bucketName, prefix, keyMarker, idMarker string, max int) ([]*Upload, bool, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	bk, err := b.bucket(bucketName)
	if err != nil {
		return nil, false, err
	}
	var all []*Upload
	for _, u := range bk.uploads {
		if !strings.HasPrefix(u.Key, prefix) {
			continue
		}
		if keyMarker != "" && (u.Key < keyMarker || (u.Key == keyMarker && (idMarker == "" || u.ID <= idMarker))) {
			continue
		}
		all = append(all, u)
	}
	slices.SortFunc(all, func(a, b *Upload) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if max <= 0 {
		max = 1000
	}
	if len(all) > max {
		return all[:max], true, nil
	}
	return all, false, nil
}

// UploadCount returns how many uploads are in progress in a bucket (tests use
// it to prove that nothing was left behind).
func (b *Backend) UploadCount(bucketName string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	bk, ok := b.buckets[bucketName]
	if !ok {
		return 0
	}
	return len(bk.uploads)
}

// Keys returns every key in a bucket, in order.
func (b *Backend) Keys(bucketName string) []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	bk, ok := b.buckets[bucketName]
	if !ok {
		return nil
	}
	keys := make([]string, 0, bk.objects.Len())
	bk.objects.Ascend(func(o *Object) bool {
		keys = append(keys, o.Key)
		return true
	})
	return keys
}

// CompareObjects describes how dst differs from src in size, CRC64, standard
// headers and user metadata, or returns "" when it holds the same object.
func CompareObjects(src, dst *Object) string {
	switch {
	case src.Size != dst.Size:
		return fmt.Sprintf("size %d, want %d", dst.Size, src.Size)
	case src.CRC64 != dst.CRC64:
		return fmt.Sprintf("CRC64 %d, want %d", dst.CRC64, src.CRC64)
	}
	// Providers answer "application/octet-stream" and "Standard" for objects
	// stored without a type or class, so those count as equal.
	norm := func(m Meta) Meta {
		if m.ContentType == "" {
			m.ContentType = "application/octet-stream"
		}
		if m.StorageClass == "" {
			m.StorageClass = storage.ClassStandard
		}
		if len(m.User) == 0 {
			m.User = nil
		}
		return m
	}
	sm, dm := norm(src.Meta), norm(dst.Meta)
	if !reflect.DeepEqual(sm, dm) {
		return fmt.Sprintf("metadata %+v, want %+v", dm, sm)
	}
	return ""
}
