// Package config loads Prefect 1 configuration exactly as Prefect 1.4.1
// does, so a user's ~/.prefect/config.toml, backend.toml and PREFECT__*
// environment give the same values here as in Python.
//
//	cfg, err := config.Load() // or config.Load(config.WithEnv(env), config.WithHome(dir))
//	api := cfg.String("cloud.api")
//	local := cfg.Bool("cloud.use_local_secrets")
//	secrets := cfg.Secrets() // context.secrets; names keep their case
//
// Load reads, later winning: built-in defaults (backend = "cloud",
// cloud.use_local_secrets = true, cloud.api = "${${backend}.endpoint}",
// server.endpoint = "${server.host}:${server.port}" = http://localhost:4200,
// logging.level = "INFO", tasks.defaults.max_retries = 0, ...); the user file
// ($PREFECT__USER_CONFIG_PATH, else ~/.prefect/config.toml; set to "" it is
// skipped); backend.toml ($PREFECT__BACKEND_CONFIG_PATH, else
// ~/.prefect/backend.toml); then every PREFECT__* variable. Files merge table
// by table; a missing file is fine. Every call reads everything again.
//
// A variable's name loses PREFECT__, splits on "__" and is lower-cased:
// PREFECT__CLOUD__API_KEY is cloud.api_key and PREFECT__BACKEND is backend.
// After a leading CONTEXT__SECRETS nothing else is lower-cased:
// PREFECT__CONTEXT__SECRETS__mY_KeY is secret "mY_KeY", and
// PREFECT__CONTEXT__SECRETS__A__B=v makes secret "A" the table {"B": v}.
//
// Values: every string from a file or variable is coerced after $VAR
// expansion: true/false in any case become bools, Python literals become
// values (10, -7.5, 0x10, 1_000, None, [1, 2], (1, 2), {'a': 1}, 'quoted'),
// and anything else stays a string. A variable's value is coerced twice, as
// in Prefect, so "'10'" ends up as the integer 10. Go types: int64 (*big.Int
// past int64), float64, complex128, string, []byte, bool, nil for None, []any
// for lists, tuples and sets, map[string]any for tables and dicts, time.Time
// for TOML dates, and time.Duration for an integer tasks.defaults.retry_delay
// (seconds). tasks.defaults.retry_delay and .timeout are absent when unset.
//
// Interpolation, after everything is merged: $VAR, ${VAR} and a leading ~ are
// expanded from the environment until stable (10 passes at most; unknown
// variables stay as written, though an unknown ${NAME} is then read as a key
// reference); then ${a.b} references to other keys, innermost first. A value that is one whole reference takes the referenced value and
// type (${server.port} is the int 4200); inside text the value is inserted as
// Python's str() would print it ("True", "None", "[1, 2]"); a missing key
// gives "".
//
// Files are TOML 1.1, read with github.com/BurntSushi/toml. The library
// spends time in n² on a value nested n levels deep or a key of n parts, so
// a light scan checks the depth and key limits below before it reads a file;
// within them it reads in time linear in the file's size, and Load as a
// whole takes time linear in the size of the files and variables it reads.
//
// Limits keep it so, each far past any real configuration: a file of at most
// MaxFileSize (1 MiB); values nested in a file at most MaxDepth (100) levels
// deep, each table, array and dotted-key part being a level, and variable
// names of at most 100 parts (a Python literal may nest 200 deep, Python's
// own limit, past which it stays a string); keys of at most MaxKeyLength (1024) bytes with their dotted
// path; interpolation that makes no value longer than MaxValueSize (1 MiB)
// and adds at most MaxInterpolated (16 MiB) in all; and, as in Python, no
// integer of more than 4300 digits in decimal text (a longer decimal literal
// stays a string; putting a longer integer into text is an error).
//
// Problems are *Error values naming the file (with line and column for TOML
// syntax and limits) or the variable, and the key: an unreadable file or a
// directory, bad TOML, a key used both as a section and as a value
// (PREFECT__CLOUD=x, or cloud = 1 in a file), a limit passed. Several
// problems in the files and variables are reported at once, one per line
// under a count ("config: 3 problems:"). Match the cause
// with errors.Is against ErrSyntax, ErrConflict, ErrDirectory, ErrExpansion,
// ErrLimit or fs.ErrPermission; errors.As reaches BurntSushi/toml's
// toml.ParseError for bad TOML. Error text never contains a configuration
// value, so a secret cannot leak through it: bad TOML shows the library's
// own reason with what it quotes of the file withheld ("expected value but
// found "…" instead").
//
// Python's rules (literal_eval, str(), repr() and truth) are those of
// internal/python, which follows CPython 3.11; this package holds Prefect's
// rules for loading.
//
// Where Go differs from Prefect: a directory or unreadable file is an error
// (Prefect skips a directory and crashes on the other); a section overwritten
// by a value is an error (Prefect silently drops the section); empty tables
// such as context.secrets are kept; keys that shadow Python Box methods
// ("keys", "copy", ...) are allowed; references resolve in sorted key order
// rather than Python's set order; sets keep first-seen order and dict keys
// become their str(); \N{...} escapes and "..." are left as strings, and a
// lone surrogate other than those os.environ makes of bytes that are not
// UTF-8 reads as U+FFFD; the limits above. TOML is read as BurntSushi reads
// it (Prefect used Python's toml package).
package config
