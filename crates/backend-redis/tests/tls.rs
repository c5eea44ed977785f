//! `rediss://` against a real TLS redis-server: a CA and a server certificate generated
//! here (rcgen), a server started with `--port 0 --tls-port <free port>`, the whole
//! conformance battery over TLS trusting that CA, a watch across two TLS handles, and
//! prompt typed errors for an untrusted server certificate.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use backend_api::{
    Error, Operation, Partition, Result, ScanRange, StorageBackend, WatchEvent, async_trait,
};
use backend_redis::{RedisBackend, RedisConfig};
use futures_util::{StreamExt, TryStreamExt};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A certificate authority: its PEM certificate and its signing key.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn new_ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-signed CA");
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// The files a TLS server needs, in a fresh directory: `ca.crt`, `server.crt` (for
/// `names`, signed by `ca`), `server.key`.
fn server_files(ca: &Ca, names: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kvb-tls-{}", common::fresh_namespace()));
    std::fs::create_dir_all(&dir).expect("temp dir for certificates");
    let key = KeyPair::generate().expect("server key");
    let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .expect("server params");
    let cert = params
        .signed_by(&key, &ca.issuer)
        .expect("server certificate");
    std::fs::write(dir.join("ca.crt"), &ca.pem).expect("write ca.crt");
    std::fs::write(dir.join("server.crt"), cert.pem()).expect("write server.crt");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write server.key");
    dir
}

/// This test binary's TLS server: its port and the CA that signed its certificate.
struct TlsServer {
    port: u16,
    ca_pem: String,
}

fn tls_server() -> &'static TlsServer {
    static SERVER: OnceLock<TlsServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let (server, ca) = start_tls_server(&["localhost", "127.0.0.1"]);
        let server = Box::leak(Box::new(server));
        TlsServer {
            port: server.port,
            ca_pem: ca.pem,
        }
    })
}

/// A TLS server whose certificate names `names`, and the CA that signed it.
fn start_tls_server(names: &[&str]) -> (common::Server, Ca) {
    let ca = new_ca("kv-backends test CA");
    let dir = server_files(&ca, names);
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let server = common::Server::start_tls(&[
        "--tls-cert-file",
        &file("server.crt"),
        "--tls-key-file",
        &file("server.key"),
        "--tls-ca-cert-file",
        &file("ca.crt"),
        "--tls-auth-clients",
        "no",
    ]);
    // The server read its certificate and key at startup; leave nothing behind in /tmp.
    std::fs::remove_dir_all(&dir).expect("remove the certificate directory");
    (server, ca)
}

fn tls_config(host: &str) -> RedisConfig {
    let server = tls_server();
    RedisConfig::new(format!("rediss://{host}:{}/0", server.port))
        .namespace(common::fresh_namespace())
        .tls_ca_cert(server.ca_pem.clone())
        .connect_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(2))
}

/// The conformance harness over TLS: a store is a fresh namespace on the TLS server.
#[derive(Clone, Copy, Debug, Default)]
struct TlsHarness;

#[async_trait]
impl conformance::Harness for TlsHarness {
    type Store = String;

    async fn create(&self) -> String {
        common::fresh_namespace()
    }

    async fn open(&self, store: &String) -> Result<Arc<dyn StorageBackend>> {
        Ok(Arc::new(
            RedisBackend::open(tls_config("localhost").namespace(store.as_str())).await?,
        ))
    }
}

mod battery {
    conformance::battery!(super::TlsHarness);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_scan_batch_and_a_watch_on_a_second_handle_over_tls() {
    // By IP address this time (the certificate names both).
    let config = tls_config("127.0.0.1");
    let writer = RedisBackend::open(config.clone()).await.unwrap();
    let watcher = RedisBackend::open(config).await.unwrap();
    let p = Partition::new("tls").unwrap();
    writer.create_partition(&p).await.unwrap();
    let mut watch = watcher.watch(&p, b"").await.unwrap();
    writer.put(&p, b"\x00k", b"v\xff").await.unwrap();
    writer
        .batch(vec![
            Operation::put(&p, &b"a"[..], &b"1"[..]),
            Operation::delete(&p, &b"\x00k"[..]),
            Operation::put(&p, &b"b"[..], &b"2"[..]),
        ])
        .await
        .unwrap();
    assert_eq!(
        watcher.get(&p, b"a").await.unwrap().as_deref(),
        Some(&b"1"[..])
    );
    let pairs: Vec<_> = watcher
        .scan(&p, ScanRange::all())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        pairs,
        vec![("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    let mut events = Vec::new();
    while events.len() < 4 {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("events arrive over TLS")
            .expect("the watch stays open")
            .unwrap();
        events.push(event);
    }
    assert_eq!(
        events,
        vec![
            WatchEvent::Put {
                key: "\x00k".into(),
                value: (&b"v\xff"[..]).into()
            },
            WatchEvent::Put {
                key: "a".into(),
                value: "1".into()
            },
            WatchEvent::Delete {
                key: "\x00k".into()
            },
            WatchEvent::Put {
                key: "b".into(),
                value: "2".into()
            },
        ]
    );
    let status = writer.status().await.unwrap();
    assert!(status.contains_key("server.redis_version"), "{status:?}");
}

/// Opening must fail fast with a typed error, naming the server and the certificate
/// problem (`InvalidConfig` has no source: the rustls error is in its text).
async fn assert_refused(config: RedisConfig, why: &str) {
    let address = config
        .url
        .trim_start_matches("rediss://")
        .trim_end_matches("/0")
        .to_owned();
    let started = Instant::now();
    let err = RedisBackend::open(config).await.expect_err(why);
    assert!(
        matches!(&err, Error::InvalidConfig { detail, .. } if detail.contains("certificate")),
        "{why}: {err:?}"
    );
    assert!(
        err.to_string().contains(&format!("open on {address}: ")),
        "{why}: names the server: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{why}: took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_server_certificate_is_a_prompt_typed_error() {
    let other = new_ca("some other CA");
    assert_refused(
        tls_config("localhost").tls_ca_cert(other.pem),
        "a CA that did not sign the server certificate",
    )
    .await;
    // No CA given: the system's trust store, which does not hold the test CA.
    let mut system = tls_config("localhost");
    system.tls_ca_cert = None;
    assert_refused(system, "the system trust store").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_the_certificate_does_not_name_is_refused() {
    // A server whose certificate names only another host, reached as 127.0.0.1.
    let (server, ca) = start_tls_server(&["elsewhere.invalid"]);
    let config = RedisConfig::new(format!("rediss://127.0.0.1:{}/0", server.port))
        .namespace(common::fresh_namespace())
        .tls_ca_cert(ca.pem)
        .connect_timeout(Duration::from_secs(2));
    assert_refused(config, "a host the certificate does not name").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_pem_and_tls_settings_on_a_plain_url_are_invalid_config() {
    let err = RedisBackend::open(tls_config("localhost").tls_ca_cert("not a certificate"))
        .await
        .expect_err("garbage CA");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    let err = RedisBackend::open(
        RedisConfig::new("redis://127.0.0.1:1/0").tls_ca_cert(tls_server().ca_pem.clone()),
    )
    .await
    .expect_err("TLS settings need rediss://");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
}
