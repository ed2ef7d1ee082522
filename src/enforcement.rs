//! What the server does with a finding that would deny: deny it, or let the object in with a
//! `would deny:` warning (audit mode). Operators switch a new validating webhook on in `warn`
//! first, read what it would refuse, fix, then enforce; per-class overrides let one class be
//! audited while the others enforce.
//!
//! Enforcement only acts on findings that *would deny*: which ones do is decided before, by the
//! rule class and `--strict-references` (reference findings would deny only with it), and by
//! UPDATE ratcheting. So enforcement can never make a finding deny that would not otherwise.

use std::fmt;
use std::str::FromStr;

use crate::finding::RuleClass;

/// The effect of a finding that would deny.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Action {
    /// Refuse the request (the default).
    #[default]
    Deny,
    /// Allow it, with the finding as a `would deny:` warning.
    Warn,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Warn => "warn",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        match s {
            "deny" => Some(Action::Deny),
            "warn" => Some(Action::Warn),
            _ => None,
        }
    }
}

/// One `--enforcement` value: `deny`/`warn` for every class, or `CLASS=deny|warn` for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `None` sets the action of every class without an override of its own.
    pub class: Option<RuleClass>,
    pub action: Action,
}

/// Why an `--enforcement` value cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The action is not `deny` or `warn`.
    #[error("unknown action {0:?}: expected deny or warn")]
    Action(String),
    /// The part before `=` names no rule class.
    #[error("unknown rule class {0:?}: expected spec, reference or conflict")]
    Class(String),
}

impl FromStr for Entry {
    type Err = EntryError;

    fn from_str(s: &str) -> Result<Entry, EntryError> {
        let s = s.trim();
        let (class, action) = match s.split_once('=') {
            None => (None, s),
            Some((class, action)) => {
                let class = class.trim();
                let class = match class {
                    "spec" => RuleClass::Spec,
                    "reference" => RuleClass::Reference,
                    "conflict" => RuleClass::Conflict,
                    _ => return Err(EntryError::Class(class.to_owned())),
                };
                (Some(class), action.trim())
            }
        };
        let action = Action::parse(action).ok_or_else(|| EntryError::Action(action.to_owned()))?;
        Ok(Entry { class, action })
    }
}

/// The action for each rule class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enforcement {
    default: Action,
    spec: Option<Action>,
    reference: Option<Action>,
    conflict: Option<Action>,
}

impl Enforcement {
    /// Every class warns: the audit mode.
    pub fn warn() -> Enforcement {
        Enforcement {
            default: Action::Warn,
            ..Enforcement::default()
        }
    }

    /// Combines `--enforcement` values. A class's own entry wins over the value for every
    /// class, whatever their order; of two entries for the same target the later wins, as
    /// with any repeated option. No entry at all is `deny`.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Enforcement {
        let mut e = Enforcement::default();
        for entry in entries {
            let slot = match entry.class {
                None => {
                    e.default = entry.action;
                    continue;
                }
                Some(RuleClass::Spec) => &mut e.spec,
                Some(RuleClass::Reference) => &mut e.reference,
                Some(RuleClass::Conflict) => &mut e.conflict,
            };
            *slot = Some(entry.action);
        }
        e
    }

    /// A copy with `class` set to `action`.
    pub fn with(mut self, class: RuleClass, action: Action) -> Enforcement {
        let slot = match class {
            RuleClass::Spec => &mut self.spec,
            RuleClass::Reference => &mut self.reference,
            RuleClass::Conflict => &mut self.conflict,
        };
        *slot = Some(action);
        self
    }

    /// What a finding of `class` that would deny does.
    pub fn action(&self, class: RuleClass) -> Action {
        match class {
            RuleClass::Spec => self.spec,
            RuleClass::Reference => self.reference,
            RuleClass::Conflict => self.conflict,
        }
        .unwrap_or(self.default)
    }
}

impl fmt::Display for Enforcement {
    /// `spec=deny,reference=deny,conflict=warn`: every class spelled out, for the start-up log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let classes = [
            ("spec", RuleClass::Spec),
            ("reference", RuleClass::Reference),
            ("conflict", RuleClass::Conflict),
        ];
        for (i, (name, class)) in classes.into_iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={}", self.action(class).as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> Result<Enforcement, EntryError> {
        let entries: Vec<Entry> = values.iter().map(|v| v.parse()).collect::<Result<_, _>>()?;
        Ok(Enforcement::from_entries(&entries))
    }

    #[test]
    fn no_value_denies_every_class() {
        let e = parse(&[]).unwrap();
        assert_eq!(e, Enforcement::default());
        assert_eq!(e.to_string(), "spec=deny,reference=deny,conflict=deny");
    }

    #[test]
    fn a_bare_action_sets_every_class() {
        assert_eq!(parse(&["warn"]).unwrap(), Enforcement::warn());
        assert_eq!(
            parse(&["warn"]).unwrap().to_string(),
            "spec=warn,reference=warn,conflict=warn"
        );
        assert_eq!(parse(&["deny"]).unwrap(), Enforcement::default());
    }

    #[test]
    fn a_class_override_sets_that_class_only() {
        let e = parse(&["conflict=warn"]).unwrap();
        assert_eq!(e.action(RuleClass::Conflict), Action::Warn);
        assert_eq!(e.action(RuleClass::Spec), Action::Deny);
        assert_eq!(e.action(RuleClass::Reference), Action::Deny);
    }

    #[test]
    fn a_class_override_wins_over_the_bare_action_in_any_order() {
        for values in [["warn", "spec=deny"], ["spec=deny", "warn"]] {
            let e = parse(&values).unwrap();
            assert_eq!(
                e.to_string(),
                "spec=deny,reference=warn,conflict=warn",
                "{values:?}"
            );
        }
    }

    #[test]
    fn of_two_values_for_one_target_the_later_wins() {
        assert_eq!(parse(&["warn", "deny"]).unwrap(), Enforcement::default());
        let e = parse(&["conflict=warn", "conflict=deny"]).unwrap();
        assert_eq!(e.action(RuleClass::Conflict), Action::Deny);
    }

    #[test]
    fn spaces_around_the_parts_are_ignored() {
        let e = parse(&[" reference = warn "]).unwrap();
        assert_eq!(e.action(RuleClass::Reference), Action::Warn);
    }

    #[test]
    fn unknown_actions_and_classes_are_named_in_the_error() {
        assert_eq!(
            parse(&["audit"]).unwrap_err().to_string(),
            "unknown action \"audit\": expected deny or warn"
        );
        assert_eq!(
            parse(&["conflicts=warn"]).unwrap_err().to_string(),
            "unknown rule class \"conflicts\": expected spec, reference or conflict"
        );
        assert_eq!(
            parse(&["conflict="]).unwrap_err(),
            EntryError::Action(String::new())
        );
        assert!(parse(&["Warn"]).is_err(), "values are lowercase, as clap's");
    }
}
