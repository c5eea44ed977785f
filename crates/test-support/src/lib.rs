//! Test helpers shared by the workspace's crates (not published): [`open_errors`],
//! checks that an open refused by the OS names its path and keeps its cause; and the
//! workspace's one `redis-server` launcher ([`Server`]): a real server from PATH on a
//! free loopback port, in a data directory of its own, persistence off unless asked
//! ([`AOF_ALWAYS`]), killed when the handle drops or the test process ends; or the
//! server named by `REDIS_TEST_URL` ([`shared_url`]). Tests use [`Server::start`], which
//! panics with what is missing; benches and tools that skip what they cannot run use
//! [`Server::try_start`].
#![deny(unsafe_code)]

pub mod cluster;
pub mod open_errors;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Set this to a `redis://` URL to run the tests against a server you run; no server is
/// started then.
pub const URL_VAR: &str = "REDIS_TEST_URL";

/// The watchdog: starts redis-server in the background, prints its pid, and kills it
/// as soon as the test process (`$1`) is gone, however the test process ended.
const WATCHDOG: &str = r#"
parent=$1; shift
redis-server "$@" >/dev/null 2>&1 &
r=$!
echo "$r"
while kill -0 "$parent" 2>/dev/null && kill -0 "$r" 2>/dev/null; do sleep 0.2; done
kill -9 "$r" 2>/dev/null
wait "$r" 2>/dev/null
exit 0
"#;

/// `extra` arguments for a server whose every write is in its append-only file, fsynced
/// before the reply (`appendfsync always`). They override the launcher's
/// `--appendonly no`: redis-server keeps the last value of an option given twice.
pub const AOF_ALWAYS: &[&str] = &["--appendonly", "yes", "--appendfsync", "always"];

/// A redis-server this process started, in a temporary data directory of its own (its
/// AOF, if any, goes there; kept across [`restart`](Server::restart), removed when the
/// handle drops). Killed on drop, and by its watchdog within 0.2 s of the process
/// exiting (statics are never dropped).
pub struct Server {
    /// The loopback port it listens on.
    pub port: u16,
    pid: u32,
    watchdog: Child,
    extra: Vec<String>,
    /// The port speaks TLS only (`--port 0 --tls-port <port>`).
    tls: bool,
    /// Its data directory, shared with the server a restart starts (`None` only in a
    /// handle being retired by `restart`).
    dir: Option<Arc<tempfile::TempDir>>,
}

/// `Err` saying how to get redis-server when it is not on PATH.
fn find_redis_server() -> Result<(), String> {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Ok(());
    }
    Err(format!(
        "redis-server is not on PATH. Install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`, \
         or run scripts/setup.sh), or set {URL_VAR}=redis://host:port to use a server you run."
    ))
}

/// A loopback port nobody listens on right now (the OS picks it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a probe socket on 127.0.0.1");
    listener.local_addr().expect("probe socket address").port()
}

impl Server {
    /// Starts a server on a free port with `extra` arguments (retrying on a port
    /// collision, five times at most). Panics with what is missing if it cannot.
    pub fn start(extra: &[&str]) -> Server {
        Self::try_start(extra).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`start`](Server::start) that answers `Err` (what is missing or what failed)
    /// instead of panicking, for callers that skip what they cannot run.
    pub fn try_start(extra: &[&str]) -> Result<Server, String> {
        Self::start_any(extra, false)
    }

    /// Starts a server whose port speaks only TLS; `extra` names the certificate files
    /// (`--tls-cert-file` and so on).
    pub fn start_tls(extra: &[&str]) -> Server {
        Self::start_any(extra, true).unwrap_or_else(|e| panic!("{e}"))
    }

    fn start_any(extra: &[&str], tls: bool) -> Result<Server, String> {
        find_redis_server()?;
        let dir =
            Arc::new(tempfile::tempdir().map_err(|e| format!("redis-server data directory: {e}"))?);
        for _ in 0..5 {
            if let Some(server) = Self::start_on_with(free_port(), extra, tls, &dir)? {
                return Ok(server);
            }
        }
        Err(format!(
            "redis-server failed to start on five free ports{}",
            if tls {
                " with TLS (is it built with TLS support? Debian's redis-server 7 is)"
            } else {
                ""
            }
        ))
    }

    /// Starts a server on `port`; `None` if it did not come up (port taken).
    pub fn start_on(port: u16, extra: &[&str]) -> Option<Server> {
        let dir = Arc::new(tempfile::tempdir().expect("redis-server data directory"));
        Self::start_on_with(port, extra, false, &dir).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `Ok(None)` when the server did not come up on `port` (taken), `Err` when no
    /// server could be started at all.
    fn start_on_with(
        port: u16,
        extra: &[&str],
        tls: bool,
        dir: &Arc<tempfile::TempDir>,
    ) -> Result<Option<Server>, String> {
        let port_text = port.to_string();
        let ports: &[&str] = if tls {
            &["--port", "0", "--tls-port", &port_text]
        } else {
            &["--port", &port_text]
        };
        let mut args: Vec<String> = ports
            .iter()
            .copied()
            .chain([
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                &dir.path().to_string_lossy(),
            ])
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(std::process::id().to_string())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run sh for the redis-server watchdog: {e}"))?;
        let mut line = String::new();
        if let Some(out) = watchdog.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let Ok(pid) = line.trim().parse::<u32>() else {
            let _ = watchdog.wait();
            return Err(format!(
                "redis-server did not start (watchdog said {line:?})"
            ));
        };
        let mut server = Server {
            port,
            pid,
            watchdog,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            tls,
            dir: Some(dir.clone()),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if server.answers() {
                return Ok(Some(server));
            }
            if server.watchdog.try_wait().ok().flatten().is_some() {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill();
        Ok(None)
    }

    /// True when something on the port answers a PING (even with an auth error); for a
    /// TLS port, when it accepts connections.
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        if self.tls {
            return true;
        }
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut byte = [0u8; 1];
        matches!(stream.read(&mut byte), Ok(1) if byte[0] == b'+' || byte[0] == b'-')
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it and its watchdog to exit.
    pub fn kill(&mut self) {
        let _ = Command::new("kill")
            .arg("-9")
            .arg(self.pid.to_string())
            .stderr(Stdio::null())
            .status();
        let _ = self.watchdog.wait();
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}", self.pid);
    }

    /// Starts a fresh server on the same port with the same arguments (retrying while
    /// the port is still being released, 10 s at most).
    pub fn restart(&mut self) {
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let Some(dir) = self.dir.clone() else {
                panic!("a retired redis-server handle cannot restart");
            };
            let started = Self::start_on_with(self.port, &extra, self.tls, &dir);
            if let Some(server) = started.unwrap_or_else(|e| panic!("{e}")) {
                let mut old = std::mem::replace(self, server);
                drop(old.dir.take());
                std::mem::forget(old); // already dead and reaped
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not restart on port {}", self.port);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The URL of this test binary's shared server: `REDIS_TEST_URL`, or one started on
/// first use.
pub fn shared_url() -> String {
    static SHARED: OnceLock<String> = OnceLock::new();
    SHARED
        .get_or_init(|| match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                let server = Box::leak(Box::new(Server::start(&[])));
                server.url()
            }
        })
        .clone()
}

/// A namespace no other test (or earlier run on an external server) uses.
pub fn fresh_namespace() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "t{}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
