package seal_test

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prefect-go/prefect/server/seal"
)

func Example() {
	dir, err := os.MkdirTemp("", "seal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The server loads its master key once, at start.
	ring, created, err := seal.LoadOrCreateKeyFile(filepath.Join(dir, "master.key"))
	if err != nil {
		log.Fatal(err)
	}
	k := ring.Current()
	fmt.Println("new key file:", created)

	// Writing a secret: the row stores the five fields of s.
	s, err := seal.Seal(k, "acme", "DB_PASSWORD", []byte("hunter2"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("version %d, key %v, wrapped key %d bytes, nonce %d, ciphertext %d\n",
		s.Version, s.KeyID == k.ID(), len(s.WrappedKey), len(s.Nonce), len(s.Ciphertext))

	// Reading it back, for the same tenant and name.
	v, err := seal.Open(k, "acme", "DB_PASSWORD", s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", v)

	// The same row under another name does not open.
	_, err = seal.Open(k, "acme", "API_TOKEN", s)
	fmt.Println(errors.Is(err, seal.ErrOpen))
	// Output:
	// new key file: true
	// version 1, key true, wrapped key 60 bytes, nonce 12, ciphertext 23
	// hunter2
	// true
}

// Rotating the master key: rows sealed under the old key keep opening while
// they are rewrapped, one by one, under the new one.
func ExampleKeyring() {
	old, _ := seal.NewMasterKey()
	row, _ := seal.Seal(old, "acme", "DB_PASSWORD", []byte("hunter2"))

	next, _ := seal.NewMasterKey()
	ring := seal.NewKeyring(next, old) // seals with next, opens both
	v, _ := ring.Open("acme", "DB_PASSWORD", row)
	fmt.Printf("during the rotation: %s\n", v)

	if row.KeyID != ring.Current().ID() {
		row, _ = ring.Rewrap("acme", "DB_PASSWORD", row)
	}

	// Every row rewrapped, the old key is retired.
	ring = seal.NewKeyring(next)
	v, err := ring.Open("acme", "DB_PASSWORD", row)
	fmt.Printf("after: %s %v\n", v, err)
	// Output:
	// during the rotation: hunter2
	// after: hunter2 <nil>
}

// A master key prints as its ID, whatever prints it.
func ExampleMasterKey_String() {
	k, err := seal.ParseMasterKey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=") // 32 zero bytes: an example, never a key
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(k)
	fmt.Printf("%#v %q\n", k, k)
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	log.Info("key loaded", "key", k)
	// Output:
	// seal.MasterKey(66687aadf862bd77)
	// seal.MasterKey(66687aadf862bd77) "seal.MasterKey(66687aadf862bd77)"
	// level=INFO msg="key loaded" key=seal.MasterKey(66687aadf862bd77)
}

func ExampleParseMasterKey() {
	_, err := seal.ParseMasterKey("c2hvcnQ=") // 5 bytes
	fmt.Println(err)
	// Output:
	// seal: invalid master key: 5 bytes once decoded, want 32 (44 base64 characters)
}
