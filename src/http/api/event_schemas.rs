//! The OpenAPI document's schema for each event type a webhook subscriber can receive, written
//! from the domain's own list of what each type carries (`EventKind::data_fields`), so the
//! document cannot drift from the payloads (`tests/it/events.rs` checks real ones against it).

use serde_json::{json, Map, Value};
use utoipa::openapi::{OpenApi, RefOr, Schema};
use utoipa::Modify;

use crate::domain::events::{DataField, EventKind, FieldShape, PAYLOAD_VERSION};

/// Adds `<Kind>Event` per event type and makes `EventPayload` the choice between them,
/// discriminated by `type`.
pub struct EventSchemas;

/// The component name of one event type's schema: `loop.stage_changed` → `LoopStageChangedEvent`.
pub fn schema_name(kind: EventKind) -> String {
    let mut name: String = kind
        .as_str()
        .split(['.', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    name.push_str("Event");
    name
}

fn shape(field: &DataField) -> Value {
    let mut schema = match field.shape {
        FieldShape::Id => json!({"type": "string", "format": "uuid"}),
        FieldShape::Text => json!({"type": "string"}),
        FieldShape::Flag => json!({"type": "boolean"}),
        FieldShape::Day => json!({"type": "string", "format": "date"}),
        FieldShape::Word(words) => json!({"type": "string", "enum": words}),
    };
    if field.nullable {
        schema["type"] = json!([schema["type"], "null"]);
        if let Some(words) = schema.get_mut("enum").and_then(Value::as_array_mut) {
            words.push(Value::Null);
        }
    }
    schema["description"] = Value::String(field.about.to_owned());
    schema
}

/// One event type's whole payload as JSON Schema: the envelope, the three fields every event
/// carries, and the type's own; nothing else.
pub fn event_schema(kind: EventKind) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "team_id".into(),
        json!({"type": "string", "format": "uuid", "description": "The team it happened in."}),
    );
    properties.insert(
        "subject_id".into(),
        json!({"type": "string", "format": "uuid",
               "description": "The loop, action, learning, session, experiment or round it is about."}),
    );
    properties.insert(
        "actor_id".into(),
        json!({"type": ["string", "null"], "format": "uuid",
               "description": "Who made the change; null for an anonymous or unnamed change and the system's."}),
    );
    let mut required = vec!["team_id", "subject_id", "actor_id"];
    for field in kind.data_fields() {
        properties.insert(field.name.into(), shape(field));
        if field.always {
            required.push(field.name);
        }
    }
    json!({
        "type": "object",
        "description": format!("The payload of a `{}` event (version {PAYLOAD_VERSION}).", kind.as_str()),
        "required": ["type", "version", "timestamp", "data"],
        "additionalProperties": false,
        "properties": {
            "type": {"type": "string", "enum": [kind.as_str()]},
            "version": {"type": "integer", "enum": [PAYLOAD_VERSION],
                        "description": "Raised only when a field changes meaning or goes away."},
            "timestamp": {"type": "string", "format": "date-time",
                          "description": "When it happened; midnight UTC for an anonymous or unnamed change."},
            "data": {
                "type": "object",
                "required": required,
                "additionalProperties": false,
                "properties": properties,
            },
        },
    })
}

impl Modify for EventSchemas {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut choices = Vec::new();
        let mut mapping = Map::new();
        for kind in EventKind::ALL {
            let name = schema_name(kind);
            let reference = format!("#/components/schemas/{name}");
            choices.push(json!({"$ref": reference}));
            mapping.insert(kind.as_str().to_owned(), Value::String(reference));
            if let Ok(schema) = serde_json::from_value::<Schema>(event_schema(kind)) {
                components.schemas.insert(name, RefOr::T(schema));
            }
        }
        let payload = json!({
            "description": "What a subscriber receives, signed per Standard Webhooks: headers `webhook-id` (the same on every retry), `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">`, one per live secret, separated by spaces). One schema per event type, chosen by `type`.",
            "oneOf": choices,
            "discriminator": {"propertyName": "type", "mapping": mapping},
        });
        if let Ok(schema) = serde_json::from_value::<Schema>(payload) {
            components
                .schemas
                .insert("EventPayload".to_owned(), RefOr::T(schema));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_types() {
        assert_eq!(
            schema_name(EventKind::LoopStageChanged),
            "LoopStageChangedEvent"
        );
        assert_eq!(
            schema_name(EventKind::PulseRoundClosed),
            "PulseRoundClosedEvent"
        );
    }

    #[test]
    fn every_schema_becomes_part_of_the_document() {
        for kind in EventKind::ALL {
            assert!(
                serde_json::from_value::<Schema>(event_schema(kind)).is_ok(),
                "{}",
                kind.as_str()
            );
        }
    }
}
