package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/postgres"
)

// TestTranslateCodes pins the driver errors that reach the API: a dropped connection
// must read as Unavailable (503, retry), never as an internal error (500).
func TestTranslateCodes(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want fusionrank.Code
	}{
		{"nil", nil, ""},
		{"no rows", pgx.ErrNoRows, fusionrank.NotFound},
		{"unique violation", &pgconn.PgError{Code: "23505"}, fusionrank.Conflict},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, fusionrank.Unavailable},
		{"connection exception", &pgconn.PgError{Code: "08006"}, fusionrank.Unavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, fusionrank.Unavailable},
		{"syntax error", &pgconn.PgError{Code: "42601"}, fusionrank.Internal},
		{"connection dropped mid-query", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), fusionrank.Unavailable},
		{"connection closed between messages", io.EOF, fusionrank.Unavailable},
		{"deadline", context.DeadlineExceeded, fusionrank.Unavailable},
		{"plain error", errors.New("boom"), fusionrank.Internal},
		{"already coded", fusionrank.Errorf(fusionrank.Invalid, "x"), fusionrank.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := fusionrank.ErrorCode(postgres.Translate(c.err)); got != c.want {
				t.Fatalf("code %q, want %q", got, c.want)
			}
		})
	}
}
