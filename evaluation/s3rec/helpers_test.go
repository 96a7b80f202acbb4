package s3rec

import (
	"os"
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
