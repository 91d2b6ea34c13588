module github.com/prefect-go/prefect

go 1.26.8

require github.com/google/uuid v1.6.0

require go.uber.org/goleak v1.3.0
