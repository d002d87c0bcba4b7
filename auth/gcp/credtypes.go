package gcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
)

// allowedTypes are the credentials file types the kind loads, from
// credentials_file and from the files Application Default Credentials
// finds alike: each is a credential a user gets from Google's own tools
// (a key, gcloud's login, a workload identity federation config, an
// impersonation config). The SDK's DetectOptions.CredentialsJSON would
// take any type it knows, unchecked; the file's own "type" is read here
// and the SDK is handed the file for that type only.
//
// gdch_service_account is not among them: it needs an STS audience the
// kind has no key for, and never loaded. Google's OAuth client files
// (client_secret.json, no "type") are not credentials.
var allowedTypes = []credentials.CredType{
	credentials.ServiceAccount,
	credentials.AuthorizedUser,
	credentials.ExternalAccount,
	credentials.ExternalAccountAuthorizedUser,
	credentials.ImpersonatedServiceAccount,
}

// envAllowExecutables is Google's own opt-in for an external_account file
// whose subject token comes from running a program.
const envAllowExecutables = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES"

// credentialsFileHead is what checkCredentialsType reads of a file.
type credentialsFileHead struct {
	Type             string `json:"type"`
	CredentialSource *struct {
		Executable json.RawMessage `json:"executable"`
	} `json:"credential_source"`
	SourceCredentials json.RawMessage `json:"source_credentials"`
}

// checkCredentialsType returns the declared type of a credentials file
// when the kind loads that type: one of allowedTypes, an external_account
// that runs a program only when envAllowExecutables is 1, and an
// impersonated_service_account whose source_credentials pass the same
// rules (the SDK makes them with any type it knows).
func checkCredentialsType(data []byte) (credentials.CredType, error) {
	var head credentialsFileHead
	if err := json.Unmarshal(data, &head); err != nil {
		return "", fmt.Errorf("not a credentials JSON object: %v", err)
	}
	if head.Type == "" {
		return "", fmt.Errorf("no \"type\" (an OAuth client file such as client_secret.json is not a credential); want one of: %s", typeList())
	}
	t := credentials.CredType(head.Type)
	switch {
	case t == credentials.GDCHServiceAccount:
		return "", fmt.Errorf("type %q is not supported: it needs an STS audience the gcp kind does not take; want one of: %s", t, typeList())
	case !slices.Contains(allowedTypes, t):
		return "", fmt.Errorf("type %q is not a credential type byokcred loads; want one of: %s", t, typeList())
	}
	if t == credentials.ExternalAccount && head.CredentialSource != nil && hasValue(head.CredentialSource.Executable) &&
		os.Getenv(envAllowExecutables) != "1" {
		return "", fmt.Errorf("type %q with credential_source.executable runs a program to get its subject token; refused unless %s=1 is set (Google's opt-in for executable-sourced credentials)", t, envAllowExecutables)
	}
	if t == credentials.ImpersonatedServiceAccount && hasValue(head.SourceCredentials) {
		if _, err := checkCredentialsType(head.SourceCredentials); err != nil {
			return "", fmt.Errorf("source_credentials: %w", err)
		}
	}
	return t, nil
}

// hasValue reports whether a JSON key was present with a value other than
// null.
func hasValue(v json.RawMessage) bool {
	return len(v) > 0 && string(v) != "null"
}

func typeList() string {
	s := make([]string, len(allowedTypes))
	for i, t := range allowedTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// fileCredentials makes the credential of a credentials file by its
// declared type, once checkCredentialsType allows it.
func fileCredentials(data []byte, opts *credentials.DetectOptions) (*auth.Credentials, error) {
	if len(data) == 0 {
		// The SDK would search Application Default Credentials for empty
		// bytes: another identity than the file's.
		return nil, errors.New("the credentials file is empty")
	}
	t, err := checkCredentialsType(data)
	if err != nil {
		return nil, err
	}
	return credentials.NewCredentialsFromJSON(t, data, opts)
}
