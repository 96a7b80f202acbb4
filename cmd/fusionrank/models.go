package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank/recommend"
)

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "models list | activate VERSION | rollback | show VERSION | index VERSION"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: fusionrank "+synopsis)
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return flagErrHelp
	}
	sub := args[0]
	fs := newFlags("models "+sub, synopsis, stderr)
	cfg, err := loadConfig(os.Getenv, fs, args[1:])
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	reg := recommend.NewRegistry(db)
	switch sub {
	case "list":
		ms, err := reg.ListModels(ctx)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			fmt.Fprintln(stdout, "no models yet: fusionrank train --activate makes one")
		}
		for _, m := range ms {
			state := ""
			if m.Active {
				state = "ACTIVE"
			}
			var metrics []string
			for k, v := range m.Metrics {
				metrics = append(metrics, fmt.Sprintf("%s=%.4f", k, v))
			}
			sort.Strings(metrics)
			fmt.Fprintf(stdout, "%-28s %-6s %-9s %s  %s\n", m.Version, state, m.Fusion, m.CreatedAt.Format(time.RFC3339), strings.Join(metrics, " "))
		}
	case "activate":
		if fs.NArg() != 1 {
			return errors.New("usage: fusionrank models activate VERSION")
		}
		m, err := reg.ActivateModel(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "active: %s (serving processes switch within a second)\n", m.Version)
	case "index":
		// Builds and stores the retrieval graph of a model that has none, so serving
		// processes load it instead of building it.
		if fs.NArg() != 1 {
			return errors.New("usage: fusionrank models index VERSION")
		}
		start := time.Now()
		stored, err := reg.IndexModel(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if !stored {
			fmt.Fprintf(stdout, "%s: no graph to store (its recent-item vectors are not learned, or at most %d; serving indexes them exactly or builds the index)\n", fs.Arg(0), recommend.ExactLimit)
			return nil
		}
		fmt.Fprintf(stdout, "%s: retrieval graph stored (%.1fs)\n", fs.Arg(0), time.Since(start).Seconds())
	case "rollback":
		m, err := reg.RollbackModel(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rolled back; active: %s\n", m.Version)
	case "show":
		ms, err := reg.ListModels(ctx)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Version == fs.Arg(0) {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(m)
			}
		}
		return fmt.Errorf("model %q: not found", fs.Arg(0))
	default:
		return fmt.Errorf("unknown subcommand %q (%s)", sub, synopsis)
	}
	return nil
}
