//! SCIM filters (`userName eq "ada"`) and PATCH operations (RFC 7644 §3.4.2.2, §3.5.2), both on
//! a resource's JSON. Supported: the comparisons eq, ne, co, sw, ew and pr joined by `and`, and
//! paths `attr`, `attr.sub`, `attr[filter]` and `attr[filter].sub`, each optionally prefixed by
//! its schema URN.

use serde_json::{Map, Value};

use super::{attribute, ScimError};

/// One comparison of a filter.
#[derive(Debug, Clone)]
struct Comparison {
    path: Vec<String>,
    op: String,
    value: Value,
}

/// A filter: comparisons that must all hold.
#[derive(Debug, Clone)]
pub struct Filter(Vec<Comparison>);

fn invalid_filter(detail: impl Into<String>) -> ScimError {
    ScimError::bad("invalidFilter", detail)
}

/// `urn:…:User:name.formatted` → `["name", "formatted"]`.
fn attribute_path(raw: &str) -> Vec<String> {
    let raw = if raw.to_ascii_lowercase().starts_with("urn:") {
        raw.rsplit(':').next().unwrap_or(raw)
    } else {
        raw
    };
    raw.split('.').map(str::to_owned).collect()
}

/// Splits a filter into words, keeping quoted strings whole.
fn tokens(filter: &str) -> Result<Vec<String>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = filter.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            let mut quoted = String::from('"');
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                quoted.push(c);
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        quoted.push(escaped);
                    }
                } else if c == '"' {
                    closed = true;
                    break;
                }
            }
            if !closed {
                return Err(invalid_filter("a quoted value is not closed"));
            }
            tokens.push(quoted);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        }
    }
    Ok(tokens)
}

impl Filter {
    pub fn parse(filter: &str) -> Result<Self, ScimError> {
        let tokens = tokens(filter)?;
        let mut comparisons = Vec::new();
        let mut at = 0;
        loop {
            let path = tokens
                .get(at)
                .ok_or_else(|| invalid_filter("an attribute is missing"))?;
            let op = tokens
                .get(at + 1)
                .ok_or_else(|| invalid_filter("an operator is missing"))?
                .to_ascii_lowercase();
            let (value, used) = if op == "pr" {
                (Value::Null, 2)
            } else if ["eq", "ne", "co", "sw", "ew"].contains(&op.as_str()) {
                let raw = tokens
                    .get(at + 2)
                    .ok_or_else(|| invalid_filter("a value is missing"))?;
                let value = match raw.to_ascii_lowercase().as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => serde_json::from_str(raw)
                        .map_err(|_| invalid_filter(format!("{raw} is not a filter value")))?,
                };
                (value, 3)
            } else {
                return Err(invalid_filter(format!("operator {op} is not supported")));
            };
            comparisons.push(Comparison {
                path: attribute_path(path),
                op,
                value,
            });
            at += used;
            match tokens.get(at) {
                None => break,
                Some(word) if word.eq_ignore_ascii_case("and") => at += 1,
                Some(word) => {
                    return Err(invalid_filter(format!(
                        "{word}: only comparisons joined by 'and' are supported"
                    )))
                }
            }
        }
        Ok(Self(comparisons))
    }

    /// Whether `resource` (or a multi-valued attribute's element) satisfies every comparison.
    pub fn matches(&self, resource: &Value) -> bool {
        self.0.iter().all(|comparison| {
            let values = values_at(resource, &comparison.path);
            match comparison.op.as_str() {
                "pr" => values.iter().any(|v| !v.is_null()),
                "ne" => !values.iter().any(|v| same(v, &comparison.value)),
                op => values.iter().any(|v| compare(op, v, &comparison.value)),
            }
        })
    }
}

fn same(a: &Value, b: &Value) -> bool {
    compare("eq", a, b)
}

fn compare(op: &str, actual: &Value, wanted: &Value) -> bool {
    match (actual, wanted) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                "eq" => a == b,
                "co" => a.contains(&b),
                "sw" => a.starts_with(&b),
                "ew" => a.ends_with(&b),
                _ => false,
            }
        }
        (a, b) => op == "eq" && a == b,
    }
}

/// Every value at `path`, multi-valued attributes flattened.
fn values_at<'a>(value: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
    };
    match value {
        Value::Object(object) => attribute(object, first)
            .map(|inner| values_at(inner, rest))
            .unwrap_or_default(),
        Value::Array(items) => items
            .iter()
            .flat_map(|item| values_at(item, path))
            .collect(),
        _ => Vec::new(),
    }
}

/// One PATCH operation.
#[derive(Debug, Clone)]
pub struct Operation {
    op: String,
    path: Option<String>,
    value: Option<Value>,
}

/// Reads a PatchOp body.
pub fn operations(body: &Map<String, Value>) -> Result<Vec<Operation>, ScimError> {
    let Some(Value::Array(items)) = attribute(body, "Operations") else {
        return Err(ScimError::bad("invalidSyntax", "Operations must be a list"));
    };
    items
        .iter()
        .map(|item| {
            let item = item
                .as_object()
                .ok_or_else(|| ScimError::bad("invalidSyntax", "an operation must be an object"))?;
            let op = attribute(item, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .filter(|op| ["add", "replace", "remove"].contains(&op.as_str()))
                .ok_or_else(|| {
                    ScimError::bad("invalidSyntax", "op must be add, replace or remove")
                })?;
            let path = match attribute(item, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(path)) => Some(path.clone()),
                Some(_) => return Err(ScimError::bad("invalidPath", "path must be a string")),
            };
            Ok(Operation {
                op,
                path,
                value: attribute(item, "value").cloned(),
            })
        })
        .collect()
}

/// A parsed PATCH path.
struct Target {
    attribute: String,
    filter: Option<Filter>,
    sub: Option<String>,
}

fn target(path: &str) -> Result<Target, ScimError> {
    let invalid = || ScimError::bad("invalidPath", format!("{path} is not a supported path"));
    if let Some(open) = path.find('[') {
        let close = path.rfind(']').ok_or_else(invalid)?;
        if close < open {
            return Err(invalid());
        }
        let head = attribute_path(&path[..open]);
        let [attribute] = head.as_slice() else {
            return Err(invalid());
        };
        let filter = Filter::parse(&path[open + 1..close])?;
        let rest = &path[close + 1..];
        let sub = match rest.strip_prefix('.') {
            Some(sub) if !sub.is_empty() => Some(sub.to_owned()),
            None if rest.is_empty() => None,
            _ => return Err(invalid()),
        };
        return Ok(Target {
            attribute: attribute.clone(),
            filter: Some(filter),
            sub,
        });
    }
    let mut parts = attribute_path(path).into_iter();
    let attribute = parts.next().filter(|a| !a.is_empty()).ok_or_else(invalid)?;
    let sub = parts.next();
    if parts.next().is_some() {
        return Err(invalid());
    }
    Ok(Target {
        attribute,
        filter: None,
        sub,
    })
}

/// The key `name` has in `object` (its own spelling when present).
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|key| key.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// `value` written into `slot`: objects merge, lists grow on `add`, anything else replaces.
fn put(slot: &mut Value, value: Value, op: &str) {
    match (slot, value) {
        (Value::Object(existing), Value::Object(new)) => {
            for (key, value) in new {
                let key = key_of(existing, &key);
                existing.insert(key, value);
            }
        }
        (Value::Array(existing), Value::Array(new)) if op == "add" => {
            for item in new {
                if !existing.contains(&item) {
                    existing.push(item);
                }
            }
        }
        (Value::Array(existing), new @ Value::Object(_)) if op == "add" => {
            if !existing.contains(&new) {
                existing.push(new);
            }
        }
        (slot, value) => *slot = value,
    }
}

/// Applies `operations` to `resource` in order.
pub fn apply(resource: &mut Value, operations: &[Operation]) -> Result<(), ScimError> {
    for operation in operations {
        match &operation.path {
            Some(path) => apply_at(resource, &target(path)?, operation)?,
            None => {
                if operation.op == "remove" {
                    return Err(ScimError::bad("noTarget", "remove needs a path"));
                }
                let Some(Value::Object(values)) = &operation.value else {
                    return Err(ScimError::bad(
                        "invalidValue",
                        "an operation without a path needs an object value",
                    ));
                };
                for (key, value) in values {
                    let single = Operation {
                        op: operation.op.clone(),
                        path: Some(key.clone()),
                        value: Some(value.clone()),
                    };
                    apply_at(resource, &target(key)?, &single)?;
                }
            }
        }
    }
    Ok(())
}

fn apply_at(resource: &mut Value, target: &Target, operation: &Operation) -> Result<(), ScimError> {
    let Value::Object(root) = resource else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the resource is not an object",
        ));
    };
    let key = key_of(root, &target.attribute);
    if ["id", "meta", "schemas"].contains(&key.as_str()) {
        return Ok(());
    }
    let op = operation.op.as_str();
    let value = operation.value.clone();
    let need_value = || {
        value
            .clone()
            .ok_or_else(|| ScimError::bad("invalidValue", format!("{op} needs a value")))
    };
    match (&target.filter, &target.sub) {
        (None, None) => {
            if op == "remove" {
                match (root.get_mut(&key), &value) {
                    // Removing listed members: `{"op":"remove","path":"members","value":[…]}`.
                    (Some(Value::Array(items)), Some(Value::Array(listed))) => {
                        let gone: Vec<&Value> = listed
                            .iter()
                            .filter_map(|l| l.as_object().and_then(|o| attribute(o, "value")))
                            .collect();
                        items.retain(|item| {
                            let own = item.as_object().and_then(|o| attribute(o, "value"));
                            !own.is_some_and(|own| gone.contains(&own))
                        });
                    }
                    _ => {
                        root.remove(&key);
                    }
                }
            } else {
                let value = need_value()?;
                match root.get_mut(&key) {
                    Some(slot) if !slot.is_null() => put(slot, value, op),
                    Some(slot) => *slot = value,
                    None => {
                        root.insert(key, value);
                    }
                }
            }
        }
        (None, Some(sub)) => {
            if op == "remove" {
                if let Some(Value::Object(inner)) = root.get_mut(&key) {
                    let sub = key_of(inner, sub);
                    inner.remove(&sub);
                }
            } else {
                let value = need_value()?;
                let slot = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
                match slot {
                    Value::Object(inner) => {
                        let sub = key_of(inner, sub);
                        inner.insert(sub, value);
                    }
                    Value::Array(items) => {
                        for item in items.iter_mut().filter_map(Value::as_object_mut) {
                            let sub = key_of(item, sub);
                            item.insert(sub, value.clone());
                        }
                    }
                    other => {
                        let mut inner = Map::new();
                        inner.insert(sub.clone(), value);
                        *other = Value::Object(inner);
                    }
                }
            }
        }
        (Some(filter), sub) => {
            let slot = root.entry(key).or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            let Value::Array(items) = slot else {
                return Ok(());
            };
            if op == "remove" {
                match sub {
                    None => items.retain(|item| !filter.matches(item)),
                    Some(sub) => {
                        for item in items.iter_mut().filter(|item| filter.matches(item)) {
                            if let Value::Object(inner) = item {
                                let sub = key_of(inner, sub);
                                inner.remove(&sub);
                            }
                        }
                    }
                }
                return Ok(());
            }
            let value = need_value()?;
            let mut matched = false;
            for item in items.iter_mut().filter(|item| filter.matches(item)) {
                matched = true;
                match (sub, &mut *item) {
                    (Some(sub), Value::Object(inner)) => {
                        let sub = key_of(inner, sub);
                        inner.insert(sub, value.clone());
                    }
                    (_, item) => put(item, value.clone(), "replace"),
                }
            }
            if !matched {
                // `emails[type eq "work"].value` on a resource without a work email: the
                // element the filter describes is created.
                let mut element = Map::new();
                for comparison in filter.0.iter().filter(|c| c.op == "eq") {
                    if let [name] = comparison.path.as_slice() {
                        element.insert(name.clone(), comparison.value.clone());
                    }
                }
                let mut element = Value::Object(element);
                match sub {
                    Some(sub) => {
                        if let Value::Object(inner) = &mut element {
                            inner.insert(sub.clone(), value);
                        }
                    }
                    None => put(&mut element, value, "replace"),
                }
                items.insert(0, element);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ops(value: Value) -> Vec<Operation> {
        operations(value.as_object().expect("an object")).expect("valid operations")
    }

    #[test]
    fn filters_compare_without_case() {
        let filter = Filter::parse(r#"userName eq "Ada@Example.org""#).expect("a filter");
        assert!(filter.matches(&json!({"userName": "ada@example.org"})));
        assert!(!filter.matches(&json!({"userName": "bob@example.org"})));
        let filter =
            Filter::parse(r#"emails.value sw "ada" and active eq true"#).expect("a filter");
        assert!(filter.matches(&json!({"emails": [{"value": "ada@x.org"}], "active": true})));
        assert!(Filter::parse("userName gt 3").is_err());
    }

    #[test]
    fn patch_forms() {
        let mut user = json!({"userName": "a", "active": true, "name": {"formatted": "A"},
            "emails": [{"value": "a@x.org"}]});
        apply(
            &mut user,
            &ops(json!({"Operations": [
                {"op": "Replace", "value": {"active": false}},
                {"op": "replace", "path": "name.formatted", "value": "B"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x.org"},
            ]})),
        )
        .expect("the patch applies");
        assert_eq!(user["active"], json!(false));
        assert_eq!(user["name"]["formatted"], json!("B"));
        assert_eq!(
            user["emails"][0],
            json!({"type": "work", "value": "b@x.org"})
        );

        let mut group = json!({"displayName": "g", "members": [{"value": "1"}, {"value": "2"}]});
        apply(
            &mut group,
            &ops(json!({"Operations": [
                {"op": "remove", "path": "members[value eq \"1\"]"},
                {"op": "add", "path": "members", "value": [{"value": "3"}]},
            ]})),
        )
        .expect("the patch applies");
        assert_eq!(group["members"], json!([{"value": "2"}, {"value": "3"}]));
    }
}
