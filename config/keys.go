package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// A leaf is one configuration key: its dotted path as written in a file
// (camelCase), and the struct field holding it.
type leaf struct {
	path  string
	field reflect.StructField
	value reflect.Value
}

// tagName is the key of a struct field in configuration files.
func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	return name
}

// leaves lists the keys of the struct v (a struct value) in field order,
// descending into nested structs but not into maps.
func leaves(v reflect.Value, prefix string) []leaf {
	var out []leaf
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := tagName(f)
		if !f.IsExported() || name == "" {
			continue
		}
		path := prefix + name
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			out = append(out, leaves(fv, path+".")...)
			continue
		}
		out = append(out, leaf{path: path, field: f, value: fv})
	}
	return out
}

// staticKeys are the keys of every section but stores.
func staticKeys() []leaf {
	var out []leaf
	for _, l := range leaves(reflect.ValueOf(Config{}), "") {
		if l.field.Type.Kind() != reflect.Map {
			out = append(out, l)
		}
	}
	return out
}

// storeKeys are the keys of one store.
func storeKeys() []leaf { return leaves(reflect.ValueOf(StoreConfig{}), "") }

// unknownKeys reports the keys of settings (as viper returns them: nested
// maps with lower-case keys) that t does not have, with their full paths.
func unknownKeys(settings map[string]any, t reflect.Type, prefix string) []string {
	known := map[string]reflect.StructField{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if name := tagName(f); f.IsExported() && name != "" {
			known[strings.ToLower(name)] = f
			names = append(names, name)
		}
	}
	var out []string
	for _, k := range sortedKeys(settings) {
		f, ok := known[strings.ToLower(k)]
		if !ok {
			section := strings.TrimSuffix(prefix, ".")
			if section == "" {
				section = "the top level"
			}
			out = append(out, fmt.Sprintf("unknown key %q (%s takes: %s)", prefix+k, section, strings.Join(names, ", ")))
			continue
		}
		sub, isMap := settings[k].(map[string]any)
		if !isMap {
			continue // a scalar where a section belongs is the decoder's to report
		}
		path := prefix + tagName(f) + "."
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]():
			out = append(out, unknownKeys(sub, f.Type, path)...)
		case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct:
			for _, name := range sortedKeys(sub) {
				if m, ok := sub[name].(map[string]any); ok {
					out = append(out, unknownKeys(m, f.Type.Elem(), path+name+".")...)
				}
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// envName is the environment variable that overrides a key.
func envName(path string) string {
	return strings.ToUpper(EnvPrefix + "_" + envReplacer().Replace(path))
}

// envReplacer turns a key path into the tail of its variable name. "-" is
// replaced too, since shells cannot set names containing it (a store named
// "eu-src" is overridden by BUCKETFERRY_STORES_EU_SRC_...).
func envReplacer() *strings.Replacer { return strings.NewReplacer(".", "_", "-", "_") }
