// Command fielddocs writes a package's struct field doc comments as Go
// source, so that `byokcred schema` can describe an auth type's keys in a
// binary built without the sources. Run it from go generate in the package
// of an auth type:
//
//	//go:generate go run github.com/byokcred/byokcred/schema/fielddocs -type Auth
//
// It writes fielddocs_gen.go with a FieldDocs method on *Auth
// (kind.FieldDocumenter). With -var NAME and -dir, it writes a variable
// holding another package's docs instead.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/byokcred/byokcred/internal/fielddoc"
)

func main() {
	typ := flag.String("type", "", "the auth config type that gets the FieldDocs method")
	varName := flag.String("var", "", "write a variable of this name instead of a method")
	dir := flag.String("dir", ".", "the package whose doc comments are read")
	out := flag.String("out", "fielddocs_gen.go", "the file written")
	flag.Parse()
	pkg := os.Getenv("GOPACKAGE") // set by go generate
	if err := run(*dir, pkg, *typ, *varName, *out); err != nil {
		fmt.Fprintln(os.Stderr, "fielddocs:", err)
		os.Exit(1)
	}
}

func run(dir, pkg, typ, varName, out string) error {
	if pkg == "" {
		return fmt.Errorf("GOPACKAGE is not set: run me from go generate")
	}
	if (typ == "") == (varName == "") {
		return fmt.Errorf("want exactly one of -type and -var")
	}
	docs, err := fielddoc.Read(dir)
	if err != nil {
		return err
	}
	src, err := fielddoc.Source(pkg, typ, varName, dir, docs)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}
