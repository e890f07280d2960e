package kafkaconfig

import (
	"strings"
	"testing"

	"github.com/IBM/sarama"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"valid", Config{Brokers: []string{"a:9092"}}, nil},
		{"no brokers", Config{Brokers: []string{" ", ""}}, []string{"no brokers"}},
		{"unknown mechanism", Config{Brokers: []string{"a:1"}, SASLMechanism: "GSSAPI", SASLUser: "u"}, []string{"unknown SASL mechanism"}},
		{"scram without user", Config{Brokers: []string{"a:1"}, SASLMechanism: "scram-sha-512"}, []string{"needs --kafka-sasl-user"}},
		{"user without mechanism", Config{Brokers: []string{"a:1"}, SASLUser: "u"}, []string{"without --kafka-sasl-mechanism"}},
		{"ca without tls", Config{Brokers: []string{"a:1"}, TLSCAFile: "/x.pem"}, []string{"TLS is off"}},
		{"everything wrong at once", Config{SASLMechanism: "X", TLSCAFile: "/x"}, []string{"no brokers", "unknown SASL", "TLS is off"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got valid, want errors %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("got %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestProducerSettings(t *testing.T) {
	sc, err := Config{Brokers: []string{"a:1"}, SASLMechanism: "SCRAM-SHA-256", SASLUser: "u", SASLPassword: "p", TLS: true}.Producer()
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Producer.Idempotent || sc.Producer.RequiredAcks != sarama.WaitForAll || sc.Net.MaxOpenRequests != 1 || !sc.Producer.Return.Successes {
		t.Fatalf("producer is not idempotent/acks=all/one in flight: %+v", sc.Producer)
	}
	if !sc.Net.SASL.Enable || sc.Net.SASL.Mechanism != sarama.SASLTypeSCRAMSHA256 || sc.Net.SASL.SCRAMClientGeneratorFunc == nil || !sc.Net.TLS.Enable {
		t.Fatalf("SASL/TLS not configured: %+v", sc.Net)
	}
	if err := sc.Validate(); err != nil {
		t.Fatalf("sarama rejects the config: %v", err)
	}
}

// The SCRAM-SHA-256 exchange of RFC 7677 section 3.
func TestSCRAMRFC7677(t *testing.T) {
	c := newSCRAMClient(sha256Hash)
	if err := c.Begin("user", "pencil", ""); err != nil {
		t.Fatal(err)
	}
	c.nonce = "rOprNGfwEbeRWgbNEkqO"
	first, err := c.Step("")
	if err != nil || first != "n,,n=user,r=rOprNGfwEbeRWgbNEkqO" {
		t.Fatalf("client-first: got %q, %v", first, err)
	}
	final, err := c.Step("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
	want := "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	if err != nil || final != want {
		t.Fatalf("client-final: got %q, %v; want %q", final, err, want)
	}
	if _, err := c.Step("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="); err != nil || !c.Done() {
		t.Fatalf("server-final: %v, done %v", err, c.Done())
	}
	// A forged server signature is refused.
	c2 := newSCRAMClient(sha256Hash)
	_ = c2.Begin("user", "pencil", "")
	c2.nonce = "rOprNGfwEbeRWgbNEkqO"
	_, _ = c2.Step("")
	_, _ = c2.Step("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
	if _, err := c2.Step("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="); err == nil || c2.Done() {
		t.Fatal("accepted a wrong server signature")
	}
}
