package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryKey keeps the README's reference table complete.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	var paths []string
	for _, l := range staticKeys() {
		paths = append(paths, l.path)
	}
	for _, l := range storeKeys() {
		paths = append(paths, "stores.NAME."+l.path)
	}
	for _, p := range paths {
		if !strings.Contains(readme, "`"+p+"`") {
			t.Errorf("README.md does not document the key %s", p)
		}
	}
}
