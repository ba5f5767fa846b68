//! `rename_all` casings for wire names.

/// A wire-name casing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Snake,
    Camel,
    Pascal,
    Kebab,
    ScreamingSnake,
    Lower,
}

/// The accepted `rename_all` values.
pub const CASES: &[&str] = &[
    "snake_case",
    "camelCase",
    "PascalCase",
    "kebab-case",
    "SCREAMING_SNAKE_CASE",
    "lowercase",
];

impl Case {
    /// Parses a `rename_all` value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "snake_case" => Self::Snake,
            "camelCase" => Self::Camel,
            "PascalCase" => Self::Pascal,
            "kebab-case" => Self::Kebab,
            "SCREAMING_SNAKE_CASE" => Self::ScreamingSnake,
            "lowercase" => Self::Lower,
            _ => return None,
        })
    }

    /// Applies the casing to a snake_case Rust identifier.
    pub fn apply(self, ident: &str) -> String {
        let words = ident.split('_').filter(|w| !w.is_empty());
        match self {
            Self::Snake => ident.to_owned(),
            Self::Lower => ident.replace('_', ""),
            Self::Kebab => words.collect::<Vec<_>>().join("-"),
            Self::ScreamingSnake => ident.to_ascii_uppercase(),
            Self::Pascal => words.map(capitalize).collect(),
            Self::Camel => {
                let mut out = String::new();
                for (i, w) in words.enumerate() {
                    if i == 0 {
                        out.push_str(w);
                    } else {
                        out.push_str(&capitalize(w));
                    }
                }
                out
            }
        }
    }
}

/// A PascalCase identifier (an enum variant) in snake_case: `DoorOpened` -> `door_opened`.
pub fn pascal_to_snake(ident: &str) -> String {
    let mut out = String::new();
    for (i, c) in ident.chars().enumerate() {
        if c.is_uppercase() && i > 0 && !out.ends_with('_') {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
