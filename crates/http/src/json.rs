//! A strict, bounded JSON parser for request bodies.
//!
//! It builds the same `serde_json::Value` that `serde_json::from_slice` would, but refuses what a
//! hostile body uses to make the server work or hold memory for nothing: an object with a key
//! given twice (ambiguous: which one did the client mean?), nesting deeper than
//! [`MAX_DEPTH`], and more values than a body of its size needs (a megabyte of `[[],[],...]` is
//! tens of megabytes as values). Memory is charged as the values are built, so a body is refused
//! as soon as it would cost more than its budget, not after.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// How deep arrays and objects may nest in a request body.
pub const MAX_DEPTH: usize = 64;

// What building one value costs, at most, on the heap (bytes). A value's slot in its parent
// array, counting the slack of a growing vector; an array's first allocation; an object's
// first B-tree node; an object entry.
const SLOT: usize = 64;
const ARRAY: usize = 128;
const OBJECT: usize = 640;
const ENTRY: usize = 64;

/// Why a syntactically valid body was refused, with the JSON path of the offending place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    DuplicateKey { path: String },
    TooDeep { path: String },
    TooComplex { budget: usize },
}

impl Refusal {
    /// The field path a client sees in `reasons`, and the reason.
    pub fn reason(&self) -> (String, String) {
        match self {
            Refusal::DuplicateKey { path } => (path.clone(), "duplicate key".into()),
            Refusal::TooDeep { path } => (
                path.clone(),
                format!("nested more than {MAX_DEPTH} levels deep"),
            ),
            Refusal::TooComplex { budget } => (
                "(body)".into(),
                format!("holds more JSON values than a request may (parsing it would take more than {budget} bytes)"),
            ),
        }
    }
}

/// A parse failure: the message (with serde_json's line and column) and, for a body that is
/// valid JSON but refused, why.
#[derive(Debug)]
pub struct ParseFailure {
    pub message: String,
    pub refusal: Option<Refusal>,
}

/// Parses `body` as JSON, refusing duplicate keys, deep nesting and bodies whose values would
/// take more than `budget` bytes.
///
/// # Errors
/// [`ParseFailure`] for invalid JSON or a refused body.
pub fn parse(body: &[u8], budget: usize) -> Result<Value, ParseFailure> {
    let ctx = Ctx {
        left: Cell::new(budget),
        budget,
        refusal: RefCell::new(None),
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = Node {
        ctx: &ctx,
        depth: 0,
        at: &Segment::Root,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    result.map_err(|e| ParseFailure {
        message: e.to_string(),
        refusal: ctx.refusal.into_inner(),
    })
}

struct Ctx {
    left: Cell<usize>,
    budget: usize,
    refusal: RefCell<Option<Refusal>>,
}

impl Ctx {
    fn refuse<E: de::Error>(&self, refusal: Refusal) -> E {
        let (path, reason) = refusal.reason();
        let err = E::custom(format!("{path}: {reason}"));
        self.refusal.replace(Some(refusal));
        err
    }

    fn charge<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        match self.left.get().checked_sub(bytes) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(self.refuse(Refusal::TooComplex {
                budget: self.budget,
            })),
        }
    }
}

/// Where a value sits, as a chain to the root, rendered only when a body is refused.
enum Segment<'a> {
    Root,
    Index(&'a Segment<'a>, usize),
    Key(&'a Segment<'a>, &'a str),
}

impl fmt::Display for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Root => f.write_str("(body)"),
            Segment::Index(Segment::Root, i) => write!(f, "[{i}]"),
            Segment::Key(Segment::Root, k) => f.write_str(k),
            Segment::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Segment::Key(parent, k) => write!(f, "{parent}.{k}"),
        }
    }
}

struct Node<'a> {
    ctx: &'a Ctx,
    depth: usize,
    at: &'a Segment<'a>,
}

impl Node<'_> {
    fn enter<E: de::Error>(&self, cost: usize) -> Result<(), E> {
        if self.depth >= MAX_DEPTH {
            return Err(self.ctx.refuse(Refusal::TooDeep {
                path: self.at.to_string(),
            }));
        }
        self.ctx.charge(cost)
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.ctx.charge(SLOT)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.ctx.charge(SLOT)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.ctx.charge(SLOT)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.ctx.charge(SLOT)?;
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.ctx.charge(SLOT + v.len())?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.ctx.charge(SLOT + v.len())?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.ctx.charge(SLOT)?;
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.enter(SLOT + ARRAY)?;
        let mut items = Vec::new();
        loop {
            let at = Segment::Index(self.at, items.len());
            let child = Node {
                ctx: self.ctx,
                depth: self.depth + 1,
                at: &at,
            };
            match seq.next_element_seed(child)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.enter(SLOT + OBJECT)?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.ctx.charge(ENTRY + key.len())?;
            let at = Segment::Key(self.at, &key);
            if object.contains_key(&key) {
                return Err(self.ctx.refuse(Refusal::DuplicateKey {
                    path: at.to_string(),
                }));
            }
            let child = Node {
                ctx: self.ctx,
                depth: self.depth + 1,
                at: &at,
            };
            let value = map.next_value_seed(child)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: usize = 1 << 20;

    fn refusal(body: &str, budget: usize) -> Refusal {
        parse(body.as_bytes(), budget)
            .expect_err("refused")
            .refusal
            .expect("a refusal, not a syntax error")
    }

    #[test]
    fn parses_what_serde_json_parses() {
        let body = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": "\u00e9"}"#;
        let ours = parse(body.as_bytes(), BIG).unwrap();
        let theirs: Value = serde_json::from_str(body).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_repeated_key_is_refused_with_its_path() {
        assert_eq!(
            refusal(r#"{"subject": "a", "subject": "b"}"#, BIG),
            Refusal::DuplicateKey {
                path: "subject".into()
            }
        );
        assert_eq!(
            refusal(r#"[{"custom": {"k": "1", "k": "2"}}]"#, BIG),
            Refusal::DuplicateKey {
                path: "[0].custom.k".into()
            }
        );
        // The same key in sibling objects is fine.
        assert!(parse(br#"[{"k": 1}, {"k": 2}]"#, BIG).is_ok());
    }

    #[test]
    fn nesting_is_limited_to_64_levels() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes(), BIG).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(refusal(&deep, BIG), Refusal::TooDeep { .. }));
    }

    #[test]
    fn a_body_that_would_cost_more_than_its_budget_is_refused() {
        let wide = format!("[{}[]]", "[],".repeat(10_000));
        assert!(matches!(
            refusal(&wide, 100_000),
            Refusal::TooComplex { budget: 100_000 }
        ));
        assert!(parse(wide.as_bytes(), 10_000 * (SLOT + ARRAY) + 1000).is_ok());
    }

    #[test]
    fn syntax_errors_are_not_refusals() {
        let failure = parse(b"{\"a\": ", BIG).unwrap_err();
        assert!(failure.refusal.is_none());
        assert!(failure.message.contains("EOF"), "{}", failure.message);
        assert!(parse(b"{} x", BIG).is_err());
    }
}
