package aws

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// partition is one AWS partition: a set of regions with its own endpoints,
// identities and ARNs, which credentials of another partition cannot reach.
// The region patterns and DNS suffixes are those of the AWS SDK's
// partitions.json (aws-sdk-go-v2 internal/endpoints/awsrulesfn).
type partition struct {
	id        string
	regions   string // the regionRegex
	dnsSuffix string
	// bedrockKeys is set for the partitions where AWS documents Amazon
	// Bedrock API keys ("Supported Regions … for Amazon Bedrock API keys":
	// commercial regions and us-gov-east-1, us-gov-west-1).
	bedrockKeys bool
}

var partitions = []partition{
	{id: "aws", regions: `^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$`, dnsSuffix: "amazonaws.com", bedrockKeys: true},
	{id: "aws-us-gov", regions: `^us\-gov\-\w+\-\d+$`, dnsSuffix: "amazonaws.com", bedrockKeys: true},
	{id: "aws-cn", regions: `^cn\-\w+\-\d+$`, dnsSuffix: "amazonaws.com.cn"},
	{id: "aws-eusc", regions: `^eusc\-(de)\-\w+\-\d+$`, dnsSuffix: "amazonaws.eu"},
	{id: "aws-iso", regions: `^us\-iso\-\w+\-\d+$`, dnsSuffix: "c2s.ic.gov"},
	{id: "aws-iso-b", regions: `^us\-isob\-\w+\-\d+$`, dnsSuffix: "sc2s.sgov.gov"},
	{id: "aws-iso-e", regions: `^eu\-isoe\-\w+\-\d+$`, dnsSuffix: "cloud.adc-e.uk"},
	{id: "aws-iso-f", regions: `^us\-isof\-\w+\-\d+$`, dnsSuffix: "csp.hci.ic.gov"},
}

// partitionPatterns compiles the patterns on first use, not at start-up.
var partitionPatterns = sync.OnceValue(func() []*regexp.Regexp {
	res := make([]*regexp.Regexp, len(partitions))
	for i, p := range partitions {
		res[i] = regexp.MustCompile(p.regions)
	}
	return res
})

// regionPartition returns the partition of region, and false for a region
// of no partition the SDK knows.
func regionPartition(region string) (partition, bool) {
	for i, re := range partitionPatterns() {
		if re.MatchString(region) {
			return partitions[i], true
		}
	}
	return partition{}, false
}

// checkBedrockRegion reports a region where Bedrock API keys cannot be used:
// one of a partition AWS does not document them in (the China regions, the
// isolated ones), or of no partition at all.
func checkBedrockRegion(region string) error {
	p, ok := regionPartition(region)
	if !ok {
		return fmt.Errorf("region %s is in no AWS partition (aws, aws-us-gov, aws-cn, …); check its spelling", region)
	}
	if !p.bedrockKeys {
		var documented []string
		for _, q := range partitions {
			if q.bedrockKeys {
				documented = append(documented, q.id)
			}
		}
		return fmt.Errorf("region %s is in partition %s, where AWS does not document Amazon Bedrock API keys (only in %s); use the endpoint's own key with auth type static, or a region of those partitions", region, p.id, strings.Join(documented, " and "))
	}
	return nil
}

// arnPartition returns the partition an ARN names (arn:PARTITION:…).
func arnPartition(arn string) string {
	parts := strings.SplitN(arn, ":", 3)
	if len(parts) < 3 {
		return ""
	}
	return parts[1]
}

// checkRolePartition reports a role of another partition than region's:
// STS in one partition cannot assume a role of another.
func checkRolePartition(roleARN, region string) error {
	p, ok := regionPartition(region)
	if !ok {
		return nil
	}
	if rp := arnPartition(roleARN); rp != p.id {
		return fmt.Errorf("role_arn is a role of partition %s, but region %s is in partition %s: STS there cannot assume it; use a role ARN of arn:%s:iam::… or a region of %s", rp, region, p.id, p.id, rp)
	}
	return nil
}
