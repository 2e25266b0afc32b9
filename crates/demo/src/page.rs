//! The storefront's pages and their stylesheet and script.

use std::fmt::Write as _;

use crate::catalog::PRODUCTS;

/// The storefront page as served by instance `instance`.
pub fn index(instance: &str) -> String {
    let id = escape(instance);
    let mut grid = String::new();
    for p in &PRODUCTS {
        // Writing to a String cannot fail.
        let _ = write!(
            grid,
            r#"
      <article class="product" id="product-{slug}">
        <img src="{img}" alt="{name} the robot" width="128" height="128">
        <h2>{name}</h2>
        <p class="blurb">{blurb}</p>
        <p class="price">{price}</p>
        <button type="button" data-product="{slug}">Add to cart</button>
      </article>"#,
            slug = p.slug,
            img = p.image_path(),
            name = escape(p.name),
            blurb = escape(p.blurb),
            price = p.price(),
        );
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="instance-id" content="{id}">
  <title>Roboshop</title>
  <link rel="stylesheet" href="/static/app.css">
</head>
<body>
  <header class="masthead">
    <a class="brand" href="/"><img src="/images/logo.png" alt="" width="32" height="32"> Roboshop</a>
    <nav><a href="/">Robots</a> <a href="/media/intro.bin">Intro film</a> <a href="/api/echo">Echo</a></nav>
    <span class="cart">Cart: <span id="cart-count">0</span></span>
  </header>
  <main>
    <h1>Friendly robots, delivered</h1>
    <section class="grid">{grid}
    </section>
  </main>
  <footer>
    Served by instance <code id="instance">{id}</code>.
    <span id="live-instance"></span>
  </footer>
  <script src="/static/app.js"></script>
</body>
</html>
"#
    )
}

/// The page for a path that names nothing.
pub fn not_found(path: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Not found - Roboshop</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main><h1>404: no robot here</h1><p>Nothing lives at <code>{}</code>. <a href="/">Back to the shop</a>.</p></main></body>
</html>
"#,
        escape(path)
    )
}

/// Escape text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub const CSS: &str = r#"/* Roboshop */
:root { --ink: #1d232e; --paper: #f6f5f1; --accent: #e06c3c; --muted: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--paper); }
.masthead { display: flex; align-items: center; gap: 2rem; padding: 1rem 2rem; background: var(--ink); color: #fff; }
.masthead a { color: #fff; text-decoration: none; margin-right: 1rem; }
.brand { font-weight: 800; font-size: 1.5rem; letter-spacing: .05em; }
.cart { margin-left: auto; }
main { max-width: 64rem; margin: 0 auto; padding: 2rem; }
h1 { font-size: 2rem; margin: 0 0 1.5rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 1.5rem; }
.product { background: #fff; border-radius: .75rem; padding: 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.12); text-align: center; }
.product img { image-rendering: pixelated; border-radius: .5rem; }
.product h2 { margin: .5rem 0 .25rem; font-size: 1.25rem; }
.blurb { color: var(--muted); min-height: 3em; }
.price { font-weight: 700; font-size: 1.2rem; }
button { background: var(--accent); color: #fff; border: 0; border-radius: .5rem; padding: .5rem 1rem; cursor: pointer; }
button:hover { filter: brightness(1.1); }
footer { text-align: center; padding: 2rem; color: var(--muted); }
code { background: #e5e7eb; padding: .1rem .35rem; border-radius: .25rem; }
"#;

pub const JS: &str = r#"// Roboshop: a cart counter, and which instance answers the API.
(function () {
  "use strict";
  var count = 0;
  var counter = document.getElementById("cart-count");
  document.querySelectorAll("button[data-product]").forEach(function (button) {
    button.addEventListener("click", function () {
      count += 1;
      if (counter) { counter.textContent = String(count); }
    });
  });
  var live = document.getElementById("live-instance");
  if (live && window.fetch) {
    fetch("/api/echo", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (echo) { live.textContent = "API answered by " + echo.instance + "."; })
      .catch(function () { live.textContent = "API unreachable."; });
  }
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_the_instance_and_every_product() {
        let html = index("web-<1>");
        assert!(html.contains("<title>Roboshop</title>"));
        assert!(html.contains("web-&lt;1&gt;"));
        assert!(!html.contains("web-<1>"));
        for p in &PRODUCTS {
            assert!(html.contains(&format!("<img src=\"/images/{}.png\"", p.slug)));
            assert!(html.contains(&p.price()));
        }
        assert!(html.contains(r#"<link rel="stylesheet" href="/static/app.css">"#));
        assert!(html.contains(r#"<script src="/static/app.js"></script>"#));
    }

    #[test]
    fn not_found_escapes_the_path() {
        let html = not_found("/<script>");
        assert!(html.contains("/&lt;script&gt;"));
    }
}
