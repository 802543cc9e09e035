package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse"
)

// Metrics are Gatehouse's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.HistogramVec
	logins        *prometheus.CounterVec
	registrations *prometheus.CounterVec
	refreshes     *prometheus.CounterVec
	reuse         prometheus.Counter
	revocations   *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
}

// NewMetrics registers Gatehouse's metrics, with the Go runtime and process
// collectors, in a registry of its own.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "Duration of HTTP requests by route, method and status code.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "code"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_logins_total", Help: "Logins by result.",
		}, []string{"result"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_registrations_total", Help: "Registrations by result.",
		}, []string{"result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_refreshes_total", Help: "Refresh-token exchanges by result (success, reissued within the grace period, or the failure code).",
		}, []string{"result"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_refresh_token_reuse_detections_total", Help: "Retired refresh tokens presented after the grace period; each revoked its session.",
		}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_session_revocations_total", Help: "Sessions ended, by reason.",
		}, []string{"reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_access_token_rejections_total", Help: "Bearer-protected requests refused, by code.",
		}, []string{"code"}),
	}
	reg.MustRegister(m.requests, m.logins, m.registrations, m.refreshes, m.reuse, m.revocations, m.authFailures,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, so that embedders can add their own metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Revoked counts ended sessions; it fits gatehouse.Config.OnRevoke.
func (m *Metrics) Revoked(reason string, sessions int) {
	if m != nil {
		m.revocations.WithLabelValues(reason).Add(float64(sessions))
	}
}

func (m *Metrics) observeRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// result is the metric label of an outcome: "success" or the problem code.
func result(err error) string {
	if err == nil {
		return "success"
	}
	p, _ := problemFor(err)
	return p.Code
}

func (m *Metrics) countLogin(err error) {
	if m != nil {
		m.logins.WithLabelValues(result(err)).Inc()
	}
}

func (m *Metrics) countRegistration(err error) {
	if m != nil {
		m.registrations.WithLabelValues(result(err)).Inc()
	}
}

func (m *Metrics) countRefresh(g *gatehouse.Grant, err error) {
	if m == nil {
		return
	}
	label := result(err)
	if g != nil && g.Reissued {
		label = "reissued"
	}
	m.refreshes.WithLabelValues(label).Inc()
	if errors.Is(err, gatehouse.ErrRefreshTokenReused) {
		m.reuse.Inc()
	}
}

func (m *Metrics) countAuth(err error) {
	if m != nil {
		m.authFailures.WithLabelValues(result(err)).Inc()
	}
}
