//! What can go wrong when asking a name server.

use std::io;

/// A failed DNS lookup. Every variant names what was asked, so the message stands on its own.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN).
    #[error("{0}: no such name (NXDOMAIN)")]
    NxDomain(String),
    /// The name exists but has no A or AAAA records.
    #[error("{0}: the name has no A or AAAA records")]
    NoAddresses(String),
    /// Every name server refused the query (usually: the name is outside its zones).
    #[error(
        "{0}: the name server refused the query (REFUSED; is the name inside a configured zone?)"
    )]
    Refused(String),
    /// The name server failed or answered with another error code.
    #[error("{name}: the name server answered {rcode}")]
    ServerFailure {
        /// The name asked for.
        name: String,
        /// The response code, as `dig` prints it (`SERVFAIL`, `NOTIMP`, ...).
        rcode: String,
    },
    /// No answer arrived in time.
    #[error("{0}: no answer from the name server in time")]
    Timeout(String),
    /// The name is not a valid domain name.
    #[error("{0:?}: not a valid domain name")]
    InvalidName(String),
    /// A CNAME chain went on too long or looped.
    #[error("{0}: CNAME chain too long or looping")]
    CnameLoop(String),
    /// The answer could not be decoded, or did not match the question.
    #[error("{0}: malformed answer: {1}")]
    Malformed(String, String),
    /// A socket error.
    #[error("{0}: {1}")]
    Io(String, #[source] io::Error),
}

impl DnsError {
    /// Whether asking another name server (or the same one again) might help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Timeout(_)
                | Self::Io(..)
                | Self::ServerFailure { .. }
                | Self::Malformed(..)
                | Self::Refused(_)
        )
    }
}
