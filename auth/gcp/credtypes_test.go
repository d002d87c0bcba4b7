package gcp

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/kind"
)

// canaryCredSecret stands in for every secret a credentials file holds
// (refresh tokens, client secrets): no error may quote it.
const canaryCredSecret = "CANARY-CRED-SECRET-9c3b71"

const typeList5 = "service_account, authorized_user, external_account, external_account_authorized_user, impersonated_service_account"

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// executableSource is an external_account file whose subject token comes
// from running a program that would leave marker behind.
func executableSource(t *testing.T, srv *fakegcp.Server, marker string) map[string]any {
	return map[string]any{
		"type":               "external_account",
		"audience":           "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov",
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          srv.URL + "/v1/token",
		"credential_source": map[string]any{"executable": map[string]any{
			"command": "/bin/sh -c 'touch " + marker + "'", "timeout_millis": 5000,
		}},
	}
}

// TestCredentialsFileTypes: a credentials file is loaded by its declared
// type, from credentials_file and from GOOGLE_APPLICATION_CREDENTIALS
// alike. The allowed types make a credential (and a token, where the fake
// serves its token endpoint); any other type, a file without one, and an
// external_account that runs a program without Google's opt-in are refused
// with an error naming the file and the type, before the SDK sees the
// file: credentials_file at load, an ADC file at the first token.
func TestCredentialsFileTypes(t *testing.T) {
	srv, err := fakegcp.Start(fakegcp.Options{SubjectToken: canarySubject, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	keyJSON, keyPEM := srv.ServiceAccountKey()
	var key map[string]any
	if err := json.Unmarshal(keyJSON, &key); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "executable-ran")
	const sa = "vertex-caller@byok-test-project.iam.gserviceaccount.com"
	impersonationURL := srv.URL + "/v1/projects/-/serviceAccounts/" + sa + ":generateAccessToken"
	subjectFile := writeFile(t, "subject.jwt", canarySubject)

	tests := []struct {
		name string
		file any // marshalled, or a string as is
		// allowExecutables sets GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1.
		allowExecutables bool
		// wantVia lists the fake's mints for one token; nil: the
		// credential is only made (its token endpoint is Google's).
		wantVia []string
		wantErr string // after "gcp: credentials_file FILE: "
	}{
		{name: "service_account", file: key, wantVia: []string{"oauth2"}},
		{name: "external_account", file: map[string]any{
			"type": "external_account", "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov",
			"subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": srv.URL + "/v1/token",
			"credential_source": map[string]any{"file": subjectFile},
		}, wantVia: []string{"sts"}},
		{name: "impersonated_service_account over a key", file: map[string]any{
			"type": "impersonated_service_account", "service_account_impersonation_url": impersonationURL, "source_credentials": key,
		}, wantVia: []string{"oauth2", "iam"}},
		{name: "authorized_user", file: map[string]any{
			"type": "authorized_user", "client_id": "123.apps.googleusercontent.com", "client_secret": canaryCredSecret, "refresh_token": canaryCredSecret,
		}},
		{name: "external_account_authorized_user", file: map[string]any{
			"type": "external_account_authorized_user", "audience": "//iam.googleapis.com/locations/global/workforcePools/pool/providers/prov",
			"refresh_token": canaryCredSecret, "token_url": srv.URL + "/v1/oauthtoken", "client_id": "id", "client_secret": canaryCredSecret,
		}},
		{name: "external_account running a program, opted in", file: executableSource(t, srv, marker), allowExecutables: true},

		{name: "external_account running a program", file: executableSource(t, srv, marker),
			wantErr: `type "external_account" with credential_source.executable runs a program to get its subject token; refused unless GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 is set (Google's opt-in for executable-sourced credentials)`},
		{name: "impersonation over a program", file: map[string]any{
			"type": "impersonated_service_account", "service_account_impersonation_url": impersonationURL,
			"source_credentials": executableSource(t, srv, marker),
		}, wantErr: `source_credentials: type "external_account" with credential_source.executable runs a program to get its subject token; refused unless GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 is set (Google's opt-in for executable-sourced credentials)`},
		{name: "impersonation over an unknown type", file: map[string]any{
			"type": "impersonated_service_account", "service_account_impersonation_url": impersonationURL,
			"source_credentials": map[string]any{"type": "magic", "secret": canaryCredSecret},
		}, wantErr: `source_credentials: type "magic" is not a credential type byokcred loads; want one of: ` + typeList5},
		{name: "gdch_service_account", file: map[string]any{
			"type": "gdch_service_account", "format_version": "1", "project": "p", "name": "n", "private_key": canaryCredSecret, "token_uri": srv.URL + "/token",
		}, wantErr: `type "gdch_service_account" is not supported: it needs an STS audience the gcp kind does not take; want one of: ` + typeList5},
		{name: "unknown type", file: map[string]any{"type": "magic", "secret": canaryCredSecret},
			wantErr: `type "magic" is not a credential type byokcred loads; want one of: ` + typeList5},
		{name: "OAuth client file", file: map[string]any{"installed": map[string]any{"client_id": "id", "client_secret": canaryCredSecret}},
			wantErr: `no "type" (an OAuth client file such as client_secret.json is not a credential); want one of: ` + typeList5},
		{name: "not an object", file: `["` + canaryCredSecret + `"]`,
			wantErr: "not a credentials JSON object: json: cannot unmarshal array into Go value of type gcp.credentialsFileHead"},
	}
	for _, tc := range tests {
		content, ok := tc.file.(string)
		if !ok {
			content = marshal(t, tc.file)
		}
		for _, via := range []string{"credentials_file", envCredentials} {
			t.Run(tc.name+"/"+via, func(t *testing.T) {
				isolateADC(t)
				srv.Setenv(t)
				if tc.allowExecutables {
					t.Setenv(envAllowExecutables, "1")
				} else {
					t.Setenv(envAllowExecutables, "")
				}
				file := writeFile(t, "creds.json", content)
				a := &Auth{}
				label := "credentials_file " + file
				if via == "credentials_file" {
					a.CredentialsFile = file
				} else {
					t.Setenv(envCredentials, file)
					label = envCredentials + " " + file
				}
				before := len(srv.Issued())
				// What a config load does (Source), then the first
				// token's search (detect), then the token when the fake
				// serves it.
				src, err := a.Source(&kind.Build{})
				if err == nil {
					err = src.Source.(*Source).detect(context.Background())
				}
				if err == nil && tc.wantVia != nil {
					_, err = src.Source.Token(context.Background())
				}
				var gotErr string
				if err != nil {
					gotErr = err.Error()
					if strings.Contains(gotErr, canaryCredSecret) || strings.Contains(gotErr, strings.Split(keyPEM, "\n")[1]) {
						t.Errorf("error quotes a secret of the file: %s", gotErr)
					}
				}
				wantErr := ""
				if tc.wantErr != "" {
					wantErr = "gcp: " + label + ": " + tc.wantErr
				}
				if diff := cmp.Diff(wantErr, gotErr); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				var via []string
				for _, is := range srv.Issued()[before:] {
					via = append(via, is.Via)
				}
				if diff := cmp.Diff(tc.wantVia, via); diff != "" {
					t.Errorf("tokens minted (-want +got):\n%s", diff)
				}
				if _, err := os.Stat(marker); err == nil {
					t.Error("the executable credential source ran")
				}
			})
		}
	}
}

// TestEmptyCredentialsJSON: empty credentials bytes are a file with
// nothing in it, not a request for Application Default Credentials (the
// SDK's DetectDefault searched ADC for them, here finding the metadata
// server's identity instead of the file's).
func TestEmptyCredentialsJSON(t *testing.T) {
	srv := startGCP(t, fakegcp.Options{})
	src, err := NewSource(SourceOptions{CredentialsJSON: []byte{}, CredentialsFile: "/etc/gcp/empty.json"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Token(context.Background())
	got := ""
	if err != nil {
		got = err.Error()
	}
	if diff := cmp.Diff("gcp: credentials_file /etc/gcp/empty.json: the credentials file is empty", got); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if n := len(srv.Issued()); n != 0 {
		t.Errorf("%d tokens minted by the fake, want none", n)
	}
}
