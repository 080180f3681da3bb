package local

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bucketferry/bucketferry/storage"
)

// sidecar is what the store knows about an object beyond its bytes. It is
// trusted only while the file still has the size and modification time it
// was written for.
type sidecar struct {
	Key     string      `json:"key"`
	Size    int64       `json:"size"`
	ModTime int64       `json:"mtimeNs"` // of the file, in nanoseconds since the epoch
	CRC64   uint64      `json:"crc64"`
	Dir     bool        `json:"dir,omitempty"` // a directory marker ("folder/")
	Meta    sidecarMeta `json:"meta"`
}

// sidecarMeta is storage.Metadata with stable JSON names, so that sidecars
// written by one version are read by the next. The storage class is left
// out on purpose (see the package comment).
type sidecarMeta struct {
	ContentType        string            `json:"contentType,omitempty"`
	ContentEncoding    string            `json:"contentEncoding,omitempty"`
	ContentDisposition string            `json:"contentDisposition,omitempty"`
	ContentLanguage    string            `json:"contentLanguage,omitempty"`
	CacheControl       string            `json:"cacheControl,omitempty"`
	Expires            string            `json:"expires,omitempty"`
	User               map[string]string `json:"user,omitempty"`
}

func newSidecarMeta(m storage.Metadata) sidecarMeta {
	sm := sidecarMeta{
		ContentType:        m.ContentType,
		ContentEncoding:    m.ContentEncoding,
		ContentDisposition: m.ContentDisposition,
		ContentLanguage:    m.ContentLanguage,
		CacheControl:       m.CacheControl,
		Expires:            m.Expires,
	}
	if len(m.User) > 0 {
		sm.User = make(map[string]string, len(m.User))
		for k, v := range m.User {
			sm.User[strings.ToLower(k)] = v
		}
	}
	return sm
}

func (sm sidecarMeta) metadata() storage.Metadata {
	return storage.Metadata{
		ContentType:        sm.ContentType,
		ContentEncoding:    sm.ContentEncoding,
		ContentDisposition: sm.ContentDisposition,
		ContentLanguage:    sm.ContentLanguage,
		CacheControl:       sm.CacheControl,
		Expires:            sm.Expires,
		User:               sm.User,
	}
}

// sidecarPath names a key's sidecar by the hash of the key: keys may be
// longer than a file name, and a mirror tree of sidecars would meet the same
// file-versus-directory conflicts as the objects themselves.
func sidecarPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return filepath.FromSlash(metaDir + "/" + h[:2] + "/" + h + ".json")
}

// readSidecar returns key's sidecar, if there is a readable one for it.
func readSidecar(root *os.Root, key string) (sidecar, bool) {
	b, err := root.ReadFile(sidecarPath(key))
	if err != nil {
		return sidecar{}, false
	}
	var sc sidecar
	if err := json.Unmarshal(b, &sc); err != nil || sc.Key != key {
		return sidecar{}, false
	}
	return sc, true
}

func writeSidecar(root *os.Root, sc sidecar) error {
	b, err := json.Marshal(sc)
	if err != nil {
		return fmt.Errorf("encode sidecar: %w", err)
	}
	return writeFileAtomic(root, sidecarPath(sc.Key), b, true)
}

// removeSidecar deletes key's sidecar; a missing one is fine.
func removeSidecar(root *os.Root, key string) error {
	if err := root.Remove(sidecarPath(key)); err != nil && !isNotExist(err) {
		return err
	}
	return nil
}

// writeFileAtomic replaces the file rel with data through a synced
// temporary file and a rename. With mkdir false a missing parent directory
// is an error (it means an upload was aborted) rather than recreated.
func writeFileAtomic(root *os.Root, rel string, data []byte, mkdir bool) error {
	f, tmp, err := createTemp(root)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && mkdir {
		err = root.MkdirAll(filepath.Dir(rel), dirMode)
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err == nil {
		err = syncDir(root, filepath.Dir(rel))
	}
	if err != nil {
		if rerr := root.Remove(tmp); rerr != nil && !isNotExist(rerr) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}
