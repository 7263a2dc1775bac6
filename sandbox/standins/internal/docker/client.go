package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"kboot/sandbox/standins/internal/events"
)

const clientUsage = `Usage: docker [OPTIONS] COMMAND

Sandbox stand-in for the docker 1.13.1 client. It talks to the sandbox
dockerd stand-in over /var/run/docker.sock (or -H / $DOCKER_HOST) and knows:
  info [--format TEMPLATE]     daemon information, as docker 1.13 prints it
  version [--format TEMPLATE]  client and server versions
  ps, images                   empty lists (the stand-in runs no containers)
`

// ClientMain runs the docker client with the arguments after argv[0].
func ClientMain(args []string) int {
	host := os.Getenv("DOCKER_HOST")
	var positional []string
	format := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help":
			fmt.Print(clientUsage)
			return 0
		case a == "-H" || a == "--host":
			if i+1 < len(args) {
				i++
				host = args[i]
			}
		case strings.HasPrefix(a, "-H=") || strings.HasPrefix(a, "--host="):
			host = a[strings.IndexByte(a, '=')+1:]
		case a == "-f" || a == "--format":
			if i+1 < len(args) {
				i++
				format = args[i]
			}
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		case a == "-v" || a == "--version":
			fmt.Printf("Docker version %s, build 7d71120/%s\n", Version, Version)
			return 0
		case strings.HasPrefix(a, "-"):
		default:
			positional = append(positional, a)
		}
	}
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	if len(positional) == 0 {
		fmt.Print(clientUsage)
		return 0
	}
	client, err := newClient(host)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch positional[0] {
	case "info":
		return client.printInfo(format)
	case "version":
		return client.printVersion(format)
	case "ps":
		if _, err := client.get("/containers/json"); err != nil {
			return client.fail(err)
		}
		fmt.Println("CONTAINER ID        IMAGE               COMMAND             CREATED             STATUS              PORTS               NAMES")
		return 0
	case "images":
		if _, err := client.get("/images/json"); err != nil {
			return client.fail(err)
		}
		fmt.Println("REPOSITORY          TAG                 IMAGE ID            CREATED             SIZE")
		return 0
	}
	fmt.Fprintf(os.Stderr, "docker: '%s' is not a docker command known to the kboot sandbox stand-in.\nSee 'docker --help'\n", positional[0])
	return 1
}

type client struct {
	host string
	http *http.Client
}

func newClient(host string) (*client, error) {
	proto, addr, ok := strings.Cut(host, "://")
	if !ok {
		return nil, fmt.Errorf("invalid DOCKER_HOST or -H %q: expected unix:///path or tcp://host:port", host)
	}
	if proto == "unix" {
		addr = filepath.Join(events.Root(), addr)
	}
	transport := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, proto, addr)
	}}
	return &client{host: host, http: &http.Client{Transport: transport, Timeout: 30 * time.Second}}, nil
}

func (c *client) get(path string) ([]byte, error) {
	resp, err := c.http.Get("http://docker/v" + APIVersion + path)
	if err != nil {
		return nil, fmt.Errorf("Cannot connect to the Docker daemon at %s. Is the docker daemon running?", c.host)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("Error response from daemon: %s %s: %s", resp.Status, path, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func (c *client) fail(err error) int {
	fmt.Fprintln(os.Stderr, err)
	return 1
}

func applyFormat(format string, data []byte) int {
	var v map[string]interface{}
	if err := json.Unmarshal(data, &v); err != nil {
		fmt.Fprintf(os.Stderr, "parse daemon response: %v\n", err)
		return 1
	}
	tmpl, err := template.New("format").Funcs(template.FuncMap{"json": func(x interface{}) string {
		b, _ := json.Marshal(x)
		return string(b)
	}}).Parse(format)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Template parsing error: %v\n", err)
		return 1
	}
	if err := tmpl.Execute(os.Stdout, v); err != nil {
		fmt.Fprintf(os.Stderr, "Template execution error: %v\n", err)
		return 1
	}
	fmt.Println()
	return 0
}

func (c *client) printInfo(format string) int {
	data, err := c.get("/info")
	if err != nil {
		return c.fail(err)
	}
	if format != "" {
		return applyFormat(format, data)
	}
	var info struct {
		ID, Driver, DockerRootDir, ServerVersion, OperatingSystem, KernelVersion, Architecture string
		Name, LoggingDriver, CgroupDriver, IndexServerAddress                                  string
		Containers, ContainersRunning, ContainersPaused, ContainersStopped, Images, NCPU       int
		MemTotal                                                                               int64
		DriverStatus                                                                           [][]string
		SecurityOptions, InsecureRegistries                                                    []string
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return c.fail(fmt.Errorf("parse /info response: %v", err))
	}
	fmt.Printf("Containers: %d\n Running: %d\n Paused: %d\n Stopped: %d\nImages: %d\n", info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped, info.Images)
	fmt.Printf("Server Version: %s\nStorage Driver: %s\n", info.ServerVersion, info.Driver)
	loop := false
	for _, kv := range info.DriverStatus {
		if len(kv) == 2 {
			fmt.Printf(" %s: %s\n", kv[0], kv[1])
			if kv[0] == "Data loop file" {
				loop = true
			}
		}
	}
	fmt.Printf("Logging Driver: %s\nCgroup Driver: %s\n", info.LoggingDriver, info.CgroupDriver)
	fmt.Printf("Security Options:\n")
	for _, s := range info.SecurityOptions {
		fmt.Printf(" %s\n", s)
	}
	fmt.Printf("Kernel Version: %s\nOperating System: %s\nOSType: linux\nArchitecture: %s\n", info.KernelVersion, info.OperatingSystem, info.Architecture)
	fmt.Printf("Number of Docker Hooks: 3\nCPUs: %d\nTotal Memory: %.2f GiB\nName: %s\nID: %s\n", info.NCPU, float64(info.MemTotal)/(1<<30), info.Name, info.ID)
	fmt.Printf("Docker Root Dir: %s\nDebug Mode (client): false\nDebug Mode (server): false\nRegistry: %s\n", info.DockerRootDir, info.IndexServerAddress)
	if len(info.InsecureRegistries) > 0 {
		fmt.Printf("Insecure Registries:\n")
		for _, r := range info.InsecureRegistries {
			fmt.Printf(" %s\n", r)
		}
	}
	fmt.Printf("Live Restore Enabled: false\n")
	if loop {
		fmt.Fprintln(os.Stderr, "WARNING: Usage of loopback devices is strongly discouraged for production use. Use `--storage-opt dm.thinpooldev` to specify a custom block storage device.")
	}
	return 0
}

func (c *client) printVersion(format string) int {
	data, err := c.get("/version")
	if err != nil {
		fmt.Printf("Client:\n Version:         %s\n API version:     %s\n", Version, APIVersion)
		return c.fail(err)
	}
	if format != "" {
		var server map[string]interface{}
		_ = json.Unmarshal(data, &server)
		wrapped, _ := json.Marshal(map[string]interface{}{"Client": map[string]interface{}{"Version": Version, "ApiVersion": APIVersion}, "Server": server})
		return applyFormat(format, wrapped)
	}
	var v map[string]interface{}
	_ = json.Unmarshal(data, &v)
	fmt.Printf("Client:\n Version:         %s\n API version:     %s\n Package version: docker-1.13.1-209.git7d71120.el7.centos.x86_64\n\n", Version, APIVersion)
	fmt.Printf("Server:\n Version:         %v\n API version:     %v (minimum version %v)\n Package version: %v\n Go version:      %v\n OS/Arch:         %v/%v\n", v["Version"], v["ApiVersion"], v["MinAPIVersion"], v["PkgVersion"], v["GoVersion"], v["Os"], v["Arch"])
	return 0
}
