//! CHAP secrets never reach a log or the screen: every child's output passes through here.

/// Replaces the value of any `...password... = value` or `password: value` line.
pub fn secrets(text: &str) -> String {
    text.lines()
        .map(|line| {
            let lower = line.to_ascii_lowercase();
            if !lower.contains("password") && !lower.contains("secret") {
                return line.to_string();
            }
            match line.find(['=', ':']) {
                Some(i) => format!("{} ********", &line[..=i]),
                None => "********".to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_masked_and_the_rest_kept() {
        let text = "node.session.auth.username = alice\nnode.session.auth.password = s3cret\n\t\tpassword_in: hunter2\nnode.name = iqn.x";
        let out = super::secrets(text);
        assert!(!out.contains("s3cret") && !out.contains("hunter2"));
        assert!(out.contains("username = alice") && out.contains("node.name = iqn.x"));
    }
}
