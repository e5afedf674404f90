//! WhatsApp template definitions: the checks Meta applies when a template is
//! submitted, placeholder extraction (numeric order, named parameters) and
//! rendering of the text a recipient will read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::CoreError;

pub const CATEGORIES: [&str; 3] = ["MARKETING", "UTILITY", "AUTHENTICATION"];
const HEADER_FORMATS: [&str; 5] = ["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"];
const BUTTON_KINDS: [&str; 5] = ["QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP"];

/// One component of a template as the CRM stores and submits it (the same
/// shape Meta uses).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct Component {
    /// HEADER, BODY, FOOTER or BUTTONS.
    #[serde(rename = "type")]
    pub kind: String,
    /// Header format: TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Examples, as Meta expects them (`header_text`, `body_text`,
    /// `body_text_named_params`, `header_handle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub example: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<Button>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct Button {
    /// QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub example: Option<Value>,
}

/// A placeholder found in a text: `{{3}}` is `Positional(3)`, `{{first_name}}`
/// is `Named("first_name")`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Placeholder {
    Positional(u32),
    Named(String),
}

impl Placeholder {
    /// The key a binding map uses for this placeholder ("3" or "first_name").
    pub fn key(&self) -> String {
        match self {
            Placeholder::Positional(n) => n.to_string(),
            Placeholder::Named(s) => s.clone(),
        }
    }
}

fn invalid(code: &'static str, field: &str, message: impl Into<String>) -> CoreError {
    CoreError::Validation {
        code,
        message: message.into(),
        details: Some(json!({ "field": field })),
    }
}

/// Every `{{…}}` in `text`, in order of appearance (with repeats). Text that
/// opens `{{` but is not a valid placeholder is an error, as at Meta.
pub fn placeholders(text: &str) -> Result<Vec<Placeholder>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("a '{{' has no matching '}}'".into());
        };
        let inner = after[..end].trim();
        if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
            let n: u32 = inner
                .parse()
                .map_err(|_| format!("placeholder {{{{{inner}}}}} is out of range"))?;
            if n == 0 {
                return Err("placeholders start at {{1}}".into());
            }
            out.push(Placeholder::Positional(n));
        } else if !inner.is_empty()
            && inner.len() <= 100
            && inner.starts_with(|c: char| c.is_ascii_lowercase())
            && inner
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            out.push(Placeholder::Named(inner.to_owned()));
        } else {
            return Err(format!(
                "'{{{{{inner}}}}}' is not a valid placeholder (use {{{{1}}}} or {{{{lowercase_name}}}})"
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(out)
}

/// The distinct placeholders of `text`, positional ones in numeric order
/// (`{{2}}` before `{{10}}`), named ones in order of first appearance.
pub fn ordered_placeholders(text: &str) -> Result<Vec<Placeholder>, String> {
    let all = placeholders(text)?;
    let mut positional: Vec<u32> = all
        .iter()
        .filter_map(|p| match p {
            Placeholder::Positional(n) => Some(*n),
            Placeholder::Named(_) => None,
        })
        .collect();
    positional.sort_unstable();
    positional.dedup();
    let mut named: Vec<String> = Vec::new();
    for p in &all {
        if let Placeholder::Named(s) = p
            && !named.contains(s)
        {
            named.push(s.clone());
        }
    }
    Ok(positional
        .into_iter()
        .map(Placeholder::Positional)
        .chain(named.into_iter().map(Placeholder::Named))
        .collect())
}

/// Replaces each placeholder by its value from `values` (keyed like
/// [`Placeholder::key`]). A missing value is an error naming it.
pub fn render(text: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("a '{{' has no matching '}}'".into());
        };
        let key = after[..end].trim();
        let v = values
            .get(key)
            .ok_or_else(|| format!("no value for {{{{{key}}}}}"))?;
        out.push_str(v);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Which parameter format a template uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamFormat {
    Positional,
    Named,
}

impl ParamFormat {
    pub fn parse(s: Option<&str>) -> Result<Self, CoreError> {
        match s.map(str::to_ascii_uppercase).as_deref() {
            None | Some("POSITIONAL") => Ok(ParamFormat::Positional),
            Some("NAMED") => Ok(ParamFormat::Named),
            Some(other) => Err(invalid(
                "invalid_parameter_format",
                "parameter_format",
                format!("parameter_format '{other}' must be POSITIONAL or NAMED"),
            )),
        }
    }
}

/// A template to submit, before it reaches Meta.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition<'a> {
    pub name: &'a str,
    pub language: &'a str,
    pub category: &'a str,
    pub parameter_format: Option<&'a str>,
    pub components: &'a [Component],
}

pub fn validate_name(name: &str) -> Result<(), CoreError> {
    if name.is_empty() || name.len() > 512 {
        return Err(invalid(
            "invalid_template_name",
            "name",
            "the template name must have 1 to 512 characters",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(invalid(
            "invalid_template_name",
            "name",
            format!(
                "the template name '{name}' may only contain lowercase letters, digits and underscores"
            ),
        ));
    }
    Ok(())
}

/// A language code as Meta lists them: `es`, `en_US`, `pt_BR`, `zh_Hant_HK`…
pub fn validate_language(code: &str) -> Result<(), CoreError> {
    let mut parts = code.split('_');
    let lang_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase()));
    let rest_ok = parts.all(|p| {
        (2..=4).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_alphabetic())
            && p.starts_with(|c: char| c.is_ascii_uppercase())
    });
    if lang_ok && rest_ok {
        Ok(())
    } else {
        Err(invalid(
            "invalid_language",
            "language",
            format!("'{code}' is not a template language code (e.g. es, es_AR, en_US)"),
        ))
    }
}

fn check_len(field: &str, text: &str, max: usize) -> Result<(), CoreError> {
    let n = text.chars().count();
    if n > max {
        return Err(invalid(
            "text_too_long",
            field,
            format!("{field} has {n} characters; Meta allows at most {max}"),
        ));
    }
    Ok(())
}

fn parse_vars(field: &str, text: &str) -> Result<Vec<Placeholder>, CoreError> {
    placeholders(text).map_err(|m| invalid("invalid_placeholder", field, format!("{field}: {m}")))
}

/// Positional placeholders must be {{1}}..{{n}} without gaps; named ones must
/// not be mixed with positional ones and must match the declared format.
fn check_var_set(field: &str, vars: &[Placeholder], format: ParamFormat) -> Result<(), CoreError> {
    let mut nums: Vec<u32> = Vec::new();
    let mut named = false;
    for v in vars {
        match v {
            Placeholder::Positional(n) => nums.push(*n),
            Placeholder::Named(_) => named = true,
        }
    }
    if named && !nums.is_empty() {
        return Err(invalid(
            "mixed_placeholders",
            field,
            format!("{field} mixes numbered and named placeholders"),
        ));
    }
    match format {
        ParamFormat::Positional if named => {
            return Err(invalid(
                "parameter_format_mismatch",
                field,
                format!("{field} uses named placeholders; set parameter_format to NAMED"),
            ));
        }
        ParamFormat::Named if !nums.is_empty() => {
            return Err(invalid(
                "parameter_format_mismatch",
                field,
                format!("{field} uses numbered placeholders but parameter_format is NAMED"),
            ));
        }
        _ => {}
    }
    nums.sort_unstable();
    nums.dedup();
    for (i, n) in nums.iter().enumerate() {
        let want = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if *n != want {
            return Err(invalid(
                "placeholder_sequence",
                field,
                format!(
                    "{field} placeholders must be numbered {{{{1}}}} to {{{{n}}}} without gaps (missing {{{{{want}}}}})"
                ),
            ));
        }
    }
    Ok(())
}

fn example_strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn check_examples(
    field: &str,
    comp: &Component,
    vars: &[Placeholder],
    positional_key: &str,
    named_key: &str,
) -> Result<(), CoreError> {
    let distinct = {
        let mut d = vars.to_vec();
        d.sort();
        d.dedup();
        d
    };
    if distinct.is_empty() {
        return Ok(());
    }
    let example = comp.example.as_ref();
    let named = matches!(distinct.first(), Some(Placeholder::Named(_)));
    if named {
        let given: Vec<(String, String)> = example
            .and_then(|e| e.get(named_key))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some((
                            p.get("param_name")?.as_str()?.to_owned(),
                            p.get("example")?.as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for v in &distinct {
            let key = v.key();
            if !given
                .iter()
                .any(|(n, ex)| *n == key && !ex.trim().is_empty())
            {
                return Err(invalid(
                    "missing_example",
                    field,
                    format!("{field}: add an example for {{{{{key}}}}} in {named_key}"),
                ));
            }
        }
        return Ok(());
    }
    // body_text is [["a","b"]]; header_text is ["a"].
    let raw = example.and_then(|e| e.get(positional_key));
    let values = match raw {
        Some(Value::Array(outer)) if outer.first().is_some_and(Value::is_array) => {
            example_strings(outer.first())
        }
        other => example_strings(other),
    };
    if values.len() != distinct.len() || values.iter().any(|v| v.trim().is_empty()) {
        return Err(invalid(
            "missing_example",
            field,
            format!(
                "{field} has {} variable(s) and needs exactly that many non-empty examples in {positional_key} (got {})",
                distinct.len(),
                values.len()
            ),
        ));
    }
    Ok(())
}

/// The checks Meta runs on a new template, so a bad template is refused here
/// with a precise message instead of after a review round-trip.
pub fn validate(def: &Definition<'_>) -> Result<(), CoreError> {
    validate_name(def.name)?;
    validate_language(def.language)?;
    if !CATEGORIES.contains(&def.category) {
        return Err(invalid(
            "invalid_category",
            "category",
            format!(
                "category '{}' must be MARKETING, UTILITY or AUTHENTICATION",
                def.category
            ),
        ));
    }
    let format = ParamFormat::parse(def.parameter_format)?;
    let count = |k: &str| def.components.iter().filter(|c| c.kind == k).count();
    for c in def.components {
        if !["HEADER", "BODY", "FOOTER", "BUTTONS"].contains(&c.kind.as_str()) {
            return Err(invalid(
                "invalid_component",
                "components",
                format!(
                    "component type '{}' must be HEADER, BODY, FOOTER or BUTTONS",
                    c.kind
                ),
            ));
        }
    }
    if count("BODY") != 1 {
        return Err(invalid(
            "body_required",
            "components",
            "a template needs exactly one BODY component",
        ));
    }
    for k in ["HEADER", "FOOTER", "BUTTONS"] {
        if count(k) > 1 {
            return Err(invalid(
                "duplicate_component",
                "components",
                format!("a template may have at most one {k} component"),
            ));
        }
    }
    for c in def.components {
        match c.kind.as_str() {
            "HEADER" => validate_header(c, format)?,
            "BODY" => validate_body(c, format)?,
            "FOOTER" => {
                let text = c.text.as_deref().unwrap_or_default();
                if text.trim().is_empty() {
                    return Err(invalid("footer_empty", "footer", "the footer has no text"));
                }
                check_len("footer", text, 60)?;
                if !parse_vars("footer", text)?.is_empty() {
                    return Err(invalid(
                        "footer_variables",
                        "footer",
                        "the footer cannot contain variables",
                    ));
                }
            }
            _ => validate_buttons(c)?,
        }
    }
    Ok(())
}

fn validate_header(c: &Component, format: ParamFormat) -> Result<(), CoreError> {
    let hf = c.format.as_deref().unwrap_or("TEXT").to_ascii_uppercase();
    if !HEADER_FORMATS.contains(&hf.as_str()) {
        return Err(invalid(
            "invalid_header_format",
            "header",
            format!("header format '{hf}' must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION"),
        ));
    }
    if hf == "TEXT" {
        let text = c.text.as_deref().unwrap_or_default();
        if text.trim().is_empty() {
            return Err(invalid(
                "header_empty",
                "header",
                "a TEXT header needs text",
            ));
        }
        check_len("header", text, 60)?;
        let vars = parse_vars("header", text)?;
        let mut distinct = vars.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() > 1 {
            return Err(invalid(
                "header_variables",
                "header",
                "a header may contain at most one variable",
            ));
        }
        check_var_set("header", &vars, format)?;
        check_examples(
            "header",
            c,
            &vars,
            "header_text",
            "header_text_named_params",
        )?;
    } else if matches!(hf.as_str(), "IMAGE" | "VIDEO" | "DOCUMENT") {
        let has_handle = c
            .example
            .as_ref()
            .and_then(|e| e.get("header_handle"))
            .is_some_and(|h| !example_strings(Some(h)).is_empty());
        if !has_handle {
            return Err(invalid(
                "missing_example",
                "header",
                format!("a {hf} header needs an example media handle in header_handle"),
            ));
        }
    }
    Ok(())
}

fn validate_body(c: &Component, format: ParamFormat) -> Result<(), CoreError> {
    let text = c.text.as_deref().unwrap_or_default();
    if text.trim().is_empty() {
        return Err(invalid("body_empty", "body", "the body has no text"));
    }
    check_len("body", text, 1024)?;
    let vars = parse_vars("body", text)?;
    check_var_set("body", &vars, format)?;
    let trimmed = text.trim();
    if !vars.is_empty() && (trimmed.starts_with("{{") || trimmed.ends_with("}}")) {
        return Err(invalid(
            "variable_at_edge",
            "body",
            "the body cannot start or end with a variable",
        ));
    }
    check_examples("body", c, &vars, "body_text", "body_text_named_params")
}

fn validate_buttons(c: &Component) -> Result<(), CoreError> {
    let buttons = c.buttons.as_deref().unwrap_or_default();
    if buttons.is_empty() || buttons.len() > 10 {
        return Err(invalid(
            "invalid_buttons",
            "buttons",
            "a BUTTONS component needs 1 to 10 buttons",
        ));
    }
    let of = |k: &str| buttons.iter().filter(|b| b.kind == k).count();
    if of("URL") > 2 {
        return Err(invalid(
            "invalid_buttons",
            "buttons",
            "at most 2 URL buttons",
        ));
    }
    if of("PHONE_NUMBER") > 1 {
        return Err(invalid(
            "invalid_buttons",
            "buttons",
            "at most 1 PHONE_NUMBER button",
        ));
    }
    for (i, b) in buttons.iter().enumerate() {
        let field = format!("buttons[{i}]");
        if !BUTTON_KINDS.contains(&b.kind.as_str()) {
            return Err(invalid(
                "invalid_buttons",
                &field,
                format!("button type '{}' is not supported", b.kind),
            ));
        }
        let text = b.text.as_deref().unwrap_or_default();
        if b.kind != "COPY_CODE" && b.kind != "OTP" && text.trim().is_empty() {
            return Err(invalid(
                "invalid_buttons",
                &field,
                format!("{field} needs a text"),
            ));
        }
        check_len(&field, text, 25)?;
        match b.kind.as_str() {
            "URL" => {
                let url = b.url.as_deref().unwrap_or_default();
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(invalid(
                        "invalid_buttons",
                        &field,
                        format!("{field} needs an http(s) url"),
                    ));
                }
                check_len(&field, url, 2000)?;
                let vars = parse_vars(&field, url)?;
                if vars.len() > 1 || (vars.len() == 1 && !url.trim_end().ends_with("}}")) {
                    return Err(invalid(
                        "invalid_buttons",
                        &field,
                        format!("{field}: a URL may have one variable, at its end"),
                    ));
                }
                if vars.len() == 1 && example_strings(b.example.as_ref()).is_empty() {
                    return Err(invalid(
                        "missing_example",
                        &field,
                        format!("{field}: add an example for the URL variable"),
                    ));
                }
            }
            "PHONE_NUMBER" => {
                let p = b.phone_number.as_deref().unwrap_or_default();
                let digits = p.trim_start_matches('+');
                if digits.is_empty()
                    || digits.len() > 20
                    || !digits.bytes().all(|x| x.is_ascii_digit())
                {
                    return Err(invalid(
                        "invalid_buttons",
                        &field,
                        format!("{field} needs a phone number of up to 20 digits"),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The variables a send must supply, in the order Meta expects them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Slots {
    pub header: Vec<Placeholder>,
    pub body: Vec<Placeholder>,
    /// (button index, placeholder) for URL buttons with a variable.
    pub buttons: Vec<(usize, Placeholder)>,
}

impl Slots {
    pub fn count(&self) -> usize {
        self.header.len() + self.body.len() + self.buttons.len()
    }
}

/// The placeholders of a stored template.
pub fn slots(components: &[Component]) -> Result<Slots, String> {
    let mut s = Slots::default();
    for c in components {
        match c.kind.as_str() {
            "HEADER"
                if c.format
                    .as_deref()
                    .unwrap_or("TEXT")
                    .eq_ignore_ascii_case("TEXT") =>
            {
                s.header = ordered_placeholders(c.text.as_deref().unwrap_or_default())?;
            }
            "BODY" => s.body = ordered_placeholders(c.text.as_deref().unwrap_or_default())?,
            "BUTTONS" => {
                for (i, b) in c.buttons.iter().flatten().enumerate() {
                    if b.kind == "URL" {
                        for p in ordered_placeholders(b.url.as_deref().unwrap_or_default())? {
                            s.buttons.push((i, p));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

/// Values for a send, by section. The keys are placeholder keys ("1", "name").
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct SendValues {
    #[serde(default)]
    pub header: BTreeMap<String, String>,
    #[serde(default)]
    pub body: BTreeMap<String, String>,
    /// Keyed by button index ("0", "1").
    #[serde(default)]
    pub buttons: BTreeMap<String, String>,
}

/// Checks that `values` supply exactly the template's placeholders: the
/// parameter-count check done before anything is sent to Meta.
pub fn check_values(slots: &Slots, values: &SendValues) -> Result<(), CoreError> {
    let mismatch = |section: &str, want: Vec<String>, got: Vec<String>| CoreError::Validation {
        code: "parameter_count_mismatch",
        message: format!(
            "the template's {section} expects {} parameter(s) ({}) but {} were given",
            want.len(),
            want.join(", "),
            got.len()
        ),
        details: Some(json!({"section": section, "expected": want, "given": got})),
    };
    let body_want: Vec<String> = slots.body.iter().map(Placeholder::key).collect();
    let body_got: Vec<String> = values.body.keys().cloned().collect();
    let mut bw = body_want.clone();
    bw.sort();
    if bw != body_got {
        return Err(mismatch("body", body_want, body_got));
    }
    let head_want: Vec<String> = slots.header.iter().map(Placeholder::key).collect();
    let head_got: Vec<String> = values.header.keys().cloned().collect();
    let mut hw = head_want.clone();
    hw.sort();
    if hw != head_got {
        return Err(mismatch("header", head_want, head_got));
    }
    let btn_want: Vec<String> = slots.buttons.iter().map(|(i, _)| i.to_string()).collect();
    let btn_got: Vec<String> = values.buttons.keys().cloned().collect();
    let mut bt = btn_want.clone();
    bt.sort();
    if bt != btn_got {
        return Err(mismatch("buttons", btn_want, btn_got));
    }
    for (section, map) in [("header", &values.header), ("body", &values.body)] {
        if let Some((k, _)) = map.iter().find(|(_, v)| v.trim().is_empty()) {
            return Err(CoreError::Validation {
                code: "empty_parameter",
                message: format!("the {section} parameter {{{{{k}}}}} is empty"),
                details: Some(json!({"section": section, "key": k})),
            });
        }
    }
    Ok(())
}

/// The send components (Meta's shape) for the given values, placeholders in
/// numeric order.
pub fn send_components(slots: &Slots, values: &SendValues, named: bool) -> Vec<Value> {
    let params = |ph: &[Placeholder], map: &BTreeMap<String, String>| -> Vec<Value> {
        ph.iter()
            .map(|p| {
                let text = map.get(&p.key()).cloned().unwrap_or_default();
                if named {
                    json!({"type": "text", "parameter_name": p.key(), "text": text})
                } else {
                    json!({"type": "text", "text": text})
                }
            })
            .collect()
    };
    let mut out = Vec::new();
    if !slots.header.is_empty() {
        out.push(json!({"type": "header", "parameters": params(&slots.header, &values.header)}));
    }
    if !slots.body.is_empty() {
        out.push(json!({"type": "body", "parameters": params(&slots.body, &values.body)}));
    }
    for (i, _) in &slots.buttons {
        let text = values
            .buttons
            .get(&i.to_string())
            .cloned()
            .unwrap_or_default();
        out.push(json!({
            "type": "button", "sub_type": "url", "index": i.to_string(),
            "parameters": [{"type": "text", "text": text}]
        }));
    }
    out
}

/// The text a recipient reads: header, body and footer with values filled in.
pub fn render_message(components: &[Component], values: &SendValues) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in components {
        let text = c.text.as_deref().unwrap_or_default();
        match c.kind.as_str() {
            "HEADER" if !text.is_empty() => parts.push(render(text, &values.header)?),
            "BODY" => parts.push(render(text, &values.body)?),
            "FOOTER" if !text.is_empty() => parts.push(text.to_owned()),
            _ => {}
        }
    }
    Ok(parts.join("\n"))
}

/// Whether the category needs marketing consent (opt-in, not opted out of
/// promotions) rather than only a WhatsApp opt-in.
pub fn needs_marketing_consent(category: &str) -> bool {
    category.eq_ignore_ascii_case("MARKETING")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn body(text: &str, example: Option<Value>) -> Component {
        Component {
            kind: "BODY".into(),
            text: Some(text.into()),
            example,
            ..Default::default()
        }
    }

    fn def<'a>(components: &'a [Component]) -> Definition<'a> {
        Definition {
            name: "welcome_lead",
            language: "es_AR",
            category: "MARKETING",
            parameter_format: None,
            components,
        }
    }

    fn code(r: Result<(), CoreError>) -> &'static str {
        match r {
            Err(CoreError::Validation { code, .. }) => code,
            Err(e) => panic!("unexpected error {e}"),
            Ok(()) => "ok",
        }
    }

    #[test]
    fn placeholders_sort_numerically_not_as_strings() {
        let p = ordered_placeholders("a {{10}} b {{2}} c {{1}} d {{2}}").unwrap();
        assert_eq!(
            p,
            vec![
                Placeholder::Positional(1),
                Placeholder::Positional(2),
                Placeholder::Positional(10)
            ]
        );
    }

    #[test]
    fn named_placeholders_keep_first_appearance_order() {
        let p = ordered_placeholders("Hi {{first_name}}, {{city}} {{first_name}}").unwrap();
        assert_eq!(
            p,
            vec![
                Placeholder::Named("first_name".into()),
                Placeholder::Named("city".into())
            ]
        );
        assert!(placeholders("{{Bad Name}}").is_err());
        assert!(placeholders("{{0}}").is_err());
        assert!(placeholders("open {{1 forever").is_err());
    }

    #[test]
    fn render_fills_each_placeholder() {
        let mut v = BTreeMap::new();
        v.insert("1".to_string(), "Ana".to_string());
        v.insert("2".to_string(), "martes".to_string());
        v.insert("10".to_string(), "X".to_string());
        assert_eq!(
            render("Hola {{1}}, te vemos el {{2}} ({{10}})", &v).unwrap(),
            "Hola Ana, te vemos el martes (X)"
        );
        assert_eq!(
            render("{{3}}", &v).unwrap_err(),
            "no value for {{3}}".to_string()
        );
    }

    #[test]
    fn a_valid_template_passes() {
        let comps = vec![
            Component {
                kind: "HEADER".into(),
                format: Some("TEXT".into()),
                text: Some("Hola {{1}}".into()),
                example: Some(json!({"header_text": ["Ana"]})),
                ..Default::default()
            },
            body(
                "Gracias {{1}} por escribirnos sobre {{2}}.",
                Some(json!({"body_text": [["Ana", "el plan"]]})),
            ),
            Component {
                kind: "FOOTER".into(),
                text: Some("Responde BAJA para no recibir más".into()),
                ..Default::default()
            },
            Component {
                kind: "BUTTONS".into(),
                buttons: Some(vec![
                    Button {
                        kind: "QUICK_REPLY".into(),
                        text: Some("Quiero info".into()),
                        ..Default::default()
                    },
                    Button {
                        kind: "URL".into(),
                        text: Some("Ver".into()),
                        url: Some("https://example.com/p/{{1}}".into()),
                        example: Some(json!(["https://example.com/p/1"])),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            },
        ];
        assert_eq!(code(validate(&def(&comps))), "ok");
    }

    #[test]
    fn meta_rules_are_enforced() {
        let ok_body = body("Hola {{1}}!", Some(json!({"body_text": [["Ana"]]})));
        let mut d = def(std::slice::from_ref(&ok_body));
        d.name = "Welcome";
        assert_eq!(code(validate(&d)), "invalid_template_name");
        let mut d = def(std::slice::from_ref(&ok_body));
        d.language = "spanish";
        assert_eq!(code(validate(&d)), "invalid_language");
        let mut d = def(std::slice::from_ref(&ok_body));
        d.category = "PROMO";
        assert_eq!(code(validate(&d)), "invalid_category");
        assert_eq!(code(validate(&def(&[]))), "body_required");
        // examples for every variable
        assert_eq!(
            code(validate(&def(&[body(
                "Hola {{1}} y {{2}}.",
                Some(json!({"body_text": [["Ana"]]}))
            )]))),
            "missing_example"
        );
        assert_eq!(
            code(validate(&def(&[body("Hola {{1}}.", None)]))),
            "missing_example"
        );
        // gaps in numbering
        assert_eq!(
            code(validate(&def(&[body(
                "Hola {{1}} y {{3}}.",
                Some(json!({"body_text": [["a", "b"]]}))
            )]))),
            "placeholder_sequence"
        );
        // edges
        assert_eq!(
            code(validate(&def(&[body(
                "{{1}} hola",
                Some(json!({"body_text": [["a"]]}))
            )]))),
            "variable_at_edge"
        );
        // length limits
        let long = "x".repeat(1025);
        assert_eq!(code(validate(&def(&[body(&long, None)]))), "text_too_long");
        let footer = Component {
            kind: "FOOTER".into(),
            text: Some("f".repeat(61)),
            ..Default::default()
        };
        assert_eq!(
            code(validate(&def(&[ok_body.clone(), footer]))),
            "text_too_long"
        );
        // mixing named and positional
        assert_eq!(
            code(validate(&def(&[body("Hola {{1}} {{name}}.", None)]))),
            "mixed_placeholders"
        );
        // named needs NAMED format and named examples
        let named = body(
            "Hola {{first_name}}!",
            Some(
                json!({"body_text_named_params": [{"param_name": "first_name", "example": "Ana"}]}),
            ),
        );
        assert_eq!(
            code(validate(&def(std::slice::from_ref(&named)))),
            "parameter_format_mismatch"
        );
        let mut d = def(std::slice::from_ref(&named));
        d.parameter_format = Some("NAMED");
        assert_eq!(code(validate(&d)), "ok");
        // quick reply text limit
        let btn = Component {
            kind: "BUTTONS".into(),
            buttons: Some(vec![Button {
                kind: "QUICK_REPLY".into(),
                text: Some("a".repeat(26)),
                ..Default::default()
            }]),
            ..Default::default()
        };
        assert_eq!(code(validate(&def(&[ok_body, btn]))), "text_too_long");
    }

    #[test]
    fn parameter_count_is_checked_before_sending() {
        let comps = vec![body(
            "Hola {{1}}, tu turno es el {{2}}.",
            Some(json!({"body_text": [["a", "b"]]})),
        )];
        let s = slots(&comps).unwrap();
        assert_eq!(s.count(), 2);
        let mut v = SendValues::default();
        v.body.insert("1".into(), "Ana".into());
        match check_values(&s, &v) {
            Err(CoreError::Validation { code, details, .. }) => {
                assert_eq!(code, "parameter_count_mismatch");
                assert_eq!(details.unwrap()["expected"], json!(["1", "2"]));
            }
            other => panic!("{other:?}"),
        }
        v.body.insert("2".into(), "martes".into());
        check_values(&s, &v).unwrap();
        let sc = send_components(&s, &v, false);
        assert_eq!(
            sc,
            vec![json!({"type": "body", "parameters": [
                {"type": "text", "text": "Ana"}, {"type": "text", "text": "martes"}]})]
        );
        assert_eq!(
            render_message(&comps, &v).unwrap(),
            "Hola Ana, tu turno es el martes."
        );
    }
}
