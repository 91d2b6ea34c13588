package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAgentDeathKillsTheFlow: an agent killed outright, with no chance to
// shut down, takes its flow-run process with it (Pdeathsig).
func TestAgentDeathKillsTheFlow(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	agent := exec.Command(exe, pidFile)
	agent.Env = append(os.Environ(), childEnv+"=agent", "GORACE=atexit_sleep_ms=0")
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	flow := readPIDs(t, pidFile)[0]
	if err := agent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	agent.Wait()
	gone(t, flow)
}
