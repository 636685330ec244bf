// Package client is a Go client for the HTTP API of `netspot serve`: one
// typed method per endpoint, every call bounded by its context, and errors
// that carry the server's message (and, for a configuration, the key and
// line of each problem).
//
//	c, err := client.New("tcp://localhost:11000", client.WithToken(tok))
//	st, err := c.Status(ctx)
//	stream, err := c.Stream(ctx, client.StreamOptions{})
//	for { ev, err := stream.Next(); ... }
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"netspot/core/api"
)

// Client talks to one netspot server. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	http  *http.Client
	token string
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends the bearer token the server requires ([api] token).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient uses h for the requests (a custom transport, TLS). Its
// Timeout must be zero for Stream: bound calls with their contexts.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// maxAnswer bounds what is read of an answer: the largest is a full
// history of records.
const maxAnswer = 256 << 20

// New returns a client of the server at endpoint: netspot's own forms
// "tcp://HOST:PORT" and "unix:///PATH" (as in [api] endpoint), or an
// "http://" or "https://" URL (through a reverse proxy).
func New(endpoint string, opts ...Option) (*Client, error) {
	c := &Client{}
	scheme, _, _ := strings.Cut(endpoint, "://")
	switch scheme {
	case "http", "https":
		u, err := url.Parse(strings.TrimSuffix(endpoint, "/"))
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("netspot client: %q is not a URL with a host", endpoint)
		}
		c.base = u
	default:
		network, address, err := api.ParseEndpoint(endpoint)
		if err != nil {
			return nil, fmt.Errorf("netspot client: %w", err)
		}
		if network == "unix" {
			dialer := &net.Dialer{}
			c.http = &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return dialer.DialContext(ctx, "unix", address)
				},
			}}
			// The host name does not matter on a socket.
			c.base = &url.URL{Scheme: "http", Host: "localhost"}
		} else {
			c.base = &url.URL{Scheme: "http", Host: address}
		}
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	return c, nil
}

// Error is an answer of the server that is not a success.
type Error struct {
	StatusCode int
	Message    string
	// Problems lists the problems of a rejected configuration, each with
	// its key and (for a TOML document) line.
	Problems []api.ConfigError
}

func (e *Error) Error() string {
	return fmt.Sprintf("netspot: %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// StatusCode returns the HTTP status of err if it is an answer of the
// server, 0 otherwise.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// request sends one request and decodes a JSON answer into out (when not
// nil). Statuses in ok are successes.
func (c *Client) request(ctx context.Context, method, path string, query url.Values, contentType string, body []byte, out any, ok ...int) error {
	res, err := c.send(ctx, method, path, query, contentType, body, nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("netspot: %s %s: reading the answer: %w", method, path, err)
	}
	if !slices.Contains(ok, res.StatusCode) {
		return answerError(res.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("netspot: %s %s: unexpected answer: %w", method, path, err)
		}
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, query url.Values, contentType string, body []byte, header http.Header) (*http.Response, error) {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("netspot: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("netspot: %s %s: %w", method, path, err)
	}
	return res, nil
}

// answerError reads the server's error body.
func answerError(code int, data []byte) error {
	var body api.ErrorBody
	if err := json.Unmarshal(data, &body); err != nil || body.Error == "" {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if msg == "" {
			msg = http.StatusText(code)
		}
		return &Error{StatusCode: code, Message: msg}
	}
	return &Error{StatusCode: code, Message: body.Error, Problems: body.Problems}
}

const v1 = "/api/v1/"

// Ping checks that the server answers (no token needed).
func (c *Client) Ping(ctx context.Context) error {
	return c.request(ctx, http.MethodGet, v1+"ping", nil, "", nil, nil, http.StatusOK)
}

// Health returns the health check: Status "ok", or "failing" with the
// problems (the server answers 503 then, which is not an error here).
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var h api.Health
	err := c.request(ctx, http.MethodGet, v1+"health", nil, "", nil, &h, http.StatusOK, http.StatusServiceUnavailable)
	return h, err
}

// Status returns the state of the server and of the pipeline.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var st api.Status
	err := c.request(ctx, http.MethodGet, v1+"status", nil, "", nil, &st, http.StatusOK)
	return st, err
}

// Config returns the configuration of the next start, as sections of keys.
func (c *Client) Config(ctx context.Context) (map[string]any, error) {
	var m map[string]any
	err := c.request(ctx, http.MethodGet, v1+"config", nil, "", nil, &m, http.StatusOK)
	return m, err
}

// ConfigTOML returns the configuration of the next start as a TOML
// document, every key with its description.
func (c *Client) ConfigTOML(ctx context.Context) ([]byte, error) {
	res, err := c.send(ctx, http.MethodGet, v1+"config", url.Values{"format": {"toml"}}, "", nil, nil)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("netspot: reading the configuration: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, answerError(res.StatusCode, data)
	}
	return data, nil
}

// PutConfig replaces the configuration with a TOML document (keys absent
// take their defaults). It applies at the next start; the result says
// whether the running pipeline needs a restart.
func (c *Client) PutConfig(ctx context.Context, doc []byte) (api.ConfigResult, error) {
	return c.putConfig(ctx, doc, false)
}

// CheckConfig checks a TOML document as PutConfig would, without applying
// it.
func (c *Client) CheckConfig(ctx context.Context, doc []byte) (api.ConfigResult, error) {
	return c.putConfig(ctx, doc, true)
}

func (c *Client) putConfig(ctx context.Context, doc []byte, dry bool) (api.ConfigResult, error) {
	var res api.ConfigResult
	q := url.Values{}
	if dry {
		q.Set("dry_run", "true")
	}
	if doc == nil {
		doc = []byte{}
	}
	err := c.request(ctx, http.MethodPut, v1+"config", q, "application/toml", doc, &res, http.StatusOK)
	return res, err
}

// PatchConfig changes some keys, the others keeping their values. Keys are
// nested like the file ({"spot": {"q": 1e-5}}) or dotted ({"spot.q": 1e-5}).
func (c *Client) PatchConfig(ctx context.Context, changes map[string]any) (api.ConfigResult, error) {
	var res api.ConfigResult
	body, err := json.Marshal(changes)
	if err != nil {
		return res, fmt.Errorf("netspot: encoding the changes: %w", err)
	}
	err = c.request(ctx, http.MethodPatch, v1+"config", nil, "application/json", body, &res, http.StatusOK)
	return res, err
}

// SetDevice sets the interface or capture file of the next start.
func (c *Client) SetDevice(ctx context.Context, device string) error {
	_, err := c.PatchConfig(ctx, map[string]any{"miner.device": device})
	return err
}

// Start starts the pipeline and returns the status once capture has
// started (or, after the server's wait, while it is still starting).
func (c *Client) Start(ctx context.Context) (api.Status, error) {
	var st api.Status
	err := c.request(ctx, http.MethodPost, v1+"start", nil, "", nil, &st, http.StatusOK, http.StatusAccepted)
	return st, err
}

// Stop stops the pipeline and returns the status once it has stopped (or,
// after the server's wait, while it is still stopping).
func (c *Client) Stop(ctx context.Context) (api.Status, error) {
	var st api.Status
	err := c.request(ctx, http.MethodPost, v1+"stop", nil, "", nil, &st, http.StatusOK, http.StatusAccepted)
	return st, err
}

// Stats lists the statistics netspot can watch.
func (c *Client) Stats(ctx context.Context) ([]api.Statistic, error) {
	var out struct {
		Statistics []api.Statistic `json:"statistics"`
	}
	err := c.request(ctx, http.MethodGet, v1+"stats", nil, "", nil, &out, http.StatusOK)
	return out.Statistics, err
}

// Devices lists the network interfaces netspot can capture from.
func (c *Client) Devices(ctx context.Context) ([]api.Device, error) {
	var out struct {
		Devices []api.Device `json:"devices"`
	}
	err := c.request(ctx, http.MethodGet, v1+"devices", nil, "", nil, &out, http.StatusOK)
	return out.Devices, err
}

// Records returns the recent records after the one whose Seq is since (0
// for all), at most limit of them (0 for the server's whole history), the
// newest when there are more.
func (c *Client) Records(ctx context.Context, since uint64, limit int) (api.RecordList, error) {
	var out api.RecordList
	q := url.Values{}
	if since > 0 {
		q.Set("since", strconv.FormatUint(since, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := c.request(ctx, http.MethodGet, v1+"records", q, "", nil, &out, http.StatusOK)
	return out, err
}

// Alarms returns the active alarms and the last limit alarms of the
// history (0 for the server's default of 100).
func (c *Client) Alarms(ctx context.Context, limit int) (api.AlarmList, error) {
	var out api.AlarmList
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := c.request(ctx, http.MethodGet, v1+"alarms", q, "", nil, &out, http.StatusOK)
	return out, err
}
