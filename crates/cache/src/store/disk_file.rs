//! The file format of the disk tier (little-endian):
//! ```text
//! magic "EWCACHE\0" | version u32 | key_len u32 | meta_len u32 | body_len u64
//! | crc32(key, meta, body) u32 | crc32(the 32 bytes before) u32 | key | meta | body
//! ```
//! Files live at `<dir>/<2 hex>/<16 hex>.ewc`, named by the FNV-1a hash of the key; the key
//! in the file is checked on every read, so a hash collision is a miss, not a wrong answer.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;

use super::CachedResponse;

pub(super) const MAGIC: &[u8; 8] = b"EWCACHE\0";
pub(super) const VERSION: u32 = 1;
pub(super) const HEADER_LEN: usize = 36;
pub(super) const MAX_KEY_LEN: u32 = 64 * 1024;
pub(super) const MAX_META_LEN: u32 = 16 * 1024 * 1024;
pub(super) const EXT: &str = "ewc";

/// FNV-1a, 64 bits: stable across builds, so file names survive upgrades.
pub(super) fn hash_key(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub(super) struct FileHeader {
    key_len: u32,
    meta_len: u32,
    body_len: u64,
    crc: u32,
}

impl FileHeader {
    pub(super) fn total_len(&self) -> u64 {
        HEADER_LEN as u64 + u64::from(self.key_len) + u64::from(self.meta_len) + self.body_len
    }

    pub(super) fn parse(b: &[u8]) -> Option<FileHeader> {
        let b: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        if &b[..8] != MAGIC {
            return None;
        }
        let u32_at = |i: usize| {
            b.get(i..i + 4)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_le_bytes)
        };
        let u64_at = |i: usize| {
            b.get(i..i + 8)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_le_bytes)
        };
        if u32_at(8)? != VERSION || u32_at(32)? != crc32fast::hash(&b[..32]) {
            return None;
        }
        let h = FileHeader {
            key_len: u32_at(12)?,
            meta_len: u32_at(16)?,
            body_len: u64_at(20)?,
            crc: u32_at(28)?,
        };
        (h.key_len <= MAX_KEY_LEN && h.meta_len <= MAX_META_LEN).then_some(h)
    }
}

pub(super) fn encode_file(key: &str, meta: &[u8], body: &[u8]) -> Vec<u8> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(key.as_bytes());
    crc.update(meta);
    crc.update(body);
    let mut out = Vec::with_capacity(HEADER_LEN + key.len() + meta.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    let header_crc = crc32fast::hash(&out[..32]);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(body);
    out
}

/// Decodes a whole file; `None` when anything is off (magic, version, lengths, checksum, key).
pub(super) fn decode_file(data: Vec<u8>, key: &str) -> Option<CachedResponse> {
    let h = FileHeader::parse(&data)?;
    if h.total_len() != data.len() as u64 {
        return None;
    }
    let key_end = HEADER_LEN + h.key_len as usize;
    let meta_end = key_end + h.meta_len as usize;
    if crc32fast::hash(data.get(HEADER_LEN..)?) != h.crc
        || data.get(HEADER_LEN..key_end)? != key.as_bytes()
    {
        return None;
    }
    let data = Bytes::from(data);
    let meta = data.slice(key_end..meta_end);
    CachedResponse::decode(&meta, data.slice(meta_end..))
}

pub(super) fn parse_file_name(path: &Path) -> Option<u64> {
    if path.extension()?.to_str()? != EXT {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    if stem.len() != 16 {
        return None;
    }
    u64::from_str_radix(stem, 16).ok()
}

/// Reads a file's header and key for the index: `None` when it is not a whole, well-formed
/// entry whose key hashes to its name. The body checksum is verified on each read instead.
pub(super) fn scan_file(path: &Path, hash: u64) -> Option<(String, u64, SystemTime)> {
    let mut f = File::open(path).ok()?;
    let meta = f.metadata().ok()?;
    let mut header = [0u8; HEADER_LEN];
    f.read_exact(&mut header).ok()?;
    let h = FileHeader::parse(&header)?;
    if h.total_len() != meta.len() {
        return None;
    }
    let mut key = vec![0u8; h.key_len as usize];
    f.read_exact(&mut key).ok()?;
    let key = String::from_utf8(key).ok()?;
    if hash_key(&key) != hash {
        return None;
    }
    Some((
        key,
        meta.len(),
        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    ))
}
