//! Every round trip to the server: a command or pipeline under the call deadline, a
//! script run by SHA (loaded again when the server lost it), a write script followed by
//! `WAIT`; and the handle's closed flag, which scan streams share.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backend_api::{Error, Result};
use redis::{Cmd, ErrorKind, FromRedisValue, Pipeline, RedisResult, Script, ServerErrorKind};

use crate::config::RedisConfig;
use crate::conn::Conn;
use crate::error::{Server, timeout_error};
use crate::scripts::Scripts;

/// The connection, the scripts, and the limits every call runs under.
pub(crate) struct Calls {
    conn: Conn,
    /// The scripts, hashed once.
    pub scripts: Scripts,
    /// The server errors name.
    pub server: Server,
    /// Longest a call may take: a reconnect plus a response.
    pub deadline: Duration,
    response_timeout: Duration,
    write_ack_replicas: usize,
    closed: AtomicBool,
}

impl Calls {
    /// Calls over `conn` with the limits in `config`.
    pub fn new(conn: Conn, server: Server, config: &RedisConfig) -> Calls {
        Calls {
            conn,
            scripts: Scripts::new(),
            server,
            deadline: config.connect_timeout + config.response_timeout,
            response_timeout: config.response_timeout,
            write_ack_replicas: config.write_ack_replicas,
            closed: AtomicBool::new(false),
        }
    }

    /// `Error::Closed` after [`close`](Self::close).
    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Marks the handle closed; true the first time.
    pub fn close(&self) -> bool {
        !self.closed.swap(true, Ordering::AcqRel)
    }

    /// True after [`close`](Self::close).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Loads every script (`SCRIPT LOAD`), at open.
    pub async fn load_scripts(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        for script in self.scripts.all() {
            self.run("open", script.load_async(&mut conn)).await?;
        }
        Ok(())
    }

    /// Runs one server call under the deadline, mapping its error.
    pub async fn run<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(self.server.map(err, operation, self.response_timeout)),
            Err(_) => Err(timeout_error(operation, self.deadline)),
        }
    }

    /// Sends `cmd` and reads its answer as `T`.
    pub async fn query<T: FromRedisValue>(&self, operation: &'static str, cmd: &Cmd) -> Result<T> {
        let mut conn = self.conn.clone();
        self.run(operation, cmd.query_async(&mut conn)).await
    }

    /// Sends `pipe` (one round trip) and reads its answers as `T`.
    pub async fn query_pipe<T: FromRedisValue>(
        &self,
        operation: &'static str,
        pipe: &Pipeline,
    ) -> Result<T> {
        let mut conn = self.conn.clone();
        self.run(operation, pipe.query_async(&mut conn)).await
    }

    /// Runs the script call `cmd` (from `scripts::evalsha`) under the deadline; when the
    /// server does not know `script` (restarted, or `SCRIPT FLUSH`), loads it and
    /// retries once.
    pub async fn eval<T: FromRedisValue>(
        &self,
        operation: &'static str,
        script: &Script,
        cmd: &Cmd,
    ) -> Result<T> {
        let mut conn = self.conn.clone();
        let call = async move {
            match cmd.query_async::<T>(&mut conn).await {
                Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    script.load_async(&mut conn).await?;
                    cmd.query_async(&mut conn).await
                }
                other => other,
            }
        };
        self.run(operation, call).await
    }

    /// [`eval`](Self::eval) of a write script. With `write_ack_replicas` set, the call
    /// is pipelined with `WAIT <replicas> <response_timeout ms>` on the same connection
    /// (on a cluster, the pipeline goes to the master of the script's slot); fewer
    /// acknowledgements answer `Error::Timeout`: the write is on the master, whether
    /// it survives a failover is unknown.
    pub async fn eval_write<T: FromRedisValue>(
        &self,
        operation: &'static str,
        script: &Script,
        cmd: &Cmd,
    ) -> Result<T> {
        let replicas = self.write_ack_replicas;
        if replicas == 0 {
            return self.eval(operation, script, cmd).await;
        }
        let wait_ms = self.response_timeout.as_millis().max(1);
        let mut pipe = redis::pipe();
        pipe.add_command(cmd.clone())
            .cmd("WAIT")
            .arg(replicas)
            .arg(wait_ms.to_string());
        let mut conn = self.conn.clone();
        let call = async move {
            match pipe.query_async::<(T, usize)>(&mut conn).await {
                Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    script.load_async(&mut conn).await?;
                    pipe.query_async(&mut conn).await
                }
                other => other,
            }
        };
        let (value, acked) = self.run(operation, call).await?;
        if acked < replicas {
            return Err(timeout_error(operation, self.response_timeout));
        }
        Ok(value)
    }
}
