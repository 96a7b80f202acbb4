package redisconn

import (
	"slices"
	"testing"
	"time"
)

func TestClusterOptions(t *testing.T) {
	o, err := ClusterOptions("redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001, 10.0.0.3:7002/0?read_timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"}; !slices.Equal(o.Addrs, want) {
		t.Fatalf("addrs %v, want %v", o.Addrs, want)
	}
	if o.Username != "u" || o.Password != "p@ss" || o.ReadTimeout != 200*time.Millisecond || o.TLSConfig != nil {
		t.Fatalf("options %+v", o)
	}
	o, err = ClusterOptions("rediss+cluster://redis-a:6379")
	if err != nil || o.TLSConfig == nil || len(o.Addrs) != 1 {
		t.Fatalf("rediss+cluster: %+v %v", o, err)
	}
	for _, bad := range []string{"redis+cluster:///0", "redis+cluster://a:1/3", "redis://a:1"} {
		if _, err := ClusterOptions(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	if !IsCluster("redis+cluster://a:1") || IsCluster("redis://a:1/0") {
		t.Fatal("IsCluster")
	}
}
