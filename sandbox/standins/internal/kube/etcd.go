package kube

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// etcdClient writes and reads keys through etcd's v3 JSON gateway
// (/v3/kv/*, served by etcd 3.3 and later), trying each server in turn.
type etcdClient struct {
	servers []string
	http    *http.Client
}

type etcdKV struct {
	Key         string
	Value       []byte
	ModRevision int64
}

func newEtcdClient(servers []string) *etcdClient {
	var clean []string
	for _, s := range servers {
		clean = append(clean, masterURL(s))
	}
	return &etcdClient{servers: clean, http: &http.Client{Timeout: 5 * time.Second}}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// prefixEnd is the range_end that selects every key starting with prefix.
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

func (c *etcdClient) call(path string, body interface{}, out interface{}) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	var errs []string
	for _, server := range c.servers {
		resp, err := c.http.Post(server+path, "application/json", bytes.NewReader(data))
		if err != nil {
			errs = append(errs, fmt.Sprintf("error #%d: %v", len(errs), err))
			continue
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			errs = append(errs, fmt.Sprintf("error #%d: %s%s returned %s: %s", len(errs), server, path, resp.Status, strings.TrimSpace(string(raw))))
			continue
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(raw, out)
	}
	return fmt.Errorf("client: etcd cluster is unavailable or misconfigured; %s", strings.Join(errs, "; "))
}

func (c *etcdClient) put(key string, value []byte) (int64, error) {
	var resp struct {
		Header struct {
			Revision string `json:"revision"`
		} `json:"header"`
	}
	err := c.call("/v3/kv/put", map[string]string{"key": b64(key), "value": base64.StdEncoding.EncodeToString(value)}, &resp)
	rev, _ := strconv.ParseInt(resp.Header.Revision, 10, 64)
	return rev, err
}

func (c *etcdClient) rangeKeys(key, end string) ([]etcdKV, error) {
	req := map[string]string{"key": b64(key)}
	if end != "" {
		req["range_end"] = b64(end)
	}
	var resp struct {
		Kvs []struct {
			Key         string `json:"key"`
			Value       string `json:"value"`
			ModRevision string `json:"mod_revision"`
		} `json:"kvs"`
	}
	if err := c.call("/v3/kv/range", req, &resp); err != nil {
		return nil, err
	}
	out := make([]etcdKV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		k, _ := base64.StdEncoding.DecodeString(kv.Key)
		v, _ := base64.StdEncoding.DecodeString(kv.Value)
		rev, _ := strconv.ParseInt(kv.ModRevision, 10, 64)
		out = append(out, etcdKV{Key: string(k), Value: v, ModRevision: rev})
	}
	return out, nil
}

func (c *etcdClient) get(key string) (*etcdKV, error) {
	kvs, err := c.rangeKeys(key, "")
	if err != nil || len(kvs) == 0 {
		return nil, err
	}
	return &kvs[0], nil
}

func (c *etcdClient) delete(key string) error {
	return c.call("/v3/kv/deleterange", map[string]string{"key": b64(key)}, nil)
}

// health checks every server's /health and returns one error per server
// that is not healthy.
func (c *etcdClient) health() map[string]error {
	out := map[string]error{}
	for _, server := range c.servers {
		resp, err := c.http.Get(server + "/health")
		if err != nil {
			out[server] = err
			continue
		}
		var h struct {
			Health string `json:"health"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h)
		resp.Body.Close()
		if h.Health != "true" {
			out[server] = fmt.Errorf("GET %s/health returned %s, health=%q", server, resp.Status, h.Health)
			continue
		}
		out[server] = nil
	}
	return out
}
