//! Key format (being written by the foundation issue).

/// `sk_live_…Xy9Z`: the prefix and the last 4 characters.
pub fn mask_key(key: &str) -> String {
    let (prefix, rest) = match key.rfind('_') {
        Some(i) => (&key[..=i], &key[i + 1..]),
        None => ("", key),
    };
    let chars: Vec<char> = rest.chars().collect();
    if chars.len() < 12 {
        return format!("{prefix}…");
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}
