//! The shapes of the response heads a thread saw last: the field names of a head as they came
//! on the wire, in order, with each one's `HeaderName`. An origin or target sends the same names
//! in the same order on nearly every response (nginx: Server, Date, Content-Type,
//! Content-Length, ...), so a head whose names match a kept shape takes its names from it: one
//! compare of the name bytes instead of recognising each name again.
//!
//! At most [`SHAPES`] shapes per thread, the oldest replaced first.

use std::cell::RefCell;

use http::HeaderName;

use crate::wire::Field;

/// How many shapes a thread keeps.
const SHAPES: usize = 4;
/// The most fields a kept shape has.
const MAX_FIELDS: usize = 32;

/// One head's field names.
struct Shape {
    /// The names' bytes as they came on the wire, one after another.
    wire: Vec<u8>,
    /// Each name and where it ends in `wire`.
    names: Vec<(HeaderName, usize)>,
}

impl Shape {
    fn matches(&self, head: &[u8], fields: &[Field]) -> bool {
        if self.names.len() != fields.len() {
            return false;
        }
        let mut start = 0;
        for (f, (_, end)) in fields.iter().zip(&self.names) {
            match (head.get(f.name.0..f.name.1), self.wire.get(start..*end)) {
                (Some(n), Some(kept)) if n == kept => start = *end,
                _ => return false,
            }
        }
        true
    }
}

#[derive(Default)]
struct Shapes {
    kept: Vec<Shape>,
    /// The slot replaced next once all are taken.
    next: usize,
}

thread_local! {
    static SHAPES_SEEN: RefCell<Shapes> = RefCell::new(Shapes::default());
}

/// Calls `each` with every field's name, in order, when a kept shape has exactly the names of
/// the fields at `fields` in `head`; `None` (and no call) when none does.
pub(crate) fn with_names<E>(
    head: &[u8],
    fields: &[Field],
    mut each: impl FnMut(&HeaderName, &Field) -> Result<(), E>,
) -> Option<Result<(), E>> {
    if fields.len() > MAX_FIELDS {
        return None;
    }
    // `try_`: a thread being torn down, or a borrow already taken, just parses as usual.
    SHAPES_SEEN
        .try_with(|s| {
            let s = s.try_borrow().ok()?;
            let shape = s.kept.iter().find(|k| k.matches(head, fields))?;
            for (f, (name, _)) in fields.iter().zip(&shape.names) {
                if let Err(e) = each(name, f) {
                    return Some(Err(e));
                }
            }
            Some(Ok(()))
        })
        .ok()
        .flatten()
}

/// Keeps the shape of a head whose fields at `fields` in `head` were recognised as `names`.
pub(crate) fn keep(head: &[u8], fields: &[Field], names: Vec<HeaderName>) {
    if fields.len() > MAX_FIELDS || names.len() != fields.len() {
        return;
    }
    let mut wire = Vec::new();
    let mut kept = Vec::with_capacity(fields.len());
    for (f, name) in fields.iter().zip(names) {
        wire.extend_from_slice(head.get(f.name.0..f.name.1).unwrap_or_default());
        kept.push((name, wire.len()));
    }
    let shape = Shape { wire, names: kept };
    let _ = SHAPES_SEEN.try_with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        if s.kept.len() < SHAPES {
            s.kept.push(shape);
        } else {
            let i = s.next % SHAPES;
            if let Some(slot) = s.kept.get_mut(i) {
                *slot = shape;
            }
            s.next = (i + 1) % SHAPES;
        }
    });
}
