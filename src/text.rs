//! Outside text (parameters, tool output, state files) in messages: cut only at character
//! boundaries, control characters escaped. Every shortening of outside text goes through
//! here, so no byte index can land inside a character.

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut to at most `max` bytes with "..." when it was longer.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.len() <= max {
        s.to_string()
    } else {
        format!("{}...", clip(s, max.saturating_sub(3)))
    }
}

/// Longest quotation of outside text in a message, in bytes (escapes included).
const QUOTE_MAX: usize = 123;

/// Quotes untrusted text for a message: control characters escaped, length bounded. Only
/// as much of `text` is escaped as can be shown, so a huge value costs no more than a
/// short one.
pub fn printable(text: &str) -> String {
    let mut escaped = String::new();
    let mut chars = text.chars();
    for c in chars.by_ref() {
        escaped.extend(c.escape_default());
        if escaped.len() > QUOTE_MAX {
            break;
        }
    }
    if escaped.len() <= QUOTE_MAX && chars.next().is_none() {
        escaped
    } else {
        // Escapes are ASCII: any byte index is a character boundary, but clip says so.
        format!("{}...", clip(&escaped, QUOTE_MAX - 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_never_split_a_character() {
        let s = "aé€😀".repeat(50);
        for max in 0..s.len() + 2 {
            let c = clip(&s, max);
            assert!(c.len() <= max && s.starts_with(c));
            assert!(ellipsis(&s, max).len() <= max.max(3) + 3);
        }
        assert_eq!(printable("a\nb"), "a\\nb");
        assert!(printable(&"ü".repeat(300)).ends_with("..."));
    }

    #[test]
    fn printable_is_the_bounded_escape_of_the_whole() {
        let whole = |t: &str| ellipsis(&t.chars().flat_map(char::escape_default).collect::<String>(), 123);
        for t in [
            String::new(),
            "a".repeat(123),
            "a".repeat(124),
            format!("{}\n", "a".repeat(121)),
            format!("{}\n", "a".repeat(122)),
            "é".repeat(20),
            "é".repeat(21),
            "\0".repeat(200),
            "x".repeat(1 << 20),
        ] {
            assert_eq!(printable(&t), whole(&t), "{:?}", &t[..t.len().min(40)]);
            assert!(printable(&t).len() <= 123);
        }
    }
}
