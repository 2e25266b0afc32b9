//! The local certificate authority: created once in the state directory, it issues a certificate
//! for every configured name so that viewers and the edge verify TLS without `-k`.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File names inside the state directory.
pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca-key.pem";

/// The local CA: its certificate (to trust) and the issuer that signs leaf certificates.
pub struct LocalCa {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    cert_path: PathBuf,
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "edgeway local CA");
    dn.push(DnType::OrganizationName, "edgeway");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2044, 1, 1);
    p
}

fn err(what: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{what}: {e}"))
}

impl LocalCa {
    /// Loads the CA from `dir`, creating the directory, key and certificate on first use.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            err(
                &format!("cannot create state directory {}", dir.display()),
                e,
            )
        })?;
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        if cert_path.is_file() && key_path.is_file() {
            let key_pem = std::fs::read_to_string(&key_path)?;
            let cert_pem = std::fs::read_to_string(&cert_path)?;
            let key = KeyPair::from_pem(&key_pem).map_err(|e| err("bad CA key", e))?;
            let cert_der = CertificateDer::from_pem_slice_compat(&cert_pem)?;
            let issuer = Issuer::new(ca_params(), key);
            return Ok(Self {
                cert_pem,
                cert_der,
                issuer,
                cert_path,
            });
        }
        let key = KeyPair::generate().map_err(|e| err("cannot generate CA key", e))?;
        let params = ca_params();
        let cert = params
            .self_signed(&key)
            .map_err(|e| err("cannot sign CA certificate", e))?;
        let cert_pem = cert.pem();
        let cert_der = cert.der().clone();
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, cert_pem.as_bytes())?;
        let issuer = Issuer::new(params, key);
        Ok(Self {
            cert_pem,
            cert_der,
            issuer,
            cert_path,
        })
    }

    /// A throwaway CA that lives only in memory (tests).
    pub fn ephemeral() -> std::io::Result<Self> {
        let key = KeyPair::generate().map_err(|e| err("cannot generate CA key", e))?;
        let params = ca_params();
        let cert = params
            .self_signed(&key)
            .map_err(|e| err("cannot sign CA certificate", e))?;
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
            cert_path: PathBuf::new(),
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }
    /// Where the CA certificate is (empty for an ephemeral CA).
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Issues a server certificate for `names` (DNS names or IP addresses; `*.x` wildcards allowed).
    pub fn issue(&self, names: &[String]) -> std::io::Result<Arc<CertifiedKey>> {
        let key = KeyPair::generate().map_err(|e| err("cannot generate key", e))?;
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().map_or("edgeway", String::as_str),
        );
        p.distinguished_name = dn;
        p.subject_alt_names = names
            .iter()
            .filter_map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Some(SanType::IpAddress(ip)),
                Err(_) => n.clone().try_into().ok().map(SanType::DnsName),
            })
            .collect();
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(2043, 1, 1);
        let cert = p
            .signed_by(&key, &self.issuer)
            .map_err(|e| err("cannot sign certificate", e))?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = rustls::crypto::ring::sign::any_supported_type(&key_der)
            .map_err(|e| err("bad key", e))?;
        Ok(Arc::new(CertifiedKey::new(
            vec![cert.der().clone(), self.cert_der.clone()],
            signing,
        )))
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)?.write_all(data)
}

/// PEM helpers over rustls-pki-types (rustls-pemfile is unmaintained).
trait FromPemCompat: Sized {
    fn from_pem_slice_compat(pem: &str) -> std::io::Result<Self>;
}

impl FromPemCompat for CertificateDer<'static> {
    fn from_pem_slice_compat(pem: &str) -> std::io::Result<Self> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| err("bad CA certificate", e))
    }
}

/// Loads a certificate chain and key from PEM files (configured certificates).
pub fn load_certified_key(cert_file: &Path, key_file: &Path) -> std::io::Result<Arc<CertifiedKey>> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| err(&format!("cannot read {}", cert_file.display()), e))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(&format!("bad certificate in {}", cert_file.display()), e))?;
    if certs.is_empty() {
        return Err(err(
            &format!("{}", cert_file.display()),
            "no certificate in the file",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| err(&format!("bad key in {}", key_file.display()), e))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| err("unsupported key", e))?;
    Ok(Arc::new(CertifiedKey::new(certs, signing)))
}
