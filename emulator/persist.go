package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/btree"
)

// An on-disk backend keeps each object's record as JSON under
// buckets/<bucket>/<sha256(key)>.json and its body under blobs/. Uploads in
// progress are not kept across restarts.

func (b *Backend) recordPath(bucketName, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(b.dir, "buckets", bucketName, hex.EncodeToString(sum[:])+".json")
}

func (b *Backend) persist(bucketName string, obj *Object) error {
	if b.dir == "" {
		return nil
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	path := b.recordPath(bucketName, obj.Key)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (b *Backend) unpersist(bucketName, key string) {
	if b.dir != "" {
		os.Remove(b.recordPath(bucketName, key))
	}
}

func (b *Backend) dropBlob(file string) {
	if b.dir != "" && file != "" {
		os.Remove(filepath.Join(b.dir, file))
	}
}

func (b *Backend) load() error {
	root := filepath.Join(b.dir, "buckets")
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		bk := &bucket{name: e.Name(), created: info.ModTime(), objects: btree.NewG(32, lessObject), uploads: map[string]*Upload{}}
		files, err := os.ReadDir(filepath.Join(root, e.Name()))
		if err != nil {
			return err
		}
		for _, f := range files {
			if !strings.HasSuffix(f.Name(), ".json") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(root, e.Name(), f.Name()))
			if err != nil {
				return err
			}
			var obj Object
			if err := json.Unmarshal(data, &obj); err != nil {
				return fmt.Errorf("emulator: load %s: %w", f.Name(), err)
			}
			obj.Body = fileBlob{path: filepath.Join(b.dir, obj.File), size: obj.Size}
			bk.objects.ReplaceOrInsert(&obj)
		}
		b.buckets[bk.name] = bk
	}
	return nil
}
