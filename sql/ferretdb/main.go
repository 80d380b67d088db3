// galley-ferretdb runs FerretDB (a MongoDB wire-protocol server over SQLite)
// as galley's embedded database when no mongod or GALLEY_MONGO_URI is given.
//
// It uses FerretDB's embeddable package: the module's own cmd/ferretdb
// refuses to start when built from the module proxy (its version file is
// generated at release time and is not in the module).
//
// It also works around a FerretDB 1.24 defect that made every lookup by _id
// read the whole collection (see idindex.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("sqlite-dir", "", "directory of the SQLite databases (required)")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "galley-ferretdb: -sqlite-dir is required")
		os.Exit(2)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintln(os.Stderr, "galley-ferretdb: bad -log-level")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dir + "/",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "galley-ferretdb:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go keepIDIndexes(ctx, *dir, logger)
	if err := f.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "galley-ferretdb:", err)
		os.Exit(1)
	}
}
