//! Product pictures: one small robot portrait per product, drawn and PNG-encoded at startup.

use crate::catalog::Product;
use crate::png::Canvas;

/// Side of every picture, in pixels.
pub const SIZE: u32 = 128;

const METAL: [u8; 3] = [0xd9, 0xdc, 0xe1];
const SHADOW: [u8; 3] = [0x5b, 0x61, 0x6e];
const WHITE: [u8; 3] = [0xff, 0xff, 0xff];
const INK: [u8; 3] = [0x1d, 0x23, 0x2e];

/// Draw the portrait of `product` and encode it as PNG.
pub fn portrait(product: &Product) -> Vec<u8> {
    draw(product).encode()
}

/// Draw the portrait: a robot on the product's colour, with features varied by its name.
fn draw(product: &Product) -> Canvas {
    let seed = product
        .slug
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let mut c = Canvas::new(SIZE, SIZE, product.colour);
    let eye = [
        (seed & 0xff) as u8 | 0x40,
        ((seed >> 8) & 0xff) as u8 | 0x40,
        ((seed >> 16) & 0xff) as u8 | 0x40,
    ];
    let head_w = 56 + (seed % 3) * 8; // 56, 64 or 72
    let head_x = (SIZE - head_w) / 2;

    // Floor shadow.
    c.fill_rect(24, 116, 80, 4, darken(product.colour));
    // Antenna.
    c.fill_rect(63, 10, 3, 14, SHADOW);
    c.fill_circle(64, 9, 5, eye);
    // Head with a darker outline.
    c.fill_rect(head_x - 2, 22, head_w + 4, 44, SHADOW);
    c.fill_rect(head_x, 24, head_w, 40, METAL);
    // Ears.
    c.fill_rect(head_x - 8, 36, 6, 14, SHADOW);
    c.fill_rect(head_x + head_w + 2, 36, 6, 14, SHADOW);
    // Eyes: white with a coloured iris and a dark pupil.
    for cx in [head_x + head_w / 4 + 2, head_x + head_w * 3 / 4 - 2] {
        c.fill_circle(cx, 40, 8, WHITE);
        c.fill_circle(cx, 40, 5, eye);
        c.fill_circle(cx, 40, 2, INK);
    }
    // Mouth: a grille.
    c.fill_rect(52, 53, 24, 6, INK);
    for x in (55..76).step_by(5) {
        c.fill_rect(x, 53, 1, 6, METAL);
    }
    // Neck, body, chest light, arms, legs.
    c.fill_rect(58, 66, 12, 6, SHADOW);
    c.fill_rect(38, 72, 52, 34, SHADOW);
    c.fill_rect(40, 74, 48, 30, METAL);
    c.fill_circle(64, 86, 6, eye);
    c.fill_rect(26, 76, 10, 24, SHADOW);
    c.fill_rect(92, 76, 10, 24, SHADOW);
    c.fill_rect(46, 106, 12, 10, SHADOW);
    c.fill_rect(70, 106, 12, 10, SHADOW);
    c
}

fn darken(rgb: [u8; 3]) -> [u8; 3] {
    rgb.map(|v| v / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::PRODUCTS;

    #[test]
    fn portraits_differ_and_show_the_product_colour() {
        let a = draw(&PRODUCTS[0]);
        let b = draw(&PRODUCTS[1]);
        assert_ne!(a, b);
        assert_eq!(a.get(0, 0), Some(PRODUCTS[0].colour));
        assert_eq!(a.get(64, 30), Some(METAL));
        assert_eq!((a.width(), a.height()), (SIZE, SIZE));
    }

    #[test]
    fn portrait_is_png() {
        let png = portrait(&PRODUCTS[2]);
        assert_eq!(&png[..8], &crate::png::SIGNATURE);
        // 128 rows of 1 + 128*3 bytes, stored: must exceed the raw size.
        assert!(png.len() > 128 * (1 + 128 * 3));
    }
}
