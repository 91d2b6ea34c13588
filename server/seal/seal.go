// Package seal encrypts secret values at rest, with envelope encryption. It
// is how package server keeps each tenant's secrets, and what a program
// that embeds that server, implements its store or rotates its master key
// works with: a store keeps [Sealed] values byte for byte and never sees a
// value or a key.
//
// Each value is sealed with AES-256-GCM under a data key of its own, a random
// 256-bit key that seals nothing else, and that data key is wrapped, also with
// AES-256-GCM, under a [MasterKey]. The secret's tenant and name are bound to
// both as additional authenticated data, so a sealed value opens only in its
// own row: copied to another tenant or name, altered in any byte, or opened
// under another master key, it fails with [ErrOpen]; it never yields garbage.
//
//	ring, _, err := seal.LoadOrCreateKeyFile("/var/lib/prefect/master.key")
//	s, err := ring.Seal("acme", "DB_PASSWORD", []byte("hunter2"))
//	// store s.Version, s.KeyID, s.WrappedKey, s.Nonce and s.Ciphertext in the row
//	v, err := ring.Open("acme", "DB_PASSWORD", s)
//
// # Keys and keyrings
//
// A master key is made by [NewMasterKey], read from base64 by
// [ParseMasterKey], from a key file by [LoadKeyFile] and
// [LoadOrCreateKeyFile], or from an environment variable by [KeyFromEnv].
// A [Keyring] holds the current key, which seals, and older ones, which
// still open the rows they sealed; server.New takes one. A [KeyFile]
// follows its file as a rotation rewrites it, so that a running server
// (server.WithKeySource) picks up the new key without a restart.
//
// # Rotation
//
// A master key is rotated without re-encrypting any value. A [Keyring] holds
// the new key as current and the old ones by ID, so that rows sealed under
// any of them open; [Keyring.Rewrap] then re-wraps each old row's data key
// under the new key, after which the old key can be retired. Rewrapping keeps
// the data keys, so it is no remedy for a master key that leaked: for that,
// open each value and seal it again. With a key file, the steps are those of
// `prefect server rotate-key`:
//
//	old, err := seal.LoadKeyFile(path)
//	next, err := seal.NewMasterKey()
//	ring := seal.NewKeyring(next, old.Keys()...)
//	err = seal.WriteKeyFile(path, ring.Keys()...) // servers seal with next within KeyCheckInterval
//	n, err := store.RewrapAll(ctx, st, ring)      // every row under next
//	err = seal.WriteKeyFile(path, next)           // the old keys retired
//
// # What it never shows
//
// A MasterKey never shows itself: fmt (every verb), encoding/json,
// encoding.TextMarshaler users and log/slog print "seal.MasterKey(<id>)".
// Only [MasterKey.Encode] hands the key out. No error of this package holds a
// key or a plaintext; errors name the secret and its tenant.
//
// All functions and types are safe for concurrent use.
//
// # Format (version 1)
//
// The wrapping key is HKDF-SHA-256 of the master key (no salt, info
// "prefect-go/seal v1 data key wrapping"). WrappedKey is a 12-byte random
// nonce followed by the AES-256-GCM sealing of the 32-byte data key under
// the wrapping key; Nonce and Ciphertext are the AES-256-GCM sealing of the
// value under the data key. Both use as additional data
//
//	"prefect-go/seal\x00" | version (1 byte) | purpose ('K' for the data key,
//	'V' for the value) | len(tenant) (4 bytes, big endian) | tenant |
//	len(name) (4 bytes, big endian) | name
//
// The lengths make it unambiguous: ("ab", "c") and ("a", "bc") differ.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
)

// FormatVersion is the layout [Seal] writes, stored in [Sealed.Version] so
// that a later layout can tell old rows apart. It is bound to the
// ciphertexts: a row whose version was changed does not open.
const FormatVersion = 1

const (
	keySize     = 32 // AES-256
	nonceSize   = 12 // the GCM standard nonce
	tagSize     = 16
	wrappedSize = nonceSize + keySize + tagSize
)

// ErrOpen is matched by the error for a sealed value that does not
// authenticate: a wrong master key, a tenant or name other than the one it
// was sealed for, or any altered byte.
var ErrOpen = errors.New("cannot open sealed value")

// ErrUnknownKey is matched by the error for a sealed value whose master key
// (by [Sealed.KeyID]) is not the one given, or not in the [Keyring].
var ErrUnknownKey = errors.New("master key not loaded")

// ErrInvalidKey is matched by the error for a master key that does not
// parse: not standard base64, or not 32 bytes.
var ErrInvalidKey = errors.New("invalid master key")

// ErrNoKey is matched by the error for sealing, opening or rewrapping with
// the zero MasterKey, or with a Keyring that holds no key.
var ErrNoKey = errors.New("no master key (the zero MasterKey)")

// errNoKey is ErrNoKey as this package returns it.
var errNoKey = fmt.Errorf("seal: %w", ErrNoKey)

// A MasterKey is a 256-bit key that wraps data keys (a key-encryption key).
// It is identified by its ID, which rows store to name the key that sealed
// them; compare keys by ID, as == compares where they are held. The zero
// MasterKey holds no key: Seal, Open and Rewrap refuse it.
type MasterKey struct {
	// fmt prints what it cannot call methods on (a MasterKey in an
	// unexported field) by reflection: a pointer as its address, but, for a
	// verb that does not suit pointers (%s, %q), as "%!s(*seal.master=&{...})"
	// with the fields it points to. So the key sits behind two pointers: the
	// second prints as an address in either case.
	m *master
}

type master struct {
	id   string
	key  *[keySize]byte
	wrap cipher.AEAD // AES-256-GCM, random nonces, under the wrapping key
}

// wrapInfo derives the wrapping key from the master key (HKDF-SHA-256), so
// that the master key itself can later derive other keys without any two
// uses sharing a key.
const wrapInfo = "prefect-go/seal v1 data key wrapping"

// NewMasterKey returns a new random master key.
func NewMasterKey() (MasterKey, error) {
	var b [keySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return MasterKey{}, fmt.Errorf("seal: generating a master key: %w", err)
	}
	return newMaster(b)
}

func newMaster(b [keySize]byte) (MasterKey, error) {
	sum := sha256.Sum256(b[:])
	wk, err := hkdf.Key(sha256.New, b[:], nil, wrapInfo, keySize)
	if err != nil {
		return MasterKey{}, fmt.Errorf("seal: deriving the wrapping key: %w", err)
	}
	defer clear(wk)
	aead, err := newAEAD(wk)
	if err != nil {
		return MasterKey{}, err
	}
	return MasterKey{&master{id: hex.EncodeToString(sum[:8]), key: &b, wrap: aead}}, nil
}

// newAEAD returns AES-256-GCM under key with random nonces, which Seal
// prepends to its output and Open expects there. (It is also the one form of
// GCM that FIPS 140-only mode allows.)
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}

// ParseMasterKey parses a master key written as standard base64 (padded) of
// 32 bytes, as [MasterKey.Encode] writes it; surrounding white space is
// ignored. The error matches [ErrInvalidKey] and says what is wrong without
// quoting the input.
func ParseMasterKey(s string) (MasterKey, error) {
	k, err := parseMasterKey(s)
	if err != nil {
		return MasterKey{}, fmt.Errorf("seal: %w", err)
	}
	return k, nil
}

func parseMasterKey(s string) (MasterKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return MasterKey{}, fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	defer clear(b)
	if err != nil {
		// Not the decoder's error: say what is wanted, quoting nothing.
		return MasterKey{}, fmt.Errorf("%w: not standard base64 (want %d characters of A-Z, a-z, 0-9, + and /, ending in =)", ErrInvalidKey, base64.StdEncoding.EncodedLen(keySize))
	}
	if len(b) != keySize {
		return MasterKey{}, fmt.Errorf("%w: %d bytes once decoded, want %d (%d base64 characters)", ErrInvalidKey, len(b), keySize, base64.StdEncoding.EncodedLen(keySize))
	}
	return newMaster([keySize]byte(b))
}

// ID identifies the key: the first 8 bytes of the SHA-256 of the key, in
// hex (16 characters). It is not secret. Given the key file, the shell
// finds it with: base64 -d < FILE | sha256sum | cut -c1-16.
// The zero MasterKey has the ID "".
func (k MasterKey) ID() string {
	if k.m == nil {
		return ""
	}
	return k.m.id
}

// IsZero reports whether k is the zero MasterKey, which holds no key.
func (k MasterKey) IsZero() bool { return k.m == nil }

// Encode returns the key as standard base64, the form ParseMasterKey reads
// and the key file holds. It is the only way to get the key out of k: call
// it only to store the key.
func (k MasterKey) Encode() string {
	if k.m == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(k.m.key[:])
}

// String returns "seal.MasterKey(<id>)", never the key.
func (k MasterKey) String() string {
	if k.m == nil {
		return "seal.MasterKey(none)"
	}
	return "seal.MasterKey(" + k.m.id + ")"
}

// Format writes k.String() for every verb (%q quotes it).
func (k MasterKey) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		io.WriteString(f, strconv.Quote(k.String()))
		return
	}
	io.WriteString(f, k.String())
}

// GoString returns k.String(), for %#v.
func (k MasterKey) GoString() string { return k.String() }

// MarshalJSON encodes k as the JSON string k.String().
func (k MasterKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// MarshalText returns k.String(), for encoders that use
// encoding.TextMarshaler.
func (k MasterKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// LogValue makes log/slog show k.String().
func (k MasterKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

var (
	_ fmt.Formatter          = MasterKey{}
	_ fmt.Stringer           = MasterKey{}
	_ fmt.GoStringer         = MasterKey{}
	_ json.Marshaler         = MasterKey{}
	_ encoding.TextMarshaler = MasterKey{}
	_ slog.LogValuer         = MasterKey{}
	_ fmt.Stringer           = (*Keyring)(nil)
)

// Sealed is a sealed secret value, as a database row stores it. None of its
// fields is secret. The sizes are fixed but for Ciphertext: WrappedKey is 60
// bytes, Nonce 12, Ciphertext the length of the value plus 16.
type Sealed struct {
	// Version is the layout, FormatVersion.
	Version int
	// KeyID is the ID of the master key that wrapped the data key.
	KeyID string
	// WrappedKey is the data key sealed under the master key: a random
	// nonce, then the AES-256-GCM ciphertext and tag.
	WrappedKey []byte
	// Nonce is the nonce the value was sealed with.
	Nonce []byte
	// Ciphertext is the value sealed under the data key, followed by the
	// GCM tag.
	Ciphertext []byte
}

// Purposes, part of the additional data: the wrapped data key and the value
// never authenticate as each other.
const (
	purposeKey   = 'K'
	purposeValue = 'V'
)

// aadLabel starts the additional data; purposeAt is where the purpose byte
// sits, after the label and the version.
const (
	aadLabel  = "prefect-go/seal\x00"
	purposeAt = len(aadLabel) + 1
)

// additionalData returns what binds a sealed value to its row, in the
// layout the package doc gives. The purpose byte is set to purposeKey;
// callers change it in place.
func additionalData(version int, tenant, name string) ([]byte, error) {
	if uint64(len(tenant)) > math.MaxUint32 || uint64(len(name)) > math.MaxUint32 {
		return nil, errors.New("seal: tenant or name longer than 4 GiB")
	}
	b := make([]byte, 0, len(aadLabel)+2+4+len(tenant)+4+len(name))
	b = append(b, aadLabel...)
	b = append(b, byte(version), purposeKey)
	b = binary.BigEndian.AppendUint32(b, uint32(len(tenant)))
	b = append(b, tenant...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	return b, nil
}

// Seal seals plaintext for the secret name of tenant under a new data key,
// wrapped under k. Every call draws a new data key and new nonces, so
// sealing one value twice gives two different rows.
//
// Cost: two AES-256-GCM operations (one over 32 bytes), one AES key
// schedule and one allocation for the ciphertext beside a few small ones.
// A master key wraps at most 2^32 data keys (Seal and Rewrap calls) before
// random nonces risk repeating; rotate long before.
func Seal(k MasterKey, tenant, name string, plaintext []byte) (Sealed, error) {
	if k.m == nil {
		return Sealed{}, errNoKey
	}
	ad, err := additionalData(FormatVersion, tenant, name)
	if err != nil {
		return Sealed{}, err
	}
	var dek [keySize]byte
	defer clear(dek[:])
	if _, err := rand.Read(dek[:]); err != nil {
		return Sealed{}, fmt.Errorf("seal: generating a data key: %w", err)
	}
	value, err := newAEAD(dek[:])
	if err != nil {
		return Sealed{}, err
	}
	ad[purposeAt] = purposeValue
	out := value.Seal(nil, nil, plaintext, ad) // nonce | ciphertext | tag
	ad[purposeAt] = purposeKey
	wrapped := k.m.wrap.Seal(nil, nil, dek[:], ad)
	return Sealed{
		Version:    FormatVersion,
		KeyID:      k.m.id,
		WrappedKey: wrapped,
		Nonce:      out[:nonceSize:nonceSize],
		Ciphertext: out[nonceSize:],
	}, nil
}

// Open returns the value s holds, which must have been sealed for the secret
// name of tenant. The error matches [ErrUnknownKey] when s was sealed under
// another master key than k (by ID), and [ErrOpen] when s does not
// authenticate: another tenant or name, an unknown version, a wrong size or
// any altered byte. It never returns a partly decrypted value.
func Open(k MasterKey, tenant, name string, s Sealed) ([]byte, error) {
	dek, ad, err := unwrap(k, tenant, name, s)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	value, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	// The AEAD reads nonce and ciphertext as one slice, and decrypts in
	// place: one allocation, as Open with a separate nonce would make.
	buf := make([]byte, nonceSize+len(s.Ciphertext))
	copy(buf, s.Nonce)
	copy(buf[nonceSize:], s.Ciphertext)
	ad[purposeAt] = purposeValue
	pt, err := value.Open(buf[:0], nil, buf, ad)
	if err != nil {
		return nil, openError(tenant, name, "the value does not authenticate: its nonce or ciphertext was altered or comes from another row")
	}
	return pt[:len(pt):len(pt)], nil
}

// Rewrap returns s with its data key wrapped under new instead of old, for
// key rotation: the value's nonce and ciphertext are not touched (the result
// shares them with s) and the value is never decrypted. It checks the
// wrapped data key, not the value: a value altered in the row is found out
// by Open. Errors are those of [Open] for s under old.
func Rewrap(old, new MasterKey, tenant, name string, s Sealed) (Sealed, error) {
	if new.m == nil {
		return Sealed{}, errNoKey
	}
	dek, ad, err := unwrap(old, tenant, name, s)
	if err != nil {
		return Sealed{}, err
	}
	defer clear(dek)
	s.KeyID = new.m.id
	s.WrappedKey = new.m.wrap.Seal(nil, nil, dek, ad)
	return s, nil
}

// unwrap checks s and returns its data key, with the additional data for
// its row (purpose: key).
func unwrap(k MasterKey, tenant, name string, s Sealed) (dek, ad []byte, err error) {
	if k.m == nil {
		return nil, nil, errNoKey
	}
	if s.Version != FormatVersion {
		return nil, nil, openError(tenant, name, fmt.Sprintf("unknown format version %d (this program reads version %d)", s.Version, FormatVersion))
	}
	if s.KeyID != k.m.id {
		return nil, nil, fmt.Errorf("seal: secret %q of tenant %q is sealed under master key %.64q: %w (the key given is %s)", name, tenant, s.KeyID, ErrUnknownKey, k.m.id)
	}
	switch {
	case len(s.WrappedKey) != wrappedSize:
		return nil, nil, openError(tenant, name, fmt.Sprintf("the wrapped data key is %d bytes, want %d", len(s.WrappedKey), wrappedSize))
	case len(s.Nonce) != nonceSize:
		return nil, nil, openError(tenant, name, fmt.Sprintf("the nonce is %d bytes, want %d", len(s.Nonce), nonceSize))
	case len(s.Ciphertext) < tagSize:
		return nil, nil, openError(tenant, name, fmt.Sprintf("the ciphertext is %d bytes, shorter than its %d-byte tag", len(s.Ciphertext), tagSize))
	}
	ad, err = additionalData(s.Version, tenant, name)
	if err != nil {
		return nil, nil, err
	}
	dek, err = k.m.wrap.Open(nil, nil, s.WrappedKey, ad)
	if err != nil {
		return nil, nil, openError(tenant, name, "the wrapped data key does not authenticate: a wrong master key, a row sealed for another tenant or name, or altered bytes")
	}
	return dek, ad, nil
}

func openError(tenant, name, why string) error {
	return fmt.Errorf("seal: secret %q of tenant %q: %w: %s", name, tenant, ErrOpen, why)
}

// A Keyring holds the current master key, which seals, and older ones, which
// still open the rows they sealed: during a rotation, a server holds
// NewKeyring(newKey, oldKey). A Keyring does not change once made.
type Keyring struct {
	current MasterKey
	byID    map[string]MasterKey
	ids     []string // current first, then old, as given: for messages
}

// NewKeyring returns a keyring that seals with current and opens rows sealed
// under current or any of old. Zero keys in old are left out.
func NewKeyring(current MasterKey, old ...MasterKey) *Keyring {
	r := &Keyring{current: current, byID: make(map[string]MasterKey, 1+len(old))}
	for _, k := range append([]MasterKey{current}, old...) {
		if k.m == nil {
			continue
		}
		if _, dup := r.byID[k.m.id]; !dup {
			r.byID[k.m.id] = k
			r.ids = append(r.ids, k.m.id)
		}
	}
	return r
}

// Current returns the key that seals.
func (r *Keyring) Current() MasterKey {
	if r == nil {
		return MasterKey{}
	}
	return r.current
}

// Key returns the key with the given ID, if the keyring holds it.
func (r *Keyring) Key(id string) (MasterKey, bool) {
	if r == nil {
		return MasterKey{}, false
	}
	k, ok := r.byID[id]
	return k, ok
}

// Seal seals plaintext under the current key; see [Seal].
func (r *Keyring) Seal(tenant, name string, plaintext []byte) (Sealed, error) {
	return Seal(r.Current(), tenant, name, plaintext)
}

// Open opens s with whichever key of the keyring sealed it; see [Open]. The
// error matches [ErrUnknownKey] when the keyring does not hold that key.
func (r *Keyring) Open(tenant, name string, s Sealed) ([]byte, error) {
	k, err := r.keyFor(tenant, name, s)
	if err != nil {
		return nil, err
	}
	return Open(k, tenant, name, s)
}

// Rewrap returns s with its data key wrapped under the current key, or s as
// it is when the current key wrapped it already (unchecked). A rotation
// rewraps every row whose KeyID is not Current().ID(); see [Rewrap].
func (r *Keyring) Rewrap(tenant, name string, s Sealed) (Sealed, error) {
	cur := r.Current()
	if cur.m == nil {
		return Sealed{}, errNoKey
	}
	if s.KeyID == cur.m.id {
		return s, nil
	}
	k, err := r.keyFor(tenant, name, s)
	if err != nil {
		return Sealed{}, err
	}
	return Rewrap(k, cur, tenant, name, s)
}

func (r *Keyring) keyFor(tenant, name string, s Sealed) (MasterKey, error) {
	if r == nil || len(r.ids) == 0 {
		return MasterKey{}, errNoKey
	}
	k, ok := r.byID[s.KeyID]
	if !ok {
		return MasterKey{}, fmt.Errorf("seal: secret %q of tenant %q is sealed under master key %.64q: %w (the keyring holds %s)", name, tenant, s.KeyID, ErrUnknownKey, strings.Join(r.ids, ", "))
	}
	return k, nil
}

// Keys returns the keys held, current first, as a key file lists them.
func (r *Keyring) Keys() []MasterKey {
	if r == nil {
		return nil
	}
	out := make([]MasterKey, len(r.ids))
	for i, id := range r.ids {
		out[i] = r.byID[id]
	}
	return out
}

// String lists the IDs of the keys held, current first: never a key.
func (r *Keyring) String() string {
	if r == nil {
		return "seal.Keyring(nil)"
	}
	return "seal.Keyring(" + strings.Join(r.ids, ", ") + ")"
}
