package gcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/byokcred/byokcred/secretfile"
)

// maxReferencedFile caps a file a credentials JSON names (a subject token,
// an executable's output, a certificate config, a CA): the SDK reads the
// subject token through a 1 MiB limit of its own; the cap here is the same.
const maxReferencedFile = 1 << 20

// credentialsFileRefs are the keys of a credentials JSON that name a file
// the SDK opens when it fetches a token.
type credentialsFileRefs struct {
	CredentialSource *struct {
		File       string `json:"file"`
		Executable *struct {
			OutputFile string `json:"output_file"`
		} `json:"executable"`
		Certificate *struct {
			CertificateConfigLocation string `json:"certificate_config_location"`
			TrustChainPath            string `json:"trust_chain_path"`
		} `json:"certificate"`
	} `json:"credential_source"`
	// CACertPath is a gdch_service_account's CA.
	CACertPath string `json:"ca_cert_path"`
	// SourceCredentials is an impersonated_service_account's base
	// credential, which may name files of its own.
	SourceCredentials json.RawMessage `json:"source_credentials"`
}

// referencedFiles lists the files data names, as "key path" pairs.
func referencedFiles(data []byte, prefix string) [][2]string {
	var refs credentialsFileRefs
	if json.Unmarshal(data, &refs) != nil {
		return nil // the SDK reports a malformed file
	}
	var out [][2]string
	add := func(key, path string) {
		if path != "" {
			out = append(out, [2]string{prefix + key, path})
		}
	}
	if cs := refs.CredentialSource; cs != nil {
		add("credential_source.file", cs.File)
		if cs.Executable != nil {
			add("credential_source.executable.output_file", cs.Executable.OutputFile)
		}
		if cs.Certificate != nil {
			add("credential_source.certificate.certificate_config_location", cs.Certificate.CertificateConfigLocation)
			add("credential_source.certificate.trust_chain_path", cs.Certificate.TrustChainPath)
		}
	}
	add("ca_cert_path", refs.CACertPath)
	if len(refs.SourceCredentials) > 0 {
		out = append(out, referencedFiles(refs.SourceCredentials, prefix+"source_credentials.")...)
	}
	return out
}

// checkReferencedFiles checks each file a credentials JSON names under
// secretfile's rules before the SDK opens it — it opens them blocking and
// cannot be interrupted there (a FIFO as credential_source.file hung
// every token fetch). A file that does not exist is left to the SDK,
// which reports it (an executable's output file is often absent).
func checkReferencedFiles(data []byte) error {
	for _, ref := range referencedFiles(data, "") {
		f, err := secretfile.OpenLimited(ref[1], maxReferencedFile)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s %s: %s; point %s at a regular file of at most %d MiB", ref[0], ref[1], secretfile.Reason(err), ref[0], maxReferencedFile>>20)
		}
		f.Close()
	}
	return nil
}
