module github.com/prefect-go/prefect

go 1.26.8

require github.com/google/uuid v1.6.0

require (
	github.com/BurntSushi/toml v1.6.0
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.25.0
)
