//! Message content (API.md "Messages with content, files and locations"): text blocks of
//! formatted nodes, file blocks and location blocks; their validation with a reason per path,
//! and the legacy fields derived from them (`text`, `attachment`, `location`).
//!
//! The serde form of these types is the JSON that storage keeps and that the Message object
//! shows (a file block's `url` is added by the HTTP layer, which knows the public URL).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Problems;
use crate::text::check_text;

/// How deep nodes may nest: a node in a block's `children` is at depth 1.
pub const MAX_NODE_DEPTH: usize = 16;

/// A node of a text block: a string, or a formatting/link/mention element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Node {
    Text(String),
    Element(Element),
}

/// The node types that are objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Element {
    Bold {
        children: Vec<Node>,
    },
    Italic {
        children: Vec<Node>,
    },
    Strikethrough {
        children: Vec<Node>,
    },
    BulletList {
        children: Vec<Node>,
    },
    BulletPoint {
        children: Vec<Node>,
    },
    Link {
        url: String,
        children: Vec<Node>,
    },
    AutoLink {
        url: String,
        text: String,
    },
    CodeSpan {
        text: String,
    },
    CustomEmoji {
        text: String,
    },
    Mention {
        id: String,
        text: String,
    },
    ActionLink {
        action: String,
        params: BTreeMap<String, String>,
        children: Vec<Node>,
    },
    ActionButton {
        action: String,
        params: BTreeMap<String, String>,
        children: Vec<Node>,
    },
}

/// A number that is finite (validated), so that equality is total.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Finite(pub f64);

impl Eq for Finite {}

/// A file in a message: its token and what the upload recorded about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileBlock {
    pub file_token: String,
    pub filename: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Finite>,
}

impl FileBlock {
    /// A block that names only its token (as a request gives it); the rest is filled in from
    /// the stored file.
    pub fn token_only(token: impl Into<String>) -> Self {
        Self {
            file_token: token.into(),
            filename: String::new(),
            size: 0,
            subtype: None,
            width: None,
            height: None,
            duration: None,
        }
    }
}

/// One block of a message's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Block {
    Text { children: Vec<Node> },
    File(FileBlock),
    Location { latitude: Finite, longitude: Finite },
}

/// The subtypes a file may have.
pub const SUBTYPES: [&str; 4] = ["image", "video", "audio", "voice"];

impl Block {
    /// A text block holding `text` as its one string.
    pub fn plain(text: impl Into<String>) -> Self {
        Block::Text {
            children: vec![Node::Text(text.into())],
        }
    }
}

fn node_text(node: &Node, out: &mut String) {
    match node {
        Node::Text(s) => out.push_str(s),
        Node::Element(e) => match e {
            Element::Bold { children }
            | Element::Italic { children }
            | Element::Strikethrough { children }
            | Element::BulletList { children }
            | Element::BulletPoint { children }
            | Element::Link { children, .. }
            | Element::ActionLink { children, .. }
            | Element::ActionButton { children, .. } => {
                for child in children {
                    node_text(child, out);
                }
            }
            Element::AutoLink { text, .. }
            | Element::CodeSpan { text }
            | Element::CustomEmoji { text }
            | Element::Mention { text, .. } => out.push_str(text),
        },
    }
}

/// The plain text of the text blocks: their nodes' strings and `text` fields in order, the
/// blocks joined by `"\n"`; `""` when there are none.
pub fn plain_text(content: &[Block]) -> String {
    let mut parts = Vec::new();
    for block in content {
        if let Block::Text { children } = block {
            let mut text = String::new();
            for node in children {
                node_text(node, &mut text);
            }
            parts.push(text);
        }
    }
    parts.join("\n")
}

/// The first file block (the legacy `attachment`).
pub fn attachment(content: &[Block]) -> Option<&FileBlock> {
    content.iter().find_map(|b| match b {
        Block::File(f) => Some(f),
        _ => None,
    })
}

/// The first location block as `[lat, lon]` (the legacy `location`).
pub fn location(content: &[Block]) -> Option<[f64; 2]> {
    content.iter().find_map(|b| match b {
        Block::Location {
            latitude,
            longitude,
        } => Some([latitude.0, longitude.0]),
        _ => None,
    })
}

/// The file tokens a content names, each once, in order.
pub fn file_tokens(content: &[Block]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for block in content {
        if let Block::File(f) = block {
            if !out.contains(&f.file_token.as_str()) {
                out.push(&f.file_token);
            }
        }
    }
    out
}

/// Parses request JSON into content, naming every problem by its path (`[0].content[1].type`).
/// File blocks come back with only their token (the caller resolves it).
pub struct ContentParser<'a> {
    pub problems: &'a mut Problems,
    pub max_blocks: usize,
}

fn kind_of(map: &Map<String, Value>) -> Option<&str> {
    map.get("type").and_then(Value::as_str)
}

impl ContentParser<'_> {
    /// `content`: an array of 1 to `max_blocks` blocks.
    pub fn content(&mut self, path: &str, value: &Value) -> Option<Vec<Block>> {
        let Value::Array(items) = value else {
            self.problems
                .invalid(path, "must be an array of content blocks");
            return None;
        };
        if items.is_empty() {
            self.problems
                .invalid(path, "must contain at least one block");
            return None;
        }
        if items.len() > self.max_blocks {
            self.problems.over_limit(
                path,
                format!("at most {} content blocks per message", self.max_blocks),
            );
            return None;
        }
        let blocks: Vec<Option<Block>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.block(&format!("{path}[{i}]"), item))
            .collect();
        blocks.into_iter().collect()
    }

    fn unknown_fields(&mut self, path: &str, map: &Map<String, Value>, known: &[&str]) {
        for key in map.keys() {
            if key != "type" && !known.contains(&key.as_str()) {
                self.problems.unknown(format!("{path}.{key}"));
            }
        }
    }

    fn string(&mut self, path: &str, map: &Map<String, Value>, field: &str) -> Option<String> {
        let at = format!("{path}.{field}");
        match map.get(field) {
            Some(Value::String(s)) => {
                check_text(self.problems, || at.clone(), s);
                Some(s.clone())
            }
            Some(_) => {
                self.problems.invalid(at, "must be a string");
                None
            }
            None => {
                self.problems.invalid(at, "is required");
                None
            }
        }
    }

    fn number(
        &mut self,
        path: &str,
        map: &Map<String, Value>,
        field: &str,
        range: f64,
    ) -> Option<Finite> {
        let at = format!("{path}.{field}");
        match map.get(field).and_then(Value::as_f64) {
            Some(v) if v.is_finite() && v.abs() <= range => Some(Finite(v)),
            Some(_) => {
                self.problems
                    .invalid(at, format!("must be a number from -{range} to {range}"));
                None
            }
            None if map.contains_key(field) => {
                self.problems.invalid(at, "must be a number");
                None
            }
            None => {
                self.problems.invalid(at, "is required");
                None
            }
        }
    }

    fn block(&mut self, path: &str, value: &Value) -> Option<Block> {
        let Value::Object(map) = value else {
            self.problems
                .invalid(path, "must be a content block object");
            return None;
        };
        match kind_of(map) {
            Some("text") => {
                self.unknown_fields(path, map, &["children"]);
                let children = self.children(path, map, 1)?;
                Some(Block::Text { children })
            }
            Some("file") => {
                // The other fields of a file block (as a GET shows them) may come along; the
                // server fills them in from the stored file either way.
                self.unknown_fields(
                    path,
                    map,
                    &[
                        "fileToken",
                        "url",
                        "filename",
                        "size",
                        "subtype",
                        "width",
                        "height",
                        "duration",
                    ],
                );
                let token = self.string(path, map, "fileToken")?;
                Some(Block::File(FileBlock::token_only(token)))
            }
            Some("location") => {
                self.unknown_fields(path, map, &["latitude", "longitude"]);
                let latitude = self.number(path, map, "latitude", 90.0);
                let longitude = self.number(path, map, "longitude", 180.0);
                Some(Block::Location {
                    latitude: latitude?,
                    longitude: longitude?,
                })
            }
            Some(_) => {
                self.problems.invalid(
                    format!("{path}.type"),
                    "must be \"text\", \"file\" or \"location\"",
                );
                None
            }
            None => {
                self.problems
                    .invalid(format!("{path}.type"), "is required (a string)");
                None
            }
        }
    }

    /// The `children` of a block or element, whose nodes are at `depth`.
    fn children(
        &mut self,
        path: &str,
        map: &Map<String, Value>,
        depth: usize,
    ) -> Option<Vec<Node>> {
        let at = format!("{path}.children");
        let Some(value) = map.get("children") else {
            self.problems.invalid(at, "is required");
            return None;
        };
        let Value::Array(items) = value else {
            self.problems.invalid(at, "must be an array of nodes");
            return None;
        };
        let nodes: Vec<Option<Node>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.node(&format!("{at}[{i}]"), item, depth))
            .collect();
        nodes.into_iter().collect()
    }

    fn node(&mut self, path: &str, value: &Value, depth: usize) -> Option<Node> {
        if depth > MAX_NODE_DEPTH {
            self.problems.over_limit(
                path,
                format!("nodes may nest at most {MAX_NODE_DEPTH} deep"),
            );
            return None;
        }
        let map = match value {
            Value::String(s) => {
                check_text(self.problems, || path.to_owned(), s);
                return Some(Node::Text(s.clone()));
            }
            Value::Object(map) => map,
            _ => {
                self.problems
                    .invalid(path, "must be a string or a node object");
                return None;
            }
        };
        let kind = kind_of(map).map(str::to_owned);
        let element = match kind.as_deref() {
            Some(k @ ("bold" | "italic" | "strikethrough" | "bulletList" | "bulletPoint")) => {
                self.unknown_fields(path, map, &["children"]);
                let children = self.children(path, map, depth + 1)?;
                match k {
                    "bold" => Element::Bold { children },
                    "italic" => Element::Italic { children },
                    "strikethrough" => Element::Strikethrough { children },
                    "bulletList" => Element::BulletList { children },
                    _ => Element::BulletPoint { children },
                }
            }
            Some("link") => {
                self.unknown_fields(path, map, &["url", "children"]);
                let url = self.string(path, map, "url");
                let children = self.children(path, map, depth + 1);
                Element::Link {
                    url: url?,
                    children: children?,
                }
            }
            Some("autoLink") => {
                self.unknown_fields(path, map, &["url", "text"]);
                let url = self.string(path, map, "url");
                let text = self.string(path, map, "text");
                Element::AutoLink {
                    url: url?,
                    text: text?,
                }
            }
            Some(k @ ("codeSpan" | "customEmoji")) => {
                self.unknown_fields(path, map, &["text"]);
                let text = self.string(path, map, "text")?;
                if k == "codeSpan" {
                    Element::CodeSpan { text }
                } else {
                    Element::CustomEmoji { text }
                }
            }
            Some("mention") => {
                self.unknown_fields(path, map, &["id", "text"]);
                let id = self.string(path, map, "id");
                let text = self.string(path, map, "text");
                Element::Mention {
                    id: id?,
                    text: text?,
                }
            }
            Some(k @ ("actionLink" | "actionButton")) => {
                self.unknown_fields(path, map, &["action", "params", "children"]);
                let action = self.string(path, map, "action");
                let params = self.params(path, map);
                let children = self.children(path, map, depth + 1);
                let (action, params, children) = (action?, params?, children?);
                if k == "actionLink" {
                    Element::ActionLink {
                        action,
                        params,
                        children,
                    }
                } else {
                    Element::ActionButton {
                        action,
                        params,
                        children,
                    }
                }
            }
            Some(_) => {
                self.problems.invalid(
                    format!("{path}.type"),
                    "is no node type (bold, italic, strikethrough, bulletList, bulletPoint, \
                     link, autoLink, codeSpan, customEmoji, mention, actionLink, actionButton)",
                );
                return None;
            }
            None => {
                self.problems
                    .invalid(format!("{path}.type"), "is required (a string)");
                return None;
            }
        };
        Some(Node::Element(element))
    }

    /// `params` of an action: an object of strings (absent: none).
    fn params(&mut self, path: &str, map: &Map<String, Value>) -> Option<BTreeMap<String, String>> {
        let at = format!("{path}.params");
        match map.get("params") {
            None | Some(Value::Null) => Some(BTreeMap::new()),
            Some(Value::Object(params)) => {
                let mut out = BTreeMap::new();
                let mut ok = true;
                for (k, v) in params {
                    match v {
                        Value::String(s) => {
                            check_text(self.problems, || format!("{at}.{k}"), s);
                            out.insert(k.clone(), s.clone());
                        }
                        _ => {
                            self.problems
                                .invalid(format!("{at}.{k}"), "must be a string");
                            ok = false;
                        }
                    }
                }
                ok.then_some(out)
            }
            Some(_) => {
                self.problems.invalid(at, "must be an object of strings");
                None
            }
        }
    }

    /// The legacy `location: [lat, lon]`.
    pub fn legacy_location(&mut self, path: &str, value: &Value) -> Option<Block> {
        let pair = value.as_array().filter(|a| a.len() == 2);
        let Some(pair) = pair else {
            self.problems
                .invalid(path, "must be [latitude, longitude] (two numbers)");
            return None;
        };
        let mut map = Map::new();
        map.insert("latitude".into(), pair[0].clone());
        map.insert("longitude".into(), pair[1].clone());
        let mut sub = Problems::default();
        let mut parser = ContentParser {
            problems: &mut sub,
            max_blocks: 1,
        };
        let latitude = parser.number(path, &map, "latitude", 90.0);
        let longitude = parser.number(path, &map, "longitude", 180.0);
        if !sub.is_empty() {
            self.problems.invalid(
                path,
                "must be [latitude, longitude]: latitude from -90 to 90, longitude from -180 to 180",
            );
            return None;
        }
        Some(Block::Location {
            latitude: latitude?,
            longitude: longitude?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InvalidCode;
    use serde_json::json;

    fn parse(value: Value) -> Result<Vec<Block>, crate::error::Invalid> {
        let mut problems = Problems::default();
        let parsed = ContentParser {
            problems: &mut problems,
            max_blocks: 10,
        }
        .content("[0].content", &value);
        problems.finish()?;
        Ok(parsed.unwrap())
    }

    fn reasons(value: Value) -> BTreeMap<String, String> {
        parse(value).unwrap_err().reasons
    }

    #[test]
    fn every_node_type_parses_and_round_trips_through_its_json() {
        let content = json!([
            {"type": "text", "children": [
                "Hi ",
                {"type": "bold", "children": ["bold ", {"type": "italic", "children": ["both"]}]},
                {"type": "strikethrough", "children": ["gone"]},
                {"type": "link", "url": "https://example.com", "children": ["a link"]},
                {"type": "autoLink", "url": "https://e.com", "text": "e.com"},
                {"type": "codeSpan", "text": "x = 1"},
                {"type": "customEmoji", "text": ":party:"},
                {"type": "mention", "id": "u1", "text": "@Ann"},
                {"type": "actionLink", "action": "go", "params": {"k": "v"}, "children": ["Go"]},
                {"type": "actionButton", "action": "buy", "children": ["Buy"]}
            ]},
            {"type": "text", "children": [
                {"type": "bulletList", "children": [
                    {"type": "bulletPoint", "children": ["one"]},
                    {"type": "bulletPoint", "children": ["two"]}
                ]}
            ]},
            {"type": "location", "latitude": 51.5, "longitude": -0.12}
        ]);
        let blocks = parse(content.clone()).unwrap();
        assert_eq!(blocks.len(), 3);
        let mut again = serde_json::to_value(&blocks).unwrap();
        // The one difference: an action without params shows `params: {}`.
        assert_eq!(again[0]["children"][9]["params"], json!({}));
        again[0]["children"][9]
            .as_object_mut()
            .unwrap()
            .remove("params");
        assert_eq!(again, content);
        let back: Vec<Block> =
            serde_json::from_value(serde_json::to_value(&blocks).unwrap()).unwrap();
        assert_eq!(back, blocks);
        assert_eq!(
            plain_text(&blocks),
            "Hi bold bothgonea linke.comx = 1:party:@AnnGoBuy\nonetwo"
        );
        assert_eq!(location(&blocks), Some([51.5, -0.12]));
        assert!(attachment(&blocks).is_none());
    }

    #[test]
    fn legacy_fields_come_from_the_first_blocks_of_their_kind() {
        let blocks = vec![
            Block::File(FileBlock {
                file_token: "t1".into(),
                filename: "a.png".into(),
                size: 3,
                subtype: Some("image".into()),
                width: Some(2),
                height: Some(1),
                duration: None,
            }),
            Block::plain("caption"),
            Block::File(FileBlock::token_only("t2")),
            Block::Location {
                latitude: Finite(1.0),
                longitude: Finite(2.0),
            },
            Block::Location {
                latitude: Finite(3.0),
                longitude: Finite(4.0),
            },
            Block::File(FileBlock::token_only("t1")),
        ];
        assert_eq!(attachment(&blocks).unwrap().file_token, "t1");
        assert_eq!(location(&blocks), Some([1.0, 2.0]));
        assert_eq!(plain_text(&blocks), "caption");
        assert_eq!(plain_text(&blocks[..1]), "");
        assert_eq!(file_tokens(&blocks), ["t1", "t2"]);
        let json = serde_json::to_value(&blocks[0]).unwrap();
        assert_eq!(
            json,
            json!({"type": "file", "fileToken": "t1", "filename": "a.png", "size": 3,
                   "subtype": "image", "width": 2, "height": 1})
        );
    }

    #[test]
    fn each_validation_error_names_its_path() {
        let cases = [
            (json!([]), "[0].content"),
            (json!({}), "[0].content"),
            (json!(["text"]), "[0].content[0]"),
            (json!([{"children": []}]), "[0].content[0].type"),
            (json!([{"type": "video"}]), "[0].content[0].type"),
            (json!([{"type": "text"}]), "[0].content[0].children"),
            (
                json!([{"type": "text", "children": "x"}]),
                "[0].content[0].children",
            ),
            (
                json!([{"type": "text", "children": ["ok", {"type": "shout", "children": []}]}]),
                "[0].content[0].children[1].type",
            ),
            (
                json!([{"type": "text", "children": [{"children": []}]}]),
                "[0].content[0].children[0].type",
            ),
            (
                json!([{"type": "text", "children": [5]}]),
                "[0].content[0].children[0]",
            ),
            (
                json!([{"type": "text", "children": [{"type": "link", "children": []}]}]),
                "[0].content[0].children[0].url",
            ),
            (
                json!([{"type": "text", "children": [{"type": "mention", "text": "@a"}]}]),
                "[0].content[0].children[0].id",
            ),
            (
                json!([{"type": "text", "children": [{"type": "codeSpan", "text": 1}]}]),
                "[0].content[0].children[0].text",
            ),
            (
                json!([{"type": "text", "children": [{"type": "actionLink", "action": "a", "params": {"k": 1}, "children": []}]}]),
                "[0].content[0].children[0].params.k",
            ),
            (
                json!([{"type": "text", "children": [{"type": "bold", "children": [], "colour": "red"}]}]),
                "[0].content[0].children[0].colour",
            ),
            (
                json!([{"type": "text", "children": ["a\u{0}"]}]),
                "[0].content[0].children[0]",
            ),
            (json!([{"type": "file"}]), "[0].content[0].fileToken"),
            (
                json!([{"type": "location", "latitude": 91, "longitude": 0}]),
                "[0].content[0].latitude",
            ),
            (
                json!([{"type": "location", "latitude": 0, "longitude": -180.5}]),
                "[0].content[0].longitude",
            ),
            (
                json!([{"type": "location", "latitude": "0", "longitude": 0}]),
                "[0].content[0].latitude",
            ),
            (
                json!([{"type": "location", "longitude": 0}]),
                "[0].content[0].latitude",
            ),
        ];
        for (content, path) in cases {
            let got = reasons(content.clone());
            assert!(got.contains_key(path), "{content}: {path} not in {got:?}");
        }
    }

    #[test]
    fn blocks_and_depth_are_limited() {
        let eleven: Vec<Value> = (0..11)
            .map(|_| json!({"type": "text", "children": ["x"]}))
            .collect();
        let err = parse(json!(eleven)).unwrap_err();
        assert_eq!(err.code, InvalidCode::LimitExceeded);
        // 16 levels are fine (the string inside the 15th bold is at depth 16), 17 are not.
        let nest = |levels: usize| {
            let mut node = json!("deep");
            for _ in 0..levels {
                node = json!({"type": "bold", "children": [node]});
            }
            json!([{"type": "text", "children": [node]}])
        };
        assert!(parse(nest(15)).is_ok());
        let err = parse(nest(16)).unwrap_err();
        assert_eq!(err.code, InvalidCode::LimitExceeded, "{err:?}");
    }

    #[test]
    fn the_legacy_location_is_a_pair_of_numbers_in_range() {
        let mut problems = Problems::default();
        let mut parser = ContentParser {
            problems: &mut problems,
            max_blocks: 10,
        };
        assert_eq!(
            parser.legacy_location("[0].location", &json!([1.5, 2])),
            Some(Block::Location {
                latitude: Finite(1.5),
                longitude: Finite(2.0)
            })
        );
        for bad in [json!([1]), json!([100, 0]), json!("1,2"), json!([0, 200])] {
            assert!(
                parser.legacy_location("[0].location", &bad).is_none(),
                "{bad}"
            );
        }
        assert!(problems
            .finish()
            .unwrap_err()
            .reasons
            .contains_key("[0].location"));
    }
}
