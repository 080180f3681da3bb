package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bucketferry/bucketferry/storage"
)

// An upload is the directory .bucketferry/uploads/<id> holding upload.json
// and, per part n, the data file "%05d" and its record "%05d.json". Everything
// is read back from disk, so an upload survives a restart of the process.

const uploadFile = "upload.json"

// uploadRecord is upload.json.
type uploadRecord struct {
	Key       string      `json:"key"`
	Initiated time.Time   `json:"initiated"`
	Meta      sidecarMeta `json:"meta"`
}

// partRecord caches a part's CRC64 for the data file of the recorded size
// and modification time; a record that does not match is recomputed.
type partRecord struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtimeNs"`
	CRC64   uint64 `json:"crc64"`
}

func uploadPath(id string, name ...string) string {
	return filepath.Join(append([]string{filepath.FromSlash(uploadsDir), id}, name...)...)
}

func partName(n int) string { return fmt.Sprintf("%05d", n) }

// validID reports whether id is one this store could have made; anything
// else (such as "../x") must never reach a path.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range []byte(id) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func partETag(crc uint64) string { return fmt.Sprintf("%016x", crc) }

// lockUpload serialises part commits, completion and abort of one upload.
func (s *Store) lockUpload(id string) func() {
	m := &s.uploadLocks[stripe(id)]
	m.Lock()
	return m.Unlock
}

// loadUpload reads an upload's record and checks that it is for key.
func (s *Store) loadUpload(root *os.Root, op, key, id string) (uploadRecord, error) {
	noUpload := storage.Errorf(storage.KindNotFound, s.name, op, key, "no such upload %q", id)
	if !validID(id) {
		return uploadRecord{}, noUpload
	}
	b, err := root.ReadFile(uploadPath(id, uploadFile))
	if err != nil {
		if isNotExist(err) {
			return uploadRecord{}, noUpload
		}
		return uploadRecord{}, s.fail(op, key, err)
	}
	var rec uploadRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return uploadRecord{}, s.fail(op, key, fmt.Errorf("read upload %s: %w", id, err))
	}
	if rec.Key != key {
		return uploadRecord{}, noUpload
	}
	return rec, nil
}

// InitMultipart starts a multipart upload and returns its id.
func (s *Store) InitMultipart(ctx context.Context, key string, meta storage.Metadata) (string, error) {
	const op = "init multipart"
	root, err := s.prepare(ctx, op, key)
	if err != nil {
		return "", err
	}
	if isMarker(key) {
		return "", s.invalid(op, key, "a key ending in '/' is a directory and must be empty")
	}
	id := randomID()
	if err := root.MkdirAll(uploadPath(id), dirMode); err != nil {
		return "", s.fail(op, key, err)
	}
	b, err := json.Marshal(uploadRecord{Key: key, Initiated: time.Now().UTC(), Meta: newSidecarMeta(meta)})
	if err != nil {
		return "", s.fail(op, key, err)
	}
	if err := writeFileAtomic(root, uploadPath(id, uploadFile), b, false); err != nil {
		root.RemoveAll(uploadPath(id))
		return "", s.fail(op, key, err)
	}
	return id, nil
}

// UploadPart stores part n of an upload, replacing an earlier upload of the
// same part.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (storage.Part, error) {
	const op = "upload part"
	root, err := s.prepare(ctx, op, key)
	if err != nil {
		return storage.Part{}, err
	}
	lim := s.Limits()
	if n < 1 || n > lim.MaxParts {
		return storage.Part{}, s.invalid(op, key, "part number %d outside 1..%d", n, lim.MaxParts)
	}
	if size < 0 || size > lim.MaxPartSize {
		return storage.Part{}, s.invalid(op, key, "part size %d outside 0..%d", size, lim.MaxPartSize)
	}
	if _, err := s.loadUpload(root, op, key, uploadID); err != nil {
		return storage.Part{}, err
	}
	tmp, crc, err := s.spool(ctx, root, op, key, r, size)
	if err != nil {
		return storage.Part{}, err
	}
	defer root.Remove(tmp)
	st, err := root.Stat(tmp)
	if err != nil {
		return storage.Part{}, s.fail(op, key, err)
	}
	b, err := json.Marshal(partRecord{Size: st.Size(), ModTime: st.ModTime().UnixNano(), CRC64: crc})
	if err != nil {
		return storage.Part{}, s.fail(op, key, err)
	}
	unlock := s.lockUpload(uploadID)
	defer unlock()
	// Check again under the lock: the upload may have been completed or
	// aborted while the part was spooling, and its directory must not be
	// recreated.
	if _, err := s.loadUpload(root, op, key, uploadID); err != nil {
		return storage.Part{}, err
	}
	name := uploadPath(uploadID, partName(n))
	if err := writeFileAtomic(root, name+".json", b, false); err != nil {
		return storage.Part{}, s.fail(op, key, err)
	}
	if err := root.Rename(tmp, name); err != nil {
		return storage.Part{}, s.fail(op, key, err)
	}
	if err := syncDir(root, uploadPath(uploadID)); err != nil {
		return storage.Part{}, s.fail(op, key, err)
	}
	return storage.Part{Number: n, Size: size, ETag: partETag(crc), CRC64: crc, HasCRC64: true}, nil
}

// ListParts returns every part uploaded so far, in part-number order.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]storage.Part, error) {
	const op = "list parts"
	root, err := s.prepare(ctx, op, key)
	if err != nil {
		return nil, err
	}
	if _, err := s.loadUpload(root, op, key, uploadID); err != nil {
		return nil, err
	}
	parts, err := s.parts(ctx, root, uploadID)
	if err != nil {
		return nil, s.fail(op, key, err)
	}
	return parts, nil
}

// parts reads an upload's parts from disk.
func (s *Store) parts(ctx context.Context, root *os.Root, id string) ([]storage.Part, error) {
	f, err := root.Open(uploadPath(id))
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	var parts []storage.Part
	for _, name := range names {
		n, err := strconv.Atoi(name)
		if err != nil || len(name) != 5 || n < 1 {
			continue // records, upload.json
		}
		p, err := s.part(ctx, root, id, n)
		if isNotExist(err) {
			continue // replaced meanwhile
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	slices.SortFunc(parts, func(a, b storage.Part) int { return a.Number - b.Number })
	return parts, nil
}

// part describes part n, recomputing its CRC64 when the record is missing
// or stale (a crash between writing the record and the data, say).
func (s *Store) part(ctx context.Context, root *os.Root, id string, n int) (storage.Part, error) {
	name := uploadPath(id, partName(n))
	st, err := root.Stat(name)
	if err != nil {
		return storage.Part{}, err
	}
	var rec partRecord
	b, err := root.ReadFile(name + ".json")
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.Size != st.Size() || rec.ModTime != st.ModTime().UnixNano() {
		crc, err := fileCRC(ctx, root, name)
		if err != nil {
			return storage.Part{}, err
		}
		rec = partRecord{Size: st.Size(), ModTime: st.ModTime().UnixNano(), CRC64: crc}
		if b, err := json.Marshal(rec); err == nil {
			// Best effort: the record is only a cache.
			_ = writeFileAtomic(root, name+".json", b, false)
		}
	}
	return storage.Part{Number: n, Size: rec.Size, ETag: partETag(rec.CRC64), CRC64: rec.CRC64, HasCRC64: true}, nil
}

func fileCRC(ctx context.Context, root *os.Root, name string) (uint64, error) {
	f, err := root.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := storage.NewCRC64()
	if _, err := io.Copy(h, &trackedReader{ctx: ctx, r: f}); err != nil {
		return 0, err
	}
	return h.Sum64(), nil
}

// CompleteMultipart assembles the listed parts into the object. Each part
// must exist with the given ETag, part numbers must ascend (gaps are
// allowed), and every part but the last must be at least MinPartSize. The
// parts are re-read and their checksums verified, so damage on disk is
// reported as KindCorrupt rather than stored.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []storage.Part) (storage.PutResult, error) {
	const op = "complete multipart"
	root, err := s.prepare(ctx, op, key)
	if err != nil {
		return storage.PutResult{}, err
	}
	unlock := s.lockUpload(uploadID)
	defer unlock()
	rec, err := s.loadUpload(root, op, key, uploadID)
	if err != nil {
		return storage.PutResult{}, err
	}
	if len(parts) == 0 {
		return storage.PutResult{}, s.invalid(op, key, "no parts to complete")
	}
	have, err := s.parts(ctx, root, uploadID)
	if err != nil {
		return storage.PutResult{}, s.fail(op, key, err)
	}
	byNum := make(map[int]storage.Part, len(have))
	for _, p := range have {
		byNum[p.Number] = p
	}
	use := make([]storage.Part, len(parts))
	for i, want := range parts {
		if i > 0 && want.Number <= parts[i-1].Number {
			return storage.PutResult{}, s.invalid(op, key, "part numbers must ascend: %d after %d", want.Number, parts[i-1].Number)
		}
		p, ok := byNum[want.Number]
		if !ok {
			return storage.PutResult{}, s.invalid(op, key, "part %d was not uploaded", want.Number)
		}
		if !strings.EqualFold(strings.Trim(want.ETag, `"`), p.ETag) {
			return storage.PutResult{}, s.invalid(op, key, "part %d has ETag %s, not %s", want.Number, p.ETag, want.ETag)
		}
		if i < len(parts)-1 && p.Size < s.Limits().MinPartSize {
			return storage.PutResult{}, s.invalid(op, key, "part %d is %d bytes, less than the minimum %d", p.Number, p.Size, s.Limits().MinPartSize)
		}
		use[i] = p
	}
	tmp, crc, err := s.concat(ctx, root, op, key, uploadID, use)
	if err != nil {
		return storage.PutResult{}, err
	}
	defer root.Remove(tmp)
	unlockKey := s.lockKey(key)
	st, err := s.commit(root, op, key, tmp, crc, rec.Meta.metadata())
	unlockKey()
	if err != nil {
		return storage.PutResult{}, err
	}
	// The object is in place; a leftover upload directory would only be
	// listed and aborted later, so a failure here is not the caller's.
	_ = root.RemoveAll(uploadPath(uploadID))
	return storage.PutResult{ETag: etag(st.Size(), st.ModTime()), CRC64: crc, HasCRC64: true}, nil
}

// concat copies the parts into a synced temporary file, verifying each
// part's CRC64 on the way.
func (s *Store) concat(ctx context.Context, root *os.Root, op, key, id string, parts []storage.Part) (string, uint64, error) {
	out, tmp, err := createTemp(root)
	if err != nil {
		return "", 0, s.fail(op, key, err)
	}
	whole := storage.NewCRC64()
	err = func() error {
		for _, p := range parts {
			f, err := root.Open(uploadPath(id, partName(p.Number)))
			if err != nil {
				return s.fail(op, key, err)
			}
			h := storage.NewCRC64()
			n, err := io.Copy(io.MultiWriter(out, whole, h), &trackedReader{ctx: ctx, r: f})
			f.Close()
			if err != nil {
				return s.fail(op, key, err)
			}
			if n != p.Size || h.Sum64() != p.CRC64 {
				return storage.Errorf(storage.KindCorrupt, s.name, op, key,
					"part %d changed on disk: %d bytes with CRC64 %d, expected %d bytes with %d", p.Number, n, h.Sum64(), p.Size, p.CRC64)
			}
		}
		return s.fail(op, key, out.Sync())
	}()
	if cerr := out.Close(); err == nil && cerr != nil {
		err = s.fail(op, key, cerr)
	}
	if err != nil {
		root.Remove(tmp)
		return "", 0, err
	}
	return tmp, whole.Sum64(), nil
}

// AbortMultipart discards an upload and its parts.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	const op = "abort multipart"
	root, err := s.prepare(ctx, op, key)
	if err != nil {
		return err
	}
	unlock := s.lockUpload(uploadID)
	defer unlock()
	if _, err := s.loadUpload(root, op, key, uploadID); err != nil {
		return err
	}
	// upload.json goes first, so a crash midway leaves no half upload that
	// still looks valid.
	if err := root.Remove(uploadPath(uploadID, uploadFile)); err != nil && !isNotExist(err) {
		return s.fail(op, key, err)
	}
	if err := root.RemoveAll(uploadPath(uploadID)); err != nil {
		return s.fail(op, key, err)
	}
	return nil
}

// ListUploads returns the uploads in progress whose key starts with prefix,
// ordered by key, then start time.
func (s *Store) ListUploads(ctx context.Context, prefix string) ([]storage.Upload, error) {
	const op = "list uploads"
	if err := ctx.Err(); err != nil {
		return nil, &storage.Error{Kind: storage.KindUnknown, Store: s.name, Op: op, Err: err}
	}
	root, err := s.open(op, "")
	if err != nil {
		return nil, err
	}
	f, err := root.Open(filepath.FromSlash(uploadsDir))
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, s.fail(op, "", err)
	}
	ids, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, s.fail(op, "", err)
	}
	var out []storage.Upload
	for _, id := range ids {
		if !validID(id) {
			continue
		}
		b, err := root.ReadFile(uploadPath(id, uploadFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue // being created, aborted or completed
		}
		if err != nil {
			return nil, s.fail(op, "", err)
		}
		var rec uploadRecord
		if json.Unmarshal(b, &rec) != nil || !strings.HasPrefix(rec.Key, prefix) {
			continue
		}
		out = append(out, storage.Upload{Key: rec.Key, UploadID: id, Initiated: rec.Initiated})
	}
	slices.SortFunc(out, func(a, b storage.Upload) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		if c := a.Initiated.Compare(b.Initiated); c != 0 {
			return c
		}
		return strings.Compare(a.UploadID, b.UploadID)
	})
	return out, nil
}
