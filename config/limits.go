package config

import (
	"fmt"

	"github.com/prefect-go/prefect/internal/python"
)

// Limits on what Load reads. Each is far beyond any real configuration (the
// built-in one is 3 levels deep, its longest key 33 bytes) and keeps the time
// Load takes in proportion to the size of what it reads. Past one, Load fails
// with an *Error that wraps ErrLimit, names the file and line (or the
// variable) and the key where it can, and says what the limit is.
const (
	// MaxFileSize is the largest config.toml or backend.toml Load reads.
	MaxFileSize = 1 << 20
	// MaxDepth is how deep values may nest in a file: a key at the top is
	// at level 1, and each table, array, inline table and dotted-key part
	// adds one ([a.b] c = [1] puts the 1 at level 4). A variable's name may
	// have at most this many parts.
	MaxDepth = 100
	// MaxKeyLength is the longest a key may be, in bytes, with its dotted
	// path from the top ("context.secrets.TOKEN" is 21).
	MaxKeyLength = 1024
	// MaxValueSize is the longest a string may grow to by $VAR expansion
	// and ${key} references (a value that was longer to begin with may not
	// grow at all).
	MaxValueSize = 1 << 20
	// MaxInterpolated is how much text $VAR expansion and ${key} references
	// may add to the configuration in all.
	MaxInterpolated = 16 << 20
)

var (
	depthLimitText = fmt.Sprintf("values nest more than %d levels deep (each table, array and dotted-key part is a level)", MaxDepth)
	keyLimitText   = fmt.Sprintf("a key is longer than %d bytes (counting its dotted path from the top)", MaxKeyLength)
)

func limitError(msg string) error { return &kindError{ErrLimit, msg} }

func fileSizeError(size int64) error {
	return limitError(fmt.Sprintf("the file is %d bytes; the limit is %d bytes (1 MiB)", size, MaxFileSize))
}

func valueSizeError(how string) error {
	return limitError(fmt.Sprintf("%s makes the value longer than %d bytes (1 MiB)", how, MaxValueSize))
}

func interpolatedError() error {
	return limitError(fmt.Sprintf("$VAR expansion and ${key} references add more than %d bytes (16 MiB) to the configuration", MaxInterpolated))
}

func hugeIntError() error {
	return limitError(fmt.Sprintf("an integer of more than %d digits cannot be put into text (Python's limit)", python.MaxIntDigits))
}
