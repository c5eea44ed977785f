//! The `redis::Client` for a config's URL: plain, or TLS (rustls) with the configured
//! trust anchors and client certificate.

use backend_api::{Error, Result};

use crate::config::RedisConfig;

/// The client for `config.url`. Bad URLs and unreadable PEM are `InvalidConfig`; nothing
/// is connected yet.
pub(crate) fn client(config: &RedisConfig) -> Result<redis::Client> {
    let bad_url = |err: redis::RedisError| Error::InvalidConfig {
        detail: format!("redis URL: {err}; use redis[s]://[user][:password@]host[:port][/db]"),
        source: Some(Box::new(err)),
    };
    if !config.is_tls() {
        return redis::Client::open(config.url.as_str()).map_err(bad_url);
    }
    install_crypto_provider();
    if let Some(pem) = &config.tls_ca_cert {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let certificates =
            CertificateDer::pem_slice_iter(pem).collect::<std::result::Result<Vec<_>, _>>();
        if !certificates.is_ok_and(|c| !c.is_empty()) {
            return Err(Error::InvalidConfig {
                detail:
                    "tls_ca_cert holds no readable PEM certificate (-----BEGIN CERTIFICATE-----)"
                        .into(),
                source: None,
            });
        }
    }
    if config.tls_ca_cert.is_none() && config.tls_client_cert.is_none() {
        // The system's trust store (read by the redis crate through rustls-native-certs).
        return redis::Client::open(config.url.as_str()).map_err(bad_url);
    }
    let certificates = redis::TlsCertificates {
        client_tls: config
            .tls_client_cert
            .as_ref()
            .map(|(cert, key)| redis::ClientTlsConfig {
                client_cert: cert.clone(),
                client_key: key.clone(),
            }),
        root_cert: config.tls_ca_cert.clone(),
    };
    redis::Client::build_with_tls(config.url.as_str(), certificates).map_err(|err| {
        Error::InvalidConfig {
            detail: format!("TLS settings: {err}; tls_ca_cert and tls_client_cert take PEM text"),
            source: Some(Box::new(err)),
        }
    })
}

/// Makes rustls's `ring` provider the process default, once, unless the application
/// installed a provider of its own first (then that one is used).
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
