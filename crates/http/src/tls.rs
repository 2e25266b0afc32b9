//! TLS for listeners (certificates chosen by SNI, ALPN h2 and http/1.1) and for upstreams
//! (system roots plus the local CA).

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

/// Certificates by name: exact names first, then `*.suffix` wildcards, then the default.
#[derive(Debug, Default)]
pub struct SniResolver {
    exact: Vec<(String, Arc<CertifiedKey>)>,
    wildcard: Vec<(String, Arc<CertifiedKey>)>,
    default: Option<Arc<CertifiedKey>>,
}

impl SniResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key` for each of `names`; the first key added is the default.
    pub fn add(&mut self, names: &[String], key: Arc<CertifiedKey>) {
        for n in names {
            let n = n.to_ascii_lowercase();
            match n.strip_prefix("*.") {
                Some(suffix) => self.wildcard.push((suffix.to_string(), key.clone())),
                None => self.exact.push((n, key.clone())),
            }
        }
        if self.default.is_none() {
            self.default = Some(key);
        }
    }

    /// Adds a configured certificate, taking its names from the certificate itself when possible.
    pub fn set_default(&mut self, key: Arc<CertifiedKey>) {
        self.default = Some(key);
    }

    /// The certificate for `sni` (None: the default).
    pub fn pick(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = sni {
            let name = name.to_ascii_lowercase();
            if let Some((_, k)) = self.exact.iter().find(|(n, _)| *n == name) {
                return Some(k.clone());
            }
            if let Some((_, rest)) = name.split_once('.') {
                if let Some((_, k)) = self.wildcard.iter().find(|(s, _)| s == rest) {
                    return Some(k.clone());
                }
            }
        }
        self.default.clone()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.pick(hello.server_name())
    }
}

/// TLS versions allowed by an `ssl_policy` name (ELBSecurityPolicy-TLS13-* allow 1.2 and 1.3,
/// `-TLS13-1-3-*` only 1.3; everything else 1.2 and 1.3, since rustls has no 1.0/1.1).
pub fn versions_for_policy(
    policy: Option<&str>,
) -> &'static [&'static rustls::SupportedProtocolVersion] {
    static ONLY13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static BOTH: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    match policy {
        Some(p) if p.contains("TLS13-1-3") => &ONLY13,
        _ => &BOTH,
    }
}

/// The ring provider with its suites in the order AWS's policies list them
/// (`ELBSecurityPolicy-TLS13-1-2-2021-06`, CloudFront's viewer and origin lists): AES-128-GCM,
/// then AES-256-GCM, then ChaCha20-Poly1305, for TLS 1.3 and again for TLS 1.2. Listeners pick
/// by this order, not the client's, as CloudFront and ALB do.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::cipher_suite as cs;
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites = vec![
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(p)
}

/// A server config with SNI certificate choice and ALPN (`h2` only when `h2` is true).
pub fn server_config(
    resolver: SniResolver,
    h2: bool,
    ssl_policy: Option<&str>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions_for_policy(ssl_policy))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    cfg.ignore_client_order = true;
    cfg.alpn_protocols = if h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(cfg))
}

/// A client config that trusts the system's web roots plus `extra` (the local CA).
pub fn client_config(
    extra: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for c in extra {
        roots.add(c.clone())?;
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// A client config that accepts any certificate: ALB does not verify target certificates.
pub fn insecure_client_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = provider();
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
