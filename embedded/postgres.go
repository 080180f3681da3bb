package embedded

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

// VisibilitySuffix names the visibility database after the main one:
// Temporal keeps its two schemas in two databases.
const VisibilitySuffix = "_visibility"

// postgresConfigs parses a PostgreSQL URL
// (postgres://user:password@host:5432/temporal?sslmode=disable) into the
// server's two SQL stores: the database named in it, and the same name
// with VisibilitySuffix for visibility.
func postgresConfigs(dsn string) (main, visibility *config.SQL, err error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// The URL may hold a password: never repeat it.
		return nil, nil, errors.New("embedded: the PostgreSQL DSN must look like postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=disable")
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = "temporal"
	}
	pw, _ := u.User.Password()
	attrs := map[string]string{}
	for k, v := range u.Query() {
		attrs[k] = v[0]
	}
	mk := func(name string) *config.SQL {
		return &config.SQL{
			PluginName:        postgresql.PluginName,
			ConnectProtocol:   "tcp",
			ConnectAddr:       host,
			User:              u.User.Username(),
			Password:          pw,
			DatabaseName:      name,
			ConnectAttributes: attrs,
			MaxConns:          20,
			MaxIdleConns:      20,
		}
	}
	return mk(db), mk(db + VisibilitySuffix), nil
}

// setupPostgres creates the database if missing and brings its schema to
// the version this server needs (a no-op when it is there already).
func setupPostgres(cfg *config.SQL, schemaName string, logger log.Logger) error {
	create := *cfg
	if err := sqltool.DoCreateDatabase(&create, "postgres", logger); err != nil {
		var state interface{ SQLState() string }
		// 42P04: duplicate_database.
		if !errors.As(err, &state) || state.SQLState() != "42P04" {
			return fmt.Errorf("embedded: create database %s at %s: %w", cfg.DatabaseName, cfg.ConnectAddr, err)
		}
	}
	conn, err := sqltool.NewConnection(cfg, logger)
	if err != nil {
		return fmt.Errorf("embedded: connect to database %s at %s: %w", cfg.DatabaseName, cfg.ConnectAddr, err)
	}
	defer conn.Close()
	if err := conn.CreateSchemaVersionTables(); err != nil {
		return fmt.Errorf("embedded: database %s: schema version tables: %w", cfg.DatabaseName, err)
	}
	if _, err := conn.ReadSchemaVersion(); err != nil {
		// A new database: record version 0.0, from which Update climbs.
		if err := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger).Run(); err != nil {
			return fmt.Errorf("embedded: database %s: set up schema: %w", cfg.DatabaseName, err)
		}
	}
	if err := schema.NewUpdateSchemaTask(conn, &schema.UpdateConfig{DBName: cfg.DatabaseName, SchemaName: schemaName}, logger).Run(); err != nil {
		return fmt.Errorf("embedded: database %s: update schema: %w", cfg.DatabaseName, err)
	}
	return nil
}
