//! Client-name masks for broadcasts (`?`, `*`) and the index of registered names.

/// Whether the broadcast `mask` matches the client `name`.
///
/// `?` matches exactly one part (which may be empty); `*` matches one or more remaining parts and
/// ends the mask; other parts match literally. Only whole parts are special: `a*` is literal.
pub fn mask_matches(mask: &str, name: &str) -> bool {
    let mut name_parts = name.split('.');
    for part in mask.split('.') {
        match part {
            "*" => return name_parts.next().is_some(),
            "?" => {
                if name_parts.next().is_none() {
                    return false;
                }
            }
            literal => {
                if name_parts.next() != Some(literal) {
                    return false;
                }
            }
        }
    }
    name_parts.next().is_none()
}

/// Registered client names, searchable by broadcast mask. Each name maps to one key.
#[derive(Debug)]
pub struct NameIndex<K> {
    entries: Vec<(String, K)>,
}

impl<K> Default for NameIndex<K> {
    fn default() -> Self {
        NameIndex {
            entries: Vec::new(),
        }
    }
}

impl<K: Copy + Ord> NameIndex<K> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name` for `key`. Names are unique: the caller never inserts a name twice.
    pub fn insert(&mut self, name: &str, key: K) {
        self.entries.push((name.to_owned(), key));
    }

    /// Removes `name`; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        match self.entries.iter().position(|(n, _)| n == name) {
            Some(pos) => {
                self.entries.swap_remove(pos);
                true
            }
            None => false,
        }
    }

    /// Appends to `out` the key of every name that `mask` matches.
    pub fn matches(&self, mask: &str, out: &mut Vec<K>) {
        for (name, key) in &self.entries {
            if mask_matches(mask, name) {
                out.push(*key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The observed table of `protocol.md` §8.2 (clients `p2.a`, `p2.b`, `p2.b%%x`, `p2.b%%y`).
    #[test]
    fn spec_table() {
        let names = ["p2.a", "p2.b", "p2.b%%x", "p2.b%%y", ".broker"];
        let table: [(&str, [bool; 5]); 8] = [
            ("p2.*", [true, true, true, true, false]),
            ("p2.?", [true, true, true, true, false]),
            ("?.b", [false, true, false, false, false]),
            ("*", [true; 5]),
            ("p2.b", [false, true, false, false, false]),
            ("p2", [false; 5]),
            ("p2.b.*", [false; 5]),
            ("p2.*.x", [true, true, true, true, false]),
        ];
        for (mask, expected) in table {
            for (name, want) in names.iter().zip(expected) {
                assert_eq!(
                    mask_matches(mask, name),
                    want,
                    "mask {mask:?} name {name:?}"
                );
            }
        }
        assert!(!mask_matches("a*", "ab"));
        assert!(mask_matches("a*", "a*"));
    }
}
