//! What every page's forms share: the values typed into a form, echoed back when it is shown
//! again with errors (`Echo`), a field that names one of a closed set of words (`Choice`), and
//! the form with nothing but its CSRF token (`EmptyForm`). Reading a form is `extract::CsrfForm`'s
//! job; this module owns only the shapes forms are read into.

use std::collections::HashMap;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

use crate::domain::text::{Invalid, Word};
use crate::service::{FieldError, ServiceError};

/// Values typed into a form, echoed back when it is shown again with errors.
#[derive(Debug, Default)]
pub struct Echo(HashMap<String, String>);

impl Echo {
    pub fn value(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn is(&self, key: &str, value: &str) -> bool {
        self.value(key) == value
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_owned(), value.to_owned());
    }

    /// The fields of a typed form as they were sent: a form struct serialises back to the
    /// names and words it was read from (a `Choice` as its raw text, an unticked box as
    /// nothing), so a page shown again holds exactly what was typed.
    pub fn of(form: &impl Serialize) -> Self {
        let mut echo = Echo::default();
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(form) {
            for (key, value) in fields {
                match value {
                    serde_json::Value::Null => {}
                    serde_json::Value::String(text) => {
                        echo.0.insert(key, text);
                    }
                    other => {
                        echo.0.insert(key, other.to_string());
                    }
                }
            }
        }
        echo
    }
}

/// A form field that should name one of a closed set of words (a failure type, a role, an
/// outcome). It keeps what was typed and either the enum or the refusal: a word outside the set
/// is the page's 422 naming the field (`Choice::read`), as the use cases answered when they
/// parsed text, never the form reader's bare 400. A missing field reads as empty text.
#[derive(Debug, Clone)]
pub struct Choice<E> {
    raw: String,
    parsed: Result<E, Invalid>,
}

impl<E: Word> Choice<E> {
    /// A choice as if `raw` had been sent (a form's default).
    pub fn of(raw: String) -> Self {
        let parsed = E::parse_word(&raw);
        Choice { raw, parsed }
    }
}

impl<E: Word + Clone> Choice<E> {
    /// The word as its enum, or the refusal as a field error named `field`.
    pub fn read(&self, field: &str) -> Result<E, ServiceError> {
        self.parsed
            .clone()
            .map_err(|invalid| ServiceError::field(field, invalid.0))
    }

    /// The word as its enum, or `default` when it was left out or is not one of the words (a
    /// questionnaire's "unsure").
    pub fn or(&self, default: E) -> E {
        self.parsed.clone().unwrap_or(default)
    }

    /// Whether nothing was chosen (a template's "any").
    pub fn is_empty(&self) -> bool {
        self.raw.trim().is_empty()
    }

    /// `None` when the field was left empty (an optional choice), else as `read`.
    pub fn read_optional(&self, field: &str) -> Result<Option<E>, ServiceError> {
        if self.raw.trim().is_empty() {
            Ok(None)
        } else {
            self.read(field).map(Some)
        }
    }
}

/// Templates compare a choice with the word it should show as chosen.
impl<E> PartialEq<&str> for Choice<E> {
    fn eq(&self, word: &&str) -> bool {
        self.raw == *word
    }
}

impl<E: Word> Default for Choice<E> {
    fn default() -> Self {
        Choice::of(String::new())
    }
}

impl<'de, E: Word> Deserialize<'de> for Choice<E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Choice::of)
    }
}

impl<E> Serialize for Choice<E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

/// A checkbox: ticked when the field was sent at all, whatever its value, as browsers send a
/// ticked box and leave an unticked one out. Echoed back as "on".
#[derive(Debug, Default, Clone, Copy)]
pub struct Tick(pub bool);

impl<'de> Deserialize<'de> for Tick {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|_| Tick(true))
    }
}

impl Serialize for Tick {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 {
            serializer.serialize_str("on")
        } else {
            serializer.serialize_none()
        }
    }
}

/// A form with nothing but its CSRF token (a button).
#[derive(Debug, Default, serde::Deserialize)]
pub struct EmptyForm {}

/// Reads a form's choices one by one, collecting every refusal, so that a page names each wrong
/// field at once.
#[derive(Debug, Default)]
pub struct Reading(Vec<FieldError>);

impl Reading {
    /// The choice's enum, or `None` with its refusal kept for `finish`.
    pub fn choice<E: Word + Clone>(&mut self, field: &str, choice: &Choice<E>) -> Option<E> {
        match &choice.parsed {
            Ok(value) => Some(value.clone()),
            Err(invalid) => {
                self.0.push(FieldError {
                    field: field.to_owned(),
                    message: invalid.0.clone(),
                });
                None
            }
        }
    }

    /// `None` when the field was left empty (an optional filter), else as `choice`.
    pub fn optional_choice<E: Word + Clone>(
        &mut self,
        field: &str,
        choice: &Choice<E>,
    ) -> Option<E> {
        if choice.raw.trim().is_empty() {
            None
        } else {
            self.choice(field, choice)
        }
    }

    /// `Ok` when every choice read, else every refusal as one field error.
    pub fn finish(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(self.0))
        }
    }
}
