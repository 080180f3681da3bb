package local

import (
	"cmp"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bucketferry/bucketferry/storage"
)

// List returns one page of objects in S3 order: byte-wise by full key. A
// plain directory walk does not give that order ("a/b" sorts after "a-b"
// and "a.txt" because '/' is 0x2f), so each directory's entries are sorted
// with a trailing "/" on directory names. Subtrees that lie wholly outside
// the prefix or the After/Before bounds are never read, so a page costs the
// directories on its path, not the whole tree.
func (s *Store) List(ctx context.Context, opts storage.ListOptions) (storage.Page, error) {
	const op = "list"
	if err := ctx.Err(); err != nil {
		return storage.Page{}, &storage.Error{Kind: storage.KindUnknown, Store: s.name, Op: op, Err: err}
	}
	root, err := s.open(op, "")
	if err != nil {
		return storage.Page{}, err
	}
	l := &lister{s: s, root: root, ctx: ctx, opts: opts, max: opts.MaxKeys}
	if l.max <= 0 {
		l.max = defaultMaxKeys
	}
	// Start in the deepest directory the prefix names: nothing outside it
	// can match.
	startKey := opts.Prefix[:strings.LastIndexByte(opts.Prefix, '/')+1]
	if startKey != "" && checkKey(startKey) != nil {
		// No storable key has this prefix ("a//", "../", ".bucketferry/").
		return storage.Page{Done: true}, nil
	}
	if _, err := l.walk(startKey); err != nil {
		return storage.Page{}, s.fail(op, "", err)
	}
	page := storage.Page{Objects: l.objects, Done: !l.more}
	if l.more {
		page.Next = l.objects[len(l.objects)-1].Key
	}
	return page, nil
}

type lister struct {
	s       *Store
	root    *os.Root
	ctx     context.Context
	opts    storage.ListOptions
	max     int
	objects []storage.ObjectInfo
	more    bool // a key beyond the full page exists
	// trace, when set, is told of every directory read (tests prove the
	// pruning with it).
	trace func(dir string)
}

// entry is one directory entry with its sort key: the name, plus "/" for
// a directory.
type entry struct {
	name string
	sort string
	dir  bool
	info fs.FileInfo // for files
}

// emit adds an object to the page; it returns true when the listing should
// stop because the page was already full.
func (l *lister) emit(info storage.ObjectInfo) bool {
	if len(l.objects) == l.max {
		l.more = true
		return true
	}
	l.objects = append(l.objects, info)
	return false
}

// position classifies key against the requested range: -1 before it (skip),
// 0 inside, +1 past it (stop: every later key is past it too).
func (l *lister) position(key string) int {
	o := l.opts
	if key <= o.After {
		return -1
	}
	if !strings.HasPrefix(key, o.Prefix) {
		if key > o.Prefix {
			return 1
		}
		return -1
	}
	if o.Before != "" && key >= o.Before {
		return 1
	}
	return 0
}

// subtree classifies every key beginning with dirKey against the range, as
// position does: -1 when all are before it, +1 when all are past it, 0 when
// the subtree must be read.
func (l *lister) subtree(dirKey string) int {
	o := l.opts
	if o.After >= dirKey && !strings.HasPrefix(o.After, dirKey) {
		return -1 // After is beyond every key under dirKey
	}
	if !strings.HasPrefix(dirKey, o.Prefix) && !strings.HasPrefix(o.Prefix, dirKey) {
		if dirKey > o.Prefix {
			return 1
		}
		return -1
	}
	if o.Before != "" && dirKey >= o.Before {
		return 1
	}
	return 0
}

// walk lists the directory holding the keys that begin with dirKey ("" for
// the root, else ending in "/"). It returns true when the listing is over.
func (l *lister) walk(dirKey string) (bool, error) {
	if err := l.ctx.Err(); err != nil {
		return true, err
	}
	dir := "."
	if dirKey != "" {
		dir = relPath(dirKey)
		// The directory may itself be an object (a marker); it sorts first.
		if l.position(dirKey) == 0 {
			if info, ok := l.s.markerInfo(l.root, dirKey); ok && l.emit(info) {
				return true, nil
			}
		}
	}
	entries, err := l.readDir(dir, dirKey == "")
	if err != nil {
		return true, err
	}
	for _, e := range entries {
		if e.dir {
			switch l.subtree(dirKey + e.sort) {
			case -1:
				continue
			case 1:
				return true, nil
			}
			if stop, err := l.walk(dirKey + e.sort); stop || err != nil {
				return stop, err
			}
			continue
		}
		key := dirKey + e.name
		switch l.position(key) {
		case -1:
			continue
		case 1:
			return true, nil
		}
		if l.emit(storage.ObjectInfo{
			Key:          key,
			Size:         e.info.Size(),
			ETag:         etag(e.info.Size(), e.info.ModTime()),
			LastModified: e.info.ModTime().UTC(),
		}) {
			return true, nil
		}
	}
	return false, nil
}

// readDir returns a directory's objects and subdirectories in key order.
// Symbolic links to files are followed; symbolic links to directories are
// not, since they could loop; other file types are skipped. A directory that
// vanished or is not a directory holds nothing.
func (l *lister) readDir(dir string, isRoot bool) ([]entry, error) {
	if l.trace != nil {
		l.trace(dir)
	}
	f, err := l.root.Open(dir)
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	des, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if isRoot && name == stateDir {
			continue
		}
		switch t := de.Type(); {
		case t.IsDir():
			entries = append(entries, entry{name: name, sort: name + "/", dir: true})
		case t.IsRegular():
			info, err := de.Info()
			if err != nil {
				continue // removed meanwhile
			}
			entries = append(entries, entry{name: name, sort: name, info: info})
		case t&fs.ModeSymlink != 0:
			info, err := l.root.Stat(filepath.Join(dir, name))
			if err == nil && info.Mode().IsRegular() {
				entries = append(entries, entry{name: name, sort: name, info: info})
			}
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.sort, b.sort) })
	return entries, nil
}
