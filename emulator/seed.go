package emulator

import (
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bucketferry/bucketferry/storage"
)

// DataSet describes a generated bucket that looks like a real one: nested
// prefixes, a spread of sizes, content types, user metadata and some unicode
// keys. The same DataSet always generates the same keys and bytes.
type DataSet struct {
	Objects   int   // objects with sizes spread log-uniformly over [MinSize, MaxSize]
	MinSize   int64 // 0 makes some objects empty
	MaxSize   int64
	Large     int // extra objects of LargeSize bytes (multipart-sized)
	LargeSize int64
	Prefix    string // put before every key
	Seed      uint64
}

// SeedStats counts what was seeded.
type SeedStats struct {
	Objects int
	Bytes   int64
}

var (
	topDirs  = []string{"logs", "images", "backup", "data/raw", "data/parquet", "用户上传", "docs"}
	subDirs  = []string{"2024", "2025/01", "2025/06", "archive", "a b", "über", "x+y", "100%"}
	exts     = []string{".log", ".jpg", ".png", ".json", ".csv", ".parquet", ".txt", ".bin", ".gz"}
	oddNames = []string{"report & summary %d", "照片 %d", "tilde~%d", "plus+%d", "percent%%41-%d", "space %d"}
)

// Generate adds ds's objects to bucket (creating it).
func Generate(b *Backend, bucketName string, ds DataSet) (SeedStats, error) {
	if err := b.CreateBucket(bucketName); err != nil {
		return SeedStats{}, err
	}
	r := rand.New(rand.NewPCG(ds.Seed, 0x5eed))
	var st SeedStats
	add := func(i int, size int64) error {
		key := ds.Prefix + genKey(r, i)
		meta := Meta{ContentType: mime.TypeByExtension(path.Ext(key))}
		if i%3 == 0 {
			meta.User = map[string]string{"origin": "bucketferry-demo", "index": fmt.Sprint(i)}
		}
		if i%7 == 0 {
			meta.CacheControl = "max-age=3600"
			meta.ContentDisposition = fmt.Sprintf(`attachment; filename="object-%d"`, i)
		}
		if i%11 == 0 {
			meta.StorageClass = storage.ClassIA
		}
		if _, err := b.AddObject(bucketName, key, GeneratedBlob(ds.Seed^uint64(i)*0x9E3779B97F4A7C15, size), meta); err != nil {
			return fmt.Errorf("seed %q: %w", key, err)
		}
		st.Objects++
		st.Bytes += size
		return nil
	}
	for i := 0; i < ds.Objects; i++ {
		if err := add(i, logUniform(r, ds.MinSize, ds.MaxSize)); err != nil {
			return st, err
		}
	}
	for j := 0; j < ds.Large; j++ {
		if err := add(ds.Objects+j, ds.LargeSize); err != nil {
			return st, err
		}
	}
	return st, nil
}

// genKey makes a unique, realistic key for object i.
func genKey(r *rand.Rand, i int) string {
	dir := topDirs[r.IntN(len(topDirs))] + "/" + subDirs[r.IntN(len(subDirs))]
	if i%10 == 9 {
		name := fmt.Sprintf(oddNames[r.IntN(len(oddNames))], i)
		if !strings.Contains(name, fmt.Sprint(i)) {
			name += fmt.Sprint("-", i)
		}
		return dir + "/" + name + exts[r.IntN(len(exts))]
	}
	return fmt.Sprintf("%s/object-%07d%s", dir, i, exts[r.IntN(len(exts))])
}

func logUniform(r *rand.Rand, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	if lo == 0 && r.IntN(20) == 0 {
		return 0 // a share of empty objects, as real buckets have
	}
	a, b := math.Log(float64(max(lo, 1))), math.Log(float64(hi))
	return int64(math.Exp(a + r.Float64()*(b-a)))
}

// SeedFromDir adds every regular file under dir to bucket (creating it), keyed
// by its slash-separated path relative to dir.
func SeedFromDir(b *Backend, bucketName, dir string) (SeedStats, error) {
	if err := b.CreateBucket(bucketName); err != nil {
		return SeedStats{}, err
	}
	var st SeedStats
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		key := filepath.ToSlash(rel)
		obj, err := b.PutObject(bucketName, key, f, -1, Meta{ContentType: mime.TypeByExtension(path.Ext(key))}, nil)
		if err != nil {
			return fmt.Errorf("seed %q: %w", key, err)
		}
		st.Objects++
		st.Bytes += obj.Size
		return nil
	})
	return st, err
}
