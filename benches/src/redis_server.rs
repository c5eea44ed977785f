//! A private `redis-server` for the redis subjects: a free loopback port, its own
//! temporary directory, killed when the handle drops (and by a watchdog shell if this
//! process dies first).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts redis-server in the background and kills it once this process is gone.
const WATCHDOG: &str = r#"
parent=$1; shift
redis-server "$@" >/dev/null 2>&1 &
r=$!
echo "$r"
while kill -0 "$parent" 2>/dev/null && kill -0 "$r" 2>/dev/null; do sleep 0.2; done
kill -9 "$r" 2>/dev/null
exit 0
"#;

/// A running redis-server this process started.
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>/0`.
    pub url: String,
    pid: u32,
    child: Child,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server on a free loopback port. `aof_always`: append-only file with
    /// `appendfsync always` (every write fsynced before the reply); otherwise no
    /// persistence at all. Errors name what is missing (redis-server not installed, or it
    /// would not start after 5 ports).
    pub fn start(aof_always: bool) -> Result<RedisServer, String> {
        for _ in 0..5 {
            let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("probe a free port: {e}"))?
                .port();
            let persistence: &[&str] = if aof_always {
                &["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                &["--appendonly", "no"]
            };
            let mut child = Command::new("sh")
                .args(["-c", WATCHDOG, "sh", &std::process::id().to_string()])
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--dir", &dir.path().to_string_lossy()])
                .args(persistence)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot run sh for redis-server: {e}"))?;
            let mut line = String::new();
            if let Some(out) = child.stdout.take() {
                let _ = BufReader::new(out).read_line(&mut line);
            }
            let Ok(pid) = line.trim().parse::<u32>() else {
                let _ = child.wait();
                return Err("redis-server did not start (apt-get install redis-server)".into());
            };
            let url = format!("redis://127.0.0.1:{port}/0");
            let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
            let server = RedisServer {
                url,
                pid,
                child,
                _dir: dir,
            };
            for _ in 0..250 {
                if client.get_connection().is_ok() {
                    return Ok(server);
                }
                if server.exited() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // Dropping `server` kills it before the next port is tried.
        }
        Err("redis-server would not start on a free loopback port".into())
    }

    /// True once the watchdog (and so the server) has exited.
    fn exited(&self) -> bool {
        // `try_wait` needs `&mut`; a signal-0 probe does not.
        !Command::new("kill")
            .args(["-0", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn kill(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
