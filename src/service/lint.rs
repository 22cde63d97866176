//! The blameless-language linter as a use case: the built-in rules with the organisation's own
//! terms and switches, and findings dismissed for a given text.

use crate::domain::blameless::{self, Category, CustomTerm, Finding, Rules};
use crate::domain::text::single_line;
use crate::domain::RecordId;
use crate::store::lint::LintTermRecord;

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{secrets, Actor, Service};

/// The longest text linted in one request (about a long postmortem).
pub const MAX_LINT_CHARS: usize = 200_000;

/// What the linter found in a text, after dismissals.
#[derive(Debug, Clone)]
pub struct LintReport {
    pub findings: Vec<Finding>,
    pub dismissed: usize,
}

/// A built-in rule and whether the organisation has it on.
#[derive(Debug, Clone)]
pub struct RuleState {
    pub id: String,
    pub category: Category,
    pub message: String,
    pub enabled: bool,
}

impl Service {
    /// The rules in force: built-in ones not switched off, plus the organisation's terms.
    pub async fn lint_rules(&self) -> ServiceResult<Rules> {
        let terms = self.store.lint_terms().await?;
        let disabled = self.store.disabled_rules().await?;
        let custom: Vec<CustomTerm> = terms
            .iter()
            .filter_map(|t| {
                Some(CustomTerm {
                    category: Category::parse(&t.category)?,
                    phrase: t.phrase.clone(),
                    message: t.message.clone(),
                    suggestion: t.suggestion.clone(),
                })
            })
            .collect();
        if custom.is_empty() && disabled.is_empty() {
            return Ok(Rules::builtin().clone());
        }
        Ok(Rules::builtin().with_overrides(&custom, &disabled))
    }

    /// Lints `text` for a signed-in person, leaving out findings dismissed for this exact text.
    pub async fn lint(&self, text: &str) -> ServiceResult<LintReport> {
        if text.chars().count() > MAX_LINT_CHARS {
            return Err(ServiceError::field(
                "text",
                format!("is too long (at most {MAX_LINT_CHARS} characters)"),
            ));
        }
        let rules = self.lint_rules().await?;
        let findings = blameless::lint(text, &rules);
        let dismissed = if findings.is_empty() {
            Vec::new()
        } else {
            let hash = secrets::hash(text);
            let mut dismissed = self.store.dismissals(&hash).await?;
            dismissed.extend(self.held.dismissals_of(&hash));
            dismissed
        };
        let before = findings.len();
        let findings: Vec<Finding> = findings
            .into_iter()
            .filter(|f| {
                !dismissed
                    .iter()
                    .any(|(rule, start)| *rule == f.rule && *start == f.start as i64)
            })
            .collect();
        Ok(LintReport {
            dismissed: before - findings.len(),
            findings,
        })
    }

    /// Dismisses one finding for this exact text, with a reason; it stays dismissed for it.
    pub async fn dismiss_finding(
        &self,
        // Only a signed-in person dismisses; who it was is not kept (below), only counted
        // against their share of what this server holds.
        signed_in: &Actor,
        text: &str,
        rule: &str,
        start: i64,
        reason: &str,
    ) -> ServiceResult<()> {
        let reason = single_line(reason, 500).map_err(|e| ServiceError::field("reason", e.0))?;
        let report = self.lint(text).await?;
        if !report
            .findings
            .iter()
            .any(|f| f.rule == rule && f.start as i64 == start)
        {
            return Err(ServiceError::field(
                "rule",
                "there is no such finding in this text",
            ));
        }
        // Neither who nor when, and not now: the text may become an anonymous loop's, and its
        // hash would pair with it once published — a row written now would sit among the
        // writer's named writes. Held, and written with the day's anonymous loops (see
        // `service::held`); this server's lint answers count it meanwhile.
        let dismissal = crate::store::lint::NewDismissal {
            text_hash: secrets::hash(text),
            rule: rule.to_owned(),
            start,
            reason,
            dismissed_on: crate::domain::when::day_of(self.now()),
        };
        let bytes = super::held::size_of_dismissal(&dismissal);
        self.admit_held(Some(signed_in.id()), bytes, false)?;
        if !self.held.hold_dismissal(dismissal) {
            self.held.give_back(bytes);
        }
        Ok(())
    }

    /// The built-in rules with their state, and the organisation's terms (any signed-in person).
    pub async fn lint_settings(&self) -> ServiceResult<(Vec<RuleState>, Vec<LintTermRecord>)> {
        let disabled = self.store.disabled_rules().await?;
        let rules = Rules::builtin()
            .describe()
            .into_iter()
            .map(|(id, category, message)| RuleState {
                enabled: !disabled.contains(&id),
                id,
                category,
                message,
            })
            .collect();
        Ok((rules, self.store.lint_terms().await?))
    }

    /// Adds a term to the organisation's rules (admins).
    pub async fn add_lint_term(
        &self,
        actor: &Actor,
        category: &str,
        phrase: &str,
        message: &str,
        suggestion: &str,
    ) -> ServiceResult<RecordId> {
        actor.require_admin()?;
        let mut errors = FieldErrors::default();
        let category = Category::parse(category);
        if category.is_none() {
            errors.push(
                "category",
                "must be one of: blame_person, counterfactual, human_error, root_cause_singular, moralising, hindsight_certainty",
            );
        }
        let phrase = errors.take("phrase", single_line(phrase, 80));
        let optional = |errors: &mut FieldErrors, field: &str, raw: &str| {
            if raw.trim().is_empty() {
                Some(None)
            } else {
                errors.take(field, single_line(raw, 300)).map(Some)
            }
        };
        let message = optional(&mut errors, "message", message);
        let suggestion = optional(&mut errors, "suggestion", suggestion);
        let (Some(category), Some(phrase), Some(message), Some(suggestion)) =
            (category, phrase, message, suggestion)
        else {
            return Err(errors.into());
        };
        let id = RecordId::random();
        self.store
            .add_lint_term(&crate::store::lint::NewLintTerm {
                id,
                category: category.as_str().to_owned(),
                phrase,
                message,
                suggestion,
                created_by: actor.id(),
                created_at: self.now(),
            })
            .await?;
        Ok(id)
    }

    pub async fn remove_lint_term(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        actor.require_admin()?;
        let id: RecordId = id.parse().map_err(|_| ServiceError::NotFound)?;
        if self.store.delete_lint_term(id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Switches a built-in rule on or off for the organisation (admins).
    pub async fn set_lint_rule(
        &self,
        actor: &Actor,
        rule: &str,
        enabled: bool,
    ) -> ServiceResult<()> {
        actor.require_admin()?;
        if !Rules::builtin()
            .describe()
            .iter()
            .any(|(id, _, _)| id == rule)
        {
            return Err(ServiceError::NotFound);
        }
        self.store
            .set_rule_enabled(rule, enabled, actor.id(), self.now())
            .await?;
        Ok(())
    }
}
