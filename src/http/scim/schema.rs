//! The discovery documents (RFC 7643 §5–7): what this server supports, and the User and Group
//! schemas limited to the attributes it keeps, so that a provider sends nothing it would drop.

use serde_json::{json, Value};

use super::{AppState, GROUP_SCHEMA, USER_SCHEMA};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

fn meta(state: &AppState, resource_type: &str, path: &str) -> Value {
    json!({
        "resourceType": resource_type,
        "location": state.service.link(&format!("/scim/v2/{path}")),
    })
}

pub fn service_provider_config(state: &AppState) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": state.service.link("/docs/api"),
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": super::MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM bearer token",
            "description": "The organisation's SCIM token (failforward admin scim-token)",
            "primary": true,
        }],
        "meta": meta(state, "ServiceProviderConfig", "ServiceProviderConfig"),
    })
}

pub fn resource_types(state: &AppState) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "An account of the organisation",
            "schema": USER_SCHEMA,
            "meta": meta(state, "ResourceType", "ResourceTypes/User"),
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A team",
            "schema": GROUP_SCHEMA,
            "meta": meta(state, "ResourceType", "ResourceTypes/Group"),
        }),
    ]
}

fn attribute(name: &str, kind: &str, required: bool, mutability: &str, uniqueness: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": name,
        "required": required,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": uniqueness,
    })
}

pub fn schemas(state: &AppState) -> Vec<Value> {
    let mut emails = attribute("emails", "complex", true, "readWrite", "none");
    emails["multiValued"] = json!(true);
    emails["subAttributes"] = json!([attribute("value", "string", true, "readWrite", "none")]);
    // An account always has a name and a state: neither can be removed, so both are required.
    let mut name = attribute("name", "complex", true, "readWrite", "none");
    name["subAttributes"] = json!([attribute("formatted", "string", false, "readWrite", "none")]);
    let user = json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "An account; userName is the provider's, emails[0] signs in",
        "attributes": [
            attribute("userName", "string", true, "readWrite", "server"),
            name,
            attribute("displayName", "string", true, "readWrite", "none"),
            emails,
            attribute("active", "boolean", true, "readWrite", "none"),
        ],
        "meta": meta(state, "Schema", &format!("Schemas/{USER_SCHEMA}")),
    });
    let mut members = attribute("members", "complex", false, "readWrite", "none");
    members["multiValued"] = json!(true);
    let mut reference = attribute("$ref", "reference", false, "immutable", "none");
    reference["referenceTypes"] = json!(["User"]);
    members["subAttributes"] = json!([
        attribute("value", "string", false, "immutable", "none"),
        reference,
    ]);
    let group = json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A team; removing a group unlinks it, the team stays",
        "attributes": [
            attribute("displayName", "string", true, "readWrite", "none"),
            members,
        ],
        "meta": meta(state, "Schema", &format!("Schemas/{GROUP_SCHEMA}")),
    });
    vec![user, group]
}
