//! The bracket syntax of query strings (`filter[where][price][gt]=10`), read with the rules of
//! Express's `qs` parser: depth 5, arrays up to index 20, longer ones become objects.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::error::FilterError;

/// Bracket segments beyond this depth stay one literal key (qs `depth`).
const MAX_DEPTH: usize = 5;
/// Array indices above this make an object with numeric keys (qs `arrayLimit`).
const ARRAY_LIMIT: usize = 20;
/// Pairs beyond this are ignored (qs `parameterLimit`).
const PARAMETER_LIMIT: usize = 1000;

/// A parsed query string: each top-level name with its string, array or object value.
#[derive(Debug, Default, Clone)]
pub struct QueryParams {
    params: Vec<(String, Node)>,
}

#[derive(Debug, Clone)]
enum Node {
    Str(String),
    Arr(Vec<(usize, Node)>),
    Obj(Vec<(String, Node)>),
    /// A name given both as a plain value and in bracket syntax.
    Mixed,
}

impl QueryParams {
    /// Parses a raw query string (no leading `?`).
    pub fn parse(raw: &str) -> Self {
        let mut out = QueryParams::default();
        for pair in raw.split('&').filter(|p| !p.is_empty()).take(PARAMETER_LIMIT) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (decode(k), decode(v));
            let (root, segments) = split_key(&k);
            if root.is_empty() {
                continue;
            }
            let slot = match out.params.iter().position(|(name, _)| *name == root) {
                Some(i) => &mut out.params[i].1,
                None => {
                    out.params.push((root.clone(), Node::Obj(Vec::new())));
                    let last = out.params.len() - 1;
                    out.params[last].1 = placeholder(&segments);
                    &mut out.params[last].1
                }
            };
            insert(slot, &segments, v);
        }
        out
    }

    /// The value of a top-level name as JSON: strings stay strings.
    /// A name given both plainly and in bracket syntax is a 400.
    pub fn get(&self, name: &str) -> Result<Option<Value>, FilterError> {
        match self.params.iter().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, node)) => to_json(node).map(Some).ok_or_else(|| {
                FilterError::new(format!("The \"{name}\" parameter cannot mix JSON and bracket syntax"))
            }),
        }
    }

    /// Every parameter as one JSON object (form bodies); mixed names are left out.
    pub fn to_object(&self) -> Value {
        let mut map = Map::new();
        for (name, node) in &self.params {
            if let Some(v) = to_json(node) {
                map.insert(name.clone(), v);
            }
        }
        Value::Object(map)
    }

    /// The first plain string given for a name.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.params.iter().find(|(n, _)| n == name) {
            Some((_, Node::Str(s))) => Some(s),
            Some((_, Node::Arr(items))) => match items.first() {
                Some((_, Node::Str(s))) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

/// `a[b][c]` → (`a`, [`b`, `c`]); segments past the depth limit stay one literal segment.
fn split_key(key: &str) -> (String, Vec<String>) {
    let Some(open) = key.find('[').filter(|&i| i > 0) else {
        return (key.to_owned(), Vec::new());
    };
    let root = key[..open].to_owned();
    let mut rest = &key[open..];
    let mut segments = Vec::new();
    while rest.starts_with('[') && segments.len() < MAX_DEPTH {
        let Some(close) = rest.find(']') else { break };
        segments.push(rest[1..close].to_owned());
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        segments.push(rest.to_owned());
    }
    (root, segments)
}

fn index_of(segment: &str) -> Option<usize> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok().filter(|&i| i <= ARRAY_LIMIT)
}

fn placeholder(segments: &[String]) -> Node {
    match segments.first() {
        None => Node::Arr(Vec::new()),
        Some(s) if s.is_empty() || index_of(s).is_some() => Node::Arr(Vec::new()),
        Some(_) => Node::Obj(Vec::new()),
    }
}

fn insert(node: &mut Node, segments: &[String], value: String) {
    let Some((first, rest)) = segments.split_first() else {
        // A leaf: repeated names collect into an array.
        match node {
            Node::Arr(items) if items.is_empty() => *node = Node::Str(value),
            Node::Arr(items) => {
                let next = items.iter().map(|(i, _)| i + 1).max().unwrap_or(0);
                items.push((next, Node::Str(value)));
            }
            Node::Str(old) => {
                *node = Node::Arr(vec![(0, Node::Str(std::mem::take(old))), (1, Node::Str(value))]);
            }
            Node::Obj(entries) if entries.is_empty() => *node = Node::Str(value),
            Node::Obj(_) | Node::Mixed => *node = Node::Mixed,
        }
        return;
    };
    if let Node::Str(_) = node {
        *node = Node::Mixed;
        return;
    }
    if first.is_empty()
        && let Node::Arr(items) = node
    {
        let next = items.iter().map(|(i, _)| i + 1).max().unwrap_or(0);
        let mut child = placeholder(rest);
        insert(&mut child, rest, value);
        items.push((next, child));
        return;
    }
    if let (Some(index), Node::Arr(items)) = (index_of(first), &mut *node) {
        match items.iter_mut().find(|(i, _)| *i == index) {
            Some((_, child)) => insert(child, rest, value),
            None => {
                let mut child = placeholder(rest);
                insert(&mut child, rest, value);
                items.push((index, child));
            }
        }
        return;
    }
    // An object key: arrays that get a non-index key turn into objects, as in qs.
    if let Node::Arr(items) = node {
        let entries = std::mem::take(items).into_iter().map(|(i, n)| (i.to_string(), n)).collect();
        *node = Node::Obj(entries);
    }
    if let Node::Obj(entries) = node {
        match entries.iter_mut().find(|(k, _)| k == first) {
            Some((_, child)) => insert(child, rest, value),
            None => {
                let mut child = placeholder(rest);
                insert(&mut child, rest, value);
                entries.push((first.clone(), child));
            }
        }
    }
}

fn to_json(node: &Node) -> Option<Value> {
    Some(match node {
        Node::Str(s) => Value::String(s.clone()),
        Node::Arr(items) => {
            let mut items: Vec<&(usize, Node)> = items.iter().collect();
            items.sort_by_key(|(i, _)| *i);
            Value::Array(items.into_iter().map(|(_, n)| to_json(n)).collect::<Option<_>>()?)
        }
        Node::Obj(entries) => {
            let mut map = Map::new();
            for (k, n) in entries {
                map.insert(k.clone(), to_json(n)?);
            }
            Value::Object(map)
        }
        Node::Mixed => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get(raw: &str, name: &str) -> Option<Value> {
        QueryParams::parse(raw).get(name).unwrap()
    }

    #[test]
    fn nested_brackets() {
        assert_eq!(get("filter[where][price][gt]=10", "filter"), Some(json!({"where":{"price":{"gt":"10"}}})));
        assert_eq!(get("where[inStock]=true", "where"), Some(json!({"inStock":"true"})));
    }

    #[test]
    fn arrays_by_repetition_push_and_index() {
        assert_eq!(
            get("filter[where][id][inq]=1&filter[where][id][inq]=2", "filter"),
            Some(json!({"where":{"id":{"inq":["1","2"]}}}))
        );
        assert_eq!(get("a[]=x&a[]=y", "a"), Some(json!(["x", "y"])));
        assert_eq!(get("a[1]=y&a[0]=x", "a"), Some(json!(["x", "y"])));
        assert_eq!(
            get("f[or][0][price]=0&f[or][1][name]=Delta", "f"),
            Some(json!({"or":[{"price":"0"},{"name":"Delta"}]}))
        );
    }

    #[test]
    fn large_indices_make_objects() {
        assert_eq!(get("a[21]=x", "a"), Some(json!({"21":"x"})));
    }

    #[test]
    fn depth_beyond_five_stays_literal() {
        assert_eq!(get("a[b][c][d][e][f][g][h]=1", "a"), Some(json!({"b":{"c":{"d":{"e":{"f":{"[g][h]":"1"}}}}}})));
    }

    #[test]
    fn plain_values_are_decoded() {
        let q = QueryParams::parse("filter=%7B%22a%22%3A1%7D&x=a+b");
        assert_eq!(q.get_str("filter"), Some("{\"a\":1}"));
        assert_eq!(q.get_str("x"), Some("a b"));
    }

    #[test]
    fn mixing_json_and_brackets_is_an_error() {
        let q = QueryParams::parse("filter={}&filter[where][a]=1");
        assert!(q.get("filter").is_err());
    }
}
