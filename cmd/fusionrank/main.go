package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands are the subcommands by name.
var commands = map[string]command{
	"encoders":     {"the image encoder registry: list, register FILE, activate VERSION", runEncoders},
	"eval":         {"offline evaluation: s3rec, retail, rerank, photos (writes metrics.json, report.md, plots)", runEval},
	"import":       {"bulk load items, events (ndjson, s3rec, online-retail) or searches (homedepot) through COPY", runImport},
	"keys":         {"create, list, revoke or rotate API keys; create or rotate the user-token secret", runKeys},
	"migrate":      {"apply the embedded SQL migrations (idempotent)", runMigrate},
	"models":       {"the model registry: list, activate VERSION, rollback, show VERSION, index VERSION", runModels},
	"serve":        {"run the HTTP API", runServe},
	"train":        {"train the fusion scorer from the event log and register the version (--activate makes it live)", runTrain},
	"train-images": {"train the image encoder from a folder of product photos and write the encoder file", runTrainImages},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: fusionrank <command> [flags]   (fusionrank <command> --help for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nconfiguration (environment):")
	for _, v := range configVars {
		def := v[1]
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(w, "  %-30s default %s\n      %s\n", v[0], def, v[2])
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// go-redis logs through one logger for the whole process, so the process sets it
	// once, here: its messages (dial failures while Redis is down) go to the structured
	// log at debug level, as the store's breaker already reports outages.
	redis.SetLogger(redisLog{slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(os.Getenv)}))})
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fusionrank: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "fusionrank %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// newFlags returns a flag set that prints its usage to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fusionrank %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// logLevel is FUSIONRANK_LOG_LEVEL's level for the process-wide go-redis logger; a bad
// value means info here, and loadConfig reports it.
func logLevel(getenv func(string) string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(getenv("FUSIONRANK_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}
