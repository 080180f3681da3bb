package cos

import (
	"strings"

	"github.com/bucketferry/bucketferry/storage"
)

// className maps a neutral storage class to its COS name. An empty class is
// STANDARD; native COS names (MAZ_* and others) pass unchanged. COS has no
// ColdArchive, so it maps, like DeepColdArchive, to DEEP_ARCHIVE.
func className(class string) string {
	switch class {
	case "", storage.ClassStandard:
		return "STANDARD"
	case storage.ClassIA:
		return "STANDARD_IA"
	case storage.ClassArchive:
		return "ARCHIVE"
	case storage.ClassColdArchive, storage.ClassDeepColdArchive:
		return "DEEP_ARCHIVE"
	case storage.ClassIntelligent:
		return "INTELLIGENT_TIERING"
	}
	return class
}

// neutralClass maps a COS storage class name to the neutral one; names with
// no neutral counterpart (MAZ_*) pass unchanged. COS leaves the header out
// for STANDARD objects, so an empty name is Standard.
func neutralClass(name string) string {
	switch strings.ToUpper(name) {
	case "", "STANDARD":
		return storage.ClassStandard
	case "STANDARD_IA":
		return storage.ClassIA
	case "ARCHIVE":
		return storage.ClassArchive
	case "DEEP_ARCHIVE":
		return storage.ClassDeepColdArchive
	case "INTELLIGENT_TIERING":
		return storage.ClassIntelligent
	}
	return name
}
