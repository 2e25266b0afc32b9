//! The larger binary object under `/media/`: deterministic bytes for range and caching tests.

/// Name of the one object under `/media/`.
pub const INTRO_NAME: &str = "intro.bin";

/// Size of `/media/intro.bin`: 1 MiB.
pub const INTRO_LEN: usize = 1 << 20;

/// The bytes of `/media/intro.bin`: a short text header, then a xorshift64* stream with a fixed seed,
/// so that every process serves the same object and every range has a distinct, checkable content.
pub fn intro() -> Vec<u8> {
    let mut out = Vec::with_capacity(INTRO_LEN);
    out.extend_from_slice(b"EDGEWAY DEMO MEDIA v1\n");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    while out.len() < INTRO_LEN {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let take = (INTRO_LEN - out.len()).min(8);
        out.extend_from_slice(&word.to_le_bytes()[..take]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intro_is_deterministic_and_sized() {
        let a = intro();
        assert_eq!(a.len(), INTRO_LEN);
        assert_eq!(a, intro());
        assert!(a.starts_with(b"EDGEWAY DEMO MEDIA"));
        // Not a constant fill: ranges differ from one another.
        assert_ne!(a[1000..1016], a[2000..2016]);
    }
}
