//! A real Redis Cluster for tests and benches: 3 masters and 3 replicas, each a
//! `redis-server` from PATH on free loopback ports (client and bus), joined with
//! `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`. Every process is
//! a [`Server`] (killed on drop and by its watchdog when the test process ends), keeping
//! its `nodes.conf` in its own data directory.
//!
//! A node killed with [`Server::kill`] comes back with [`Cluster::restart`]: same port,
//! same directory and node id, so it rejoins and, its slots having been taken over by
//! its replica, becomes that replica's replica.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Server, free_port};

/// Nodes in the cluster: 3 masters, each with one replica.
pub const NODES: usize = 6;

/// A running cluster.
pub struct Cluster {
    /// The six nodes, in creation order (the first three start as masters).
    pub nodes: Vec<Server>,
}

/// Runs `redis-cli -p <port> <args>` and returns its stdout (empty when nothing
/// answers).
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run redis-cli (install redis-tools / redis-server)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    /// Starts six nodes, creates the cluster and waits (30 s at most) until it is
    /// [`whole`](Cluster::whole). Panics when that fails.
    pub fn start() -> Cluster {
        match Self::try_start() {
            Ok(cluster) => cluster,
            Err(why) => panic!("{why}"),
        }
    }

    /// [`start`](Cluster::start) that answers why it failed instead of panicking (no
    /// `redis-server`/`redis-cli`, or the cluster did not form): for benches that skip.
    pub fn try_start() -> Result<Cluster, String> {
        let found = Command::new("redis-cli")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Err("redis-cli is not on PATH (install redis-server / redis-tools)".into());
        }
        let mut cluster = Cluster { nodes: Vec::new() };
        for _ in 0..NODES {
            let bus = free_port().to_string();
            // `nodes.conf` lands in the server's own data directory (kept by a restart).
            let server = Server::try_start(&[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                &bus,
                "--cluster-node-timeout",
                "1000",
                "--cluster-replica-validity-factor",
                "0",
            ])?;
            cluster.nodes.push(server);
        }
        let addresses: Vec<String> = cluster
            .nodes
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
            .map_err(|e| format!("run redis-cli --cluster create: {e}"))?;
        if !status.success() {
            return Err("redis-cli --cluster create failed".into());
        }
        if !cluster.wait_whole(Duration::from_secs(30)) {
            return Err("the cluster did not become whole within 30 s".into());
        }
        Ok(cluster)
    }

    /// Seed URLs for the client: every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}", s.port))
            .collect()
    }

    /// Waits until the cluster is [`whole`](Cluster::whole); false after `limit`.
    pub fn wait_whole(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.whole() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every node answers `cluster_state:ok` and knows all six; three of them are
    /// masters and three replicas whose link to their master is up.
    pub fn whole(&self) -> bool {
        let mut masters = 0;
        for s in &self.nodes {
            let info = cli(s.port, &["cluster", "info"]);
            if !info.contains("cluster_state:ok")
                || !info.contains(&format!("cluster_known_nodes:{NODES}"))
            {
                return false;
            }
            let role = cli(s.port, &["info", "replication"]);
            if role.contains("role:master") {
                masters += 1;
            } else if !role.contains("master_link_status:up") {
                return false;
            }
        }
        masters == NODES / 2
    }

    /// Every live node says `cluster_state:ok` (a dead node answers nothing).
    pub fn live_nodes_ok(&self) -> bool {
        self.nodes.iter().all(|s| {
            let info = cli(s.port, &["cluster", "info"]);
            info.is_empty() || info.contains("cluster_state:ok")
        })
    }

    /// Starts node `index` again (after [`Server::kill`]) on its port, with its
    /// directory and `nodes.conf`: it rejoins under its old id. Wait with
    /// [`wait_whole`](Cluster::wait_whole).
    pub fn restart(&mut self, index: usize) {
        self.nodes[index].restart();
    }

    /// The index in `nodes` of the master serving `slot`.
    pub fn master_of(&self, slot: u16) -> usize {
        let ip_port = self.slot_owner(slot);
        self.nodes
            .iter()
            .position(|s| ip_port.ends_with(&format!(":{}", s.port)))
            .expect("the slot owner is one of our nodes")
    }

    /// `127.0.0.1:<port>` of the master serving `slot`, asked of any node that
    /// answers.
    fn slot_owner(&self, slot: u16) -> String {
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
                    return f[1].split('@').next().unwrap_or("").to_owned();
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
