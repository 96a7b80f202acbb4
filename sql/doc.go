// Package sql holds fusionrank's numbered Postgres migrations, embedded into the binary.
//
// Files are named NNN_name.sql and applied in order by postgres.Migrate, each in its own
// transaction, under an advisory lock so that concurrent runs are safe. A file, once
// released, is never edited: a change to the schema is a new file.
package sql

import "embed"

// Migrations holds the *.sql files of this directory.
//
//go:embed *.sql
var Migrations embed.FS
