package config

import "io/fs"

// notExistError is a config file that does not exist. It matches
// fs.ErrNotExist, so that a command line can add its own advice (which
// flag or variable names the file); a library program gets the plain fact.
type notExistError struct{ path string }

func (e notExistError) Error() string { return "config: " + e.path + " does not exist" }

func (notExistError) Unwrap() error { return fs.ErrNotExist }
