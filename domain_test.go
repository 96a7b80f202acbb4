package fusionrank

import (
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "Item-42", "sku_1.2:3@x~y+z=w", strings.Repeat("a", MaxIDLen), "...", ".a", "a.."} {
		if !ValidID(id) || ValidateID("id", id) != nil {
			t.Errorf("%q rejected", id)
		}
	}
	for id, want := range map[string]string{
		"":                              "id: must not be empty",
		strings.Repeat("a", MaxIDLen+1): "id: longer than",
		"a b":                           "id: may contain only",
		"é":                             "id: may contain only",
		"a/b":                           "id: may contain only",
		"a\x00":                         "id: may contain only",
		".":                             `id: "." is not allowed`,
		"..":                            `id: ".." is not allowed`,
	} {
		err := ValidateID("id", id)
		if ValidID(id) || err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: ValidID %v, error %v; want %q", id, ValidID(id), err, want)
		}
	}
}
