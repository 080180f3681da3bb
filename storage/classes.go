package storage

import "strings"

// COSClass maps a neutral storage class to its COS name. An empty class is
// STANDARD; native COS names (MAZ_* and others) pass unchanged. COS has no
// ColdArchive, so it maps, like DeepColdArchive, to DEEP_ARCHIVE.
func COSClass(class string) string {
	switch class {
	case "", ClassStandard:
		return "STANDARD"
	case ClassIA:
		return "STANDARD_IA"
	case ClassArchive:
		return "ARCHIVE"
	case ClassColdArchive, ClassDeepColdArchive:
		return "DEEP_ARCHIVE"
	case ClassIntelligent:
		return "INTELLIGENT_TIERING"
	}
	return class
}

// ClassFromCOS maps a COS storage class name to the neutral one; names with
// no neutral counterpart (MAZ_*) pass unchanged. COS leaves the header out
// for STANDARD objects, so an empty name is Standard.
func ClassFromCOS(name string) string {
	switch strings.ToUpper(name) {
	case "", "STANDARD":
		return ClassStandard
	case "STANDARD_IA":
		return ClassIA
	case "ARCHIVE":
		return ClassArchive
	case "DEEP_ARCHIVE":
		return ClassDeepColdArchive
	case "INTELLIGENT_TIERING":
		return ClassIntelligent
	}
	return name
}
