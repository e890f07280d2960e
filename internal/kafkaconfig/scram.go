package kafkaconfig

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/IBM/sarama"
)

// scramClient is a SCRAM (RFC 5802) client for sarama, written against the standard library so
// SASL/SCRAM needs no extra dependency. It does not implement channel binding, which Kafka
// does not use.
type scramClient struct {
	newHash  func() hash.Hash
	user     string
	password string
	authzID  string
	nonce    string
	first    string // client-first-message-bare
	step     int
	serverSg []byte
	done     bool
}

var _ sarama.SCRAMClient = (*scramClient)(nil)

func sha256Hash() hash.Hash { return sha256.New() }
func sha512Hash() hash.Hash { return sha512.New() }

func newSCRAMClient(h func() hash.Hash) *scramClient { return &scramClient{newHash: h} }

func (s *scramClient) Begin(user, password, authzID string) error {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("scram: nonce: %w", err)
	}
	s.user, s.password, s.authzID = user, password, authzID
	s.nonce = base64.RawStdEncoding.EncodeToString(b)
	s.step, s.done = 0, false
	return nil
}

func scramEscape(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func (s *scramClient) Step(challenge string) (string, error) {
	s.step++
	switch s.step {
	case 1:
		s.first = "n=" + scramEscape(s.user) + ",r=" + s.nonce
		gs2 := "n,"
		if s.authzID != "" {
			gs2 += "a=" + scramEscape(s.authzID)
		}
		return gs2 + "," + s.first, nil
	case 2:
		return s.final(challenge)
	case 3:
		attrs := parseSCRAM(challenge)
		if e, ok := attrs["e"]; ok {
			return "", fmt.Errorf("scram: server error: %s", e)
		}
		v, err := base64.StdEncoding.DecodeString(attrs["v"])
		if err != nil || !hmac.Equal(v, s.serverSg) {
			return "", errors.New("scram: server signature mismatch")
		}
		s.done = true
		return "", nil
	}
	return "", errors.New("scram: unexpected extra challenge")
}

func (s *scramClient) final(serverFirst string) (string, error) {
	attrs := parseSCRAM(serverFirst)
	nonce, salt64, iterStr := attrs["r"], attrs["s"], attrs["i"]
	if !strings.HasPrefix(nonce, s.nonce) || len(nonce) == len(s.nonce) {
		return "", errors.New("scram: server nonce does not extend the client nonce")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		return "", fmt.Errorf("scram: salt: %w", err)
	}
	iter, err := strconv.Atoi(iterStr)
	if err != nil || iter < 1 {
		return "", fmt.Errorf("scram: bad iteration count %q", iterStr)
	}
	keyLen := s.newHash().Size()
	salted, err := pbkdf2.Key(s.newHash, s.password, salt, iter, keyLen)
	if err != nil {
		return "", fmt.Errorf("scram: pbkdf2: %w", err)
	}
	clientKey := s.hmac(salted, "Client Key")
	h := s.newHash()
	h.Write(clientKey)
	storedKey := h.Sum(nil)
	gs2 := "n,"
	if s.authzID != "" {
		gs2 += "a=" + scramEscape(s.authzID)
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2+",")) + ",r=" + nonce
	authMsg := s.first + "," + serverFirst + "," + withoutProof
	sig := s.hmac(storedKey, authMsg)
	proof := make([]byte, len(clientKey))
	for i := range clientKey {
		proof[i] = clientKey[i] ^ sig[i]
	}
	s.serverSg = s.hmac(s.hmac(salted, "Server Key"), authMsg)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

func (s *scramClient) hmac(key []byte, msg string) []byte {
	m := hmac.New(s.newHash, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (s *scramClient) Done() bool { return s.done }

func parseSCRAM(msg string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(msg, ",") {
		if k, v, ok := strings.Cut(part, "="); ok && len(k) == 1 {
			out[k] = v
		}
	}
	return out
}
