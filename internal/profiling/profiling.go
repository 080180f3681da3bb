// Package profiling serves net/http/pprof and records CPU profiles for the
// worker and the server, so that performance work starts from a profile.
package profiling

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	runtimepprof "runtime/pprof"
)

// Start serves net/http/pprof on addr and records a CPU profile
// into cpuFile, each when set; the returned function stops both.
func Start(addr, cpuFile string, logger *slog.Logger) (func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("pprof: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		srv := &http.Server{Handler: mux}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Warn("pprof server stopped", "error", err)
			}
		}()
		logger.Info("serving pprof", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
		stops = append(stops, func() { srv.Close() })
	}
	if cpuFile != "" {
		f, err := os.Create(cpuFile)
		if err != nil {
			stop()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := runtimepprof.StartCPUProfile(f); err != nil {
			f.Close()
			stop()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		stops = append(stops, func() {
			runtimepprof.StopCPUProfile()
			f.Close()
		})
	}
	return stop, nil
}
