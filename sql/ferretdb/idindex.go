package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"
)

// FerretDB 1.24's SQLite backend pushes a find by _id down as
//
//	WHERE _ferretdb_sjson->'$._id' = ?
//
// but indexes _id as (_ferretdb_sjson->"_id"). SQLite uses an index on an
// expression only for that very expression, so every lookup by _id (and
// every update or delete by _id, which look up first) scanned the whole
// table: 7 ms per lookup at 5000 documents, growing with the data. This adds,
// to every collection's table, an index on the expression the query uses,
// and keeps adding it to tables created later. FerretDB does not see it (it
// keeps its own list of indexes) and SQLite drops it with the table.
func keepIDIndexes(ctx context.Context, dir string, logger *slog.Logger) {
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, f := range files {
			if err := addIDIndexes(ctx, f); err != nil {
				logger.Warn("galley-ferretdb: _id index", "file", f, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func addIDIndexes(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return nil // a database FerretDB has not set up yet
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_galley_id", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
