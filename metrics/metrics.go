// Package metrics serves a worker's Prometheus metrics: the Temporal SDK's
// (workflow and activity task rates, latencies, poller counts), the Go
// runtime's and the process's, and the migration counters the activities
// record per job through the SDK's metrics handler (Record).
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	sdkotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// Server is a running metrics endpoint.
type Server struct {
	// Handler goes into client.Options.MetricsHandler.
	Handler  client.MetricsHandler
	http     *http.Server
	provider *sdkmetric.MeterProvider
	addr     string
	done     chan struct{}
}

// Serve listens on addr and serves /metrics until Close.
func Serve(addr string, logger *slog.Logger) (*Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = mp.Shutdown(context.Background())
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s := &Server{
		Handler: sdkotel.NewMetricsHandler(sdkotel.MetricsHandlerOptions{
			Meter: mp.Meter("bucketferry"),
			// The default panics: a metric must never take a worker down.
			OnError: func(err error) { logger.Warn("metrics", "error", err) },
		}),
		http:     &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		provider: mp,
		addr:     ln.Addr().String(),
		done:     make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "error", err)
		}
	}()
	return s, nil
}

// Addr is the address the endpoint listens on.
func (s *Server) Addr() string { return s.addr }

// Close stops serving.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	<-s.done
	return errors.Join(err, s.provider.Shutdown(ctx))
}
