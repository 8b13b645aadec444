//! serde's `rename_all` rules, so JSON names, filter keys and the OpenAPI schema agree.

/// Applies a `rename_all` rule to a snake_case field name; `None` for an unknown rule.
pub(crate) fn rename(rule: &str, field: &str) -> Option<String> {
    let words: Vec<&str> = field.split('_').filter(|w| !w.is_empty()).collect();
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
    };
    Some(match rule {
        "camelCase" => words.iter().enumerate().map(|(i, w)| if i == 0 { (*w).to_owned() } else { cap(w) }).collect(),
        "PascalCase" => words.iter().map(|w| cap(w)).collect(),
        "snake_case" => field.to_owned(),
        "lowercase" => field.to_lowercase(),
        "UPPERCASE" => field.to_uppercase(),
        "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.replace('_', "-").to_uppercase(),
        _ => return None,
    })
}

/// `product_line` → `ProductLine`.
pub(crate) fn upper_camel(name: &str) -> String {
    rename("PascalCase", name).unwrap_or_default()
}
