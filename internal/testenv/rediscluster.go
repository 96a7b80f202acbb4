package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a Redis Cluster of redis-server processes of the test's own on
// loopback (Debian's redis-server with --cluster-enabled yes, joined by
// `redis-cli --cluster create`), without persistence. scripts/services.sh installs
// redis-server.
type RedisCluster struct {
	Nodes []*ClusterNode
	dir   string
}

// ClusterNode is one redis-server of a RedisCluster.
type ClusterNode struct {
	Port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr is the node's host:port.
func (n *ClusterNode) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

// Kill sends SIGKILL to the node and waits until it is gone.
func (n *ClusterNode) Kill() {
	_ = n.cmd.Process.Kill()
	<-n.done
}

// NodeTimeout is the clusters' cluster-node-timeout: a master that does not answer for
// this long is failed over to its replica.
const NodeTimeout = time.Second

// StartRedisCluster starts masters masters with replicas replicas each under dir, on
// free ports, and waits until the cluster serves every slot. The processes die with
// the test process (Linux) or on Stop.
func StartRedisCluster(dir string, masters, replicas int) (*RedisCluster, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found (run scripts/services.sh): %w", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redis-cli not found (run scripts/services.sh): %w", err)
	}
	c := &RedisCluster{dir: dir}
	n := masters * (1 + replicas)
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	for i := range n {
		nd := filepath.Join(dir, strconv.Itoa(i))
		if err := os.MkdirAll(nd, 0o755); err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "--port", strconv.Itoa(ports[2*i]), "--cluster-port", strconv.Itoa(ports[2*i+1]),
			"--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(nd, "nodes.conf"),
			"--cluster-node-timeout", strconv.Itoa(int(NodeTimeout.Milliseconds())),
			// A replica fails over however long its master has been gone.
			"--cluster-replica-validity-factor", "0", "--save", "", "--appendonly", "no",
			"--dir", nd, "--loglevel", "warning", "--logfile", filepath.Join(nd, "redis.log"))
		dieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			c.Stop()
			return nil, err
		}
		node := &ClusterNode{Port: ports[2*i], cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(node.done) }()
		c.Nodes = append(c.Nodes, node)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, node := range c.Nodes {
		rdb := redis.NewClient(&redis.Options{Addr: node.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
		for rdb.Ping(ctx).Err() != nil {
			if ctx.Err() != nil {
				rdb.Close()
				c.Stop()
				return nil, fmt.Errorf("redis-server on %s did not answer", node.Addr())
			}
			time.Sleep(20 * time.Millisecond)
		}
		rdb.Close()
	}
	args := []string{"--cluster", "create"}
	for _, node := range c.Nodes {
		args = append(args, node.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// URL is the cluster's redis+cluster:// URL, listing every node.
func (c *RedisCluster) URL() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return "redis+cluster://" + strings.Join(addrs, ",")
}

// WaitHealthy waits until every live node reports cluster_state:ok and every live
// replica is in sync with its master.
func (c *RedisCluster) WaitHealthy(ctx context.Context) error {
	for _, node := range c.Nodes {
		if !node.Alive() {
			continue
		}
		rdb := redis.NewClient(&redis.Options{Addr: node.Addr(), MaxRetries: -1})
		for {
			info, err := rdb.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				repl, rerr := rdb.Info(ctx, "replication").Result()
				if rerr == nil && (strings.Contains(repl, "role:master") || strings.Contains(repl, "master_link_status:up")) {
					break
				}
				info += repl
			}
			if ctx.Err() != nil {
				rdb.Close()
				return fmt.Errorf("redis cluster node %s not ok: %v %q", node.Addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rdb.Close()
	}
	return nil
}

// Alive reports whether the node's process runs.
func (n *ClusterNode) Alive() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Master returns the node that serves key's slot now, as a live node sees it.
func (c *RedisCluster) Master(ctx context.Context, key string) (*ClusterNode, error) {
	var live *ClusterNode
	for _, n := range c.Nodes {
		if n.Alive() {
			live = n
			break
		}
	}
	if live == nil {
		return nil, fmt.Errorf("no live node")
	}
	rdb := redis.NewClient(&redis.Options{Addr: live.Addr()})
	defer rdb.Close()
	slot, err := rdb.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			for _, n := range c.Nodes {
				if n.Addr() == s.Nodes[0].Addr {
					return n, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no master for slot %d", slot)
}

// Stop kills every node.
func (c *RedisCluster) Stop() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

var (
	sharedCluster     *RedisCluster
	sharedClusterErr  error
	sharedClusterOnce sync.Once
)

// sharedRedisCluster starts, once per test process, the 3-master cluster (one replica
// each) that FUSIONRANK_TEST_REDIS_CLUSTER=1 points the tests at. Its processes die
// with the test process.
func sharedRedisCluster() (*RedisCluster, error) {
	sharedClusterOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fusionrank-redis-cluster-")
		if err != nil {
			sharedClusterErr = err
			return
		}
		sharedCluster, sharedClusterErr = StartRedisCluster(dir, 3, 1)
	})
	return sharedCluster, sharedClusterErr
}
