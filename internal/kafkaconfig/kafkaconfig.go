// Package kafkaconfig builds the sarama client configuration every ordertable component uses
// to reach Kafka: broker list, protocol version, SASL (PLAIN, SCRAM-SHA-256/512) and TLS, plus
// the settings of the idempotent producer the outbox relay depends on.
package kafkaconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/spf13/pflag"
)

// SASL mechanisms accepted by Config.SASLMechanism.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Config says how to reach the Kafka cluster.
type Config struct {
	// Brokers are host:port bootstrap addresses. Required.
	Brokers []string
	// ClientID names this process in broker logs and quotas. Default "ordertable".
	ClientID string
	// SASLMechanism is "", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty disables SASL.
	SASLMechanism string
	// SASLUser and SASLPassword are the SASL credentials.
	SASLUser     string
	SASLPassword string
	// TLS enables TLS to the brokers with the system roots (plus TLSCAFile when set).
	TLS bool
	// TLSCAFile is an optional PEM bundle of extra trusted CAs.
	TLSCAFile string
	// TLSInsecureSkipVerify disables certificate checks; for local test clusters only.
	TLSInsecureSkipVerify bool
	// DialTimeout bounds connecting to a broker. Default 5s.
	DialTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.ClientID == "" {
		c.ClientID = "ordertable"
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	c.SASLMechanism = strings.ToUpper(strings.TrimSpace(c.SASLMechanism))
	var bs []string
	for _, b := range c.Brokers {
		if b = strings.TrimSpace(b); b != "" {
			bs = append(bs, b)
		}
	}
	c.Brokers = bs
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka: no brokers configured (--kafka-brokers / KAFKA_BROKERS)"))
	}
	switch c.SASLMechanism {
	case "":
		if c.SASLUser != "" || c.SASLPassword != "" {
			errs = append(errs, errors.New("kafka: SASL user/password given without --kafka-sasl-mechanism"))
		}
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		if c.SASLUser == "" {
			errs = append(errs, fmt.Errorf("kafka: SASL %s needs --kafka-sasl-user", c.SASLMechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("kafka: unknown SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", c.SASLMechanism))
	}
	if c.TLSCAFile != "" && !c.TLS {
		errs = append(errs, errors.New("kafka: a TLS CA file is set but TLS is off"))
	}
	return errors.Join(errs...)
}

// Version is the Kafka protocol version ordertable speaks; the embedded broker and Kafka 3.x
// both support it.
var Version = sarama.V3_6_0_0

// Sarama returns a base client configuration (consumers, admin) for c.
func (c Config) Sarama() (*sarama.Config, error) {
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	sc := sarama.NewConfig()
	sc.Version = Version
	sc.ClientID = c.ClientID
	sc.Net.DialTimeout = c.DialTimeout
	sc.Metadata.Retry.Max = 3
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond
	if c.SASLMechanism != "" {
		sc.Net.SASL.Enable = true
		sc.Net.SASL.Handshake = true
		sc.Net.SASL.User = c.SASLUser
		sc.Net.SASL.Password = c.SASLPassword
		switch c.SASLMechanism {
		case MechanismPlain:
			sc.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		case MechanismSCRAMSHA256:
			sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAMClient(sha256Hash) }
		case MechanismSCRAMSHA512:
			sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAMClient(sha512Hash) }
		}
	}
	if c.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSInsecureSkipVerify} //nolint:gosec // opt-in for test clusters
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka: read TLS CA file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka: TLS CA file %s holds no PEM certificate", c.TLSCAFile)
			}
			tc.RootCAs = pool
		}
		sc.Net.TLS.Enable = true
		sc.Net.TLS.Config = tc
	}
	return sc, nil
}

// Producer returns the configuration of an idempotent, ordered, fully acknowledged producer:
// acks=all, one in-flight request per broker (so retries cannot reorder), sync-style success
// reporting, and the default hash partitioner on the message key.
func (c Config) Producer() (*sarama.Config, error) {
	sc, err := c.Sarama()
	if err != nil {
		return nil, err
	}
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Net.MaxOpenRequests = 1
	sc.Producer.Retry.Max = 5
	sc.Producer.Retry.Backoff = 100 * time.Millisecond
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Compression = sarama.CompressionNone
	sc.Producer.MaxMessageBytes = 1 << 20
	return sc, nil
}

// BindFlags defines the shared Kafka flags on fs, writing into c. Every command that talks to
// Kafka calls it so the flag names (and their environment fallbacks) stay identical.
func BindFlags(fs *pflag.FlagSet, c *Config, defaultBrokers string) {
	fs.StringSliceVar(&c.Brokers, "kafka-brokers", splitNonEmpty(defaultBrokers), "Kafka bootstrap brokers, comma separated host:port")
	fs.StringVar(&c.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	fs.StringVar(&c.SASLUser, "kafka-sasl-user", "", "SASL user name")
	fs.StringVar(&c.SASLPassword, "kafka-sasl-password", "", "SASL password")
	fs.BoolVar(&c.TLS, "kafka-tls", false, "connect to the brokers over TLS")
	fs.StringVar(&c.TLSCAFile, "kafka-tls-ca-file", "", "PEM file of extra CAs trusted for Kafka TLS")
}

func splitNonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
