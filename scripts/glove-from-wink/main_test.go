package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/features/text"
)

func TestConvert(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    string
		wantErr string
	}{
		{
			name: "wink layout",
			json: `{"precision":8,"l2NormIndex":2,"wordIndex":3,"size":3,"dimensions":2,
				"words":["the",",","drill"],
				"vectors":{"the":[0.5,-1e-05,1.1,0],",":[1,2,2.2,1],"drill":[-0.25,3,3.0,2]},
				"unkVector":[0,0,0,-1]}`,
			want: "the 0.5 -1e-05\n, 1 2\ndrill -0.25 3\n",
		},
		{
			name: "entries out of order are written in index order",
			json: `{"dimensions":1,"size":3,"vectors":{"c":[3,3,2],"a":[1,1,0],"b":[2,2,1]}}`,
			want: "a 1\nb 2\nc 3\n",
		},
		{name: "wrong length", json: `{"dimensions":2,"vectors":{"a":[1,2,3]}}`, wantErr: "has 3 numbers, want 4"},
		{name: "index disagrees with words", json: `{"dimensions":1,"words":["a","b"],"vectors":{"a":[1,1,1]}}`, wantErr: "not its place"},
		{name: "missing index", json: `{"dimensions":1,"vectors":{"a":[1,1,1]}}`, wantErr: "index 0 is missing"},
		{name: "size mismatch", json: `{"dimensions":1,"size":2,"vectors":{"a":[1,1,0]}}`, wantErr: "size says 2"},
		{name: "word with a space", json: `{"dimensions":1,"vectors":{"a b":[1,1,0]}}`, wantErr: "cannot be written"},
		{name: "not a number", json: `{"dimensions":1,"vectors":{"a":["x",1,0]}}`, wantErr: "vector of"},
		{name: "no vectors", json: `{"dimensions":1}`, wantErr: "no \"vectors\""},
		{name: "vectors before dimensions", json: `{"vectors":{}}`, wantErr: "before a positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			n, err := convert(strings.NewReader(tt.json), &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("convert error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("convert: %v", err)
			}
			if out.String() != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", out.String(), tt.want)
			}
			// The service's loader reads what was written.
			enc, err := text.Load(&out)
			if err != nil {
				t.Fatalf("text.Load: %v", err)
			}
			if enc.Len() != n {
				t.Errorf("text.Load: %d words, want %d", enc.Len(), n)
			}
		})
	}
}
