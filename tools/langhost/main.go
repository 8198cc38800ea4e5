// Command pulumi-language-python is a minimal Pulumi language host for Python programs, built
// by scripts/pulumi-cli.sh beside the CLI it builds (the upstream host is a Go module the
// module proxy here does not serve).
//
// The CLI starts it with the engine's address, reads the port it serves on from its first line
// of output, and asks it to run the program. Running means: the project's Python (Pulumi.yaml's
// `virtualenv` option, else $PULUMI_PYTHON_CMD, else python3) runs the SDK's own
// pulumi-language-python-exec script, installed beside this binary, with the run's settings
// as flags and its configuration in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS, in the
// directory the CLI names. Plugins are not reported (GetRequiredPackages answers none), so
// the CLI loads each one when the program first needs it.
//
// Bump LANGUAGE_HOST_REVISION in scripts/pulumi-cli.sh with every change here.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The exec script exits with this code after it has reported the error to the engine itself.
const reportedExitCode = 32

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execScript    string
}

func main() {
	flag.Parse()
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	host := &languageHost{
		engineAddress: flag.Arg(0),
		execScript:    filepath.Join(filepath.Dir(self), "pulumi-language-python-exec"),
	}
	if _, err := os.Stat(host.execScript); err != nil {
		fail(fmt.Errorf("the exec script must be installed beside this host: %w", err))
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *languageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *languageHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// pythonFor is the interpreter of the project: its virtualenv's, if Pulumi.yaml names one.
func pythonFor(info *pulumirpc.ProgramInfo) string {
	if venv, ok := info.GetOptions().AsMap()["virtualenv"].(string); ok && venv != "" {
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(info.GetRootDirectory(), venv)
		}
		return filepath.Join(venv, "bin", "python")
	}
	if cmd := os.Getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		return cmd
	}
	return "python3"
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	program := req.GetProgram()
	if info.GetProgramDirectory() != "" {
		program = filepath.Join(info.GetProgramDirectory(), info.GetEntryPoint())
	}
	if program == "" {
		program = "."
	}
	args := []string{
		"-u", h.execScript,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
	}
	if org := req.GetOrganization(); org != "" {
		args = append(args, "--organization", org)
	}
	if root := info.GetRootDirectory(); root != "" {
		args = append(args, "--root_directory", root)
	}
	args = append(append(args, program), req.GetArgs()...)

	// A stack without config sends none: the exec script wants an object, never null.
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, pythonFor(info), args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = append(os.Environ(), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	// The CLI shows what the program prints: it reads this process's own output.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Run()
	var exited *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exited) && exited.ExitCode() == reportedExitCode:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exited):
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Python program exited with code %d", exited.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run %s: %v", pythonFor(info), err)}, nil
	}
}
