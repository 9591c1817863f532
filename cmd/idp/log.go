package main

import (
	"flag"
	"io"
	"log/slog"
)

// newLogger builds the process logger in the contract's text or json format.
func newLogger(w io.Writer, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// settingsFlagSet is a FlagSet with the configuration settings registered.
type settingsFlagSet struct {
	*flag.FlagSet
	s *settings
}

// newSettingsFlagSet registers list on a new FlagSet for one command.
func newSettingsFlagSet(s stdio, name, synopsis string, list ...setting) *settingsFlagSet {
	fs := newFlagSet(s, name, synopsis)
	return &settingsFlagSet{FlagSet: fs, s: register(fs, list...)}
}

// parseArgs parses a command's flags and refuses stray positional
// arguments; a bad flag is a usage error already printed.
func (fs *settingsFlagSet) parseArgs(args []string) error {
	if err := parse(fs.FlagSet, args); err != nil {
		return err
	}
	return noArgs(fs.FlagSet)
}
