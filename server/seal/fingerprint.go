package seal

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// fingerprintInfo derives the fingerprint key from the master key, apart
// from the wrapping key (see wrapInfo).
const fingerprintInfo = "prefect-go/seal v1 fingerprint"

// Fingerprint returns a keyed digest (HMAC-SHA-256 under a key derived
// from the current master key) of data for tenant, in hex: equal data give
// equal fingerprints under one key, and a fingerprint kept beside sealed
// values tells nothing of data to whoever lacks the key, unlike a plain
// hash, which lets short values be guessed offline. A new current key
// gives new fingerprints.
func (r *Keyring) Fingerprint(tenant string, data []byte) (string, error) {
	k := r.Current()
	if k.m == nil {
		return "", errNoKey
	}
	fk, err := hkdf.Key(sha256.New, k.m.key[:], nil, fingerprintInfo, keySize)
	if err != nil {
		return "", errors.New("seal: deriving the fingerprint key")
	}
	defer clear(fk)
	ad, err := additionalData(FormatVersion, tenant, "fingerprint")
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, fk)
	mac.Write(ad)
	mac.Write(data)
	return hex.EncodeToString(mac.Sum(nil)), nil
}
