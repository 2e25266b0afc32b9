//! The Roboshop catalogue: the products the storefront shows and draws pictures of.

/// One product on the shelf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    /// URL-safe name; the picture is served at `/images/{slug}.png`.
    pub slug: &'static str,
    pub name: &'static str,
    pub price_cents: u32,
    pub blurb: &'static str,
    /// Background colour of its picture.
    pub colour: [u8; 3],
}

impl Product {
    /// Price as shown to people, e.g. `$49.99`.
    pub fn price(&self) -> String {
        format!("${}.{:02}", self.price_cents / 100, self.price_cents % 100)
    }

    pub fn image_path(&self) -> String {
        format!("/images/{}.png", self.slug)
    }
}

/// The shop's logo, drawn like a product picture and served at `/images/logo.png`.
pub const LOGO: Product = Product {
    slug: "logo",
    name: "Roboshop",
    price_cents: 0,
    blurb: "The Roboshop logo.",
    colour: [0x22, 0x2b, 0x3a],
};

/// Every product, in shelf order.
pub const PRODUCTS: [Product; 6] = [
    Product {
        slug: "watson",
        name: "Watson",
        price_cents: 4999,
        blurb: "A thoughtful desk companion that answers most questions with a question.",
        colour: [0x4f, 0x86, 0xc6],
    },
    Product {
        slug: "ember",
        name: "Ember",
        price_cents: 7450,
        blurb: "Warm, cheerful and fire-resistant. Makes excellent toast.",
        colour: [0xe0, 0x6c, 0x3c],
    },
    Product {
        slug: "sprout",
        name: "Sprout",
        price_cents: 2999,
        blurb: "Waters your plants and talks to them while you are away.",
        colour: [0x5a, 0xa8, 0x5e],
    },
    Product {
        slug: "hal",
        name: "HAL",
        price_cents: 900_000,
        blurb: "Opens pod bay doors. Usually.",
        colour: [0xb0, 0x30, 0x38],
    },
    Product {
        slug: "marvin",
        name: "Marvin",
        price_cents: 4200,
        blurb: "Brain the size of a planet; will carry your shopping anyway.",
        colour: [0x8e, 0x8e, 0x9a],
    },
    Product {
        slug: "daisy",
        name: "Daisy",
        price_cents: 5999,
        blurb: "Sings while she sweeps. Only the one song, though.",
        colour: [0xe8, 0xb9, 0x3a],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_format_with_cents() {
        assert_eq!(PRODUCTS[0].price(), "$49.99");
        assert_eq!(PRODUCTS[3].price(), "$9000.00");
        assert_eq!(PRODUCTS[2].image_path(), "/images/sprout.png");
    }

    #[test]
    fn slugs_are_unique_and_url_safe() {
        for (i, p) in PRODUCTS.iter().enumerate() {
            assert!(p.slug.bytes().all(|b| b.is_ascii_lowercase()), "{}", p.slug);
            assert!(PRODUCTS[i + 1..].iter().all(|q| q.slug != p.slug));
        }
    }
}
