//! A real Redis Cluster for tests: 3 masters and 3 replicas, each a `redis-server`
//! from PATH on free loopback ports (client and bus), joined with
//! `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`. Every process is
//! a [`Server`] (killed on drop and by its watchdog when the test process ends), and
//! the node config files live in a temporary directory removed on drop.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Server, free_port};

/// A running cluster.
pub struct Cluster {
    /// The six nodes, in creation order (the first three start as masters).
    pub nodes: Vec<Server>,
    dir: PathBuf,
}

/// Runs `redis-cli -p <port> <args>` and returns its stdout.
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli (install redis-tools / redis-server)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    /// Starts six nodes, creates the cluster and waits (30 s at most) until every node
    /// reports `cluster_state:ok` and knows all six.
    pub fn start() -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "kvb-cluster-{}-{}",
            std::process::id(),
            super::fresh_namespace()
        ));
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        let mut nodes = Vec::new();
        for n in 0..6 {
            let conf = dir.join(format!("nodes-{n}.conf"));
            let bus = free_port().to_string();
            let conf = conf.to_string_lossy().into_owned();
            nodes.push(Server::start(&[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &conf,
                "--cluster-port",
                &bus,
                "--cluster-node-timeout",
                "1000",
                "--cluster-replica-validity-factor",
                "0",
            ]));
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let status = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create failed");
        let cluster = Cluster { nodes, dir };
        cluster.wait_ready(Duration::from_secs(30));
        cluster
    }

    /// Seed URLs for the client: every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}", s.port))
            .collect()
    }

    /// Waits until every live node says `cluster_state:ok`, sees six nodes, and there
    /// are three masters each with a connected replica... or panics after `limit`.
    pub fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.ready() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not become ready in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every node answers `cluster_state:ok` and knows the others.
    fn ready(&self) -> bool {
        self.nodes.iter().all(|s| {
            let info = cli(s.port, &["cluster", "info"]);
            info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:6")
        }) && self.nodes.iter().all(|s| {
            let role = cli(s.port, &["info", "replication"]);
            !role.contains("role:slave") || role.contains("master_link_status:up")
        })
    }

    /// The index in `nodes` of the master serving `slot`.
    pub fn master_of(&self, slot: u16) -> usize {
        let (ip_port, _) = self.slot_owner(slot);
        self.nodes
            .iter()
            .position(|s| ip_port.ends_with(&format!(":{}", s.port)))
            .expect("the slot owner is one of our nodes")
    }

    /// `("127.0.0.1:<port>", node id)` of the master serving `slot`, asked of any node
    /// that answers.
    fn slot_owner(&self, slot: u16) -> (String, String) {
        for s in &self.nodes {
            let text = cli(s.port, &["cluster", "nodes"]);
            for line in text.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
                    continue;
                }
                let owns = f[8..].iter().any(|r| match r.split_once('-') {
                    Some((a, b)) => {
                        a.parse::<u16>().is_ok_and(|a| a <= slot)
                            && b.parse::<u16>().is_ok_and(|b| slot <= b)
                    }
                    None => r.parse::<u16>() == Ok(slot),
                });
                if owns {
                    let addr = f[1].split('@').next().unwrap_or("").to_owned();
                    return (addr, f[0].to_owned());
                }
            }
        }
        panic!("no node owns slot {slot}");
    }

    /// The index of a replica of the master at index `master`.
    pub fn replica_of(&self, master: usize) -> usize {
        let id = cli(self.nodes[master].port, &["cluster", "myid"])
            .trim()
            .to_owned();
        self.nodes
            .iter()
            .position(|s| {
                let role = cli(s.port, &["cluster", "nodes"]);
                role.lines().any(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() > 3 && f[2].contains("myself") && f[2].contains("slave") && f[3] == id
                })
            })
            .expect("every master has a replica")
    }

    /// The hash slot of `key`, asked of the cluster.
    pub fn keyslot(&self, key: &str) -> u16 {
        let alive = self
            .nodes
            .iter()
            .find(|s| !cli(s.port, &["ping"]).is_empty());
        let port = alive.expect("a live node").port;
        cli(port, &["cluster", "keyslot", key])
            .trim()
            .parse()
            .expect("CLUSTER KEYSLOT answers a number")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
