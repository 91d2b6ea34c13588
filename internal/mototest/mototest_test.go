package mototest_test

import (
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/prefect-go/prefect/internal/mototest"
	"github.com/prefect-go/prefect/internal/testwait"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }

func TestMainIsHermetic(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_REGION"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s is set (%d characters) under mototest.Main; want it unset", k, len(v))
		}
	}
	if os.Getenv("AWS_EC2_METADATA_DISABLED") != "true" {
		t.Errorf("AWS_EC2_METADATA_DISABLED is not true")
	}
	for _, k := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		fi, err := os.Stat(os.Getenv(k))
		if err != nil || fi.Size() != 0 {
			t.Errorf("%s: %v (size %v); want an empty file", k, err, fi)
		}
	}
}

func TestStartAnswersAndStopLeavesNothing(t *testing.T) {
	srv, err := mototest.Start(testwait.Context(t))
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/moto-api/")
	if err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	resp.Body.Close()
	pid := srv.Pid()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pid, 0); err != syscall.ESRCH {
		t.Errorf("after Stop, signalling the server's process group gives %v; want ESRCH (no process left)", err)
	}
	if _, err := http.Get(srv.URL + "/moto-api/"); err == nil {
		t.Errorf("the server still answers after Stop")
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}

func TestSharedIsShared(t *testing.T) {
	a := mototest.Shared(t)
	b := mototest.Shared(t)
	if a != b {
		t.Errorf("Shared started two servers")
	}
}
