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

/// Quotes untrusted text for a message: control characters escaped, length bounded.
pub fn printable(text: &str) -> String {
    let escaped: String = text.chars().flat_map(char::escape_default).collect();
    ellipsis(&escaped, 123)
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
}
