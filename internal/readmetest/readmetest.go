// Package readmetest checks that the documentation is exactly true: every
// Go snippet in README.md and plugins/README.md compiles, every YAML
// snippet loads, and the README's "Library use" steps, followed in a fresh
// module outside this repository, get a reply from a loopback model; its
// Layout section names every package of the module. The package has only
// tests.
package readmetest
