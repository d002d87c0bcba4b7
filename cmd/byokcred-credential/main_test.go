package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParse: the command lines the small binary answers itself, read as
// byokcred reads them, and those it hands to byokcred (ok false).
func TestParse(t *testing.T) {
	t.Parallel()
	def := invocation{logLevel: "warn", logFormat: "text", output: "text", mode: "auto"}
	with := func(f func(*invocation)) invocation { inv := def; f(&inv); return inv }
	tests := []struct {
		name string
		args []string
		want invocation
		ok   bool
	}{
		{name: "as copilot-env prints it", args: []string{"-c", "/c.yaml", "credential", "--agent", "auto", "--socket", "/s", "gw"},
			want: with(func(i *invocation) { i.config, i.socket, i.name = "/c.yaml", "/s", "gw" }), ok: true},
		{name: "defaults", args: []string{"credential"}, want: def, ok: true},
		{name: "= forms, flags anywhere", args: []string{"--agent=require", "credential", "--config=c", "x", "--log-level=DEBUG", "--log-format=json", "--output=text"},
			want: with(func(i *invocation) {
				i.mode, i.config, i.name, i.logLevel, i.logFormat = "require", "c", "x", "DEBUG", "json"
			}), ok: true},
		{name: "the last of a repeated flag", args: []string{"-c", "a", "-c", "b", "credential"}, want: with(func(i *invocation) { i.config = "b" }), ok: true},
		{name: "a value that looks like a flag", args: []string{"-c", "--x", "credential"}, want: with(func(i *invocation) { i.config = "--x" }), ok: true},
		{name: "empty provider name", args: []string{"credential", ""}, want: def, ok: true},
		{name: "start", args: []string{"credential", "--agent", "start"}, want: with(func(i *invocation) { i.mode = "start" }), ok: true},
		{name: "off works alone", args: []string{"credential", "--agent", "off"}},
		{name: "bad mode", args: []string{"credential", "--agent", "never"}},
		{name: "bad log level", args: []string{"--log-level", "loud", "credential"}},
		{name: "bad log format", args: []string{"--log-format", "xml", "credential"}},
		{name: "bad output", args: []string{"-o", "yaml", "credential"}},
		{name: "-o json, byokcred's usage error for credential", args: []string{"-o", "json", "credential"}},
		{name: "another command", args: []string{"token", "gw"}},
		{name: "no command", args: []string{"-c", "c"}},
		{name: "two names", args: []string{"credential", "a", "b"}},
		{name: "help", args: []string{"credential", "-h"}},
		{name: "-cFILE", args: []string{"-cc.yaml", "credential"}},
		{name: "-c=FILE", args: []string{"-c=c.yaml", "credential"}},
		{name: "end of flags", args: []string{"credential", "--", "gw"}},
		{name: "missing value", args: []string{"credential", "--socket"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parse(tt.args)
			if ok != tt.ok {
				t.Fatalf("parse(%q) ok = %v, want %v", tt.args, ok, tt.ok)
			}
			if ok {
				if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(invocation{})); diff != "" {
					t.Errorf("parse(%q) (-want +got):\n%s", tt.args, diff)
				}
			}
		})
	}
}

// TestFullBinary: the byokcred the small binary hands over to is NAME next
// to NAME-credential, else byokcred next to it.
func TestFullBinary(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ self, want string }{
		{"/opt/bin/byokcred-credential", "/opt/bin/byokcred"},
		{"/opt/bin/teamcred-credential", "/opt/bin/teamcred"},
		{"/opt/bin/keycmd", "/opt/bin/byokcred"},
		{"/opt/bin/-credential", "/opt/bin/byokcred"},
		{`/opt/bin/byokcred-credential.exe`, `/opt/bin/byokcred.exe`},
	} {
		if got := fullBinaryOf(tt.self); got != tt.want {
			t.Errorf("fullBinaryOf(%s) = %s, want %s", tt.self, got, tt.want)
		}
	}
}
