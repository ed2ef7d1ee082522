//! The generated ValidatingAdmissionPolicy, evaluated with the `cel` interpreter as the API
//! server evaluates it, beside the engine's verdict on the same object.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use cel::{Context, Env, Program, Value as Cel};
use failover_webhook::api::ObjectRef;
use failover_webhook::engine::{Change, Review, Settings, evaluate};
use failover_webhook::finding::{RuleClass, RuleCode};
use failover_webhook::policy::{Policy, PolicySettings};
use serde_json::{Number, Value};

/// The policy compiled once.
pub struct Compiled {
    env: Arc<Env>,
    variables: Vec<(String, Program)>,
    validations: Vec<(RuleCode, Program, Program)>,
    pub settings: Settings,
}

/// One admission, as the API server presents it to both.
pub struct Admission<'a> {
    pub object: &'a Value,
    /// `Some` on UPDATE.
    pub old: Option<&'a Value>,
    /// The request's namespace (`metadata.namespace` of the object).
    pub namespace: &'a str,
    pub name: &'a str,
}

/// What the policy decided: the codes of the failing validations, and their messages.
#[derive(Debug)]
pub struct PolicyVerdict {
    pub failing: BTreeMap<RuleCode, String>,
}

/// What the engine decided: the spec-class codes that deny, with "field: message" of each.
#[derive(Debug)]
pub struct EngineVerdict {
    pub denying: BTreeMap<RuleCode, Vec<(String, String)>>,
}

impl Compiled {
    pub fn new(default_cluster: Option<&str>) -> Compiled {
        let policy = Policy::new(&PolicySettings {
            default_cluster: default_cluster.map(str::to_owned),
        });
        let mut env = Env::stdlib();
        cel::extensions::strings(&mut env).expect("the string library registers");
        let env = Arc::new(env);
        let compile = |what: &str, source: &str| {
            env.compile(source)
                .unwrap_or_else(|e| panic!("{what} does not compile: {e:?}\n{source}"))
        };
        let variables = policy
            .variables
            .iter()
            .map(|(name, source)| (name.clone(), compile(name, source)))
            .collect();
        let validations = policy
            .validations
            .iter()
            .map(|v| {
                (
                    v.code,
                    compile(v.code.as_str(), &v.expression),
                    compile(v.code.as_str(), &v.message_expression),
                )
            })
            .collect();
        Compiled {
            env,
            variables,
            validations,
            settings: Settings {
                default_cluster: default_cluster.map(str::to_owned),
                strict_references: false,
                enforcement: Default::default(),
            },
        }
    }

    /// Evaluates every variable, validation and (for the failing ones) message. Any evaluation
    /// error is an error: in the API server it would deny with no rule's message.
    pub fn judge(&self, a: &Admission<'_>) -> Result<PolicyVerdict, String> {
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.add_variable_from_value("object", to_cel(a.object));
        ctx.add_variable_from_value("oldObject", a.old.map_or(Cel::Null, to_cel));
        let request: HashMap<String, Cel> = [
            (
                "operation".to_owned(),
                Cel::from(if a.old.is_some() { "UPDATE" } else { "CREATE" }),
            ),
            ("namespace".to_owned(), Cel::from(a.namespace)),
        ]
        .into_iter()
        .collect();
        ctx.add_variable_from_value("request", request);
        let mut variables: HashMap<String, Cel> = HashMap::new();
        for (name, program) in &self.variables {
            ctx.add_variable_from_value("variables", variables.clone());
            let value = program
                .execute(&ctx)
                .map_err(|e| format!("variable {name}: {e}"))?;
            variables.insert(name.clone(), value);
        }
        ctx.add_variable_from_value("variables", variables);
        let mut failing = BTreeMap::new();
        for (code, expression, message) in &self.validations {
            match expression.execute(&ctx) {
                Ok(Cel::Bool(true)) => {}
                Ok(Cel::Bool(false)) => {
                    let text = match message.execute(&ctx) {
                        Ok(Cel::String(s)) => s.to_string(),
                        other => return Err(format!("{code:?} message: {other:?}")),
                    };
                    failing.insert(*code, text);
                }
                other => return Err(format!("{code:?}: {other:?}")),
            }
        }
        Ok(PolicyVerdict { failing })
    }

    pub fn engine(&self, a: &Admission<'_>) -> EngineVerdict {
        let this = ObjectRef {
            name: a.name.to_owned(),
            namespace: a.namespace.to_owned(),
        };
        let change = match a.old {
            Some(old) => Change::Update { old },
            None => Change::Create,
        };
        let eval = evaluate(
            &Review {
                change,
                object: a.object,
                this: &this,
                // The policy knows no skip annotation; spec findings cannot be skipped anyway.
                skip_rules: None,
            },
            None,
            &self.settings,
        );
        let mut denying: BTreeMap<RuleCode, Vec<(String, String)>> = BTreeMap::new();
        for j in eval.findings.iter().filter(|j| j.deny()) {
            if j.finding.class() == RuleClass::Spec {
                denying
                    .entry(j.finding.code)
                    .or_default()
                    .push((j.finding.field.to_string(), j.finding.message.clone()));
            }
        }
        EngineVerdict { denying }
    }
}

impl PolicyVerdict {
    pub fn codes(&self) -> BTreeSet<RuleCode> {
        self.failing.keys().copied().collect()
    }
}

impl EngineVerdict {
    pub fn codes(&self) -> BTreeSet<RuleCode> {
        self.denying.keys().copied().collect()
    }
}

/// Whether the engine's text can be compared word for word: Rust's `{:?}` escapes quotes,
/// backslashes and non-ASCII characters, which CEL cannot reproduce, and prints floats its own
/// way.
pub fn plain(text: &str) -> bool {
    text.chars().all(|c| (' '..='~').contains(&c) && c != '\\')
}

/// Checks that the policy's message for `code` is in the engine's words: one of the engine's
/// findings of that code, as `field: message`. An unknown
/// field's "did you mean" suggestion has no CEL counterpart: there only the part before it is
/// compared.
pub fn message_matches(code: RuleCode, policy: &str, engine: &[(String, String)]) -> bool {
    let texts: Vec<String> = engine
        .iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect();
    if !texts.iter().all(|t| plain(t)) || !plain(policy) {
        return true;
    }
    texts.iter().any(|t| {
        t == policy
            || (code == RuleCode::UnknownField
                && t.contains("; did you mean")
                && t.split("; ").next() == policy.split("; ").next())
    })
}

/// A JSON value as the API server hands it to CEL: integers that fit an int64 are `int`,
/// every other number `double`.
pub fn to_cel(v: &Value) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cel::Int(i),
            None => Cel::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(a) => Cel::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let map: HashMap<String, Cel> = m.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            map.into()
        }
    }
}

/// `v` as it reaches both the webhook and CEL: the API server decodes JSON numbers into int64
/// when they parse as one and float64 otherwise, and writes a whole float64 below 1e21 back as
/// an integer. So `80.0` arrives as `80`, while `80.5` and `1e21` stay floats.
pub fn as_api_server_sends(v: &Value) -> Value {
    match v {
        Value::Number(n) if !n.is_i64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
            {
                Value::from(f as i64)
            } else {
                Value::Number(Number::from_f64(f).unwrap_or_else(|| Number::from(0)))
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(as_api_server_sends).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), as_api_server_sends(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Runs `f` on a thread with a large stack: the interpreter's parser and evaluator recurse once
/// per nested expression, and unoptimised builds need more than a test thread's 2 MiB.
pub fn with_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(f)
        .expect("a thread starts")
        .join()
    {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
