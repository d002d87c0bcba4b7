package bench

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	awsauth "github.com/byokcred/byokcred/auth/aws"
)

// BenchmarkBedrockKeyMint is figure 12: what minting a short-term Bedrock
// API key costs (local SigV4 presigning, no network), once per key
// lifetime, against SigV4-signing one Bedrock runtime request's headers —
// the cost a SigV4 client pays on every request instead.
//
//   - byokcred-NewKey: awsauth.NewKey with temporary credentials.
//   - sigv4-SignHTTP: v4.Signer.SignHTTP of a POST to
//     bedrock-runtime/openai/v1/chat/completions (payload hash given).
func BenchmarkBedrockKeyMint(b *testing.B) {
	creds := aws.Credentials{AccessKeyID: "ASIABENCHMARK0000000", SecretAccessKey: "benchsecret", SessionToken: "benchsession", CanExpire: true, Expires: time.Now().Add(time.Hour)}
	ctx := context.Background()
	b.Run("byokcred-NewKey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := awsauth.NewKey(ctx, creds, "us-east-1", time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sigv4-SignHTTP", func(b *testing.B) {
		signer := v4.NewSigner()
		const payloadHash = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1/chat/completions", http.NoBody)
			req.Header.Set("Content-Type", "application/json")
			if err := signer.SignHTTP(ctx, creds, req, payloadHash, "bedrock", "us-east-1", time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
