//! A tiny PNG encoder: 8-bit RGB, no filtering, zlib stream of stored (uncompressed) deflate blocks.
//!
//! Enough to make real, decodable images without an extra crate. See RFC 2083 (PNG), RFC 1950 (zlib)
//! and RFC 1951 (deflate, section 3.2.4 for stored blocks).

/// The eight bytes every PNG file starts with.
pub const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Largest payload of one stored deflate block.
const STORED_BLOCK_MAX: usize = 0xffff;

/// An RGB image held in memory, row-major, three bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with one colour.
    pub fn new(width: u32, height: u32, fill: [u8; 3]) -> Self {
        let count = width as usize * height as usize;
        let mut pixels = Vec::with_capacity(count * 3);
        for _ in 0..count {
            pixels.extend_from_slice(&fill);
        }
        Canvas {
            width,
            height,
            pixels,
        }
    }

    #[cfg(test)]
    pub fn width(&self) -> u32 {
        self.width
    }

    #[cfg(test)]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Colour of one pixel; `None` outside the canvas.
    #[cfg(test)]
    pub fn get(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        let i = self.index(x, y)?;
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    /// Paint one pixel; outside the canvas is silently clipped.
    pub fn set(&mut self, x: u32, y: u32, rgb: [u8; 3]) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i..i + 3].copy_from_slice(&rgb);
        }
    }

    /// Fill the rectangle `[x, x+w) × [y, y+h)`, clipped to the canvas.
    pub fn fill_rect(&mut self, x: u32, y: u32, w: u32, h: u32, rgb: [u8; 3]) {
        let x_end = x.saturating_add(w).min(self.width);
        let y_end = y.saturating_add(h).min(self.height);
        for yy in y..y_end {
            for xx in x..x_end {
                self.set(xx, yy, rgb);
            }
        }
    }

    /// Fill the disc of radius `r` centred on `(cx, cy)`, clipped to the canvas.
    pub fn fill_circle(&mut self, cx: u32, cy: u32, r: u32, rgb: [u8; 3]) {
        let r2 = u64::from(r) * u64::from(r);
        for yy in cy.saturating_sub(r)..=cy.saturating_add(r) {
            for xx in cx.saturating_sub(r)..=cx.saturating_add(r) {
                let dx = u64::from(xx.abs_diff(cx));
                let dy = u64::from(yy.abs_diff(cy));
                if dx * dx + dy * dy <= r2 {
                    self.set(xx, yy, rgb);
                }
            }
        }
    }

    fn index(&self, x: u32, y: u32) -> Option<usize> {
        if x >= self.width || y >= self.height {
            return None;
        }
        Some((y as usize * self.width as usize + x as usize) * 3)
    }

    /// Encode as a PNG file.
    pub fn encode(&self) -> Vec<u8> {
        let row_bytes = self.width as usize * 3;
        // Scanlines, each preceded by filter type 0 (None).
        let mut raw = Vec::with_capacity((row_bytes + 1) * self.height as usize);
        for row in self
            .pixels
            .chunks(row_bytes.max(1))
            .take(self.height as usize)
        {
            raw.push(0);
            raw.extend_from_slice(row);
        }

        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&self.width.to_be_bytes());
        ihdr.extend_from_slice(&self.height.to_be_bytes());
        // Bit depth 8, colour type 2 (RGB), compression 0, filter 0, interlace 0.
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);

        let idat = zlib_stored(&raw);
        let mut out = Vec::with_capacity(SIGNATURE.len() + 3 * 12 + ihdr.len() + idat.len());
        out.extend_from_slice(&SIGNATURE);
        write_chunk(&mut out, *b"IHDR", &ihdr);
        write_chunk(&mut out, *b"IDAT", &idat);
        write_chunk(&mut out, *b"IEND", &[]);
        out
    }
}

/// Append one chunk: length, type, data, CRC-32 over type and data.
fn write_chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
    // Chunk data here is at most a few hundred KiB, far below the 2^31 limit.
    debug_assert!(data.len() < (1 << 31));
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(&kind);
    out.extend_from_slice(data);
    let mut crc = Crc32::new();
    crc.update(&kind);
    crc.update(data);
    out.extend_from_slice(&crc.finish().to_be_bytes());
}

/// A zlib stream (RFC 1950) carrying `data` in stored deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let blocks = data.len().div_ceil(STORED_BLOCK_MAX).max(1);
    let mut out = Vec::with_capacity(2 + blocks * 5 + data.len() + 4);
    // CMF: deflate, 32 KiB window. FLG: no dictionary, fastest level, FCHECK makes 0x7801 % 31 == 0.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut chunks = data.chunks(STORED_BLOCK_MAX).peekable();
    if chunks.peek().is_none() {
        // One empty final block.
        out.extend_from_slice(&[1, 0x00, 0x00, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last)); // BFINAL, BTYPE = 00 (stored)
        let len = chunk.len() as u16; // chunks(STORED_BLOCK_MAX) bounds this
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// CRC-32 as used by PNG (ISO 3309, reflected polynomial 0xEDB88320).
#[derive(Debug, Clone)]
pub struct Crc32 {
    table: [u32; 256],
    value: u32,
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    pub fn new() -> Self {
        let mut table = [0u32; 256];
        for (n, slot) in table.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        Crc32 {
            table,
            value: 0xffff_ffff,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.value =
                self.table[((self.value ^ u32::from(b)) & 0xff) as usize] ^ (self.value >> 8);
        }
    }

    pub fn finish(&self) -> u32 {
        self.value ^ 0xffff_ffff
    }
}

/// CRC-32 of one byte string.
#[cfg(test)]
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(bytes);
    crc.finish()
}

/// Adler-32 checksum (RFC 1950).
pub fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    // 5552 is the largest n such that 255n(n+1)/2 + (n+1)(MOD-1) fits in u32.
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
    }

    #[test]
    fn adler32_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        let big = vec![0xffu8; 100_000];
        // Reference computed without the chunked reduction.
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &big {
            a = (a + u64::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(adler32(&big), ((b << 16) | a) as u32);
    }

    #[test]
    fn zlib_header_is_valid_and_blocks_split() {
        let data = vec![7u8; STORED_BLOCK_MAX + 10];
        let z = zlib_stored(&data);
        assert_eq!((u16::from(z[0]) << 8 | u16::from(z[1])) % 31, 0);
        // First block: not final, full length.
        assert_eq!(z[2], 0);
        assert_eq!(&z[3..5], &[0xff, 0xff]);
        assert_eq!(&z[5..7], &[0x00, 0x00]);
        // Second block: final, 10 bytes.
        let second = 7 + STORED_BLOCK_MAX;
        assert_eq!(z[second], 1);
        assert_eq!(&z[second + 1..second + 3], &10u16.to_le_bytes());
        assert_eq!(z.len(), 2 + 5 + STORED_BLOCK_MAX + 5 + 10 + 4);
        assert_eq!(&z[z.len() - 4..], &adler32(&data).to_be_bytes());
    }

    #[test]
    fn empty_data_still_makes_a_final_block() {
        let z = zlib_stored(&[]);
        assert_eq!(z, vec![0x78, 0x01, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 1]);
    }

    #[test]
    fn encode_layout() {
        let mut c = Canvas::new(3, 2, [1, 2, 3]);
        c.set(2, 1, [9, 9, 9]);
        c.set(5, 5, [0, 0, 0]); // clipped
        assert_eq!(c.get(2, 1), Some([9, 9, 9]));
        assert_eq!(c.get(3, 0), None);
        let png = c.encode();
        assert_eq!(&png[..8], &SIGNATURE);
        assert_eq!(&png[8..12], &13u32.to_be_bytes());
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[16..20], &3u32.to_be_bytes());
        assert_eq!(&png[20..24], &2u32.to_be_bytes());
        assert_eq!(
            &png[png.len() - 12..],
            &[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]
        );
    }

    #[test]
    fn shapes_clip_at_edges() {
        let mut c = Canvas::new(4, 4, [0, 0, 0]);
        c.fill_rect(2, 2, 10, 10, [1, 1, 1]);
        c.fill_circle(0, 0, 1, [2, 2, 2]);
        assert_eq!(c.get(3, 3), Some([1, 1, 1]));
        assert_eq!(c.get(1, 1), Some([0, 0, 0]));
        assert_eq!(c.get(0, 1), Some([2, 2, 2]));
        assert_eq!(c.get(0, 0), Some([2, 2, 2]));
    }
}
