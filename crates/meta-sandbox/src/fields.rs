//! Parser for Graph's `fields=` syntax: `a,b{c,d},e.limit(5).date_preset(last_7d){f}`.

use crate::error::{GResult, GraphError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSel {
    pub name: String,
    /// Modifiers such as `limit(5)` or `date_preset(last_7d)`, in order.
    pub modifiers: Vec<(String, String)>,
    /// Nested selection from `{...}`; None when absent.
    pub children: Option<Vec<FieldSel>>,
}

impl FieldSel {
    pub fn simple(name: &str) -> FieldSel {
        FieldSel {
            name: name.to_string(),
            modifiers: vec![],
            children: None,
        }
    }

    pub fn modifier(&self, key: &str) -> Option<&str> {
        self.modifiers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Serialises a selection back to the `fields=` syntax (used in `paging.next` of nested edges).
pub fn to_string(sel: &[FieldSel]) -> String {
    sel.iter()
        .map(|f| {
            let mut s = f.name.clone();
            for (k, v) in &f.modifiers {
                s.push_str(&format!(".{k}({v})"));
            }
            if let Some(c) = &f.children {
                s.push('{');
                s.push_str(&to_string(c));
                s.push('}');
            }
            s
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn parse(input: &str) -> GResult<Vec<FieldSel>> {
    let chars: Vec<char> = input.chars().collect();
    let mut pos = 0;
    let out = parse_list(&chars, &mut pos, 0)?;
    if pos != chars.len() {
        return Err(syntax(input, pos));
    }
    Ok(out)
}

fn syntax(input: &str, pos: usize) -> GraphError {
    GraphError::new(
        2500,
        "OAuthException",
        format!(
            "Syntax error \"Expected end of string instead of \"{}\".\" at character {pos}: {input}",
            input.chars().nth(pos).unwrap_or(' ')
        ),
    )
}

fn parse_list(c: &[char], pos: &mut usize, depth: usize) -> GResult<Vec<FieldSel>> {
    let input: String = c.iter().collect();
    if depth > 8 {
        return Err(GraphError::param("fields nesting is too deep"));
    }
    let mut out = Vec::new();
    loop {
        skip_ws(c, pos);
        if *pos >= c.len() || c[*pos] == '}' {
            break;
        }
        let name = ident(c, pos);
        if name.is_empty() {
            return Err(syntax(&input, *pos));
        }
        let mut sel = FieldSel {
            name,
            modifiers: vec![],
            children: None,
        };
        loop {
            skip_ws(c, pos);
            if *pos < c.len() && c[*pos] == '.' {
                *pos += 1;
                let key = ident(c, pos);
                if key.is_empty() || *pos >= c.len() || c[*pos] != '(' {
                    return Err(syntax(&input, *pos));
                }
                *pos += 1;
                let start = *pos;
                let mut parens = 0;
                while *pos < c.len() && !(c[*pos] == ')' && parens == 0) {
                    match c[*pos] {
                        '(' => parens += 1,
                        ')' => parens -= 1,
                        _ => {}
                    }
                    *pos += 1;
                }
                if *pos >= c.len() {
                    return Err(syntax(&input, *pos));
                }
                let val: String = c[start..*pos].iter().collect();
                *pos += 1;
                sel.modifiers.push((key, val.trim().to_string()));
            } else if *pos < c.len() && c[*pos] == '{' {
                *pos += 1;
                let children = parse_list(c, pos, depth + 1)?;
                skip_ws(c, pos);
                if *pos >= c.len() || c[*pos] != '}' {
                    return Err(syntax(&input, *pos));
                }
                *pos += 1;
                sel.children = Some(children);
            } else {
                break;
            }
        }
        out.push(sel);
        skip_ws(c, pos);
        if *pos < c.len() && c[*pos] == ',' {
            *pos += 1;
            continue;
        }
        break;
    }
    Ok(out)
}

fn skip_ws(c: &[char], pos: &mut usize) {
    while *pos < c.len() && c[*pos].is_whitespace() {
        *pos += 1;
    }
}

fn ident(c: &[char], pos: &mut usize) -> String {
    let start = *pos;
    while *pos < c.len() && (c[*pos].is_ascii_alphanumeric() || c[*pos] == '_') {
        *pos += 1;
    }
    c[start..*pos].iter().collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nested_and_modifiers() {
        let f = parse(
            "id,name,campaigns.limit(2){name,insights.date_preset(last_7d){spend}},account_id",
        )
        .unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(f[2].name, "campaigns");
        assert_eq!(f[2].modifier("limit"), Some("2"));
        let c = f[2].children.as_ref().unwrap();
        assert_eq!(c[1].modifier("date_preset"), Some("last_7d"));
        assert_eq!(c[1].children.as_ref().unwrap()[0].name, "spend");
        assert_eq!(
            to_string(&f),
            "id,name,campaigns.limit(2){name,insights.date_preset(last_7d){spend}},account_id"
        );
    }

    #[test]
    fn syntax_errors() {
        assert!(parse("a{b").is_err());
        assert!(parse("a}").is_err());
        assert!(parse("a.limit(3").is_err());
        assert!(parse("").unwrap().is_empty());
    }
}
